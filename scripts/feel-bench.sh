#!/usr/bin/env bash
# Measures how Arena feels at a distance, for BENCHMARKS.md (not a test): one build's server,
# bots and web page, through `arena-proxy` (latency ± jitter each way) at a 0, 150 ± 20 and
# 300 ± 50 ms round trip. Per latency: 20 bots' input→ack and RTT (arena-bots' report) and the
# page's ping, corrections, first-frame latency and frame work (tests/browser/measure.mjs), with
# 10 wandering bots in the room. Then the page's frame work with 100 ships in view (idle bots, so
# none is shot down: all 100 are alive and drawn). ONLY_100=1 runs just that last part.
#
# Usage: scripts/feel-bench.sh BIN_DIR WEB_ROOT [OUT_DIR]
#   BIN_DIR   folder with arena-server and arena-bots (e.g. target/release)
#   WEB_ROOT  the web client folder to serve (e.g. web-client)
# The proxy is this checkout's: cargo build --release -p arena-netsim --features proxy
# To compare with an older commit: git worktree add /tmp/old <commit>, build it there with
# CARGO_TARGET_DIR=/tmp/old-target (cargo build --release -p arena-server -p arena-bots, and
# scripts/build-web.sh), then run this script with /tmp/old-target/release and /tmp/old/web-client.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?BIN_DIR}; web=${2:?WEB_ROOT}; out=${3:-target/feel-bench}
proxy=target/release/arena-proxy
[ -x "$proxy" ] || cargo build --release -q -p arena-netsim --features proxy --bin arena-proxy
mkdir -p "$out"
port=18700; pport=18701
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

start_server() { # extra flags...
    "$bin/arena-server" --bind 127.0.0.1:$port --web-root "$web" --arena-size 2000 --seed 7 "$@" >"$out/server.log" 2>&1 &
    pids+=($!); sleep 1
}

if [ -z "${ONLY_100:-}" ]; then
start_server
"$bin/arena-bots" --url ws://127.0.0.1:$port/ws --bots 10 --duration 900s --ramp 1s --behaviour wander --no-server-stats >/dev/null 2>&1 &
pids+=($!)
for spec in "0ms 0ms rtt0" "75ms 10ms rtt150" "150ms 25ms rtt300"; do
    set -- $spec
    "$proxy" --listen 127.0.0.1:$pport --to 127.0.0.1:$port --latency "$1" --jitter "$2" 2>/dev/null &
    ppid=$!; sleep 0.5
    "$bin/arena-bots" --url ws://127.0.0.1:$pport/ws --bots 20 --duration 20s --ramp 2s --behaviour mixed \
        --no-server-stats --json "$out/bots-$3.json" >"$out/bots-$3.txt" 2>/dev/null
    MEASURE_SECONDS=${MEASURE_SECONDS:-45} node tests/browser/measure.mjs "http://127.0.0.1:$pport/" >"$out/page-$3.json"
    kill $ppid; wait $ppid 2>/dev/null || true
    echo "== $3: $(grep -E 'rtt ms|input→ack' "$out/bots-$3.txt" | tr -s ' ' | tr '\n' ' ')"
    echo "   page: $(cat "$out/page-$3.json")"
done
cleanup; pids=()
fi

# Frame work with 100 ships in view (whole 2000² arena in view), no added latency.
start_server --view-width 4000 --view-height 4000
"$bin/arena-bots" --url ws://127.0.0.1:$port/ws --bots 100 --duration 120s --ramp 2s --behaviour idle --no-server-stats >/dev/null 2>&1 &
pids+=($!); sleep 4
MEASURE_SECONDS=20 MEASURE_TRIALS=3 node tests/browser/measure.mjs "http://127.0.0.1:$port/" >"$out/page-100ships.json"
echo "== 100 ships in view: $(cat "$out/page-100ships.json")"
