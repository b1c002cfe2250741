#!/usr/bin/env bash
# scripts/perf.sh — the load measurements of the README's Performance
# section, on this machine, against PostgreSQL + pgvector.
#
# Usage:
#   scripts/perf.sh ITEMS [RATE...]  e.g. scripts/perf.sh 3000 1000 2000 3000
#
# It builds recs and the load generator, creates the database
# recs_perf_<ITEMS> on the test cluster (scripts/testdb.sh; the cluster is
# never restarted), loads the generated demo shop of ITEMS items
# (`recs import --demo-items`) and builds it, timing both, then for each
# scenario starts `recs serve` afresh and runs the load generator:
#   cold          the first minute at 500 req/s, caches empty
#   mixed-RATE    RATE req/s for 60 s after a 10 s warm-up, for each RATE
#                 (default 1000); RUNS times each (default 1), as the tail
#                 at a rate near the machine's limit varies from run to run
#   ingest-burst  200 requests/s of 50 events for 30 s
#   stock-storm   the first RATE with 10 % stock batches for 30 s, freshness
#                 probe
# and prints the server's peak and current memory (VmHWM, VmRSS), the CPU
# recs and PostgreSQL used during the test (cores, and recs' CPU per
# request sent), the generator's (from its own report), what the three
# used together as a share of the machine's cores, and the machine's load
# average after each. The generator draws items Zipf-skewed
# in the order of the shop's imported history (most named in its events
# first, then by id; $OUT/catalog.txt): a shop's traffic today follows its
# traffic of the past weeks, which is what the server's warm-up and
# popularity lists learn from. TRAFFIC=ids draws by id order instead
# ("D-000001" most often), which the demo shop's history does not follow
# (its popularity is a random ranking): traffic the history does not
# predict, as the figures before 2026-11-23 were measured. Results go to $OUT (default
# /tmp/recs-perf-<ITEMS>): the tables (*.txt) and the JSON (*.json). The
# database is dropped at the end unless KEEP_DB=1. SERVE_FLAGS are added to
# every `recs serve` (e.g. SERVE_FLAGS="--rank-depth 20").
set -euo pipefail

ITEMS=${1:?usage: scripts/perf.sh ITEMS [RATE...]}
shift
RATES=("${@:-1000}")
RATE=${RATES[0]}
OUT=${OUT:-/tmp/recs-perf-${ITEMS}}
PORT=${PORT:-28417}
RUNS=${RUNS:-1}
case $RUNS in
'' | *[!0-9]* | 0) echo "RUNS=${RUNS}: want a positive number of runs per rate" >&2 && exit 2 ;;
esac
TRAFFIC=${TRAFFIC:-history}
case $TRAFFIC in
history | ids) ;;
*) echo "TRAFFIC=${TRAFFIC}: want history or ids" >&2 && exit 2 ;;
esac
read -r -a SERVE_ARGS <<<"${SERVE_FLAGS:-}"
cd "$(dirname "$0")/.."
mkdir -p "$OUT"

ADMIN_URL=$(scripts/testdb.sh url)
DBNAME=recs_perf_${ITEMS}
DB="${ADMIN_URL%/*}/${DBNAME}?sslmode=disable"
go build -o "$OUT/recs" ./cmd/recs
go build -o "$OUT/loadtest" ./loadtest/cmd/loadtest

say() { printf '== %s (load average %s)\n' "$*" "$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/summary.txt"; }

SERVER=
stop_server() {
	if [ -n "$SERVER" ]; then
		kill "$SERVER" 2>/dev/null || true
		wait "$SERVER" 2>/dev/null || true
		SERVER=
	fi
}
cleanup() {
	stop_server
	if [ "${KEEP_DB:-0}" != 1 ]; then
		psql -X -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS ${DBNAME} WITH (FORCE)" || true
	fi
}
trap cleanup EXIT

psql -X -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS ${DBNAME} WITH (FORCE)" -c "CREATE DATABASE ${DBNAME}"
# The test cluster turns synchronous_commit off for speed; a shop's events
# must be durable before the 2xx, so measure with it on (fsync stays off on
# this cluster: a real disk adds a WAL flush per group write).
psql -X -q "$ADMIN_URL" -c "ALTER DATABASE ${DBNAME} SET synchronous_commit = on"
say "import --demo-items $ITEMS"
/usr/bin/time -f 'import: %e s wall, %M kB peak RSS' "$OUT/recs" import --db "$DB" --demo-items "$ITEMS" 2>&1 | grep -v level=INFO | tee -a "$OUT/summary.txt"
say "build"
/usr/bin/time -f 'build: %e s wall, %M kB peak RSS' "$OUT/recs" build --db "$DB" 2>&1 | grep -v level=INFO | tee -a "$OUT/summary.txt"

