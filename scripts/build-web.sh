#!/usr/bin/env bash
# Builds the web client's wasm module (protocol codec + movement step) and puts it where the
# server serves it: web-client/pkg/arena_wasm.wasm.
set -euo pipefail
cd "$(dirname "$0")/.."

target=wasm32-unknown-unknown
if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi

cargo build -p arena-wasm --target "$target" --profile wasm

src="${CARGO_TARGET_DIR:-target}/$target/wasm/arena_wasm.wasm"
dest_dir=web-client/pkg
mkdir -p "$dest_dir"
cp "$src" "$dest_dir/arena_wasm.wasm"
size=$(wc -c <"$dest_dir/arena_wasm.wasm")
echo "web-client: $dest_dir/arena_wasm.wasm is $size bytes ($(( (size + 1023) / 1024 )) KiB)"
