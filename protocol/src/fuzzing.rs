//! The bodies of Arena's fuzz targets: attacker-controlled bytes through every decoder of this
//! crate that a peer's bytes reach, with the properties that must hold for *any* input checked.
//!
//! The cargo-fuzz targets in `fuzz/` call these functions, and `protocol/tests/fuzz_corpus.rs`
//! runs them over the committed corpus and many random inputs on every `cargo test`, so what the
//! fuzzer once found stays fixed. A decoder's errors are values and pass; these functions panic
//! only when a property is broken, which is a bug (in the decoder, or in the property).
//!
//! Nothing here is used by the server, the bots or the browser, and nothing here may be: the
//! checks re-encode and re-apply everything, which no peer should pay for.

use crate::codec::{MAX_CLIENT_FRAME, MAX_SERVER_FRAME};
use crate::delta::{BodyWriter, encode_body, inspect};
use crate::entity::{AIM_STEPS, aim_from_input};
use crate::rules::{Arena, MAX_NAME_CHARS, sanitize_name};
use crate::timing::{Dilation, MAX_DILATION};
use crate::varint::Reader;
use crate::{
    ClientMsg, ClientWorld, CodecError, DeltaError, EntityState, Hello, InputBatch, InputBatchError, MAX_INPUT_BATCH,
    Physics, ServerMsg, Snapshot, Tick, Welcome, decode_client, decode_server, encode_client, encode_server,
};

/// Frame kind of a [`snapshot_apply`] session (`ctl & KIND`): one whole server message.
pub const SESSION_MESSAGE: u8 = 0;
/// Frame kind of a [`snapshot_apply`] session: a bare snapshot body, with the baseline gap in the
/// high nibble of `ctl`, against the tick the world holds.
pub const SESSION_BODY: u8 = 1;
/// Frame kind of a [`snapshot_apply`] session: `tick` and `baseline_gap` (varints), the checksum
/// (4 bytes, little-endian), then a snapshot body.
pub const SESSION_HEADER_BODY: u8 = 2;
/// Frame kind of a [`snapshot_apply`] session: forget the world, as a client does after a desync.
pub const SESSION_CLEAR: u8 = 3;
/// The bits of `ctl` that hold the frame kind.
pub const SESSION_KIND: u8 = 0b11;
/// `ctl` flag: when a snapshot fails only on its checksum, keep the world the body produced (it
/// is re-applied with the checksum the client computed), so a session can carry on with deltas.
pub const SESSION_FIX_CHECKSUM: u8 = 0b100;

/// Decodes `data` as a frame the server received from a client and checks what the server then
/// relies on: the error is right about sizes and trailing bytes; a decoded message re-encodes to
/// no more bytes and decodes back to itself; a name sanitizes to a short clean one; an input
/// batch either validates and numbers its commands consecutively up to `seq`, or says why not.
pub fn client_bytes(data: &[u8]) {
    match decode_client(data) {
        Ok(msg) => {
            let again = encode_client(&msg);
            assert!(again.len() <= data.len(), "the canonical encoding is never longer than one that decoded");
            assert_eq!(decode_client(&again).as_ref(), Ok(&msg), "a client message should survive re-encoding");
            assert_eq!(encode_client(&msg), again, "encoding is deterministic");
            check_client_msg(&msg);
        }
        Err(e) => check_codec_error(&e, data, MAX_CLIENT_FRAME, |prefix| decode_client(prefix).is_ok()),
    }
}

/// Decodes `data` as a frame a client (bot or browser) received from the server: the same codec
/// checks as [`client_bytes`]; a snapshot is applied to an empty world with [`apply_and_check`],
/// its timing feedback run through [`Dilation`]; a `Welcome` makes the world a client would.
pub fn server_bytes(data: &[u8]) {
    match decode_server(data) {
        Ok(msg) => {
            let again = encode_server(&msg);
            assert!(again.len() <= data.len(), "the canonical encoding is never longer than one that decoded");
            assert_eq!(decode_server(&again).as_ref(), Ok(&msg), "a server message should survive re-encoding");
            check_server_msg(&msg);
            if let ServerMsg::Snapshot(s) = &msg {
                apply_and_check(&mut ClientWorld::new(default_physics()), s, true);
            }
        }
        Err(e) => check_codec_error(&e, data, MAX_SERVER_FRAME, |prefix| decode_server(prefix).is_ok()),
    }
}

