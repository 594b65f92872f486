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
    /// The player's controls for the newest tick, with the last few before it repeated (see
    /// [`InputBatch`]).
    Input(InputBatch),
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
    /// The token of an earlier [`Welcome`], to get that player back after a lost connection
    /// (within the server's resume grace). `None` for a new player.
    pub resume: Option<ResumeToken>,
    /// A join token from the operator's matchmaker, required when the server runs with a join
    /// secret (see docs/PROTOCOL.md, "Join tokens"); at most [`MAX_JOIN_TOKEN_CHARS`] ASCII
    /// characters. `None` on an open server, or when resuming.
    pub join_token: Option<String>,
    /// The room to join (created if the server has none of that name and room for one); a valid
    /// name is 1 to [`MAX_ROOM_NAME_CHARS`] of `A-Z a-z 0-9 - _` ([`valid_room_name`]). `None`:
    /// quick play, the server picks a room. A resume names the room its `Welcome` gave.
    pub room: Option<String>,
}

/// Longest [`Hello::join_token`] a server accepts.
pub const MAX_JOIN_TOKEN_CHARS: usize = 128;

/// Longest room name, in bytes (all of its characters are ASCII).
pub const MAX_ROOM_NAME_CHARS: usize = 32;

/// Whether `name` is a room name a server accepts: 1 to [`MAX_ROOM_NAME_CHARS`] characters, each
/// an ASCII letter, digit, `-` or `_` (so it is safe in a URL, a log line and a metric label).
#[must_use]
pub fn valid_room_name(name: &str) -> bool {
    (1..=MAX_ROOM_NAME_CHARS).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A secret that lets a client whose connection was lost take its ship back. Issued in every
/// [`Welcome`]; valid once, and only while the server keeps the ship (the resume grace).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResumeToken(pub [u8; 16]);

/// Most commands one [`InputBatch`] may carry.
pub const MAX_INPUT_BATCH: usize = 8;

/// A point in the room's timeline as a client sees it: a snapshot tick plus a fraction of the
/// next tick, in 1/256ths. The browser draws other ships between two snapshots, so what the player
/// saw is usually a fractional tick.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ViewTime {
    /// The snapshot tick.
    pub tick: Tick,
    /// How far towards `tick + 1`, in 1/256 of a tick.
    pub frac: u8,
}

impl ViewTime {
    /// The view time in (fractional) ticks.
    #[must_use]
    pub fn ticks(self) -> f64 {
        f64::from(self.tick.0) + f64::from(self.frac) / 256.0
    }

    /// The view time `n` ticks earlier (saturating at tick 0).
    #[must_use]
    pub fn before(self, n: u32) -> ViewTime {
        ViewTime { tick: Tick(self.tick.0.saturating_sub(n)), frac: self.frac }
    }

    /// The view time `n` ticks later.
    #[must_use]
    pub fn after(self, n: u32) -> ViewTime {
        ViewTime { tick: self.tick.after(n), frac: self.frac }
    }
}

/// The controls of one tick, without its sequence number (which its place in an
/// [`InputBatch`] gives).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputCmd {
    /// Move keys and the fire button.
    pub buttons: Buttons,
    /// Aim direction as a fraction of a turn ([`crate::quantize::angle_to_wire`]).
    pub aim: u16,
}

/// What a client sends each tick: its newest command and, before it, the last few commands the
/// server has not acknowledged yet, so one late message never leaves a tick without its input.
/// `cmds` is oldest first; the last has sequence number `seq`, the one before `seq − 1`, and so
/// on. `view` is the time the player was seeing when the newest command was sampled; each older
/// command was sampled one tick earlier.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InputBatch {
    /// Sequence number of the last command in `cmds`.
    pub seq: u32,
    /// What the player saw when the last command was sampled (for lag compensation).
    pub view: ViewTime,
    /// 1 to [`MAX_INPUT_BATCH`] commands, oldest first.
    pub cmds: Vec<InputCmd>,
}

/// Why an [`InputBatch`] is not acceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputBatchError {
    /// It has no command or more than [`MAX_INPUT_BATCH`].
    #[error("an input batch holds 1 to {MAX_INPUT_BATCH} commands, not {0}")]
    Count(usize),
    /// Its sequence numbers would go below 1.
    #[error("input sequence numbers start at 1")]
    Seq,
}

impl InputBatch {
    /// A batch of `cmds` (oldest first) ending with sequence number `seq`, seen at `view`.
    #[must_use]
    pub fn new(seq: u32, view: ViewTime, cmds: Vec<InputCmd>) -> InputBatch {
        InputBatch { seq, view, cmds }
    }

