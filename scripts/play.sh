#!/usr/bin/env bash
# Runs the game: builds the browser client's wasm module, then starts the server, which serves
# the client at http://127.0.0.1:8080 (pass server flags through, e.g. --bind 0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-web.sh
exec cargo run --release -p arena-server -- "$@"
