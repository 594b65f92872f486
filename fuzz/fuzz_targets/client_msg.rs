//! Fuzz target `client_msg`: see [`arena_protocol::fuzzing::client_bytes`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arena_protocol::fuzzing::client_bytes(data));
