//! The server-side targets' bodies ([`arena_fuzz`]) over every file of their committed corpus
//! (`fuzz/corpus/<target>/`, where every crash the fuzzer found is kept) and over random and
//! mutated inputs: `cargo test --manifest-path fuzz/Cargo.toml`. The protocol's targets have the
//! same test in `protocol/tests/fuzz_corpus.rs`, which the main workspace's `cargo test` runs.

use arena_fuzz::{frame_meter, http_upgrade, join_token};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A fuzz target's body.
type Body = fn(&[u8]);

/// The body of each server-side target.
const TARGETS: [(&str, Body); 3] =
    [("http_upgrade", http_upgrade), ("frame_meter", frame_meter), ("join_token", join_token)];

/// The committed corpus of `target`, sorted by file name.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("the corpus {} should exist: {e}", dir.display()));
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

fn run_corpus(target: &str, body: Body) {
    let files = corpus(target);
    assert!(files.len() >= 5, "fuzz/corpus/{target} should hold the committed corpus, found {} files", files.len());
    for (path, bytes) in files {
        if std::panic::catch_unwind(|| body(&bytes)).is_err() {
            panic!("the {target} target fails on {}", path.display());
        }
    }
}

#[test]
fn the_http_upgrade_corpus_passes() {
    run_corpus("http_upgrade", http_upgrade);
}

#[test]
fn the_frame_meter_corpus_passes() {
    run_corpus("frame_meter", frame_meter);
}

#[test]
fn the_join_token_corpus_passes() {
    run_corpus("join_token", join_token);
}

/// Each target's corpus, to mutate.
fn bases() -> &'static Vec<Vec<Vec<u8>>> {
    static BASES: OnceLock<Vec<Vec<Vec<u8>>>> = OnceLock::new();
    BASES.get_or_init(|| TARGETS.iter().map(|(t, _)| corpus(t).into_iter().map(|(_, b)| b).collect()).collect())
}

/// A corpus file of the target with a few bytes changed, inserted or removed.
fn mutated(base: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut out = base.to_vec();
    for &(i, op, b) in edits {
        let at = if out.is_empty() { 0 } else { i % out.len() };
        match op % 4 {
            0 | 1 if !out.is_empty() => out[at] ^= b | 1,
            2 => out.insert(at, b),
            3 if !out.is_empty() => {
                out.remove(at);
            }
            _ => out.push(b),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_and_mutated_inputs_pass_every_target(
        random in proptest::collection::vec(any::<u8>(), 0..300),
        pick in any::<usize>(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6),
    ) {
        for (i, (_, body)) in TARGETS.iter().enumerate() {
            body(&random);
            let files = &bases()[i];
            if !files.is_empty() {
                body(&mutated(&files[pick % files.len()], &edits));
            }
        }
    }
}
