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

/// Full state of everything inside the client's view at one tick, sorted by id within each list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The tick this state belongs to.
    pub tick: Tick,
    /// `seq` of the last input of this client that the server applied (0: none yet).
    pub ack_seq: u32,
    /// Ships in view, always including the client's own.
    pub ships: Vec<ShipState>,
    /// Projectiles in view.
    pub projectiles: Vec<ProjectileState>,
    /// Orbs in view.
    pub orbs: Vec<OrbState>,
}

/// A ship as the wire carries it (positions in 1/16 unit, velocities in 1/16 unit/s).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipState {
    /// The ship's net id, equal to its player's id.
    pub id: NetId,
    /// Fixed-point x ([`crate::quantize::pos_to_wire`]).
    pub x: i32,
    /// Fixed-point y.
    pub y: i32,
    /// Fixed-point x velocity ([`crate::quantize::vel_to_wire`]).
    pub vx: i32,
    /// Fixed-point y velocity.
    pub vy: i32,
    /// Aim as a fraction of a turn.
    pub aim: u16,
    /// Hit points, 0 when dead.
    pub hp: u8,
    /// [`ShipState::ALIVE`] and future flags.
    pub flags: u8,
    /// Current score.
    pub score: u32,
}

impl ShipState {
    /// Flag: the ship is in play (not waiting to respawn).
    pub const ALIVE: u8 = 1;

    /// Whether the ship is in play.
    #[must_use]
    pub fn alive(&self) -> bool {
        self.flags & Self::ALIVE != 0
    }
}

/// A projectile in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectileState {
    /// The projectile's net id.
    pub id: NetId,
    /// Fixed-point x.
    pub x: i32,
    /// Fixed-point y.
    pub y: i32,
    /// Fixed-point x velocity.
    pub vx: i32,
    /// Fixed-point y velocity.
    pub vy: i32,
    /// The ship that fired it.
    pub owner: NetId,
}

/// A pickup lying in the arena.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrbState {
    /// The orb's net id.
    pub id: NetId,
    /// Fixed-point x.
    pub x: i32,
    /// Fixed-point y.
    pub y: i32,
    /// What picking it up does.
    pub kind: OrbKind,
}

/// What an orb gives to the ship that touches it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrbKind {
    /// Restores [`crate::rules::ORB_HEAL`] hit points.
    #[default]
    Heal,
    /// Adds [`crate::rules::ORB_SCORE`] to the score.
    Score,
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
