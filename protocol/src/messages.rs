//! Every message that crosses the wire, one enum per direction.
//!
//! postcard is not self-describing: the order of enum variants and struct fields *is* the
//! encoding. Add variants only at the end, never reorder or remove, and bump
//! [`crate::PROTOCOL_VERSION`] whenever an existing message changes. The golden-bytes tests in
//! [`crate::codec`] fail when the encoding moves.

use crate::ids::{NetId, Tick};
use crate::rules::Buttons;
use serde::{Deserialize, Serialize};

/// A message from a client (browser or bot) to the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClientMsg {
    /// First message of every connection; nothing else is accepted before it.
    Hello(Hello),
    /// The player's controls for one tick.
    Input(InputFrame),
    /// Round-trip probe; the server answers at once with [`ServerMsg::Pong`] echoing `t`.
    Ping {
        /// Opaque client timestamp, echoed back unchanged.
        t: u64,
    },
    /// The client's world no longer matches (a checksum mismatch or an undecodable delta): the
    /// next snapshot should be a full one.
    RequestFull {
        /// The tick of the snapshot that failed.
        tick: Tick,
    },
}

/// The opening message of a connection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// Must equal the server's [`crate::PROTOCOL_VERSION`].
    pub protocol_version: u16,
    /// Requested display name; the server sanitizes it with [`crate::rules::sanitize_name`].
    pub name: String,
}

/// The controls of one tick. Clients send one per tick; the server applies at most one per
/// tick per client, in `seq` order, and reports the last applied `seq` in every snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InputFrame {
    /// Increases by one per input; starts at 1.
    pub seq: u32,
    /// Move keys and the fire button.
    pub buttons: Buttons,
    /// Aim direction as a fraction of a turn ([`crate::quantize::angle_to_wire`]).
    pub aim: u16,
}

/// A message from the server to a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ServerMsg {
    /// Answer to a good [`Hello`]: who you are and the room's constants.
    Welcome(Welcome),
    /// The state of the world around the client at one tick.
    Snapshot(Snapshot),
    /// Answer to [`ClientMsg::Ping`].
    Pong {
        /// The `t` of the ping, unchanged.
        t: u64,
    },
    /// Something happened that clients show or keep (joins, leaves, kills).
    Event(GameEvent),
    /// The room's top scores, sent about once a second when they change.
    Scoreboard(Scoreboard),
    /// The server is closing this connection; a WebSocket close frame with
    /// [`ByeReason::close_code`] follows.
    Bye(Bye),
}

/// The room's constants and the client's own identity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// The net id of the client's own ship.
    pub your_id: NetId,
    /// Simulation ticks per second; clients send one input per tick.
    pub tick_hz: u16,
    /// The room's current tick.
    pub tick: Tick,
    /// Arena width in world units.
    pub arena_width: u32,
    /// Arena height in world units.
    pub arena_height: u32,
    /// Half the width of the area around the own ship that snapshots cover.
    pub view_half_width: u32,
    /// Half the height of the area around the own ship that snapshots cover.
    pub view_half_height: u32,
    /// Everyone in the room now, the client included.
    pub players: Vec<PlayerInfo>,
}

/// A player's id and display name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlayerInfo {
    /// Net id of the player's ship.
    pub id: NetId,
    /// Sanitized display name.
    pub name: String,
}

/// The client's view of the world at one tick, as a delta against the last snapshot it applied
/// (see [`crate::delta`] for the body's layout and [`crate::delta::ClientWorld`] for the decoder).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The tick this state belongs to.
    pub tick: Tick,
    /// Ticks from the baseline to `tick`; 0 for a full snapshot (the baseline is the empty world).
    pub baseline_gap: u32,
    /// `seq` of the last input of this client that the server applied (0: none yet).
    pub ack_seq: u32,
    /// Wrapping sum of [`crate::entity::EntityState::hash32`] over everything the client should
    /// hold after applying this snapshot; four little-endian bytes on the wire.
    #[serde(with = "postcard::fixint::le")]
    pub checksum: u32,
    /// The delta body (a length-prefixed byte string; serialized as bytes, not element by element).
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
}

/// Something that happened in the room, sent to every client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum GameEvent {
    /// A player entered the room.
    Joined(PlayerInfo),
    /// A player left the room.
    Left {
        /// The player's id.
        id: NetId,
    },
    /// `killer` destroyed `victim`.
    Kill {
        /// Who fired the last hit.
        killer: NetId,
        /// Who died.
        victim: NetId,
    },
}

/// The room's leaders.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scoreboard {
    /// Players in the room.
    pub players_online: u32,
    /// Up to ten best scores, best first.
    pub top: Vec<ScoreEntry>,
}

/// One line of the scoreboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreEntry {
    /// The player.
    pub id: NetId,
    /// The player's score.
    pub score: u32,
}

/// Why the server is closing a connection, with a human-readable message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bye {
    /// The machine-readable reason.
    pub reason: ByeReason,
    /// A short explanation for logs and players.
    pub message: String,
}

/// Machine-readable reasons for closing a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ByeReason {
    /// The client's `protocol_version` is not the server's.
    VersionMismatch,
    /// A frame could not be decoded, or was not the message expected at that point.
    Malformed,
    /// The room is at its client limit.
    ServerFull,
    /// The client did not read its snapshots fast enough for too long.
    TooSlow,
    /// The client sent more messages than its rate allows.
    InputFlood,
    /// The server is shutting down.
    ShuttingDown,
    /// No `Hello` arrived in time.
    HandshakeTimeout,
}

impl ByeReason {
    /// The WebSocket close code that goes with this reason (RFC 6455 §7.4, and 4000–4999 for
    /// Arena's own).
    #[must_use]
    pub fn close_code(self) -> u16 {
        match self {
            ByeReason::VersionMismatch => 4001,
            ByeReason::Malformed => 1007,
            ByeReason::ServerFull => 1013,
            ByeReason::TooSlow => 4002,
            ByeReason::InputFlood => 1008,
            ByeReason::ShuttingDown => 1001,
            ByeReason::HandshakeTimeout => 4003,
        }
    }

    /// A stable lower-case label for logs and metrics.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            ByeReason::VersionMismatch => "version_mismatch",
            ByeReason::Malformed => "malformed",
            ByeReason::ServerFull => "server_full",
            ByeReason::TooSlow => "too_slow",
            ByeReason::InputFlood => "input_flood",
            ByeReason::ShuttingDown => "shutting_down",
            ByeReason::HandshakeTimeout => "handshake_timeout",
        }
    }
}
