#!/usr/bin/env bash
# What rooms cost, live, on this machine (figures for BENCHMARKS.md, "Rooms"):
#   1. empty rooms: K rooms ticking at 30 Hz with nobody in them (opened by K bots that leave);
#      the server process's CPU and RSS per room over 20 s, against the same server with none.
#   2. rooms per process: K rooms of 16 bots (2 of each 16 decode, the others are light), each
#      room at the game's density; the tick p50/p99 over all rooms and the overruns, to find
#      how many rooms hold with tick p99 under half the budget (16.7 ms at 30 Hz).
# Usage: scripts/rooms-bench.sh [empty|full|all] (default all). Loopback only; each run stops by
# itself. Server and bots share the machine, as in the other live figures.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
cargo build --release -p arena-server -p arena-bots
bin=target/release
port=18931

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
threads() { awk '/^Threads:/ {print $2}' "/proc/$1/status"; }

empty_rooms() {
    local rooms=$1
    "$bin/arena-server" --bind "127.0.0.1:$port" --room-idle-timeout 1h --max-rooms 1000 \
        --replication-threads 2 > /tmp/rooms-bench-server.log 2>&1 &
    local pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" > /dev/null && break; sleep 0.1; done
    if [ "$rooms" -gt 0 ]; then
        "$bin/arena-bots" --url "ws://127.0.0.1:$port/ws" --bots "$rooms" --rooms "$rooms" --behaviour idle \
            --duration 3s --ramp 2s --no-server-stats > /dev/null 2>&1
    fi
    sleep 3
    local open
    open=$(curl -sf "http://127.0.0.1:$port/rooms" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
    local hz; hz=$(getconf CLK_TCK)
    local c0; c0=$(cpu_ticks "$pid")
    sleep 20
    local c1; c1=$(cpu_ticks "$pid")
    local rss; rss=$(rss_kib "$pid")
    local th; th=$(threads "$pid")
    local p99
    p99=$(curl -sf "http://127.0.0.1:$port/rooms" | python3 -c \
        'import json,sys; r=json.load(sys.stdin); print(max([x["tick_p99_ms"] for x in r] or [0]))')
    kill -TERM "$pid"; wait "$pid" || true
    python3 - "$rooms" "$open" "$c0" "$c1" "$hz" "$rss" "$th" "$p99" <<'EOF'
import sys
rooms, open_, c0, c1, hz, rss, th, p99 = sys.argv[1:]
cpu = (int(c1) - int(c0)) / int(hz) / 20.0
print(f"empty rooms {rooms:>4} (open {open_:>4}): cpu {cpu * 100:5.2f} % of a core, rss {int(rss) / 1024:6.1f} MiB, "
      f"threads {th:>4}, worst room tick p99 {float(p99):.3f} ms")
EOF
}

full_rooms() {
    local rooms=$1
    local bots=$((rooms * 16))
    "$bin/arena-loadtest" --bots "$bots" --rooms "$rooms" --decoding $((rooms * 2)) --behaviour mixed \
        --duration 45s --ramp 20s --json "/tmp/rooms-bench-$rooms.json" \
        -- --room-capacity 16 --arena-size 1600 --orbs 48 --max-rooms 1000 > "/tmp/rooms-bench-$rooms.txt" 2>&1
    python3 - "$rooms" "/tmp/rooms-bench-$rooms.json" <<'EOF'
import json, sys
rooms, path = sys.argv[1:]
d = json.load(open(path))
s, c = d["server"], d["clients"]
print(f"rooms {rooms:>3} x 16: joined {c['joined']}/{c['bots']}, tick p50 {s['tick_ms']['p50']:.2f} ms, "
      f"p99 {s['tick_ms']['p99']:.2f} ms, max {s['tick_ms']['max']:.2f} ms, overruns {s['overruns']}, "
      f"skipped {s['skipped_ticks']}, server cpu {s['cpu_percent']:.1f} %, "
      f"snapshots/bot/s {c['snapshots_per_bot_per_s']:.1f} (lowest {c['min_snapshots_per_s']:.1f}), "
      f"desyncs {c['desyncs']}")
EOF
    tail -1 "/tmp/rooms-bench-$rooms.txt"
}

if [ "$what" = empty ] || [ "$what" = all ]; then
    for k in 0 16 64 256; do empty_rooms "$k"; done
fi
if [ "$what" = full ] || [ "$what" = all ]; then
    for k in ${ROOMS:-8 16 24 32 48}; do full_rooms "$k"; done
fi
