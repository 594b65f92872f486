//! Encoding and decoding of whole frames: one postcard-encoded message per WebSocket binary frame.
//!
//! Decoding never panics: anything that is not exactly one well-formed message of the expected
//! direction, within the size limit, is a [`CodecError`].

use crate::messages::{ClientMsg, ServerMsg};
use serde::{Serialize, de::DeserializeOwned};

/// Largest client frame the server accepts, in bytes. A `Hello` with a long name is the largest
/// legitimate client message, far below this.
pub const MAX_CLIENT_FRAME: usize = 256;
/// Largest server frame a client should accept, in bytes.
pub const MAX_SERVER_FRAME: usize = 1 << 20;

/// Why a frame could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    /// The frame is longer than the limit for its direction.
    #[error("frame of {len} bytes is larger than the {max}-byte limit")]
    TooLarge {
        /// Length of the frame.
        len: usize,
        /// The limit it broke.
        max: usize,
    },
    /// The bytes are not a valid message.
    #[error("malformed frame: {0}")]
    Malformed(postcard::Error),
    /// A valid message was followed by extra bytes.
    #[error("{0} unexpected bytes after the message")]
    TrailingBytes(usize),
}

fn decode<T: DeserializeOwned>(frame: &[u8], max: usize) -> Result<T, CodecError> {
    if frame.len() > max {
        return Err(CodecError::TooLarge { len: frame.len(), max });
    }
    let (msg, rest) = postcard::take_from_bytes(frame).map_err(CodecError::Malformed)?;
    if rest.is_empty() { Ok(msg) } else { Err(CodecError::TrailingBytes(rest.len())) }
}

fn encode_into<T: Serialize>(msg: &T, out: &mut Vec<u8>) {
    out.clear();
    let buf = std::mem::take(out);
    // Writing into a Vec cannot run out of space, and every type here is serializable by
    // construction, so postcard has no error to report; keep the buffer either way.
    *out = postcard::to_extend(msg, buf).unwrap_or_default();
}

/// Decodes a frame received by the server.
pub fn decode_client(frame: &[u8]) -> Result<ClientMsg, CodecError> {
    decode(frame, MAX_CLIENT_FRAME)
}

/// Decodes a frame received by a client.
pub fn decode_server(frame: &[u8]) -> Result<ServerMsg, CodecError> {
    decode(frame, MAX_SERVER_FRAME)
}

/// Encodes a client message into `out`, replacing its contents and reusing its allocation.
pub fn encode_client_into(msg: &ClientMsg, out: &mut Vec<u8>) {
    encode_into(msg, out);
}

/// Encodes a server message into `out`, replacing its contents and reusing its allocation.
pub fn encode_server_into(msg: &ServerMsg, out: &mut Vec<u8>) {
    encode_into(msg, out);
}

/// Encodes a client message into a new frame.
#[must_use]
pub fn encode_client(msg: &ClientMsg) -> Vec<u8> {
    let mut out = Vec::new();
    encode_client_into(msg, &mut out);
    out
}

