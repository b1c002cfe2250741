#!/usr/bin/env bash
# scripts/memory.sh — the server's memory as its caches fill, up to the
# whole catalogue cached: the 1,000,000-item figures of the README's
# Performance section.
#
# Usage:
#   KEEP_DB=1 scripts/perf.sh 1000000 500   # once: makes recs_perf_1000000
#   scripts/memory.sh 1000000
#
# On the database scripts/perf.sh kept (recs_perf_ITEMS, with the
# catalogue file it wrote to $OUT/catalog.txt), it starts `recs serve`
# (no GOMEMLIMIT unless the environment sets one) and prints its peak and
# current memory (VmHWM, VmRSS), the cache entries and the live heap
# after the last garbage collection:
#   1. when ready (the warm-up done);
#   2. after mixed traffic at RATE req/s (default 500) for DURATION
#      (default 180s), after a 10 s warm-up;
#   3. after re-ranking every item of the catalogue once (POST /v1/rank
#      of 500 ids, four at a time), which caches every item;
#   4. after the same mixed traffic again.
# Results go to $OUT (default /tmp/recs-perf-<ITEMS>): memory-*.txt and
# the server's log with GODEBUG=gctrace=1 (memory-serve.log).
set -euo pipefail

ITEMS=${1:?usage: scripts/memory.sh ITEMS}
RATE=${RATE:-500}
DURATION=${DURATION:-180s}
OUT=${OUT:-/tmp/recs-perf-${ITEMS}}
PORT=${PORT:-28418}
cd "$(dirname "$0")/.."

ADMIN_URL=$(scripts/testdb.sh url)
DBNAME=recs_perf_${ITEMS}
DB="${ADMIN_URL%/*}/${DBNAME}?sslmode=disable"
if ! psql -X -q -At "$ADMIN_URL" -c "SELECT 1 FROM pg_database WHERE datname = '${DBNAME}'" | grep -q 1; then
	echo "no database ${DBNAME}: make it with KEEP_DB=1 scripts/perf.sh ${ITEMS} ${RATE}" >&2
	exit 2
fi
if [ ! -s "$OUT/catalog.txt" ]; then
	echo "no $OUT/catalog.txt: scripts/perf.sh ${ITEMS} writes it (or set OUT)" >&2
	exit 2
fi
mkdir -p "$OUT"
go build -o "$OUT/recs" ./cmd/recs
go build -o "$OUT/loadtest" ./loadtest/cmd/loadtest

GODEBUG=gctrace=1 "$OUT/recs" serve --db "$DB" --listen "127.0.0.1:${PORT}" >"$OUT/memory-serve.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1800); do
	curl -sf -o /dev/null "http://127.0.0.1:${PORT}/readyz" && break
	kill -0 "$SERVER" 2>/dev/null || { cat "$OUT/memory-serve.log" >&2; exit 1; }
	sleep 0.1
done

# report STEP: the server's memory, its caches and its live heap now.
report() {
	local live
	live=$(grep '^gc ' "$OUT/memory-serve.log" | tail -1 | grep -o '[0-9]*->[0-9]*->[0-9]* MB' || true)
	printf '== %s: %s; live heap after the last GC (start->end->live) %s\n' "$1" \
		"$(grep -E '^Vm(HWM|RSS)' "/proc/${SERVER}/status" | tr -s ' \t\n' ' ')" "${live:-none yet}" | tee -a "$OUT/memory-summary.txt"
	curl -s "http://127.0.0.1:${PORT}/metrics" | grep -E '^recs_cache_entries' | tee -a "$OUT/memory-summary.txt"
}

traffic() {
	"$OUT/loadtest" -target "http://127.0.0.1:${PORT}" -catalog "$OUT/catalog.txt" -rate "$RATE" \
		-duration "$DURATION" -warmup 10s -interval 30s -max-error-rate 0 >"$OUT/memory-$1.txt" 2>&1 ||
		{ cat "$OUT/memory-$1.txt" >&2; exit 1; }
	grep -E '^ +total' "$OUT/memory-$1.txt" | tee -a "$OUT/memory-summary.txt"
}

: >"$OUT/memory-summary.txt"
report "ready"
traffic mixed1
report "after ${DURATION} at ${RATE} req/s"

start=$(date +%s.%N)
# Every item once: 500 ids a request (the limit of /v1/rank), the bodies
# written in one awk pass and posted by one curl, four at a time on
# kept-alive connections (a curl and an awk per request took 67.6 s for
# 1,000,000 items).
rm -rf "$OUT/memory-rank" && mkdir "$OUT/memory-rank"
awk -v dir="$OUT/memory-rank" -v url="http://127.0.0.1:${PORT}/v1/rank" '
	function close_body() { if (f != "") { printf "]}" > f; close(f) } }
	(NR - 1) % 500 == 0 {
		close_body()
		f = sprintf("%s/body-%06d.json", dir, (NR - 1) / 500)
		printf "{\"placement\":\"category\",\"item_ids\":[\"%s\"", $0 > f
		# One operation a body ("next"): data-binary given twice in one
		# operation would join the bodies.
		if (NR > 1) print "next" > (dir "/curl.conf")
		printf "url = \"%s\"\nheader = \"Content-Type: application/json\"\ndata-binary = \"@%s\"\noutput = \"/dev/null\"\nwrite-out = \"%%{http_code}\\n\"\nsilent\n", url, f > (dir "/curl.conf")
		next
	}
	{ printf ",\"%s\"", $0 > f }
	END { close_body() }
' "$OUT/catalog.txt"
# curl's progress meter for parallel transfers goes to stderr even with
# -s; kept in a file, shown on failure.
codes=$(curl -sS --parallel --parallel-max 4 -K "$OUT/memory-rank/curl.conf" 2>"$OUT/memory-rank/curl.err")
posted=$(ls "$OUT/memory-rank" | grep -c '^body-')
if [ "$(grep -c '^200$' <<<"$codes")" != "$posted" ]; then
	echo "POST /v1/rank: not every answer was 200 (of ${posted}):" >&2
	sort <<<"$codes" | uniq -c >&2
	cat "$OUT/memory-rank/curl.err" >&2
	exit 1
fi
rm -rf "$OUT/memory-rank"
printf 're-ranked every item in %.1f s\n' "$(echo "$(date +%s.%N) - $start" | bc)" | tee -a "$OUT/memory-summary.txt"
report "every item re-ranked once"

traffic mixed2
report "after ${DURATION} more at ${RATE} req/s"