/// Runs `data` as a client's session of server frames against one [`ClientWorld`], so deltas
/// are applied to worlds that earlier frames of the same input built. `data` is a sequence of
/// frames `ctl: u8, len: varint, bytes[len]` (`len` is cut to what is left):
///
/// - kind [`SESSION_MESSAGE`]: `bytes` is one server frame; a `Welcome` makes a new world with
///   its tick rate and arena (as the bots and the browser do), a `Snapshot` is applied;
/// - kind [`SESSION_BODY`]: `bytes` is a snapshot body applied with gap `ctl >> 4` against the
///   world's tick, its checksum always fixed up (see [`SESSION_FIX_CHECKSUM`]);
/// - kind [`SESSION_HEADER_BODY`]: a snapshot header of its own, then the body;
/// - kind [`SESSION_CLEAR`]: the world is forgotten.
///
/// Before any `Welcome` the world has the default arena and 30 Hz. Every application goes
/// through [`apply_and_check`].
pub fn snapshot_apply(data: &[u8]) {
    let mut world: Option<ClientWorld> = None;
    let mut rest = data;
    while let Some((&ctl, tail)) = rest.split_first() {
        let mut r = Reader::new(tail);
        let Ok(len) = r.u32() else { return };
        let tail = &tail[tail.len() - r.remaining()..];
        let (frame, after) = tail.split_at(usize::try_from(len).unwrap_or(usize::MAX).min(tail.len()));
        rest = after;
        let fix = ctl & SESSION_FIX_CHECKSUM != 0;
        match ctl & SESSION_KIND {
            SESSION_MESSAGE => match decode_server(frame) {
                Ok(ServerMsg::Welcome(w)) => world = Some(ClientWorld::new(welcome_physics(&w))),
                Ok(ServerMsg::Snapshot(s)) => {
                    apply_and_check(world.get_or_insert_with(|| ClientWorld::new(default_physics())), &s, fix);
                }
                Ok(other) => check_server_msg(&other),
                Err(_) => {}
            },
            SESSION_BODY => {
                let w = world.get_or_insert_with(|| ClientWorld::new(default_physics()));
                let gap = u32::from(ctl >> 4);
                let tick = w.tick().unwrap_or_default().after(gap);
                let s = Snapshot { tick, baseline_gap: gap, body: frame.to_vec(), ..Snapshot::default() };
                apply_and_check(w, &s, true);
            }
            SESSION_HEADER_BODY => {
                let mut r = Reader::new(frame);
                let (Ok(tick), Ok(gap)) = (r.u32(), r.u32()) else { continue };
                let head = &frame[frame.len() - r.remaining()..];
                let Some((checksum, body)) = head.split_first_chunk::<4>() else { continue };
                let s = Snapshot {
                    tick: Tick(tick),
                    baseline_gap: gap,
                    checksum: u32::from_le_bytes(*checksum),
                    body: body.to_vec(),
                    ..Snapshot::default()
                };
                apply_and_check(world.get_or_insert_with(|| ClientWorld::new(default_physics())), &s, fix);
            }
            _ => {
                if let Some(w) = &mut world {
                    w.clear();
                }
            }
        }
    }
}

