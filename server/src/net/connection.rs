//! One WebSocket connection: a reader that checks and forwards what the client sends, and a
//! writer that drains the client's [`Mailbox`]. Nothing a client sends can panic the server: every
//! bad frame ends that one connection with a `Bye` and a close frame saying why.

use crate::mailbox::{Batch, Closing, Mailbox};
use crate::metrics::ServerStats;
use crate::net::frame_meter::FrameBudget;
use crate::net::http::AppState;
use crate::net::link::Inbound;
use crate::net::metered_io::{Flooded, MeteredIo};
use crate::room::{ClientId, RoomCommand};
use crate::rooms::Seat;
use arena_netsim::{DelayLine, LinkProfile};
use arena_protocol::codec::{CodecError, MAX_CLIENT_FRAME, encode_server_into};
use arena_protocol::{Bye, ByeReason, ClientMsg, PROTOCOL_VERSION, ServerMsg, decode_client};
use futures_util::StreamExt;
use futures_util::stream::SplitSink;
use futures_util::{FutureExt, SinkExt};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message};
use tracing::Instrument;

/// How long the writer may take to flush its last frames once the connection is ending.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

fn bye(reason: ByeReason, message: impl Into<String>) -> Bye {
    Bye { reason, message: message.into(), retry_after_ms: 0 }
}

/// The refusal of a new player while the room cannot hold its tick rate, with when to retry.
fn busy() -> Bye {
    let retry = crate::room::load::BUSY_RETRY_AFTER;
    Bye {
        reason: ByeReason::ServerBusy,
        message: format!("the server is busy; try again in {} s", retry.as_secs()),
        retry_after_ms: retry.as_millis() as u32,
    }
}

/// Serves one upgraded connection until it ends. `budget` is the one its [`MeteredIo`] charges.
pub async fn run<S>(ws: WebSocketStream<MeteredIo<S>>, client: ClientId, budget: Arc<FrameBudget>, app: Arc<AppState>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let span = tracing::debug_span!("conn", client = client.0);
    async move {
        app.stats.connections.inc();
        let (sink, stream) = ws.split();
        let profile = app.link.profile();
        let mut stream = Inbound::new(stream, profile, client.0.wrapping_mul(2));
        let mailbox = Arc::new(Mailbox::default());
        let writer = write_loop(sink, mailbox.clone(), app.stats.clone(), profile, client.0.wrapping_mul(2) + 1);
        tokio::pin!(writer);
        // The room this connection was placed in, held until the connection ends.
        let mut seat: Option<Seat> = None;
        let outcome = {
            let reader = read_loop(&mut stream, client, &mailbox, &budget, &app, &mut seat);
            tokio::select! {
                outcome = reader => Some(outcome),
                // The writer ended first: the room closed us, or the socket failed.
                () = &mut writer => None,
            }
        };
        let writer_done = outcome.is_none();
        let (joined, lost) = match outcome {
            Some(outcome) => {
                let lost = outcome.bye.is_none() && outcome.ending == Ending::Lost;
                match outcome.bye {
                    Some(b) => {
                        tracing::debug!(reason = b.reason.label(), message = %b.message, "closing connection");
                        app.stats.count_close(b.reason.label());
                        mailbox.close(Closing::Bye(b));
                    }
                    None => {
                        app.stats.count_close(if lost { "client_lost" } else { "client_left" });
                        mailbox.close(Closing::Quietly);
                    }
                }
                (outcome.joined, lost)
            }
            // The writer ended first: the room closed us (and counted why), or the socket failed
            // because the peer went away (a lost connection). Telling the room is harmless if we
            // never joined or it already removed us.
            None => {
                let closed_by_room = mailbox.is_closing();
                if !closed_by_room {
                    app.stats.count_close("client_lost");
                }
                (true, !closed_by_room)
            }
        };
        // Let the writer send its close frame, then read on until the peer answers it: closing a
        // socket with unread input makes the kernel send a reset, which can destroy the close
        // frame (and the Bye before it) before the client reads them.
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            if !writer_done {
                (&mut writer).await;
            }
            while let Some(Ok(_)) = stream.next().await {}
        })
        .await;
        if joined && let Some(seat) = &seat {
            seat.inbox().leave(client, lost);
        }
        drop(seat);
        app.stats.connections.dec();
    }
    .instrument(span)
    .await;
}

