//! Fuzz target `snapshot_delta`: see [`arena_protocol::fuzzing::snapshot_apply`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arena_protocol::fuzzing::snapshot_apply(data));
