//! The protocol codec and the ship movement step of Arena, exported to the browser as raw wasm
//! functions.
//!
//! This crate owns only the thin boundary between JavaScript and [`arena_protocol`]: two byte
//! buffers in linear memory (one the page writes a received frame or a name into, one it reads
//! results from), a four-float array for the movement step, and `extern "C"` functions that call
//! the protocol crate's codec and [`arena_protocol::rules::step_ship`]. It must not hold game
//! logic of its own: the browser decodes with the server's decoder and predicts with the server's
//! movement rules, bit for bit, because both are this same code compiled to `wasm32`.
//!
//! Each export is a one-line wrapper around a safe, plain Rust function ([`decode_to_json`],
//! [`hello_frame`], [`input_frame`], [`ping_frame`], [`step`], [`rules_json`]) so the logic is
//! unit-tested natively with `cargo test -p arena-wasm`.
//!
//! Calling convention for JavaScript:
//! - `in_buf_ptr(len)` makes the input buffer `len` bytes long and returns where to write them.
//! - Functions that produce bytes put them in the output buffer and return their length (or a
//!   status); read them at `out_ptr()` for `out_len()` bytes before the next call.
//! - `step_ship(..)` writes `x, y, vx, vy` as four `f32` at `step_out_ptr()`.
//!
//! Pointers stay valid until the next call that may grow a buffer; the page re-reads them (and
//! re-creates its views of `memory.buffer`, which a growth detaches) after every call.

// The raw exports need `#[unsafe(no_mangle)]`, which the `unsafe_code` lint counts as unsafe
// code. No pointer is ever dereferenced on the Rust side: JavaScript writes into and reads from
// buffers that this crate owns as ordinary `Vec`s.
#![allow(unsafe_code)]

use arena_protocol::messages::{ClientMsg, Hello, InputFrame};
use arena_protocol::rules::{self, Arena, Buttons, ShipMotion};
use arena_protocol::{PROTOCOL_VERSION, codec, quantize};
use std::cell::RefCell;
use std::fmt::Write as _;

/// The buffers shared with JavaScript.
#[derive(Default)]
struct Buffers {
    /// Bytes written by JavaScript: a received frame or a UTF-8 name.
    input: Vec<u8>,
    /// Bytes produced for JavaScript: JSON, an encoded frame or an error message.
    output: Vec<u8>,
    /// `x, y, vx, vy` after the last [`step_ship`] call.
    step: [f32; 4],
}

thread_local! {
    // wasm32-unknown-unknown has one thread; a thread-local `RefCell` gives safe interior
    // mutability without `static mut`.
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
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

/// Decodes one server frame and renders the [`arena_protocol::ServerMsg`] as serde's default
/// JSON (externally tagged enums, newtypes as plain numbers, wire fixed-point values untouched).
/// The error is a readable message.
pub fn decode_to_json(frame: &[u8]) -> Result<String, String> {
    let msg = arena_protocol::decode_server(frame).map_err(|e| e.to_string())?;
    serde_json::to_string(&msg).map_err(|e| format!("cannot render message as json: {e}"))
}

/// Encodes the opening `Hello` with this build's [`PROTOCOL_VERSION`].
#[must_use]
pub fn hello_frame(name: &str) -> Vec<u8> {
    arena_protocol::encode_client(&ClientMsg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        name: name.to_owned(),
    }))
}

/// Encodes one tick's input. Bits of `buttons` above the low byte and of `aim` above the low 16
/// are dropped (the wire types are `u8` and `u16`).
#[must_use]
pub fn input_frame(seq: u32, buttons: u32, aim: u32) -> Vec<u8> {
    arena_protocol::encode_client(&ClientMsg::Input(InputFrame {
        seq,
        buttons: Buttons((buttons & 0xFF) as u8),
        aim: (aim & 0xFFFF) as u16,
    }))
}

