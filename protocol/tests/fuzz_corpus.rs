//! The fuzz targets' bodies ([`arena_protocol::fuzzing`]) on every `cargo test`: over each file of
//! the committed corpus (`fuzz/corpus/<target>/`, where every crash the fuzzer found is kept),
//! and over many random inputs and mutations of real frames. A bounded stand-in for the
//! fuzzer, run in seconds; `scripts/fuzz.sh` runs the real thing.

use arena_protocol::fuzzing::{client_bytes, server_bytes, snapshot_apply};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A fuzz target's body.
type Body = fn(&[u8]);

/// The body of each protocol target.
const TARGETS: [(&str, Body); 3] =
    [("client_msg", client_bytes), ("server_msg", server_bytes), ("snapshot_delta", snapshot_apply)];

/// Golden frames of the codec's tests (see `protocol/src/codec.rs`), to mutate.
const GOLDEN: [&str; 8] = [
    "0004036163650000",
    "000401610100abababababababababababababababab00",
    "01ac02aa0280020880800119808001",
    "0201",
    "03ac02",
    "00051e64a01fa01fe807f1040105036163650101010101010101010101010101010101019875",
    "010701050102050102030406000001031002",
    "05000176",
];

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target)
}

/// The committed corpus of `target`, sorted by file name.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = corpus_dir(target);
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
    assert!(files.len() >= 10, "fuzz/corpus/{target} should hold the committed corpus, found {} files", files.len());
    for (path, bytes) in files {
        if std::panic::catch_unwind(|| body(&bytes)).is_err() {
            panic!("the {target} target fails on {}", path.display());
        }
    }
}

#[test]
fn the_client_msg_corpus_passes() {
    run_corpus("client_msg", client_bytes);
}

#[test]
fn the_server_msg_corpus_passes() {
    run_corpus("server_msg", server_bytes);
}

#[test]
fn the_snapshot_delta_corpus_passes() {
    run_corpus("snapshot_delta", snapshot_apply);
}

/// Every target's inputs to mutate: the golden frames and the committed corpus.
fn bases() -> &'static Vec<Vec<u8>> {
    static BASES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    BASES.get_or_init(|| {
        let hex = |s: &str| (0..s.len()).step_by(2).filter_map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect();
        let mut bases: Vec<Vec<u8>> = GOLDEN.iter().map(|s| hex(s)).collect();
        for (target, _) in TARGETS {
            bases.extend(corpus(target).into_iter().map(|(_, bytes)| bytes));
        }
        bases
    })
}

/// One small edit of a byte string, as a fuzzer's mutator makes them.
#[derive(Clone, Debug)]
enum Edit {
    Xor(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
    /// Copies a run of another base in at a position.
    Splice(usize, usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), 1..=255u8).prop_map(|(i, x)| Edit::Xor(i, x)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        2 => any::<usize>().prop_map(Edit::Remove),
        1 => any::<usize>().prop_map(Edit::Truncate),
        1 => (any::<usize>(), any::<usize>(), any::<usize>()).prop_map(|(i, from, at)| Edit::Splice(i, from, at)),
    ]
}

fn mutate(base: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = base.to_vec();
    for e in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match *e {
            Edit::Xor(i, x) if !out.is_empty() => {
                let i = at(i, out.len());
                out[i] ^= x;
            }
            Edit::Insert(i, b) => out.insert(at(i, out.len() + 1), b),
            Edit::Remove(i) if !out.is_empty() => {
                out.remove(at(i, out.len()));
            }
            Edit::Truncate(n) => out.truncate(at(n, out.len() + 1)),
            Edit::Splice(other, from, i) => {
                let src = &bases()[other % bases().len()];
                let from = at(from, src.len() + 1);
                let run = &src[from..(from + 16).min(src.len())];
                let i = at(i, out.len() + 1);
                out.splice(i..i, run.iter().copied());
            }
            _ => {}
        }
    }
    out
}

/// An input for the targets: random bytes, or a golden frame or corpus file with a few edits.
fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..300),
        3 => (any::<usize>(), proptest::collection::vec(edit(), 1..6))
            .prop_map(|(i, edits)| mutate(&bases()[i % bases().len()], &edits)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_and_mutated_inputs_pass_every_target(data in input()) {
        for (_, body) in TARGETS {
            body(&data);
        }
    }
}
