//! The protocol codec, the client's copy of the world and the ship and projectile steps of
//! Arena, exported to the browser as raw wasm functions.
//!
//! This crate owns only the thin boundary between JavaScript and [`arena_protocol`]: two byte
//! buffers in linear memory (one the page writes a received frame, a name or input commands
//! into, one it reads results from), a four-float array for the movement steps, the page's
//! [`ClientWorld`] (the protocol's one snapshot decoder, kept here because snapshots are deltas
//! against it), and `extern "C"` functions that call the protocol crate's codec,
//! [`arena_protocol::rules::step_ship`] and [`arena_protocol::rules::step_projectile`]. It must
//! not hold game logic of its own: the browser decodes with the same decoder as the bots and
//! predicts with the server's movement rules, bit for bit, because both are this same code
//! compiled to `wasm32`. The one exception is [`muzzle`], the few lines of the server's `fire`
//! that place a new projectile, which the protocol crate does not export.
//!
//! Each export is a one-line wrapper around a safe, plain Rust function ([`decode_to_json`],
//! [`hello_frame`], [`input_frame`], [`ping_frame`], [`request_full_frame`], [`step`],
//! [`projectile_step`], [`muzzle`], [`rules_json`]) so the logic is unit-tested natively with
//! `cargo test -p arena-wasm`.
//!
//! Calling convention for JavaScript:
//! - `in_buf_ptr(len)` makes the input buffer `len` bytes long and returns where to write them.
//! - Functions that produce bytes put them in the output buffer and return their length (or a
//!   status); read them at `out_ptr()` for `out_len()` bytes before the next call. An encoder
//!   that returns 0 refused its arguments and left the reason as UTF-8 text there.
//! - `encode_hello(name_len, with_token, join_len)`: the name's UTF-8 bytes, then (if
//!   `with_token` is not 0) the 16 bytes of the resume token, then `join_len` bytes of a join
//!   token, in the input buffer.
//! - `encode_input(seq, view_tick, view_frac, count)`: `count` commands, oldest first, as three
//!   bytes each (`buttons`, `aim` little-endian `u16`) in the input buffer.
//! - `step_ship(..)`, `step_projectile(..)` and `spawn_projectile(..)` write `x, y, vx, vy` as
//!   four `f32` at `step_out_ptr()`.
//!
//! Pointers stay valid until the next call that may grow a buffer; the page re-reads them (and
//! re-creates its views of `memory.buffer`, which a growth detaches) after every call.
//!
//! `decode_server` is stateful: a `Welcome` (re)creates the world, a `Snapshot` is applied to it
//! and comes out as the whole world in view (see [`decode_to_json`] for the JSON shapes).

// The raw exports need `#[unsafe(no_mangle)]`, which the `unsafe_code` lint counts as unsafe
// code. No pointer is ever dereferenced on the Rust side: JavaScript writes into and reads from
// buffers that this crate owns as ordinary `Vec`s.
#![allow(unsafe_code)]

use arena_protocol::messages::{
    ClientMsg, Hello, InputBatch, InputCmd, MAX_INPUT_BATCH, ResumeToken, ServerMsg, Snapshot, ViewTime,
};
use arena_protocol::rules::{self, Arena, Buttons, ShipMotion};
use arena_protocol::{ClientWorld, EntityKind, PROTOCOL_VERSION, Physics, Tick, codec, quantize, timing};
use std::cell::RefCell;
use std::fmt::Write as _;

/// The buffers shared with JavaScript.
#[derive(Default)]
struct Buffers {
    /// Bytes written by JavaScript: a received frame, a UTF-8 name (and resume token) or input
    /// commands.
    input: Vec<u8>,
    /// Bytes produced for JavaScript: JSON, an encoded frame or an error message.
    output: Vec<u8>,
    /// `x, y, vx, vy` after the last [`step_ship`], [`step_projectile`] or [`spawn_projectile`]
    /// call.
    step: [f32; 4],
}

thread_local! {
    // wasm32-unknown-unknown has one thread; a thread-local `RefCell` gives safe interior
    // mutability without `static mut`.
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
    /// The page's copy of the world: created by each `Welcome`, moved on by each `Snapshot`.
    static WORLD: RefCell<Option<ClientWorld>> = const { RefCell::new(None) };
}

fn with_buffers<R>(f: impl FnOnce(&mut Buffers) -> R) -> R {
    BUFFERS.with(|b| f(&mut b.borrow_mut()))
}