/// Encodes a `Ping`. `t` is a non-negative whole number from JavaScript (a `f64`); it is
/// truncated and saturated into the wire's `u64` (NaN becomes 0).
#[must_use]
pub fn ping_frame(t: f64) -> Vec<u8> {
    // `as` from f64 to u64 saturates and maps NaN to 0, which is what we want here.
    arena_protocol::encode_client(&ClientMsg::Ping { t: t as u64 })
}

/// One movement step exactly as the server runs it: [`rules::step_ship`] with
/// [`rules::tick_dt`]`(tick_hz)`. Returns `[x, y, vx, vy]` in world units.
///
/// An arena narrower than a ship (or NaN) is widened to one ship's diameter first: the walls'
/// `clamp` would panic, and a panic in wasm is a trap that kills the page's module.
#[must_use]
#[allow(clippy::too_many_arguments)]
pub fn step(
    x: f32,
    y: f32,
    vx: f32,
    vy: f32,
    buttons: u32,
    tick_hz: u32,
    arena_w: f32,
    arena_h: f32,
) -> [f32; 4] {
    let hz = u16::try_from(tick_hz).unwrap_or(u16::MAX);
    let min_side = 2.0 * rules::SHIP_RADIUS;
    let side = |v: f32| if v >= min_side { v } else { min_side };
    let m = rules::step_ship(
        ShipMotion { x, y, vx, vy },
        Buttons((buttons & 0xFF) as u8),
        rules::tick_dt(hz),
        Arena {
            width: side(arena_w),
            height: side(arena_h),
        },
    );
    [m.x, m.y, m.vx, m.vy]
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
    field(
        "projectile_lifetime_s",
        f64::from(rules::PROJECTILE_LIFETIME_S),
    );
    field("fire_cooldown_s", f64::from(rules::FIRE_COOLDOWN_S));
    field("respawn_delay_s", f64::from(rules::RESPAWN_DELAY_S));
    field("orb_radius", f64::from(rules::ORB_RADIUS));
    field("max_name_chars", rules::MAX_NAME_CHARS as f64);
    field("button_up", f64::from(Buttons::UP));
    field("button_down", f64::from(Buttons::DOWN));
    field("button_left", f64::from(Buttons::LEFT));
    field("button_right", f64::from(Buttons::RIGHT));
    field("button_fire", f64::from(Buttons::FIRE));
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

/// Decodes the first `len` bytes of the input buffer as a server frame. Returns 1 with the
/// message as JSON in the output buffer, or 0 with the error text there.
#[unsafe(no_mangle)]
pub extern "C" fn decode_server(len: u32) -> i32 {
    let result = with_buffers(|b| {
        let n = (len as usize).min(b.input.len());
        decode_to_json(&b.input[..n])
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
/// sequences become U+FFFD). Returns the frame's length; the frame is in the output buffer.
#[unsafe(no_mangle)]
pub extern "C" fn encode_hello(name_len: u32) -> u32 {
    let frame = with_buffers(|b| {
        let n = (name_len as usize).min(b.input.len());
        hello_frame(&String::from_utf8_lossy(&b.input[..n]))
    });
    set_output(&frame)
}

/// Encodes an `Input` (see [`input_frame`]). Returns the frame's length; the frame is in the
/// output buffer.
#[unsafe(no_mangle)]
pub extern "C" fn encode_input(seq: u32, buttons: u32, aim: u32) -> u32 {
    set_output(&input_frame(seq, buttons, aim))
}

/// Encodes a `Ping` carrying `t` (see [`ping_frame`]). Returns the frame's length; the frame is
/// in the output buffer.
#[unsafe(no_mangle)]
pub extern "C" fn encode_ping(t: f64) -> u32 {
    set_output(&ping_frame(t))
}

/// Runs one movement step (see [`step`]) and stores `x, y, vx, vy` at [`step_out_ptr`].
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn step_ship(
    x: f32,
    y: f32,
    vx: f32,
    vy: f32,
    buttons: u32,
    tick_hz: u32,
    arena_w: f32,
    arena_h: f32,
) {
    let out = step(x, y, vx, vy, buttons, tick_hz, arena_w, arena_h);
    with_buffers(|b| b.step = out);
}

/// Address of the four `f32` (`x, y, vx, vy`) written by [`step_ship`].
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
    use arena_protocol::messages::*;
    use arena_protocol::{NetId, Tick};
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
        assert_eq!(
            out_len() as usize,
            out.len(),
            "out_len should report the output size"
        );
        let value = if status == 1 {
            serde_json::from_slice(&out).expect("the output of a successful decode is json")
        } else {
            Value::String(String::from_utf8_lossy(&out).into_owned())
        };
        (status, value)
    }

    #[test]
    fn a_snapshot_decodes_to_externally_tagged_json_with_plain_numbers() {
        let msg = ServerMsg::Snapshot(Snapshot {
            tick: Tick(5),
            ack_seq: 3,
            ships: vec![ShipState {
                id: NetId(1),
                x: 32_000,
                y: -16,
                vx: 160,
                vy: -8,
                aim: 0x4000,
                hp: 80,
                flags: ShipState::ALIVE,
                score: 12,
            }],
            projectiles: vec![ProjectileState {
                id: NetId(9),
                x: 1,
                y: 2,
                vx: 3,
                vy: 4,
                owner: NetId(1),
            }],
            orbs: vec![
                OrbState {
                    id: NetId(4),
                    x: 10,
                    y: 20,
                    kind: OrbKind::Heal,
                },
                OrbState {
                    id: NetId(5),
                    x: 30,
                    y: 40,
                    kind: OrbKind::Score,
                },
            ],
        });
        let (status, v) = decode_export(&arena_protocol::encode_server(&msg));
        assert_eq!(status, 1, "a valid snapshot should decode, got {v}");
        assert_eq!(
            v,
            json!({"Snapshot": {
                "tick": 5, "ack_seq": 3,
                "ships": [{"id": 1, "x": 32000, "y": -16, "vx": 160, "vy": -8, "aim": 16384,
                           "hp": 80, "flags": 1, "score": 12}],
                "projectiles": [{"id": 9, "x": 1, "y": 2, "vx": 3, "vy": 4, "owner": 1}],
                "orbs": [{"id": 4, "x": 10, "y": 20, "kind": "Heal"},
                         {"id": 5, "x": 30, "y": 40, "kind": "Score"}]
            }}),
            "the snapshot json should carry wire values under serde's default names"
        );
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
                    players: vec![PlayerInfo {
                        id: NetId(2),
                        name: "bob".into(),
                    }],
                }),
                json!({"Welcome": {"your_id": 2, "tick_hz": 30, "tick": 100, "arena_width": 4000,
                    "arena_height": 3000, "view_half_width": 900, "view_half_height": 500,
                    "players": [{"id": 2, "name": "bob"}]}}),
            ),
            (
                ServerMsg::Pong { t: 123_456_789 },
                json!({"Pong": {"t": 123_456_789}}),
            ),
            (
                ServerMsg::Event(GameEvent::Joined(PlayerInfo {
                    id: NetId(2),
                    name: "bob".into(),
                })),
                json!({"Event": {"Joined": {"id": 2, "name": "bob"}}}),
            ),
            (
                ServerMsg::Event(GameEvent::Left { id: NetId(2) }),
                json!({"Event": {"Left": {"id": 2}}}),
            ),
            (
                ServerMsg::Event(GameEvent::Kill {
                    killer: NetId(1),
                    victim: NetId(2),
                }),
                json!({"Event": {"Kill": {"killer": 1, "victim": 2}}}),
            ),
            (
                ServerMsg::Scoreboard(Scoreboard {
                    players_online: 3,
                    top: vec![ScoreEntry {
                        id: NetId(1),
                        score: 10,
                    }],
                }),
                json!({"Scoreboard": {"players_online": 3, "top": [{"id": 1, "score": 10}]}}),
            ),
            (
                ServerMsg::Bye(Bye {
                    reason: ByeReason::VersionMismatch,
                    message: "old client".into(),
                }),
                json!({"Bye": {"reason": "VersionMismatch", "message": "old client"}}),
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
        assert!(
            text.contains("malformed"),
            "the error text should say what went wrong, got {text:?}"
        );
        let (status, _) = decode_export(&[]);
        assert_eq!(status, 0, "an empty frame must not decode");
    }

    #[test]
    fn decode_reads_only_the_given_length() {
        let frame = arena_protocol::encode_server(&ServerMsg::Pong { t: 7 });
        let mut padded = frame.clone();
        padded.extend_from_slice(&[0xAA; 8]);
        write_input(&padded);
        assert_eq!(
            decode_server(len_u32(frame.len())),
            1,
            "bytes past `len` in the input buffer should be ignored"
        );
        assert_eq!(output(), br#"{"Pong":{"t":7}}"#.to_vec());
    }

    #[test]
    fn client_frames_decode_on_the_server_side() {
        write_input("ace".as_bytes());
        let n = encode_hello(3);
        assert_eq!(n as usize, output().len());
        assert_eq!(
            arena_protocol::decode_client(&output()),
            Ok(ClientMsg::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                name: "ace".into()
            })),
            "encode_hello should produce the server's Hello"
        );

        encode_input(300, 0x19, 0x4000);
        assert_eq!(
            arena_protocol::decode_client(&output()),
            Ok(ClientMsg::Input(InputFrame {
                seq: 300,
                buttons: Buttons(0x19),
                aim: 0x4000
            })),
            "encode_input should produce the server's Input"
        );
        encode_input(1, 0x1_08, 0x1_0001);
        assert_eq!(
            arena_protocol::decode_client(&output()),
            Ok(ClientMsg::Input(InputFrame {
                seq: 1,
                buttons: Buttons(0x08),
                aim: 1
            })),
            "out-of-range button and aim bits should be dropped"
        );

        encode_ping(1_234_567.9);
        assert_eq!(
            arena_protocol::decode_client(&output()),
            Ok(ClientMsg::Ping { t: 1_234_567 }),
            "encode_ping should truncate the timestamp to a whole number"
        );
        assert_eq!(
            ping_frame(-5.0),
            ping_frame(0.0),
            "negative times clamp to 0"
        );
    }

    #[test]
    fn step_ship_matches_the_protocol_step_bit_for_bit() {
        let arena = Arena {
            width: 4000.0,
            height: 3000.0,
        };
        for hz in [10u32, 20, 30, 60, 128] {
            let dt = rules::tick_dt(hz as u16);
            let mut expected = ShipMotion {
                x: 1234.5625,
                y: 40.0,
                vx: -12.5,
                vy: 0.0,
            };
            let mut got = [expected.x, expected.y, expected.vx, expected.vy];
            for i in 0..400u32 {
                let buttons = (i / 7 * 5 + i) % 32;
                expected = rules::step_ship(expected, Buttons(buttons as u8), dt, arena);
                step_ship(
                    got[0],
                    got[1],
                    got[2],
                    got[3],
                    buttons,
                    hz,
                    arena.width,
                    arena.height,
                );
                got = with_buffers(|b| b.step);
                assert_eq!(
                    got.map(f32::to_bits),
                    [expected.x, expected.y, expected.vx, expected.vy].map(f32::to_bits),
                    "step {i} at {hz} Hz should equal rules::step_ship exactly"
                );
            }
        }
        let ptr = step_out_ptr();
        assert_eq!(
            ptr,
            with_buffers(|b| b.step.as_ptr()),
            "step_out_ptr is stable"
        );
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
        assert_eq!(
            v["ship_radius"].as_f64(),
            Some(f64::from(rules::SHIP_RADIUS))
        );
        assert_eq!(
            v["pos_scale"].as_f64(),
            Some(f64::from(quantize::POS_SCALE))
        );
        assert_eq!(v["button_fire"], json!(Buttons::FIRE));
        assert_eq!(
            v["respawn_delay_s"].as_f64().map(|s| s as f32),
            Some(rules::RESPAWN_DELAY_S)
        );
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
