#!/usr/bin/env bash
# Coverage-guided fuzzing of every decoder a peer's bytes reach, with cargo-fuzz and libFuzzer
# on stable Rust. The targets (fuzz/fuzz_targets/, bodies in arena_protocol::fuzzing and
# fuzz/src/lib.rs):
#
#   client_msg      a client's frame as the server decodes it (codec, Hello, input batches)
#   server_msg      a server's frame as the bots and the browser decode it (codec, snapshots)
#   snapshot_delta  a session of server frames and snapshot bodies applied to one ClientWorld
#   http_upgrade    the upgrade request's checks (WebSocket handshake, Origin, X-Forwarded-For,
#                   connection limits)
#   frame_meter     a client's raw byte stream through the frame-header meter and frame budget
#   join_token      a Hello's join token (format, MAC, expiry, reuse)
#
# Usage:
#   scripts/fuzz.sh [TARGET|all] [SECONDS]   fuzz one target, or each in turn (default: all, 60 s each)
#   FUZZ_RUNS=10000000 scripts/fuzz.sh TARGET   a fixed number of executions instead of a time
#   scripts/fuzz.sh cmin [TARGET|all]         minimize the committed corpus (cargo fuzz cmin)
#   scripts/fuzz.sh seed [TARGET|all]         write seeds from real traffic (golden messages, bots
#                                             in an in-memory room), merge them into the corpus, cmin
#
# Inputs that find new coverage go to fuzz/corpus/<target>/ (run `cmin` before committing);
# a crash stops the run and is saved in fuzz/artifacts/<target>/: reproduce it with
# `cargo fuzz run --sanitizer none -a TARGET fuzz/artifacts/TARGET/crash-…`, shrink it with
# `cargo fuzz tmin`, copy it into the corpus as `regression-<what>` (cmin keeps those, and the
# corpus tests, protocol/tests/fuzz_corpus.rs and fuzz/tests/corpus.rs, then keep it fixed) and
# fix the bug.
#
# Why these flags: `--sanitizer none`, because AddressSanitizer needs nightly (-Zsanitizer) and
# this is safe Rust (`unsafe_code = "deny"`), so memory errors are not the risk; panics,
# arithmetic overflow (`-a` and fuzz/Cargo.toml's release profile keep debug assertions and
# overflow checks on), hangs (-timeout) and huge allocations (-rss_limit_mb, -malloc_limit_mb)
# are. One process (no -jobs/-workers): the machine is shared. Installs cargo-fuzz if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(client_msg server_msg snapshot_delta http_upgrade frame_meter join_token)

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --version '^0.13' --locked
fi

# libFuzzer flags of one target: input length and dictionary.
flags() {
    local max_len
    case "$1" in
        client_msg) max_len=512 ;;          # twice the 256-byte limit, so TooLarge is reached
        server_msg) max_len=4096 ;;
        snapshot_delta) max_len=8192 ;;     # sessions of real snapshots run to a few KiB
        http_upgrade) max_len=2048 ;;
        frame_meter) max_len=4096 ;;
        join_token) max_len=512 ;;
        *) echo "fuzz.sh: unknown target '$1' (one of: ${TARGETS[*]})" >&2; exit 2 ;;
    esac
    echo "-max_len=$max_len -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -print_final_stats=1"
    if [ -f "fuzz/dicts/$1.dict" ]; then echo "-dict=fuzz/dicts/$1.dict"; fi
}

targets() {
    if [ "${1:-all}" = all ]; then echo "${TARGETS[@]}"; else flags "$1" >/dev/null && echo "$1"; fi
}

run() {
    local target=$1 seconds=$2 limit
    if [ -n "${FUZZ_RUNS:-}" ]; then limit="-runs=$FUZZ_RUNS"; else limit="-max_total_time=$seconds"; fi
    mkdir -p "fuzz/corpus/$target"
    echo "fuzz.sh: $target ($limit)" >&2
    # shellcheck disable=SC2046
    cargo fuzz run --sanitizer none -a "$target" "fuzz/corpus/$target" -- $(flags "$target") "$limit"
}

# Minimizes a target's corpus to a set cover of its edges (hit counts and comparisons do not
# count), so the committed corpus stays at a few hundred small files. Inputs named
# `regression-*` (crashes found, and hand-made reproducers of them) are kept whatever they cover.
cmin() {
    local target=$1 keep
    keep=$(mktemp -d)
    find "fuzz/corpus/$target" -maxdepth 1 -name 'regression-*' -exec cp {} "$keep/" \;
    # shellcheck disable=SC2046
    cargo fuzz cmin --sanitizer none -a "$target" "fuzz/corpus/$target" -- $(flags "$target") \
        -set_cover_merge=1 -use_counters=0
    cp "$keep"/. "fuzz/corpus/$target/" -r
    rm -rf "$keep"
}

case "${1:-all}" in
    cmin)
        for t in $(targets "${2:-all}"); do cmin "$t"; done
        ;;
    seed)
        seeds=fuzz/target/seeds
        rm -rf "$seeds"
        cargo run --manifest-path fuzz/Cargo.toml --example seed_corpus -- "$seeds"
        for t in $(targets "${2:-all}"); do
            mkdir -p "fuzz/corpus/$t"
            cp "$seeds/$t"/* "fuzz/corpus/$t/"
            cmin "$t"
        done
        ;;
    *)
        for t in $(targets "${1:-all}"); do run "$t" "${2:-60}"; done
        ;;
esac