/// Encodes a server message into a new frame.
#[must_use]
pub fn encode_server(msg: &ServerMsg) -> Vec<u8> {
    let mut out = Vec::new();
    encode_server_into(msg, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::*;
    use crate::rules::Buttons;
    use crate::{NetId, PROTOCOL_VERSION, Tick};
    use proptest::prelude::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    // Golden bytes: these pin the wire format. If one fails, the encoding changed: bump
    // PROTOCOL_VERSION, update docs/PROTOCOL.md, then update the expected bytes.
    #[test]
    fn golden_hello() {
        let msg = ClientMsg::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            name: "ace".into(),
            resume: None,
            join_token: None,
            room: None,
        });
        assert_eq!(hex(&encode_client(&msg)), "000703616365000000");
        let token = ResumeToken([0xab; 16]);
        let msg = ClientMsg::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            name: "a".into(),
            resume: Some(token),
            join_token: None,
            room: Some("duel-1".into()),
        });
        assert_eq!(hex(&encode_client(&msg)), format!("0007016101{}000106{}", "ab".repeat(16), hex(b"duel-1")));
    }

    #[test]
    fn golden_input() {
        let view = ViewTime { tick: Tick(298), frac: 0x80 };
        let cmds =
            vec![InputCmd { buttons: Buttons(0x08), aim: 0x4000 }, InputCmd { buttons: Buttons(0x19), aim: 0x4000 }];
        let msg = ClientMsg::Input(InputBatch::new(300, view, cmds));
        assert_eq!(hex(&encode_client(&msg)), "01ac02aa02800208808001198080 01".replace(' ', ""));
    }

    #[test]
    fn input_batches_number_their_commands_oldest_first() {
        let view = ViewTime { tick: Tick(50), frac: 7 };
        let cmd = |b| InputCmd { buttons: Buttons(b), aim: 0 };
        let batch = InputBatch::new(10, view, vec![cmd(1), cmd(2), cmd(3)]);
        assert_eq!(batch.validate(), Ok(()));
        let frames: Vec<_> = batch.frames().map(|f| (f.seq, f.buttons.0, f.view.tick.0, f.view.frac)).collect();
        assert_eq!(frames, vec![(8, 1, 48, 7), (9, 2, 49, 7), (10, 3, 50, 7)]);
        assert_eq!(InputBatch::new(2, view, vec![cmd(1); 3]).validate(), Err(InputBatchError::Seq));
        assert_eq!(InputBatch::new(9, view, vec![]).validate(), Err(InputBatchError::Count(0)));
        assert_eq!(InputBatch::new(99, view, vec![cmd(1); 9]).validate(), Err(InputBatchError::Count(9)));
    }

    #[test]
    fn golden_welcome() {
        let msg = ServerMsg::Welcome(Welcome {
            your_id: NetId(5),
            tick_hz: 30,
            tick: Tick(100),
            arena_width: 4000,
            arena_height: 4000,
            view_half_width: 1000,
            view_half_height: 625,
            players: vec![PlayerInfo { id: NetId(5), name: "ace".into() }],
            resume_token: ResumeToken([1; 16]),
            resumed: true,
            resume_grace_ms: 15_000,
            room: "r1".into(),
        });
        let expected = format!("00051e64a01fa01fe807f104010503616365{}019875027231", "01".repeat(16));
        assert_eq!(hex(&encode_server(&msg)), expected);
    }

    #[test]
    fn golden_ping_pong() {
        assert_eq!(hex(&encode_client(&ClientMsg::Ping { t: 1 })), "0201");
        assert_eq!(hex(&encode_server(&ServerMsg::Pong { t: 1 })), "0201");
    }

    #[test]
    fn golden_snapshot() {
        let msg = ServerMsg::Snapshot(Snapshot {
            tick: Tick(7),
            baseline_gap: 1,
            ack_seq: 5,
            ack_speculated: 1,
            input_queue: 2,
            input_offset: -3,
            checksum: 0x0403_0201,
            body: vec![0, 0, 1, 1, 3, 0x10, 0x02],
        });
        assert_eq!(hex(&encode_server(&msg)), "01070105010205010203040700000101031002");
    }

    #[test]
    fn golden_request_full() {
        assert_eq!(hex(&encode_client(&ClientMsg::RequestFull { tick: Tick(300) })), "03ac02");
    }

    #[test]
    fn golden_bye() {
        let msg = ServerMsg::Bye(Bye { reason: ByeReason::VersionMismatch, message: "v".into(), retry_after_ms: 0 });
        assert_eq!(hex(&encode_server(&msg)), "0500017600");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(decode_client(&[0xff, 0xff, 0xff]), Err(CodecError::Malformed(_))));
        assert!(matches!(decode_client(&[]), Err(CodecError::Malformed(_))));
        assert_eq!(decode_client(&[2, 1, 0]), Err(CodecError::TrailingBytes(1)));
        let big = vec![0u8; MAX_CLIENT_FRAME + 1];
        assert!(matches!(decode_client(&big), Err(CodecError::TooLarge { .. })));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_client(&bytes);
            let _ = decode_server(&bytes);
        }

        #[test]
        fn inputs_round_trip(
            seq in any::<u32>(),
            tick in any::<u32>(),
            frac in any::<u8>(),
            cmds in proptest::collection::vec((any::<u8>(), any::<u16>()), 1..=MAX_INPUT_BATCH),
        ) {
            let cmds = cmds.into_iter().map(|(b, aim)| InputCmd { buttons: Buttons(b), aim }).collect();
            let msg = ClientMsg::Input(InputBatch::new(seq, ViewTime { tick: Tick(tick), frac }, cmds));
            prop_assert_eq!(decode_client(&encode_client(&msg)), Ok(msg));
        }

        #[test]
        fn snapshots_round_trip(
            tick in any::<u32>(),
            gap in any::<u32>(),
            checksum in any::<u32>(),
            body in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let msg = ServerMsg::Snapshot(Snapshot {
                tick: Tick(tick), baseline_gap: gap, ack_seq: tick / 2, ack_speculated: 0, input_queue: 3, input_offset: -40, checksum, body,
            });
            prop_assert_eq!(decode_server(&encode_server(&msg)), Ok(msg));
        }
    }
}
