#!/usr/bin/env bash
# Runs every test: unit, property, end-to-end over real WebSockets, and the headless-browser
# test. Installs what it needs on a fresh machine first: Chromium (apt), the wasm32 target
# (rustup, via build-web.sh) and playwright-core (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
    echo "test.sh: installing Chromium for the browser test" >&2
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi

scripts/build-web.sh

if [ ! -d tests/browser/node_modules/playwright-core ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
    (cd tests/browser && npm ci --no-audit --no-fund)
fi

cargo test --workspace "$@"