    /// A batch of one command: `frame` alone, without redundancy.
    #[must_use]
    pub fn one(frame: InputFrame) -> InputBatch {
        InputBatch { seq: frame.seq, view: frame.view, cmds: vec![InputCmd { buttons: frame.buttons, aim: frame.aim }] }
    }

    /// Checks the count and the sequence numbers.
    pub fn validate(&self) -> Result<(), InputBatchError> {
        let n = self.cmds.len();
        if n == 0 || n > MAX_INPUT_BATCH {
            return Err(InputBatchError::Count(n));
        }
        if (self.seq as usize) < n {
            return Err(InputBatchError::Seq);
        }
        Ok(())
    }

    /// The commands as numbered frames, oldest first (call [`InputBatch::validate`] first).
    pub fn frames(&self) -> impl Iterator<Item = InputFrame> + '_ {
        let n = self.cmds.len() as u32;
        self.cmds.iter().enumerate().map(move |(i, c)| {
            let back = n - 1 - i as u32;
            InputFrame {
                seq: self.seq.wrapping_sub(back),
                buttons: c.buttons,
                aim: c.aim,
                view: self.view.before(back),
            }
        })
    }
}

/// The controls of one tick with its sequence number and view time: one command of an
/// [`InputBatch`], as the server queues and applies it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InputFrame {
    /// Increases by one per tick; starts at 1.
    pub seq: u32,
    /// Move keys and the fire button.
    pub buttons: Buttons,
    /// Aim direction as a fraction of a turn ([`crate::quantize::angle_to_wire`]).
    pub aim: u16,
    /// What the player saw when it was sampled.
    pub view: ViewTime,
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
    /// The secret to send in [`Hello::resume`] to get this player back if the connection is
    /// lost. A new one comes with every `Welcome`; each is valid once.
    pub resume_token: ResumeToken,
    /// Whether this `Welcome` gave back an earlier player (same id, ship and score) rather than
    /// a new one.
    pub resumed: bool,
    /// How long the server keeps a player whose connection was lost, in milliseconds.
    pub resume_grace_ms: u32,
    /// The name of the room the client is in (the one it asked for, or the one quick play
    /// chose): what a resume `Hello` names, and what a page shows.
    pub room: String,
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
    /// How many of the inputs up to `ack_seq` the server applied without having received them
    /// (speculated from the last one): the own ship's state here rests on that guess until their
    /// real inputs arrive (then the server replays them). A predicting client does not reconcile
    /// against a snapshot whose count is above zero.
    pub ack_speculated: u8,
    /// Inputs of this client waiting in the server's queue after this tick.
    pub input_queue: u8,
    /// How much earlier than the server wants them this client's inputs arrive, in 1/16 tick:
    /// positive, run the input clock slower; negative, faster (see [`crate::timing`]).
    pub input_offset: i16,
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
    /// When the client may try again, in milliseconds; 0 if the server has no advice (a refusal
    /// that waiting will not fix, or a close that needs none).
    pub retry_after_ms: u32,
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
    /// The same player resumed on another connection (its resume token was used).
    Replaced,
    /// The client sent a kind of frame the protocol does not use (a text frame).
    UnsupportedData,
    /// The client sent a frame larger than any client message can be.
    TooLarge,
    /// The client sent nothing (not even a pong to the server's ping) for the idle timeout.
    IdleTimeout,
    /// The server requires a join token and the `Hello` had none, or a bad, expired or already
    /// used one (the message says which).
    JoinRefused,
    /// Something went wrong inside the server (the room stopped); not the client's fault.
    ServerError,
    /// The client broke the WebSocket protocol itself (e.g. an unmasked or reserved frame).
    ProtocolError,
    /// The server cannot hold its tick rate with more players now; `retry_after_ms` says when
    /// to try again.
    ServerBusy,
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
            ByeReason::Replaced => 4004,
            ByeReason::UnsupportedData => 1003,
            ByeReason::TooLarge => 1009,
            ByeReason::IdleTimeout => 4005,
            ByeReason::JoinRefused => 4006,
            ByeReason::ServerError => 1011,
            ByeReason::ProtocolError => 1002,
            ByeReason::ServerBusy => 4007,
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
            ByeReason::Replaced => "replaced",
            ByeReason::UnsupportedData => "unsupported_data",
            ByeReason::TooLarge => "too_large",
            ByeReason::IdleTimeout => "idle_timeout",
            ByeReason::JoinRefused => "join_refused",
            ByeReason::ServerError => "server_error",
            ByeReason::ProtocolError => "protocol_error",
            ByeReason::ServerBusy => "server_busy",
        }
    }
}