struct ReadOutcome {
    joined: bool,
    bye: Option<Bye>,
    ending: Ending,
}

/// How a client's side of a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// The client said goodbye: a close frame with code 1000 (normal) or 1001 (going away), or
    /// with no code. Its ship goes at once.
    Left,
    /// The connection broke (no close frame, a reset, or a close frame with another code, such
    /// as 4000 "reconnecting"): the ship is kept for the resume grace.
    Lost,
}

/// The protocol version a frame that failed to decode as a `Hello` claims, if it starts like one
/// (tag 0, then a varint `u16`): an older or newer client gets `VersionMismatch`, not `Malformed`.
fn claimed_version(frame: &[u8]) -> Option<u16> {
    let (&tag, rest) = frame.split_first()?;
    if tag != 0 {
        return None;
    }
    let mut v: u32 = 0;
    for (i, &b) in rest.iter().take(3).enumerate() {
        v |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return u16::try_from(v).ok();
        }
    }
    None
}

/// Frames per second a client may send, of any kind: one input per tick plus a ping a second,
/// twice over, plus pongs. The same number of frames may come in one burst (after a stall).
#[must_use]
pub fn frame_rate(tick_hz: u16) -> f64 {
    2.0 * f64::from(tick_hz) + 10.0
}

/// `RequestFull` is served at most once per this many ticks per client: a client waiting for
/// its full snapshot may ask again on every mismatching snapshot before it arrives.
pub const FULL_REQUEST_EVERY_TICKS: u32 = 8;

/// A short reason for a message that did not decode, naming no decoder internals.
fn decode_reason(e: &CodecError) -> &'static str {
    match e {
        CodecError::TooLarge { .. } => "message too large",
        CodecError::TrailingBytes(_) => "bad message: extra bytes after it",
        CodecError::Malformed(postcard::Error::DeserializeUnexpectedEnd) => "bad message: truncated",
        CodecError::Malformed(postcard::Error::DeserializeBadEnum) => "bad message: unknown message or value type",
        CodecError::Malformed(_) => "bad message: does not decode",
    }
}

