//! Arena's wire protocol and the game rules that server and clients share.
//!
//! This crate owns everything both ends must agree on bit for bit: the message types
//! ([`ClientMsg`], [`ServerMsg`]), the codec that turns them into WebSocket binary frames
//! ([`codec`]), the fixed-point quantization of positions, velocities and angles ([`quantize`]),
//! the replicated entity state ([`entity`]), the delta-compressed snapshot body and its decoder
//! ([`delta`], [`varint`]), and the ship movement step the browser predicts with ([`rules`]).
//! [`fuzzing`] holds the bodies of the fuzz targets over its decoders (`fuzz/`, and
//! `tests/fuzz_corpus.rs` on every `cargo test`).
//!
//! It must not depend on tokio, bevy or anything that needs an operating system: it is compiled
//! to `wasm32-unknown-unknown` for the web client, and the bots and the server link the same code,
//! so there is exactly one decoder and one set of movement rules.

pub mod codec;
pub mod delta;
pub mod entity;
pub mod fuzzing;
pub mod ids;
#[cfg(feature = "join-token")]
pub mod join_token;
pub mod messages;
pub mod quantize;
pub mod rules;
pub mod timing;
pub mod varint;

pub use codec::{CodecError, decode_client, decode_server, encode_client, encode_server};
pub use delta::{ClientWorld, DeltaError};
pub use entity::{EntityKind, EntityState, Physics};
pub use ids::{NetId, Tick};
pub use messages::*;

/// Version of the wire format. A client whose `Hello` carries another version is turned away
/// with [`ByeReason::VersionMismatch`]. Bump it on any change to the encoding of a message.
pub const PROTOCOL_VERSION: u16 = 7;