/// Applies `s` to `world` as a client does and checks the outcome against everything else the
/// crate knows about the body:
///
/// - success: the world is of the snapshot's tick, matches its checksum, holds ids in strictly
///   ascending order, and changed exactly as [`inspect`] reads the body; the reference encoder
///   ([`encode_body`]) carries the old world to the new one in no more bytes than the input did;
/// - failure: the world is cleared; a body [`inspect`] can read never fails to *read*; a failure
///   on the checksum alone means the same snapshot with the client's checksum applies (and with
///   `fix_checksum` the world carries on from there); a baseline mismatch is a real one.
pub fn apply_and_check(world: &mut ClientWorld, s: &Snapshot, fix_checksum: bool) {
    let pre = world.clone();
    let result = world.apply(s);
    let layout = inspect(&s.body);
    let Err(e) = result else {
        check_applied(&pre, s, world);
        return;
    };
    assert!(world.tick().is_none() && world.entities().is_empty(), "a snapshot that fails clears the world ({e})");
    match e {
        DeltaError::Checksum { server, client } => {
            assert_eq!(server, s.checksum, "the error names the snapshot's checksum");
            assert!(layout.is_ok(), "a body that applied up to its checksum reads: {layout:?}");
            let fixed = Snapshot { checksum: client, ..s.clone() };
            let mut again = pre.clone();
            assert_eq!(again.apply(&fixed), Ok(()), "applying is deterministic: the client's own checksum matches");
            check_applied(&pre, &fixed, &again);
            if fix_checksum {
                *world = again;
            }
        }
        DeltaError::BaselineMismatch { expected, held } => {
            assert_ne!(s.baseline_gap, 0, "a full snapshot has no baseline to miss");
            assert_eq!(expected, Tick(s.tick.0.wrapping_sub(s.baseline_gap)), "the baseline is `tick − gap`");
            assert_eq!(held, pre.tick(), "the error names the tick the world held");
            assert_ne!(held, Some(expected), "a world holding the baseline takes the delta");
        }
        DeltaError::Read(_)
        | DeltaError::Trailing
        | DeltaError::BadKind(_)
        | DeltaError::Unsorted(_)
        | DeltaError::EmptyBlock
        | DeltaError::DuplicateUpdate(_) => {
            assert!(layout.is_err(), "apply could not read a body that inspect reads ({e}): {layout:?}");
        }
        DeltaError::UnknownEntity(_) | DeltaError::DuplicateEntity(_) | DeltaError::OutOfRange => {}
    }
}

/// The checks of a snapshot `s` that carried `pre` to `post`.
fn check_applied(pre: &ClientWorld, s: &Snapshot, post: &ClientWorld) {
    assert_eq!(post.tick(), Some(s.tick), "an applied snapshot sets the world's tick");
    assert_eq!(post.checksum(), s.checksum, "an applied snapshot matches its checksum");
    let held = post.entities();
    assert!(held.windows(2).all(|w| w[0].id < w[1].id), "the world is sorted by id, without duplicates");
    assert!(held.iter().all(|e| e.aim < AIM_STEPS), "replicated aims stay within a turn");
    let layout = match inspect(&s.body) {
        Ok(layout) => layout,
        Err(e) => panic!("a body that applied should read: {e}"),
    };
    let base: &[EntityState] = if s.baseline_gap == 0 { &[] } else { pre.entities() };
    assert_eq!(held.len() + layout.despawns.len(), base.len() + layout.spawns.len(), "despawns and spawns add up");
    assert!(layout.despawns.iter().all(|id| post.get(*id).is_none()), "despawned entities are gone");
    assert!(layout.spawns.iter().all(|(id, _)| post.get(*id).is_some()), "spawned entities are held");

    let mut writer = BodyWriter::default();
    encode_body(&mut writer, base, held, s.baseline_gap, post.physics());
    let mut body = Vec::new();
    writer.finish(&mut body);
    assert!(
        body.len() <= s.body.len(),
        "the reference encoder needs {} bytes for what the input said in {}",
        body.len(),
        s.body.len()
    );
    let mut again = pre.clone();
    assert_eq!(again.apply(&Snapshot { body, ..s.clone() }), Ok(()), "the reference encoding applies");
    assert_eq!(again.entities(), held, "the reference encoding reaches the same world");
}

