//! Fuzz target `join_token`: see [`arena_fuzz::join_token`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arena_fuzz::join_token(data));
