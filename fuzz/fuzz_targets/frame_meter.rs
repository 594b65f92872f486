//! Fuzz target `frame_meter`: see [`arena_fuzz::frame_meter`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arena_fuzz::frame_meter(data));
