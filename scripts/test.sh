#!/usr/bin/env bash
# Runs every test: unit, property, end-to-end over real WebSockets, the web client's JS unit tests
# (node --test) and type check (tsc --checkJs), and the headless-browser tests. Installs what it
# needs on a fresh machine first: Chromium, protoc and OpenSSL headers (apt), the wasm32 target
# (rustup, via build-web.sh) and playwright-core and typescript (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests need: Chromium (browser tests), protoc and its well-known types (the
# Agones SDK's gRPC code is generated at build time) and OpenSSL's headers with pkg-config
# (dummy-agones, the local Agones SDK server of tests/agones.rs, links OpenSSL).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v protoc > /dev/null || [ -n "${PROTOC:-}" ] || missing+=(protobuf-compiler)
[ -f /usr/include/google/protobuf/descriptor.proto ] || [ -n "${PROTOC:-}" ] || missing+=(libprotobuf-dev)
pkg-config --exists openssl 2> /dev/null || missing+=(libssl-dev pkg-config)
if [ ${#missing[@]} -gt 0 ]; then
    echo "test.sh: installing ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

scripts/build-web.sh

if [ ! -d tests/browser/node_modules/playwright-core ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
    (cd tests/browser && npm ci --no-audit --no-fund)
fi

echo "test.sh: web client type check (tsc --checkJs) and JS unit tests (node --test)" >&2
tests/browser/node_modules/.bin/tsc -p web-client
node --test web-client/test/

cargo test --workspace "$@"