/// Puts `bytes` into the output buffer and returns their length.
fn set_output(bytes: &[u8]) -> u32 {
    with_buffers(|b| {
        b.output.clear();
        b.output.extend_from_slice(bytes);
        len_u32(b.output.len())
    })
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

// ---------------------------------------------------------------------------------------------
// Plain Rust: what the exports do, testable natively.
// ---------------------------------------------------------------------------------------------

/// Decodes one server frame against the client's `world` and renders it as JSON. The error is a
/// readable message (the frame itself could not be decoded).
///
/// - `Welcome` replaces `world` with an empty [`ClientWorld`] for the room's tick rate and arena,
///   and renders as serde's default JSON, like every other message except `Snapshot`.
/// - `Snapshot` is applied to `world` ([`ClientWorld::apply`], which checks the checksum) and
///   renders as the whole world in view, in wire units:
///   `{"Snapshot":{"tick","ack_seq","ack_speculated","input_queue","input_offset","full","ships":[{"id","x","y",
///   "vx","vy","aim","hp","flags","score"}],"projectiles":[{"id","x","y","vx","vy","owner"}],
///   "orbs":[{"id","x","y","kind"}]}}` with `full` true for a full snapshot (no baseline) and
///   `kind` `"Heal"` or `"Score"`. `Welcome.resume_token` comes out as an array of 16 numbers.
/// - A snapshot that cannot be applied (or arrives before any `Welcome`) is still a decoded frame:
///   it renders as `{"Snapshot":{"tick","ack_seq","ack_speculated","input_queue","input_offset","desync":"<why>"}}`
///   (the header is still good: input timing can use it), the world is now empty, and the page
///   should send `RequestFull` ([`request_full_frame`]).
pub fn decode_to_json(world: &mut Option<ClientWorld>, frame: &[u8]) -> Result<String, String> {
    let msg = arena_protocol::decode_server(frame).map_err(|e| e.to_string())?;
    match &msg {
        ServerMsg::Snapshot(s) => return Ok(snapshot_json(world, s)),
        ServerMsg::Welcome(w) => {
            let arena = Arena { width: w.arena_width as f32, height: w.arena_height as f32 };
            *world = Some(ClientWorld::new(Physics::new(w.tick_hz, arena)));
        }
        _ => {}
    }
    serde_json::to_string(&msg).map_err(|e| format!("cannot render message as json: {e}"))
}

/// Applies `s` to `world` and renders the result (see [`decode_to_json`]). Written by hand: the
/// fields are all integers, and deriving `Serialize` for view structs would need `serde` as a
/// direct dependency of this crate for no gain.
fn snapshot_json(world: &mut Option<ClientWorld>, s: &Snapshot) -> String {
    let Some(world) = world.as_mut() else {
        return desync_json(s, "snapshot before Welcome");
    };
    if let Err(e) = world.apply(s) {
        return desync_json(s, &e.to_string());
    }
    let mut out = String::with_capacity(96 + 96 * world.entities().len());
    let _ = write!(out, r#"{{"Snapshot":{{{},"full":{}"#, header_json(s), s.baseline_gap == 0);
    // Three passes over the (sorted) entities keep each list in id order.
    for (name, kinds) in [
        ("ships", &[EntityKind::Ship][..]),
        ("projectiles", &[EntityKind::Projectile][..]),
        ("orbs", &[EntityKind::HealOrb, EntityKind::ScoreOrb][..]),
    ] {
        let _ = write!(out, r#","{name}":["#);
        let mut first = true;
        for e in world.entities().iter().filter(|e| kinds.contains(&e.kind)) {
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, r#"{{"id":{},"x":{},"y":{}"#, e.id.0, e.x, e.y);
            let _ = match e.kind {
                // Ships aim in 1/256 of a turn on the wire (8 bits); the page has always taken
                // `aim` as a 16-bit fraction of a turn (`rules().angle_steps` = 65536), so it is
                // scaled up here (`<< 8`) and the page's angle code is unchanged.
                EntityKind::Ship => write!(
                    out,
                    r#","vx":{},"vy":{},"aim":{},"hp":{},"flags":{},"score":{}}}"#,
                    e.vx,
                    e.vy,
                    u32::from(e.aim & 0xff) << 8,
                    e.hp,
                    e.flags,
                    e.score
                ),
                EntityKind::Projectile => write!(out, r#","vx":{},"vy":{},"owner":{}}}"#, e.vx, e.vy, e.owner.0),
                EntityKind::HealOrb => write!(out, r#","kind":"Heal"}}"#),
                EntityKind::ScoreOrb => write!(out, r#","kind":"Score"}}"#),
            };
        }
        out.push(']');
    }
    out.push_str("}}");
    out
}

/// The snapshot header fields every snapshot JSON starts with (no braces).
fn header_json(s: &Snapshot) -> String {
    format!(
        r#""tick":{},"ack_seq":{},"ack_speculated":{},"input_queue":{},"input_offset":{}"#,
        s.tick.0, s.ack_seq, s.ack_speculated, s.input_queue, s.input_offset
    )
}

/// `{"Snapshot":{"tick":..,"ack_seq":..,"ack_speculated":..,"input_queue":..,"input_offset":..,"desync":".."}}`.
fn desync_json(s: &Snapshot, why: &str) -> String {
    // A `&str` always serializes; the fallback only keeps this free of `unwrap`.
    let why = serde_json::to_string(why).unwrap_or_else(|_| String::from("\"desync\""));
    format!(r#"{{"Snapshot":{{{},"desync":{why}}}}}"#, header_json(s))
}

/// Encodes the opening `Hello` with this build's [`PROTOCOL_VERSION`], asking to resume the
/// player of an earlier `Welcome` when `resume` is given, with the matchmaker's `join` token if
/// the server needs one, for the `room` named (quick play if `None`).
#[must_use]
pub fn hello_frame(name: &str, resume: Option<[u8; 16]>, join: Option<String>, room: Option<String>) -> Vec<u8> {
    arena_protocol::encode_client(&ClientMsg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        name: name.to_owned(),
        resume: resume.map(ResumeToken),
        join_token: join,
        room,
    }))
}

/// Bytes per command in the input buffer for [`encode_input`]: `buttons`, then `aim` as a
/// little-endian `u16`.
pub const CMD_BYTES: usize = 3;

/// Encodes an input batch: `cmds` (oldest first, [`CMD_BYTES`] each, see [`encode_input`]) the
/// last of which has sequence number `seq`, sampled while the player saw `view_tick` +
/// `view_frac`/256. `view_frac` above 255 is clamped. Refuses (with a readable reason) what the
/// server would refuse: no command, more than [`MAX_INPUT_BATCH`], a `seq` too small for the
/// count, or a length that is not a whole number of commands.
pub fn input_frame(seq: u32, view_tick: u32, view_frac: u32, cmds: &[u8]) -> Result<Vec<u8>, String> {
    if !cmds.len().is_multiple_of(CMD_BYTES) {
        return Err(format!("input commands are {CMD_BYTES} bytes each, got {} bytes", cmds.len()));
    }
    let cmds: Vec<InputCmd> = cmds
        .chunks_exact(CMD_BYTES)
        .map(|c| InputCmd { buttons: Buttons(c[0]), aim: u16::from_le_bytes([c[1], c[2]]) })
        .collect();
    let view = ViewTime { tick: Tick(view_tick), frac: u8::try_from(view_frac).unwrap_or(u8::MAX) };
    let batch = InputBatch::new(seq, view, cmds);
    batch.validate().map_err(|e| e.to_string())?;
    Ok(arena_protocol::encode_client(&ClientMsg::Input(batch)))
}

/// Encodes a `Ping`. `t` is a non-negative whole number from JavaScript (a `f64`); it is
/// truncated and saturated into the wire's `u64` (NaN becomes 0).
#[must_use]
pub fn ping_frame(t: f64) -> Vec<u8> {
    // `as` from f64 to u64 saturates and maps NaN to 0, which is what we want here.
    arena_protocol::encode_client(&ClientMsg::Ping { t: t as u64 })
}

/// Encodes a `RequestFull` for the snapshot of `tick` that could not be applied.
#[must_use]
pub fn request_full_frame(tick: u32) -> Vec<u8> {
    arena_protocol::encode_client(&ClientMsg::RequestFull { tick: Tick(tick) })
}

/// One movement step exactly as the server runs it: [`rules::step_ship`] with
/// [`rules::tick_dt`]`(tick_hz)`. Returns `[x, y, vx, vy]` in world units.
///
/// An arena narrower than a ship (or NaN) is widened to one ship's diameter first: the walls'
/// `clamp` would panic, and a panic in wasm is a trap that kills the page's module.
#[must_use]
#[allow(clippy::too_many_arguments)]
pub fn step(x: f32, y: f32, vx: f32, vy: f32, buttons: u32, tick_hz: u32, arena_w: f32, arena_h: f32) -> [f32; 4] {
    let hz = u16::try_from(tick_hz).unwrap_or(u16::MAX);
    let min_side = 2.0 * rules::SHIP_RADIUS;
    let side = |v: f32| if v >= min_side { v } else { min_side };
    let m = rules::step_ship(
        ShipMotion { x, y, vx, vy },
        Buttons((buttons & 0xFF) as u8),
        rules::tick_dt(hz),
        Arena { width: side(arena_w), height: side(arena_h) },
    );
    [m.x, m.y, m.vx, m.vy]
}

/// One tick of a projectile's flight exactly as the server flies it:
/// [`rules::step_projectile`] with [`rules::tick_dt`]`(tick_hz)`. Returns `[x, y, vx, vy]`
/// (the velocity is unchanged).
#[must_use]
pub fn projectile_step(x: f32, y: f32, vx: f32, vy: f32, tick_hz: u32) -> [f32; 4] {
    let hz = u16::try_from(tick_hz).unwrap_or(u16::MAX);
    let (x, y) = rules::step_projectile(x, y, vx, vy, rules::tick_dt(hz));
    [x, y, vx, vy]
}

/// Where and how fast a ship at `(x, y)` aiming at `aim` (a `u16` fraction of a turn) fires:
/// `[x, y, vx, vy]` of the new projectile, from [`rules::muzzle`], the function the server fires
/// with (bits of `aim` above the low 16 are dropped).
#[must_use]
pub fn muzzle(x: f32, y: f32, aim: u32) -> [f32; 4] {
    let (nx, ny, vx, vy) = rules::muzzle(x, y, (aim & 0xFFFF) as u16);
    [nx, ny, vx, vy]
}

/// The rule and wire constants the page needs, as one JSON object, so JavaScript mirrors none of
/// them by hand.
#[must_use]
pub fn rules_json() -> String {
    let mut s = String::from("{");
    let mut field = |name: &str, value: f64| {
        if s.len() > 1 {
            s.push(',');
        }
        s.push('"');
        s.push_str(name);
        s.push_str("\":");
        write_decimal(&mut s, value);
    };
    field("protocol_version", f64::from(PROTOCOL_VERSION));
    field("pos_scale", f64::from(quantize::POS_SCALE));
    field("vel_scale", f64::from(quantize::VEL_SCALE));
    field("angle_steps", f64::from(quantize::ANGLE_STEPS));
    field("ship_accel", f64::from(rules::SHIP_ACCEL));
    field("ship_drag", f64::from(rules::SHIP_DRAG));
    field("ship_max_speed", f64::from(rules::SHIP_MAX_SPEED));
    field("ship_radius", f64::from(rules::SHIP_RADIUS));
    field("ship_max_hp", f64::from(rules::SHIP_MAX_HP));
    field("projectile_speed", f64::from(rules::PROJECTILE_SPEED));
    field("projectile_radius", f64::from(rules::PROJECTILE_RADIUS));
    field("projectile_lifetime_s", f64::from(rules::PROJECTILE_LIFETIME_S));
    field("fire_cooldown_s", f64::from(rules::FIRE_COOLDOWN_S));
    field("respawn_delay_s", f64::from(rules::RESPAWN_DELAY_S));
    field("orb_radius", f64::from(rules::ORB_RADIUS));
    field("max_name_chars", rules::MAX_NAME_CHARS as f64);
    field("button_up", f64::from(Buttons::UP));
    field("button_down", f64::from(Buttons::DOWN));
    field("button_left", f64::from(Buttons::LEFT));
    field("button_right", f64::from(Buttons::RIGHT));
    field("button_fire", f64::from(Buttons::FIRE));
    field("max_input_batch", MAX_INPUT_BATCH as f64);
    field("offset_units_per_tick", f64::from(timing::OFFSET_UNITS_PER_TICK));
    field("dilation_gain", f64::from(timing::DILATION_GAIN));
    field("max_dilation", f64::from(timing::MAX_DILATION));
    field("dilation_smoothing", f64::from(timing::DILATION_SMOOTHING));
    field("max_client_frame", codec::MAX_CLIENT_FRAME as f64);
    field("max_server_frame", codec::MAX_SERVER_FRAME as f64);
    s.push('}');
    s
}

/// Writes `v` rounded to three decimals, using only integer formatting: the float formatter of
/// `core` would add some 20 KB to the wasm module for a handful of constants. Every constant in
/// [`rules_json`] has at most three decimals (a unit test checks that they come back exact).
fn write_decimal(s: &mut String, v: f64) {
    let milli = (v * 1000.0).round() as i64;
    if milli < 0 {
        s.push('-');
    }
    let milli = milli.unsigned_abs();
    // Writing to a String cannot fail.
    let _ = write!(s, "{}", milli / 1000);
    let frac = milli % 1000;
    if frac != 0 {
        let _ = write!(s, ".{frac:03}");
    }
}

// ---------------------------------------------------------------------------------------------
// Raw exports.
// ---------------------------------------------------------------------------------------------

/// Makes the input buffer `len` bytes long and returns its address, for JavaScript to write a
/// received frame (or a UTF-8 name) into.
#[unsafe(no_mangle)]
pub extern "C" fn in_buf_ptr(len: u32) -> *mut u8 {
    with_buffers(|b| {
        b.input.resize(len as usize, 0);
        b.input.as_mut_ptr()
    })
}

/// Address of the output buffer.
#[unsafe(no_mangle)]
pub extern "C" fn out_ptr() -> *const u8 {
    with_buffers(|b| b.output.as_ptr())
}

/// Length in bytes of the output buffer's contents.
#[unsafe(no_mangle)]
pub extern "C" fn out_len() -> u32 {
    with_buffers(|b| len_u32(b.output.len()))
}

/// Decodes the first `len` bytes of the input buffer as a server frame, against the page's world
/// (see [`decode_to_json`]). Returns 1 with the message as JSON in the output buffer (a snapshot
/// that desynced included), or 0 with the error text there.
#[unsafe(no_mangle)]
pub extern "C" fn decode_server(len: u32) -> i32 {
    let result = with_buffers(|b| {
        let n = (len as usize).min(b.input.len());
        WORLD.with(|w| decode_to_json(&mut w.borrow_mut(), &b.input[..n]))
    });
    match result {
        Ok(json) => {
            set_output(json.as_bytes());
            1
        }
        Err(err) => {
            set_output(err.as_bytes());
            0
        }
    }
}

/// Encodes a `Hello` whose name is the first `name_len` bytes of the input buffer (UTF-8; bad
/// sequences become U+FFFD), followed there, when `with_token` is not 0, by the 16 bytes of the
/// resume token, then by `join_len` bytes of a join token (ASCII; none if 0), then by `room_len`
/// bytes of a room name (quick play if 0). Returns the frame's length (the frame is in the output
/// buffer), or 0 with the reason in the output buffer when the bytes are missing, the join token
/// is not ASCII or the room name is not one a server accepts.
#[unsafe(no_mangle)]
pub extern "C" fn encode_hello(name_len: u32, with_token: u32, join_len: u32, room_len: u32) -> u32 {
    let frame = with_buffers(|b| {
        let n = (name_len as usize).min(b.input.len());
        let name = String::from_utf8_lossy(&b.input[..n]);
        let mut at = n;
        let resume = if with_token == 0 {
            None
        } else {
            let token: [u8; 16] = b
                .input
                .get(n..n + 16)
                .and_then(|t| t.try_into().ok())
                .ok_or_else(|| String::from("the resume token needs 16 bytes after the name"))?;
            at += 16;
            Some(token)
        };
        let join = match join_len {
            0 => None,
            len => {
                let bytes = b.input.get(at..at + len as usize).ok_or("the join token's bytes are missing")?;
                let text = std::str::from_utf8(bytes).ok().filter(|t| t.is_ascii()).ok_or("a join token is ASCII")?;
                at += len as usize;
                Some(text.to_owned())
            }
        };
        let room = match room_len {
            0 => None,
            len => {
                let bytes = b.input.get(at..at + len as usize).ok_or("the room name's bytes are missing")?;
                let name = std::str::from_utf8(bytes)
                    .ok()
                    .filter(|n| arena_protocol::valid_room_name(n))
                    .ok_or("a room name is 1 to 32 characters of A-Z a-z 0-9 - _")?;
                Some(name.to_owned())
            }
        };
        Ok(hello_frame(&name, resume, join, room))
    });
    output_or_zero(frame)
}

/// Encodes an `Input` batch of `count` commands read from the input buffer (see
/// [`input_frame`]; [`CMD_BYTES`] bytes each, oldest first). Returns the frame's length (the frame
/// is in the output buffer), or 0 with the reason in the output buffer.
#[unsafe(no_mangle)]
pub extern "C" fn encode_input(seq: u32, view_tick: u32, view_frac: u32, count: u32) -> u32 {
    let frame = with_buffers(|b| {
        let n = (count as usize).saturating_mul(CMD_BYTES);
        match b.input.get(..n) {
            Some(cmds) => input_frame(seq, view_tick, view_frac, cmds),
            None => Err(format!("{count} commands need {n} bytes in the input buffer")),
        }
    });
    output_or_zero(frame)
}

/// Puts an encoded frame in the output buffer and returns its length, or the error text and 0.
fn output_or_zero(frame: Result<Vec<u8>, String>) -> u32 {
    match frame {
        Ok(frame) => set_output(&frame),
        Err(why) => {
            set_output(why.as_bytes());
            0
        }
    }
}

/// Encodes a `Ping` carrying `t` (see [`ping_frame`]). Returns the frame's length; the frame is
/// in the output buffer.
#[unsafe(no_mangle)]
pub extern "C" fn encode_ping(t: f64) -> u32 {
    set_output(&ping_frame(t))
}

/// Encodes a `RequestFull` for `tick` (see [`request_full_frame`]). Returns the frame's length;
/// the frame is in the output buffer.
#[unsafe(no_mangle)]
pub extern "C" fn encode_request_full(tick: u32) -> u32 {
    set_output(&request_full_frame(tick))
}

/// Runs one movement step (see [`step`]) and stores `x, y, vx, vy` at [`step_out_ptr`].
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn step_ship(x: f32, y: f32, vx: f32, vy: f32, buttons: u32, tick_hz: u32, arena_w: f32, arena_h: f32) {
    let out = step(x, y, vx, vy, buttons, tick_hz, arena_w, arena_h);
    with_buffers(|b| b.step = out);
}

/// Flies a projectile one tick (see [`projectile_step`]) and stores `x, y, vx, vy` at
/// [`step_out_ptr`].
#[unsafe(no_mangle)]
pub extern "C" fn step_projectile(x: f32, y: f32, vx: f32, vy: f32, tick_hz: u32) {
    let out = projectile_step(x, y, vx, vy, tick_hz);
    with_buffers(|b| b.step = out);
}

/// Places the projectile a ship at `(x, y)` aiming at `aim` fires (see [`muzzle`]) and stores its
/// `x, y, vx, vy` at [`step_out_ptr`].
#[unsafe(no_mangle)]
pub extern "C" fn spawn_projectile(x: f32, y: f32, aim: u32) {
    let out = muzzle(x, y, aim);
    with_buffers(|b| b.step = out);
}

/// Address of the four `f32` (`x, y, vx, vy`) written by [`step_ship`], [`step_projectile`] and
/// [`spawn_projectile`].
#[unsafe(no_mangle)]
pub extern "C" fn step_out_ptr() -> *const f32 {
    with_buffers(|b| b.step.as_ptr())
}

/// This build's wire protocol version.
#[unsafe(no_mangle)]
pub extern "C" fn protocol_version() -> u32 {
    u32::from(PROTOCOL_VERSION)
}

/// Puts [`rules_json`] in the output buffer and returns its length.
#[unsafe(no_mangle)]
pub extern "C" fn rules(_reserved: u32) -> u32 {
    set_output(rules_json().as_bytes())
}

/// An aim angle in radians to its `u16` wire value ([`quantize::angle_to_wire`]).
#[unsafe(no_mangle)]
pub extern "C" fn angle_to_wire(radians: f32) -> u32 {
    u32::from(quantize::angle_to_wire(radians))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_protocol::delta::{BodyWriter, encode_body};
    use arena_protocol::entity::checksum;
    use arena_protocol::messages::*;
    use arena_protocol::{EntityState, NetId};
    use serde_json::{Value, json};

    fn output() -> Vec<u8> {
        with_buffers(|b| b.output.clone())
    }

    fn write_input(bytes: &[u8]) {
        let len = len_u32(bytes.len());
        in_buf_ptr(len);
        with_buffers(|b| b.input.copy_from_slice(bytes));
    }

    fn decode_export(frame: &[u8]) -> (i32, Value) {
        write_input(frame);
        let status = decode_server(len_u32(frame.len()));
        let out = output();
        assert_eq!(out_len() as usize, out.len(), "out_len should report the output size");
        let value = if status == 1 {
            serde_json::from_slice(&out).expect("the output of a successful decode is json")
        } else {
            Value::String(String::from_utf8_lossy(&out).into_owned())
        };
        (status, value)
    }

    const PHYSICS: Physics = Physics { dt: 1.0 / 30.0, arena: Arena { width: 4000.0, height: 3000.0 } };

    fn welcome_frame(tick: u32) -> Vec<u8> {
        arena_protocol::encode_server(&ServerMsg::Welcome(Welcome {
            your_id: NetId(1),
            tick_hz: 30,
            tick: Tick(tick),
            arena_width: 4000,
            arena_height: 3000,
            view_half_width: 900,
            view_half_height: 500,
            players: vec![PlayerInfo { id: NetId(1), name: "ace".into() }],
            resume_token: ResumeToken([7; 16]),
            resumed: false,
            resume_grace_ms: 15_000,
            room: "main".into(),
        }))
    }

    /// The snapshot moving a client holding `baseline` to `world`, `gap` ticks later (0: a full
    /// snapshot), encoded the way the server does it.
    fn snapshot(tick: u32, gap: u32, baseline: &[EntityState], world: &[EntityState]) -> Snapshot {
        let mut writer = BodyWriter::default();
        encode_body(&mut writer, if gap == 0 { &[] } else { baseline }, world, gap, &PHYSICS);
        let mut body = Vec::new();
        writer.finish(&mut body);
        Snapshot {
            tick: Tick(tick),
            baseline_gap: gap,
            ack_seq: 3,
            ack_speculated: 1,
            input_queue: 2,
            input_offset: -24,
            checksum: checksum(world),
            body,
        }
    }

    fn snapshot_frame(tick: u32, gap: u32, baseline: &[EntityState], world: &[EntityState]) -> Vec<u8> {
        arena_protocol::encode_server(&ServerMsg::Snapshot(snapshot(tick, gap, baseline, world)))
    }

    fn ship(id: u32, x: i32, buttons: u8) -> EntityState {
        EntityState {
            id: NetId(id),
            kind: EntityKind::Ship,
            x,
            y: -16,
            vx: 160,
            vy: -8,
            aim: 64,
            hp: 80,
            flags: EntityState::ship_flags(true, Buttons(buttons)),
            score: 12,
            ..Default::default()
        }
    }

    /// Two ships (one thrusting right), a projectile and one orb of each kind, sorted by id.
    fn sample_world() -> Vec<EntityState> {
        vec![
            ship(1, 32_000, Buttons::RIGHT),
            EntityState { id: NetId(2), flags: 0, hp: 0, ..ship(2, 800, 0) },
            EntityState { id: NetId(4), kind: EntityKind::HealOrb, x: 10, y: 20, ..Default::default() },
            EntityState { id: NetId(5), kind: EntityKind::ScoreOrb, x: 30, y: 40, ..Default::default() },
            EntityState {
                id: NetId(9),
                kind: EntityKind::Projectile,
                x: 1,
                y: 2,
                vx: 3,
                vy: 4,
                owner: NetId(1),
                ..Default::default()
            },
        ]
    }

    fn world_len() -> Option<usize> {
        WORLD.with(|w| w.borrow().as_ref().map(|w| w.entities().len()))
    }

    #[test]
    fn a_full_snapshot_after_welcome_renders_the_whole_world() {
        assert_eq!(decode_export(&welcome_frame(99)).0, 1);
        assert_eq!(world_len(), Some(0), "a Welcome should create an empty world");
        let (status, v) = decode_export(&snapshot_frame(100, 0, &[], &sample_world()));
        assert_eq!(status, 1, "a valid snapshot should decode, got {v}");
        assert_eq!(
            v,
            json!({"Snapshot": {
                "tick": 100, "ack_seq": 3, "ack_speculated": 1, "input_queue": 2, "input_offset": -24, "full": true,
                "ships": [
                    {"id": 1, "x": 32000, "y": -16, "vx": 160, "vy": -8, "aim": 16384, "hp": 80,
                     "flags": 0x81, "score": 12},
                    {"id": 2, "x": 800, "y": -16, "vx": 160, "vy": -8, "aim": 16384, "hp": 0,
                     "flags": 0, "score": 12}
                ],
                "projectiles": [{"id": 9, "x": 1, "y": 2, "vx": 3, "vy": 4, "owner": 1}],
                "orbs": [{"id": 4, "x": 10, "y": 20, "kind": "Heal"},
                         {"id": 5, "x": 30, "y": 40, "kind": "Score"}]
            }}),
            "the world should come out in wire units, aim scaled to 16 bits (64/256 = 16384/65536)"
        );
        assert_eq!(world_len(), Some(5));
    }

    #[test]
    fn a_delta_moves_entities_as_predicted() {
        decode_export(&welcome_frame(99));
        let world = sample_world();
        assert_eq!(decode_export(&snapshot_frame(100, 0, &[], &world)).0, 1);

        // Two ticks of nothing but the rules: a body of three empty sections.
        let next: Vec<_> = world.iter().map(|e| e.predict(2, &PHYSICS)).collect();
        assert_eq!(snapshot(102, 2, &world, &next).body, [0, 0, 0], "nothing to send beyond the prediction");
        let (status, v) = decode_export(&snapshot_frame(102, 2, &world, &next));
        assert_eq!(status, 1, "{v}");
        assert_eq!(v["Snapshot"]["full"], json!(false));
        assert_eq!(v["Snapshot"]["tick"], json!(102));
        let thrusting = &v["Snapshot"]["ships"][0];
        assert_eq!(
            (thrusting["x"].as_i64(), thrusting["vx"].as_i64()),
            (Some(next[0].x.into()), Some(next[0].vx.into()))
        );
        assert!(next[0].x > world[0].x + 2 * 10, "the thrusting ship should have moved right");
        assert_eq!(v["Snapshot"]["ships"][1]["x"], json!(800), "a dead ship stays put");
        assert_eq!(v["Snapshot"]["projectiles"][0]["x"], json!(next[4].x));

        // Then a real change: a hit, a turn and a despawned orb.
        let mut after: Vec<_> = next.iter().map(|e| e.predict(1, &PHYSICS)).filter(|e| e.id != NetId(5)).collect();
        after[0].hp = 60;
        after[0].aim = 255;
        let (status, v) = decode_export(&snapshot_frame(103, 1, &next, &after));
        assert_eq!(status, 1, "{v}");
        let s = &v["Snapshot"];
        assert_eq!((s["ships"][0]["hp"].as_u64(), s["ships"][0]["aim"].as_u64()), (Some(60), Some(255 << 8)));
        assert_eq!(s["orbs"], json!([{"id": 4, "x": 10, "y": 20, "kind": "Heal"}]), "orb 5 was despawned");
    }

    #[test]
    fn a_bad_checksum_is_a_desync_that_empties_the_world_until_a_full_snapshot() {
        decode_export(&welcome_frame(99));
        let world = sample_world();
        let mut bad = snapshot(100, 0, &[], &world);
        bad.checksum ^= 1;
        let frame = arena_protocol::encode_server(&ServerMsg::Snapshot(bad));
        let (status, v) = decode_export(&frame);
        assert_eq!(status, 1, "a desynced snapshot is still a valid frame");
        let text = v["Snapshot"]["desync"].as_str().unwrap_or_default().to_owned();
        assert!(text.contains("checksum"), "the desync should say why, got {v}");
        assert_eq!(v["Snapshot"]["tick"], json!(100));
        assert!(v["Snapshot"].get("ships").is_none(), "a desync carries no world: {v}");
        assert_eq!(world_len(), Some(0), "after a desync the world is empty");

        // Deltas against the lost baseline keep failing...
        let next: Vec<_> = world.iter().map(|e| e.predict(1, &PHYSICS)).collect();
        let (status, v) = decode_export(&snapshot_frame(101, 1, &world, &next));
        assert_eq!(status, 1);
        assert!(v["Snapshot"]["desync"].as_str().is_some_and(|t| t.contains("against tick")), "{v}");
        // ...until a full snapshot arrives.
        let (_, v) = decode_export(&snapshot_frame(102, 0, &[], &next));
        assert_eq!(v["Snapshot"]["full"], json!(true), "{v}");
        assert_eq!(world_len(), Some(5));
    }

    #[test]
    fn a_snapshot_before_any_welcome_is_a_desync() {
        let (status, v) = decode_export(&snapshot_frame(7, 0, &[], &sample_world()));
        assert_eq!(status, 1);
        assert_eq!(
            v,
            json!({"Snapshot": {"tick": 7, "ack_seq": 3, "ack_speculated": 1, "input_queue": 2, "input_offset": -24,
                "desync": "snapshot before Welcome"}}),
            "a desync keeps the header, whose input timing is still good"
        );
    }

    #[test]
    fn a_garbage_body_is_a_desync_not_an_error() {
        decode_export(&welcome_frame(1));
        let frame = arena_protocol::encode_server(&ServerMsg::Snapshot(Snapshot {
            tick: Tick(2),
            baseline_gap: 0,
            ack_seq: 0,
            ack_speculated: 0,
            input_queue: 0,
            input_offset: 0,
            checksum: 0,
            body: vec![0xff; 9],
        }));
        let (status, v) = decode_export(&frame);
        assert_eq!(status, 1);
        assert!(v["Snapshot"]["desync"].is_string(), "{v}");
    }

    #[test]
    fn a_new_welcome_starts_a_new_world() {
        decode_export(&welcome_frame(99));
        let world = sample_world();
        decode_export(&snapshot_frame(100, 0, &[], &world));
        assert_eq!(world_len(), Some(5));
        decode_export(&welcome_frame(500));
        assert_eq!(world_len(), Some(0), "a reconnect's Welcome must forget the old world");
        let (_, v) = decode_export(&snapshot_frame(101, 1, &world, &world));
        assert!(v["Snapshot"]["desync"].is_string(), "{v}");
    }

    #[test]
    fn every_other_server_message_has_the_documented_json_shape() {
        let cases = [
            (
                ServerMsg::Welcome(Welcome {
                    your_id: NetId(2),
                    tick_hz: 30,
                    tick: Tick(100),
                    arena_width: 4000,
                    arena_height: 3000,
                    view_half_width: 900,
                    view_half_height: 500,
                    players: vec![PlayerInfo { id: NetId(2), name: "bob".into() }],
                    resume_token: ResumeToken([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 255]),
                    resumed: true,
                    resume_grace_ms: 15_000,
                    room: "duel".into(),
                }),
                json!({"Welcome": {"your_id": 2, "tick_hz": 30, "tick": 100, "arena_width": 4000,
                    "arena_height": 3000, "view_half_width": 900, "view_half_height": 500,
                    "players": [{"id": 2, "name": "bob"}],
                    "resume_token": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 255],
                    "resumed": true, "resume_grace_ms": 15_000, "room": "duel"}}),
            ),
            (ServerMsg::Pong { t: 123_456_789 }, json!({"Pong": {"t": 123_456_789}})),
            (
                ServerMsg::Event(GameEvent::Joined(PlayerInfo { id: NetId(2), name: "bob".into() })),
                json!({"Event": {"Joined": {"id": 2, "name": "bob"}}}),
            ),
            (ServerMsg::Event(GameEvent::Left { id: NetId(2) }), json!({"Event": {"Left": {"id": 2}}})),
            (
                ServerMsg::Event(GameEvent::Kill { killer: NetId(1), victim: NetId(2) }),
                json!({"Event": {"Kill": {"killer": 1, "victim": 2}}}),
            ),
            (
                ServerMsg::Scoreboard(Scoreboard {
                    players_online: 3,
                    top: vec![ScoreEntry { id: NetId(1), score: 10 }],
                }),
                json!({"Scoreboard": {"players_online": 3, "top": [{"id": 1, "score": 10}]}}),
            ),
            (
                ServerMsg::Bye(Bye {
                    reason: ByeReason::VersionMismatch,
                    message: "old client".into(),
                    retry_after_ms: 0,
                }),
                json!({"Bye": {"reason": "VersionMismatch", "message": "old client", "retry_after_ms": 0}}),
            ),
            (
                ServerMsg::Bye(Bye { reason: ByeReason::Replaced, message: "elsewhere".into(), retry_after_ms: 0 }),
                json!({"Bye": {"reason": "Replaced", "message": "elsewhere", "retry_after_ms": 0}}),
            ),
        ];
        for (msg, expected) in cases {
            let (status, v) = decode_export(&arena_protocol::encode_server(&msg));
            assert_eq!(status, 1, "{msg:?} should decode, got {v}");
            assert_eq!(v, expected, "{msg:?} should render as the documented json");
        }
    }

    #[test]
    fn a_bad_frame_returns_zero_and_a_readable_error() {
        let (status, v) = decode_export(&[0xff, 0xff, 0xff]);
        assert_eq!(status, 0, "garbage must not decode");
        let text = v.as_str().unwrap_or_default();
        assert!(text.contains("malformed"), "the error text should say what went wrong, got {text:?}");
        let (status, _) = decode_export(&[]);
        assert_eq!(status, 0, "an empty frame must not decode");
    }

    #[test]
    fn decode_reads_only_the_given_length() {
        let frame = arena_protocol::encode_server(&ServerMsg::Pong { t: 7 });
        let mut padded = frame.clone();
        padded.extend_from_slice(&[0xAA; 8]);
        write_input(&padded);
        assert_eq!(decode_server(len_u32(frame.len())), 1, "bytes past `len` in the input buffer should be ignored");
        assert_eq!(output(), br#"{"Pong":{"t":7}}"#.to_vec());
    }

    #[test]
    fn client_frames_decode_on_the_server_side() {
        write_input("ace".as_bytes());
        let n = encode_hello(3, 0, 0, 0);
        assert_eq!(n as usize, output().len());
        assert_eq!(
            arena_protocol::decode_client(&output()),
            Ok(ClientMsg::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                name: "ace".into(),
                resume: None,
                join_token: None,
                room: None,
            })),
            "encode_hello should produce the server's Hello"
        );

        encode_ping(1_234_567.9);
        assert_eq!(
            arena_protocol::decode_client(&output()),
            Ok(ClientMsg::Ping { t: 1_234_567 }),
            "encode_ping should truncate the timestamp to a whole number"
        );
        assert_eq!(ping_frame(-5.0), ping_frame(0.0), "negative times clamp to 0");

        let n = encode_request_full(0x0123_4567);
        assert_eq!(n as usize, output().len());
        assert_eq!(
            arena_protocol::decode_client(&output()),
            Ok(ClientMsg::RequestFull { tick: Tick(0x0123_4567) }),
            "encode_request_full should produce the server's RequestFull"
        );
    }

    #[test]
    fn a_hello_carries_the_resume_token_after_the_name() {
        let token: Vec<u8> = (0..16).map(|i| i * 3).collect();
        let mut bytes = "pilot".as_bytes().to_vec();
        bytes.extend_from_slice(&token);
        write_input(&bytes);
        let n = encode_hello(5, 1, 0, 0);
        assert_eq!(n as usize, output().len());
        let mut expected = [0u8; 16];
        expected.copy_from_slice(&token);
        assert_eq!(
            arena_protocol::decode_client(&output()),
            Ok(ClientMsg::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                name: "pilot".into(),
                resume: Some(ResumeToken(expected)),
                join_token: None,
                room: None,
            })),
            "the 16 bytes after the name should be the token"
        );

        write_input(&bytes[..10]);
        assert_eq!(encode_hello(5, 1, 0, 0), 0, "a token shorter than 16 bytes is refused");
        assert!(String::from_utf8_lossy(&output()).contains("16 bytes"), "the refusal says why");
    }

    #[test]
    fn a_hello_carries_the_join_token_last() {
        let mut bytes = "pilot".as_bytes().to_vec();
        bytes.extend_from_slice(&[7; 16]);
        bytes.extend_from_slice(b"AQAAAABrBLYp");
        write_input(&bytes);
        assert!(encode_hello(5, 1, 12, 0) > 0);
        let Ok(ClientMsg::Hello(hello)) = arena_protocol::decode_client(&output()) else { panic!("a Hello") };
        assert_eq!((hello.resume, hello.join_token.as_deref()), (Some(ResumeToken([7; 16])), Some("AQAAAABrBLYp")));
        write_input(&bytes[21..]);
        assert!(encode_hello(0, 0, 12, 0) > 0, "without a resume token the join token follows the name");
        let Ok(ClientMsg::Hello(hello)) = arena_protocol::decode_client(&output()) else { panic!("a Hello") };
        assert_eq!((hello.resume, hello.join_token.as_deref()), (None, Some("AQAAAABrBLYp")));
        write_input(b"ab");
        assert_eq!(encode_hello(2, 0, 5, 0), 0, "missing join token bytes are refused");
    }

    #[test]
    fn a_hello_names_its_room_after_everything_else() {
        let mut bytes = "pilot".as_bytes().to_vec();
        bytes.extend_from_slice(b"tok");
        bytes.extend_from_slice(b"duel-7");
        write_input(&bytes);
        assert!(encode_hello(5, 0, 3, 6) > 0);
        let Ok(ClientMsg::Hello(hello)) = arena_protocol::decode_client(&output()) else { panic!("a Hello") };
        assert_eq!((hello.join_token.as_deref(), hello.room.as_deref()), (Some("tok"), Some("duel-7")));
        write_input(b"pilotno room");
        assert_eq!(encode_hello(5, 0, 0, 7), 0, "a room name with a space is refused");
        assert!(String::from_utf8_lossy(&output()).contains("room name"), "the refusal says why");
        write_input(b"pilot");
        assert_eq!(encode_hello(5, 0, 0, 4), 0, "missing room bytes are refused");
    }

    #[test]
    fn input_batches_are_read_as_three_bytes_per_command() {
        // Oldest first: (0x08, 0x4000), then (0x19, 0x4000); seq 300 is the last.
        write_input(&[0x08, 0x00, 0x40, 0x19, 0x00, 0x40]);
        let n = encode_input(300, 298, 0x80, 2);
        assert_eq!(n as usize, output().len());
        let cmds =
            vec![InputCmd { buttons: Buttons(0x08), aim: 0x4000 }, InputCmd { buttons: Buttons(0x19), aim: 0x4000 }];
        let expected = InputBatch::new(300, ViewTime { tick: Tick(298), frac: 0x80 }, cmds);
        assert_eq!(
            arena_protocol::decode_client(&output()),
            Ok(ClientMsg::Input(expected.clone())),
            "encode_input should produce the server's InputBatch"
        );
        assert_eq!(output(), arena_protocol::encode_client(&ClientMsg::Input(expected)), "byte for byte");

        write_input(&[0x01, 0xff, 0xff]);
        encode_input(1, 5, 999, 1);
        let Ok(ClientMsg::Input(batch)) = arena_protocol::decode_client(&output()) else {
            panic!("a one-command batch should decode as an Input");
        };
        assert_eq!((batch.view.frac, batch.cmds[0].aim), (255, 0xffff), "a fraction above 255 is clamped");
    }

    #[test]
    fn input_batches_the_server_would_refuse_are_not_encoded() {
        write_input(&[0; 27]);
        for (seq, count, why) in [
            (5, 0, "no command"),
            (20, 9, "more than MAX_INPUT_BATCH commands"),
            (2, 3, "a seq below the count"),
            (20, 10, "more commands than bytes"),
        ] {
            assert_eq!(encode_input(seq, 0, 0, count), 0, "{why} should be refused");
            assert!(!output().is_empty(), "the refusal of {why} should say why");
        }
        assert!(input_frame(9, 0, 0, &[0; 4]).is_err(), "a partial command is refused");
        assert_eq!(CMD_BYTES * MAX_INPUT_BATCH, 24);
    }

    #[test]
    fn step_ship_matches_the_protocol_step_bit_for_bit() {
        let arena = Arena { width: 4000.0, height: 3000.0 };
        for hz in [10u32, 20, 30, 60, 128] {
            let dt = rules::tick_dt(hz as u16);
            let mut expected = ShipMotion { x: 1234.5625, y: 40.0, vx: -12.5, vy: 0.0 };
            let mut got = [expected.x, expected.y, expected.vx, expected.vy];
            for i in 0..400u32 {
                let buttons = (i / 7 * 5 + i) % 32;
                expected = rules::step_ship(expected, Buttons(buttons as u8), dt, arena);
                step_ship(got[0], got[1], got[2], got[3], buttons, hz, arena.width, arena.height);
                got = with_buffers(|b| b.step);
                assert_eq!(
                    got.map(f32::to_bits),
                    [expected.x, expected.y, expected.vx, expected.vy].map(f32::to_bits),
                    "step {i} at {hz} Hz should equal rules::step_ship exactly"
                );
            }
        }
        let ptr = step_out_ptr();
        assert_eq!(ptr, with_buffers(|b| b.step.as_ptr()), "step_out_ptr is stable");
    }

    #[test]
    fn step_projectile_matches_the_protocol_step_bit_for_bit() {
        for hz in [10u32, 30, 60, 128] {
            let dt = rules::tick_dt(hz as u16);
            let (vx, vy) = (quantize::snap_vel(-671.8), quantize::snap_vel(672.1));
            let (mut x, mut y) = (2000.0625f32, 13.5f32);
            for _ in 0..50 {
                let (ex, ey) = rules::step_projectile(x, y, vx, vy, dt);
                step_projectile(x, y, vx, vy, hz);
                let got = with_buffers(|b| b.step);
                assert_eq!(got.map(f32::to_bits), [ex, ey, vx, vy].map(f32::to_bits), "{hz} Hz");
                (x, y) = (ex, ey);
            }
        }
    }

    #[test]
    fn a_shot_leaves_the_nose_on_the_wire_grid() {
        let reach = rules::SHIP_RADIUS + rules::PROJECTILE_RADIUS + 2.0;
        spawn_projectile(1000.0, 500.0, 0);
        let [x, y, vx, vy] = with_buffers(|b| b.step);
        assert_eq!((x, y, vx, vy), (1000.0 + reach, 500.0, rules::PROJECTILE_SPEED, 0.0), "aim 0 fires along +x");
        let [x, y, vx, vy] = muzzle(1000.0, 500.0, 0x4000);
        assert_eq!((x, y), (1000.0, 500.0 + reach), "a quarter turn fires along +y (screen down)");
        assert_eq!((vx, vy), (0.0, rules::PROJECTILE_SPEED));
        for aim in (0..65_536u32).step_by(977) {
            let [x, y, vx, vy] = muzzle(1234.5625, 987.25, aim);
            assert_eq!((quantize::snap_pos(x), quantize::snap_pos(y)), (x, y), "positions are snapped");
            assert_eq!((quantize::snap_vel(vx), quantize::snap_vel(vy)), (vx, vy), "velocities are snapped");
            let d = ((x - 1234.5625).powi(2) + (y - 987.25).powi(2)).sqrt();
            assert!((d - reach).abs() < 0.1, "the shot starts {reach} from the ship, got {d} at aim {aim}");
            let speed = (vx * vx + vy * vy).sqrt();
            assert!((speed - rules::PROJECTILE_SPEED).abs() < 0.2, "speed {speed} at aim {aim}");
        }
    }

    #[test]
    fn a_degenerate_arena_does_not_trap() {
        let [x, y, _, _] = step(5.0, 5.0, 0.0, 0.0, 0, 30, 0.0, f32::NAN);
        assert_eq!(
            (x, y),
            (rules::SHIP_RADIUS, rules::SHIP_RADIUS),
            "a ship in a too-small arena should sit in its middle instead of panicking"
        );
    }

    #[test]
    fn rules_json_is_valid_and_matches_the_constants() {
        let len = rules(0);
        let v: Value = serde_json::from_slice(&output()).expect("rules() writes json");
        assert_eq!(len as usize, output().len());
        assert_eq!(v["protocol_version"], json!(PROTOCOL_VERSION));
        assert_eq!(v["ship_radius"].as_f64(), Some(f64::from(rules::SHIP_RADIUS)));
        assert_eq!(v["pos_scale"].as_f64(), Some(f64::from(quantize::POS_SCALE)));
        assert_eq!(v["button_fire"], json!(Buttons::FIRE));
        assert_eq!(v["max_input_batch"], json!(MAX_INPUT_BATCH));
        assert_eq!(v["respawn_delay_s"].as_f64().map(|s| s as f32), Some(rules::RESPAWN_DELAY_S));
        assert_eq!(protocol_version(), u32::from(PROTOCOL_VERSION));
        for (name, value) in [
            ("ship_accel", rules::SHIP_ACCEL),
            ("ship_drag", rules::SHIP_DRAG),
            ("ship_max_speed", rules::SHIP_MAX_SPEED),
            ("projectile_speed", rules::PROJECTILE_SPEED),
            ("projectile_radius", rules::PROJECTILE_RADIUS),
            ("projectile_lifetime_s", rules::PROJECTILE_LIFETIME_S),
            ("fire_cooldown_s", rules::FIRE_COOLDOWN_S),
            ("orb_radius", rules::ORB_RADIUS),
            ("offset_units_per_tick", timing::OFFSET_UNITS_PER_TICK),
            ("dilation_gain", timing::DILATION_GAIN),
            ("max_dilation", timing::MAX_DILATION),
            ("dilation_smoothing", timing::DILATION_SMOOTHING),
        ] {
            assert_eq!(
                v[name].as_f64().map(|x| x as f32),
                Some(value),
                "`{name}` should come back exactly (at most three decimals)"
            );
        }
        let mut s = String::new();
        write_decimal(&mut s, -2.5);
        assert_eq!(s, "-2.500");
    }

    #[test]
    fn aim_angles_quantize_like_the_protocol() {
        assert_eq!(angle_to_wire(0.0), 0);
        assert_eq!(angle_to_wire(std::f32::consts::FRAC_PI_2), 0x4000);
        assert_eq!(angle_to_wire(-std::f32::consts::FRAC_PI_2), 0xC000);
    }
}
