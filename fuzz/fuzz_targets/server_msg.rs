//! Fuzz target `server_msg`: see [`arena_protocol::fuzzing::server_bytes`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arena_protocol::fuzzing::server_bytes(data));
