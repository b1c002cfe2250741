#!/usr/bin/env bash
# scripts/smoke-load.sh — a short load test against a real server, so a
# gross latency or error regression cannot land. Starts `recs serve` on the
# embedded demo shop on a loopback port, sends mixed traffic at a low rate
# for 10 s with the Go load generator, and fails on any error or a p99
# above 100 ms. The full load tests and their figures: loadtest/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v curl >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null
fi
PORT=${RECS_SMOKE_PORT:-18080}
RATE=${RECS_SMOKE_RATE:-100}
bin=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$bin"' EXIT

go build -o "$bin/recs" ./cmd/recs
go build -o "$bin/loadtest" ./loadtest/cmd/loadtest
"$bin/recs" serve --listen "127.0.0.1:$PORT" --demo-items 3000 >"$bin/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
	if curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; then break; fi
	if ! kill -0 "$server" 2>/dev/null; then cat "$bin/serve.log"; echo "smoke-load: server exited" >&2; exit 1; fi
	sleep 0.5
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$bin/serve.log"; echo "smoke-load: server not ready after 60 s" >&2; exit 1; }
"$bin/loadtest" -target "http://127.0.0.1:$PORT" -rate "$RATE" -duration 10s -warmup 2s -items 3000 \
	-max-p99 100ms -max-error-rate 0