async fn read_loop<S>(
    stream: &mut Inbound<S>,
    client: ClientId,
    mailbox: &Arc<Mailbox>,
    budget: &FrameBudget,
    app: &AppState,
    seat: &mut Option<Seat>,
) -> ReadOutcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let not_joined = |bye| ReadOutcome { joined: false, bye, ending: Ending::Left };
    let first = tokio::select! {
        () = app.shutdown.cancelled() => return not_joined(Some(bye(ByeReason::ShuttingDown, "the server is shutting down"))),
        first = tokio::time::timeout(app.hello_timeout, next_binary(stream, budget, &app.stats)) => first,
    };
    let first = match first {
        Ok(frame) => frame,
        // Before calling the client silent: its Hello may be here already, with this task late to
        // read it (a busy machine). And a busy room is the likelier reason than a silent client.
        Err(_) => match next_binary(stream, budget, &app.stats).now_or_never() {
            Some(frame) => frame,
            None if app.turns_players_away() => {
                app.stats.count_refusal("server_busy");
                return not_joined(Some(busy()));
            }
            None => {
                return not_joined(Some(bye(
                    ByeReason::HandshakeTimeout,
                    format!("no Hello within {:?}", app.hello_timeout),
                )));
            }
        },
    };
    let hello = match first {
        Frame::Gone(_) => return not_joined(None),
        Frame::Bad(b) => return not_joined(Some(b)),
        Frame::Binary(bytes) => match decode_client(&bytes) {
            Ok(ClientMsg::Hello(hello)) => hello,
            Ok(_) => {
                return not_joined(Some(bye(ByeReason::Malformed, "the first message must be Hello")));
            }
            Err(e) => {
                let undecodable = matches!(e, CodecError::Malformed(_) | CodecError::TrailingBytes(_));
                if let Some(v) = claimed_version(&bytes).filter(|v| undecodable && *v != 0 && *v != PROTOCOL_VERSION) {
                    let message = format!("protocol version {v} is not the server's {PROTOCOL_VERSION}");
                    return not_joined(Some(bye(ByeReason::VersionMismatch, message)));
                }
                return not_joined(Some(bye(ByeReason::Malformed, format!("bad Hello: {}", decode_reason(&e)))));
            }
        },
    };
    if hello.protocol_version != PROTOCOL_VERSION {
        let message = format!("protocol version {} is not the server's {PROTOCOL_VERSION}", hello.protocol_version);
        return not_joined(Some(bye(ByeReason::VersionMismatch, message)));
    }
    // Admission control: a room that cannot hold its tick rate takes no new players (one coming
    // back to its ship is already counted in the room's load).
    if hello.resume.is_none() && app.turns_players_away() {
        app.stats.count_refusal("server_busy");
        return not_joined(Some(busy()));
    }
    // With join tokens on, a player needs a valid token, or a resume token for a ship the room
    // still keeps (the room refuses the join if it does not).
    let mut require_resume = false;
    if let Some(tokens) = &app.join_tokens {
        if hello.join_token.is_none() && hello.resume.is_some() {
            require_resume = true;
        } else if let Err(e) = tokens.accept(hello.join_token.as_deref(), &hello.name, SystemTime::now()) {
            app.stats.count_refusal(match e {
                crate::net::join_token::TokenError::Missing => "join_token_missing",
                crate::net::join_token::TokenError::Malformed => "join_token_malformed",
                crate::net::join_token::TokenError::BadSignature => "join_token_bad_signature",
                crate::net::join_token::TokenError::Expired => "join_token_expired",
                crate::net::join_token::TokenError::Reused => "join_token_reused",
                crate::net::join_token::TokenError::Overloaded => "join_token_overloaded",
            });
            return not_joined(Some(bye(ByeReason::JoinRefused, e.to_string())));
        }
    }
    if let Some(room) = hello.room.as_deref().filter(|r| !arena_protocol::valid_room_name(r)) {
        let shown: String = room.chars().take(40).collect();
        return not_joined(Some(bye(
            ByeReason::Malformed,
            format!("bad room name {shown:?}: 1 to 32 of A-Z a-z 0-9 - _"),
        )));
    }
    let placed = match app.rooms.place(hello.room.as_deref(), hello.resume.is_some()) {
        Ok(placed) => seat.insert(placed),
        Err(refusal) => return not_joined(Some(refusal)),
    };
    if !placed.inbox().join(client, hello.name, mailbox.clone(), hello.resume, require_resume) {
        return not_joined(Some(bye(ByeReason::ServerError, "the room is not running")));
    }
    let inbox = placed.inbox().clone();
    let joined = |bye| ReadOutcome { joined: true, bye, ending: Ending::Left };

    let full_every = Duration::from_secs_f64(f64::from(FULL_REQUEST_EVERY_TICKS) / f64::from(app.tick_hz));
    let mut last_full: Option<Instant> = None;
    let mut pinged_at: Option<Instant> = None;
    let mut buf = Vec::new();
    loop {
        let last_frame = budget.last_frame();
        if pinged_at.is_some_and(|p| p < last_frame) {
            pinged_at = None;
        }
        let silent_until =
            if pinged_at.is_some() { last_frame + app.idle_timeout } else { last_frame + app.idle_timeout / 2 };
        let next = tokio::select! {
            next = next_binary(stream, budget, &app.stats) => next,
            () = tokio::time::sleep_until(silent_until.into()) => {
                if budget.last_frame() > last_frame {
                    continue;
                }
                if pinged_at.is_none() {
                    pinged_at = Some(Instant::now());
                    mailbox.ping();
                    continue;
                }
                let message = format!("nothing received for {:?}", app.idle_timeout);
                return joined(Some(bye(ByeReason::IdleTimeout, message)));
            }
        };
        let bytes = match next {
            Frame::Binary(bytes) => bytes,
            Frame::Gone(ending) => return ReadOutcome { joined: true, bye: None, ending },
            Frame::Bad(b) => return joined(Some(b)),
        };
        if budget.over() {
            app.stats.messages_dropped.inc();
            continue;
        }
        match decode_client(&bytes) {
            Ok(ClientMsg::Input(batch)) => {
                if let Err(e) = batch.validate() {
                    return joined(Some(bye(ByeReason::Malformed, e.to_string())));
                }
                inbox.input(client, batch, Instant::now());
            }
            Ok(ClientMsg::Ping { t }) => {
                encode_server_into(&ServerMsg::Pong { t }, &mut buf);
                if mailbox.send_reliable(Bytes::copy_from_slice(&buf)).is_err() {
                    return joined(Some(bye(ByeReason::TooSlow, "too many unread messages")));
                }
            }
            Ok(ClientMsg::RequestFull { tick }) => {
                let now = Instant::now();
                if last_full.is_some_and(|at| now.duration_since(at) < full_every) {
                    app.stats.full_requests_ignored.inc();
                    continue;
                }
                last_full = Some(now);
                tracing::debug!(tick = tick.0, "client asked for a full snapshot");
                let _ = inbox.control(RoomCommand::RequestFull { client });
            }
            Ok(ClientMsg::Hello(_)) => {
                return joined(Some(bye(ByeReason::Malformed, "Hello sent twice")));
            }
            Err(e) => return joined(Some(bye(ByeReason::Malformed, decode_reason(&e)))),
        }
    }
}

