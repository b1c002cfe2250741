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
# Every item once: 500 ids a request (the limit of /v1/rank).
split -l 500 "$OUT/catalog.txt" "$OUT/memory-chunk-"
ls "$OUT"/memory-chunk-* | xargs -P 4 -I{} sh -c '
	body=$(awk '\''BEGIN { printf "{\"placement\":\"category\",\"item_ids\":[" } NR > 1 { printf "," } { printf "\"%s\"", $0 } END { printf "]}" }'\'' "$1")
	code=$(curl -s -o /dev/null -w "%{http_code}" -H "Content-Type: application/json" --data-binary "$body" "$2/v1/rank")
	[ "$code" = 200 ] || { echo "POST /v1/rank of $1: HTTP $code" >&2; exit 255; }
' _ {} "http://127.0.0.1:${PORT}"
rm -f "$OUT"/memory-chunk-*
printf 're-ranked every item in %.1f s\n' "$(echo "$(date +%s.%N) - $start" | bc)" | tee -a "$OUT/memory-summary.txt"
report "every item re-ranked once"

traffic mixed2
report "after ${DURATION} more at ${RATE} req/s"