fn check_codec_error(e: &CodecError, data: &[u8], max: usize, decodes: impl Fn(&[u8]) -> bool) {
    match e {
        CodecError::TooLarge { len, max: limit } => {
            assert!(*len == data.len() && *limit == max && *len > max, "TooLarge only past the limit: {e}");
        }
        CodecError::TrailingBytes(n) => {
            assert!(data.len() <= max && *n > 0 && *n < data.len(), "trailing bytes follow a message: {e}");
            assert!(decodes(&data[..data.len() - n]), "without its trailing bytes the frame decodes");
        }
        CodecError::Malformed(_) => assert!(data.len() <= max, "frames past the limit are TooLarge: {e}"),
    }
}

fn check_client_msg(msg: &ClientMsg) {
    match msg {
        ClientMsg::Hello(h) => check_hello(h),
        ClientMsg::Input(batch) => check_input(batch),
        ClientMsg::Ping { .. } | ClientMsg::RequestFull { .. } => {}
    }
}

fn check_hello(h: &Hello) {
    let name = sanitize_name(&h.name);
    let chars = name.chars().count();
    assert!((1..=MAX_NAME_CHARS).contains(&chars), "a sanitized name has 1 to 16 characters: {name:?}");
    assert!(!name.chars().any(char::is_control), "a sanitized name has no control characters: {name:?}");
    assert_eq!(name.trim(), name, "a sanitized name is trimmed");
    assert_eq!(sanitize_name(&name), name, "sanitizing is idempotent");
}

fn check_input(batch: &InputBatch) {
    let n = batch.cmds.len();
    match batch.validate() {
        Ok(()) => {
            assert!((1..=MAX_INPUT_BATCH).contains(&n) && batch.seq as usize >= n, "validate accepted {batch:?}");
            let frames: Vec<_> = batch.frames().collect();
            assert_eq!(frames.len(), n, "one frame per command");
            for (k, (f, c)) in frames.iter().zip(&batch.cmds).enumerate() {
                let back = (n - 1 - k) as u32;
                assert_eq!(f.seq, batch.seq - back, "commands are numbered consecutively up to `seq`");
                assert!(f.seq >= 1, "sequence numbers start at 1");
                assert_eq!(f.view, batch.view.before(back), "each older command was seen a tick earlier");
                assert_eq!((f.buttons, f.aim), (c.buttons, c.aim), "frames carry their command");
            }
        }
        Err(InputBatchError::Count(c)) => {
            assert!(c == n && (n == 0 || n > MAX_INPUT_BATCH), "Count({c}) for a batch of {n}");
        }
        Err(InputBatchError::Seq) => {
            assert!((1..=MAX_INPUT_BATCH).contains(&n) && (batch.seq as usize) < n, "Seq for {batch:?}");
        }
    }
    for c in &batch.cmds {
        assert!(aim_from_input(c.aim) < AIM_STEPS, "an input's aim rounds into a turn");
        let (tx, ty) = c.buttons.thrust();
        assert!(tx.is_finite() && ty.is_finite() && tx * tx + ty * ty <= 1.0 + 1e-6, "thrust is at most a unit");
    }
}

fn check_server_msg(msg: &ServerMsg) {
    match msg {
        ServerMsg::Welcome(w) => {
            let physics = welcome_physics(w);
            assert!(physics.dt.is_finite() && physics.dt > 0.0, "any tick rate gives a usable tick length");
        }
        ServerMsg::Snapshot(s) => {
            let d = Dilation::default().update(s.input_offset);
            assert!(d.abs() <= MAX_DILATION, "the input clock's dilation is clamped: {d}");
        }
        ServerMsg::Bye(b) => {
            assert!((1000..5000).contains(&b.reason.close_code()), "close codes are WebSocket codes");
            assert!(!b.reason.label().is_empty());
        }
        ServerMsg::Pong { .. } | ServerMsg::Event(_) | ServerMsg::Scoreboard(_) => {}
    }
}

/// The physics a client builds from a `Welcome`, as the bots' mirror and the wasm client do.
#[must_use]
pub fn welcome_physics(w: &Welcome) -> Physics {
    Physics::new(w.tick_hz, Arena { width: w.arena_width as f32, height: w.arena_height as f32 })
}

fn default_physics() -> Physics {
    Physics::new(30, Arena::DEFAULT)
}