enum Frame {
    Binary(Bytes),
    Gone(Ending),
    Bad(Bye),
}

async fn next_binary<S>(stream: &mut Inbound<S>, budget: &FrameBudget, stats: &ServerStats) -> Frame
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match stream.next().await {
            None => return Frame::Gone(Ending::Lost),
            Some(Ok(Message::Close(frame))) => {
                let left = frame.is_none_or(|f| matches!(f.code, CloseCode::Normal | CloseCode::Away));
                return Frame::Gone(if left { Ending::Left } else { Ending::Lost });
            }
            Some(Ok(Message::Binary(bytes))) => {
                stats.bytes_received.inc_by(bytes.len() as u64);
                return Frame::Binary(bytes);
            }
            Some(Ok(Message::Text(_))) => {
                return Frame::Bad(bye(ByeReason::UnsupportedData, "text frames are not part of the protocol"));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
            Some(Err(WsError::Capacity(_))) => {
                return Frame::Bad(bye(
                    ByeReason::TooLarge,
                    format!("client messages are at most {MAX_CLIENT_FRAME} bytes"),
                ));
            }
            // The peer vanished without a closing handshake: a lost connection, not a bad one.
            Some(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => {
                return Frame::Gone(Ending::Lost);
            }
            Some(Err(WsError::Protocol(e))) => {
                return Frame::Bad(bye(ByeReason::ProtocolError, protocol_reason(&e)));
            }
            Some(Err(WsError::Io(e))) if e.get_ref().is_some_and(|inner| inner.is::<Flooded>()) => {
                let message = format!("more than {} frames per second", budget.rate());
                return Frame::Bad(bye(ByeReason::InputFlood, message));
            }
            Some(Err(e)) => {
                tracing::debug!(error = %e, "read failed");
                return Frame::Gone(Ending::Lost);
            }
        }
    }
}

/// A short reason for a WebSocket protocol violation.
fn protocol_reason(e: &ProtocolError) -> &'static str {
    match e {
        ProtocolError::UnmaskedFrameFromClient => "websocket protocol error: unmasked frame",
        ProtocolError::NonZeroReservedBits => "websocket protocol error: reserved bits set",
        ProtocolError::UnknownControlFrameType(_) | ProtocolError::UnknownDataFrameType(_) => {
            "websocket protocol error: unknown opcode"
        }
        ProtocolError::FragmentedControlFrame | ProtocolError::ControlFrameTooBig => {
            "websocket protocol error: bad control frame"
        }
        ProtocolError::UnexpectedContinueFrame | ProtocolError::ExpectedFragment(_) => {
            "websocket protocol error: bad fragmentation"
        }
        ProtocolError::InvalidCloseSequence | ProtocolError::InvalidOpcode(_) => {
            "websocket protocol error: invalid frame"
        }
        _ => "websocket protocol error",
    }
}

/// How long a socket write may still take once the connection is closing (it may be stuck on a
/// client that stopped reading).
const STUCK_WRITE_GRACE: Duration = Duration::from_millis(500);