# The imported events only: a scenario's own events ("lt-" ids) would
# otherwise weigh in when this is re-run on a kept database.
case $TRAFFIC in
history)
	psql -X -q -At "$DB" -c "SELECT i.id FROM recs.items i LEFT JOIN (
		SELECT item_id, count(*) AS n FROM recs.events WHERE item_id <> '' AND event_id NOT LIKE 'lt-%' GROUP BY item_id) e
		ON e.item_id = i.id ORDER BY coalesce(e.n, 0) DESC, i.id" >"$OUT/catalog.txt"
	TRAFFIC_FLAGS=(-catalog "$OUT/catalog.txt")
	;;
ids) TRAFFIC_FLAGS=(-items "$ITEMS") ;;
esac
say "traffic: items drawn in ${TRAFFIC} order; recs serve ${SERVE_FLAGS:-(no extra flags)}"

# ticks PID...: CPU time (user + system, in clock ticks) the processes
# have used so far.
ticks() {
	local t=0 p s
	for p in "$@"; do
		s=$(awk '{print $14 + $15}' "/proc/${p}/stat" 2>/dev/null) || s=0
		t=$((t + ${s:-0}))
	done
	echo "$t"
}
HZ=$(getconf CLK_TCK)

# run NAME LOADTEST-FLAGS...: a fresh server, one load test, its memory,
# and who used the CPU during the test: at rates near the machine's limit
# the tail varies from run to run, and the CPU per request tells a slower
# build from a busier machine.
run() {
	local name=$1
	shift
	"$OUT/recs" serve --db "$DB" --listen "127.0.0.1:${PORT}" "${SERVE_ARGS[@]}" >"$OUT/serve-${name}.log" 2>&1 &
	SERVER=$!
	# Traffic starts when /readyz says so, as a load balancer's would:
	# the server warms its caches before (recs serve --warm-items).
	for _ in $(seq 300); do
		curl -sf -o /dev/null "http://127.0.0.1:${PORT}/readyz" && break
		sleep 0.1
	done
	say "$name: loadtest $*"
	local -a pg
	local t0 s0 p0 t1 s1 p1 sent gen
	# The cluster's processes, whoever runs it (its backends stay up: the
	# server keeps its pool's connections open).
	mapfile -t pg < <(pgrep -x postgres)
	t0=$(date +%s.%N) s0=$(ticks "$SERVER") p0=$(ticks "${pg[@]}")
	"$OUT/loadtest" -target "http://127.0.0.1:${PORT}" "${TRAFFIC_FLAGS[@]}" -json "$OUT/${name}.json" "$@" >"$OUT/${name}.txt" 2>&1 || true
	t1=$(date +%s.%N) s1=$(ticks "$SERVER") p1=$(ticks "${pg[@]}")
	tee -a "$OUT/summary.txt" <"$OUT/${name}.txt"
	echo "server memory: $(grep -E '^Vm(HWM|RSS)' "/proc/${SERVER}/status" | tr -s ' \t\n' ' ')" | tee -a "$OUT/summary.txt"
	sent=$(sed -n 's/^generator: \([0-9]*\) requests sent.*/\1/p' "$OUT/${name}.txt")
	gen=$(sed -n 's/^generator: [0-9]* requests sent, \([0-9.]*\) s CPU.*/\1/p' "$OUT/${name}.txt")
	awk -v s=$((s1 - s0)) -v p=$((p1 - p0)) -v hz="$HZ" -v t0="$t0" -v t1="$t1" -v n="${sent:-0}" -v g="${gen:-}" -v cores="$(nproc)" 'BEGIN {
		d = t1 - t0
		printf "cpu during the test: recs %.2f cores, postgres %.2f cores", s / hz / d, p / hz / d
		if (g != "") printf ", generator %.2f cores (together %.0f %% of %d)", g / d, 100 * (s / hz + p / hz + g) / d / cores, cores
		if (n > 0) printf "; recs %.0f us per request sent", s / hz / n * 1e6
		printf "\n"
	}' | tee -a "$OUT/summary.txt"
	stop_server
}

run cold -scenario cold -rate 500 -duration 60s
for r in "${RATES[@]}"; do
	for n in $(seq "$RUNS"); do
		name=mixed-$r
		[ "$RUNS" = 1 ] || name=mixed-$r-run$n
		run "$name" -rate "$r" -duration 60s -warmup 10s
	done
done
run ingest-burst -scenario ingest-burst -rate 200 -duration 30s
run stock-storm -scenario stock-storm -rate "$RATE" -duration 30s -warmup 5s -max-stock-lag 1s
say "done: $OUT/summary.txt"
