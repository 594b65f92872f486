//! Fuzz target `http_upgrade`: see [`arena_fuzz::http_upgrade`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arena_fuzz::http_upgrade(data));