/// Runs one socket operation; if the mailbox starts closing while it is blocked, allows it
/// [`STUCK_WRITE_GRACE`] more, then gives up. `Err` means the connection is done.
async fn guarded<F, E>(mailbox: &Mailbox, op: F) -> Result<(), ()>
where
    F: std::future::Future<Output = Result<(), E>>,
{
    tokio::pin!(op);
    tokio::select! {
        r = &mut op => r.map_err(|_| ()),
        () = mailbox.closed() => match tokio::time::timeout(STUCK_WRITE_GRACE, op).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        },
    }
}

/// What the writer sends, in order, once due.
enum Out {
    Frame(Bytes),
    End(Closing),
}

async fn write_loop<S>(
    mut sink: SplitSink<WebSocketStream<S>, Message>,
    mailbox: Arc<Mailbox>,
    stats: Arc<ServerStats>,
    profile: LinkProfile,
    seed: u64,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut batch = Batch::default();
    let mut buf = Vec::new();
    // Frames taken from the mailbox wait here until due (at once when the conditioner is off):
    // once taken they count as sent, as bytes in flight on a real link do.
    let mut line: DelayLine<Out> = DelayLine::new(profile, seed);
    let mut ending = false;
    loop {
        let due = line.next_due().map(tokio::time::Instant::from_std);
        tokio::select! {
            () = mailbox.wait(), if !ending => {
                mailbox.take(&mut batch);
                if std::mem::take(&mut batch.ping) && guarded(&mailbox, sink.send(Message::Ping(Bytes::new()))).await.is_err() {
                    return;
                }
                let now = Instant::now();
                for frame in batch.frames.drain(..) {
                    line.push(now, Out::Frame(frame));
                }
                if let Some(closing) = batch.closing.take() {
                    line.push(now, Out::End(closing));
                    ending = true;
                }
            }
            () = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => {}
        }
        let mut bytes = 0;
        let mut wrote = false;
        while let Some(out) = line.pop_due(Instant::now()) {
            match out {
                Out::Frame(frame) => {
                    bytes += frame.len() as u64;
                    wrote = true;
                    if guarded(&mailbox, sink.feed(Message::Binary(frame))).await.is_err() {
                        return;
                    }
                }
                Out::End(closing) => {
                    stats.bytes_sent.inc_by(bytes);
                    finish(&mut sink, &mailbox, closing, &mut buf).await;
                    return;
                }
            }
        }
        stats.bytes_sent.inc_by(bytes);
        if wrote && guarded(&mailbox, sink.flush()).await.is_err() {
            return;
        }
    }
}

/// Ends the connection: for a `Bye`, the message and a close frame with its code and reason.
async fn finish<S>(
    sink: &mut SplitSink<WebSocketStream<S>, Message>,
    mailbox: &Mailbox,
    closing: Closing,
    buf: &mut Vec<u8>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match closing {
        Closing::Quietly => {
            let _ = guarded(mailbox, sink.close()).await;
        }
        Closing::Bye(b) => {
            encode_server_into(&ServerMsg::Bye(b.clone()), buf);
            let _ = guarded(mailbox, sink.feed(Message::Binary(Bytes::copy_from_slice(buf)))).await;
            // A close frame's reason may hold at most 123 bytes.
            let mut end = b.message.len().min(120);
            while !b.message.is_char_boundary(end) {
                end -= 1;
            }
            let frame = CloseFrame { code: CloseCode::from(b.reason.close_code()), reason: b.message[..end].into() };
            let _ = guarded(mailbox, sink.send(Message::Close(Some(frame)))).await;
            let _ = guarded(mailbox, sink.close()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_protocol::{Hello, encode_client};

    #[test]
    fn a_hello_of_another_version_is_recognised_even_if_it_does_not_decode() {
        let v2 = [0x00, 0x02, 0x03, b'a', b'c', b'e'];
        assert!(decode_client(&v2).is_err(), "a v2 Hello has no resume field");
        assert_eq!(claimed_version(&v2), Some(2));
        let v3 = encode_client(&ClientMsg::Hello(Hello {
            protocol_version: 3,
            name: "a".into(),
            resume: None,
            join_token: None,
            room: None,
        }));
        assert_eq!(claimed_version(&v3), Some(3));
        assert_eq!(claimed_version(&[0x01, 0x02]), None, "not a Hello");
        assert_eq!(claimed_version(&[0x00, 0xff, 0xff, 0xff]), None, "not a u16");
    }
}
