//! One WebSocket connection: a reader that checks and forwards what the client sends, and a
//! writer that drains the client's [`Mailbox`]. Nothing a client sends can panic the server: every
//! bad frame ends that one connection with a `Bye` and a close frame saying why.

use crate::mailbox::{Batch, Closing, Mailbox};
use crate::metrics::ServerStats;
use crate::net::http::AppState;
use crate::net::rate::RateLimit;
use crate::room::{ClientId, RoomCommand};
use arena_protocol::codec::encode_server_into;
use arena_protocol::{Bye, ByeReason, ClientMsg, PROTOCOL_VERSION, ServerMsg, decode_client};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message};
use tracing::Instrument;

/// How long the writer may take to flush its last frames once the connection is ending.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

fn bye(reason: ByeReason, message: impl Into<String>) -> Bye {
    Bye { reason, message: message.into() }
}

/// Serves one upgraded connection until it ends.
pub async fn run<S>(ws: WebSocketStream<S>, client: ClientId, app: Arc<AppState>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let span = tracing::debug_span!("conn", client = client.0);
    async move {
        app.stats.connections.inc();
        let (sink, mut stream) = ws.split();
        let mailbox = Arc::new(Mailbox::default());
        let writer = write_loop(sink, mailbox.clone(), app.stats.clone());
        tokio::pin!(writer);
        let outcome = {
            let reader = read_loop(&mut stream, client, &mailbox, &app);
            tokio::select! {
                outcome = reader => Some(outcome),
                // The writer ended first: the room closed us, or the socket failed.
                () = &mut writer => None,
            }
        };
        let writer_done = outcome.is_none();
        let joined = match outcome {
            Some(outcome) => {
                match outcome.bye {
                    Some(b) => {
                        tracing::debug!(reason = b.reason.label(), message = %b.message, "closing connection");
                        app.stats.count_close(b.reason.label());
                        mailbox.close(Closing::Bye(b));
                    }
                    None => {
                        app.stats.count_close("client_left");
                        mailbox.close(Closing::Quietly);
                    }
                }
                outcome.joined
            }
            // The writer ended first: the room closed us (and counted why), or the socket failed
            // because the peer went away. Telling the room we left is harmless if we never joined.
            None => {
                if !mailbox.is_closing() {
                    app.stats.count_close("client_left");
                }
                true
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
        if joined {
            app.inbox.leave(client);
        }
        app.stats.connections.dec();
    }
    .instrument(span)
    .await;
}

struct ReadOutcome {
    joined: bool,
    bye: Option<Bye>,
}

async fn read_loop<S>(
    stream: &mut SplitStream<WebSocketStream<S>>,
    client: ClientId,
    mailbox: &Arc<Mailbox>,
    app: &AppState,
) -> ReadOutcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let not_joined = |bye| ReadOutcome { joined: false, bye };
    let first = tokio::select! {
        () = app.shutdown.cancelled() => return not_joined(Some(bye(ByeReason::ShuttingDown, "the server is shutting down"))),
        first = tokio::time::timeout(app.hello_timeout, next_binary(stream, &app.stats)) => first,
    };
    let hello = match first {
        Err(_) => {
            return not_joined(Some(bye(
                ByeReason::HandshakeTimeout,
                format!("no Hello within {:?}", app.hello_timeout),
            )));
        }
        Ok(Frame::Gone) => return not_joined(None),
        Ok(Frame::Bad(b)) => return not_joined(Some(b)),
        Ok(Frame::Binary(bytes)) => match decode_client(&bytes) {
            Ok(ClientMsg::Hello(hello)) => hello,
            Ok(_) => {
                return not_joined(Some(bye(ByeReason::Malformed, "the first message must be Hello")));
            }
            Err(e) => {
                return not_joined(Some(bye(ByeReason::Malformed, format!("bad Hello: {e}"))));
            }
        },
    };
    if hello.protocol_version != PROTOCOL_VERSION {
        let message = format!("protocol version {} is not the server's {PROTOCOL_VERSION}", hello.protocol_version);
        return not_joined(Some(bye(ByeReason::VersionMismatch, message)));
    }
    app.inbox.control(RoomCommand::Join { client, name: hello.name, mailbox: mailbox.clone() });
    let joined = |bye| ReadOutcome { joined: true, bye };

    // Clients send one input per tick plus a ping a second; allow twice that with a burst.
    let rate = 2.0 * f64::from(app.tick_hz) + 10.0;
    let mut limit = RateLimit::new(rate, rate, Instant::now());
    let mut buf = Vec::new();
    loop {
        let bytes = match next_binary(stream, &app.stats).await {
            Frame::Binary(bytes) => bytes,
            Frame::Gone => return joined(None),
            Frame::Bad(b) => return joined(Some(b)),
        };
        if !limit.allow(Instant::now()) {
            return joined(Some(bye(ByeReason::InputFlood, format!("more than {rate} messages per second"))));
        }
        match decode_client(&bytes) {
            Ok(ClientMsg::Input(input)) => app.inbox.input(client, input),
            Ok(ClientMsg::Ping { t }) => {
                encode_server_into(&ServerMsg::Pong { t }, &mut buf);
                if mailbox.send_reliable(Bytes::copy_from_slice(&buf)).is_err() {
                    return joined(Some(bye(ByeReason::TooSlow, "too many unread messages")));
                }
            }
            Ok(ClientMsg::RequestFull { tick }) => {
                tracing::debug!(tick = tick.0, "client asked for a full snapshot");
                app.inbox.control(RoomCommand::RequestFull { client });
            }
            Ok(ClientMsg::Hello(_)) => {
                return joined(Some(bye(ByeReason::Malformed, "Hello sent twice")));
            }
            Err(e) => return joined(Some(bye(ByeReason::Malformed, e.to_string()))),
        }
    }
}

enum Frame {
    Binary(Bytes),
    Gone,
    Bad(Bye),
}

async fn next_binary<S>(stream: &mut SplitStream<WebSocketStream<S>>, stats: &ServerStats) -> Frame
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match stream.next().await {
            None | Some(Ok(Message::Close(_))) => return Frame::Gone,
            Some(Ok(Message::Binary(bytes))) => {
                stats.bytes_received.inc_by(bytes.len() as u64);
                return Frame::Binary(bytes);
            }
            Some(Ok(Message::Text(_))) => {
                return Frame::Bad(bye(ByeReason::Malformed, "text frames are not part of the protocol"));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
            Some(Err(WsError::Capacity(e))) => {
                return Frame::Bad(bye(ByeReason::Malformed, format!("frame too large: {e}")));
            }
            Some(Err(WsError::Protocol(e))) => {
                return Frame::Bad(bye(ByeReason::Malformed, format!("websocket protocol error: {e}")));
            }
            Some(Err(e)) => {
                tracing::debug!(error = %e, "read failed");
                return Frame::Gone;
            }
        }
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

async fn write_loop<S>(mut sink: SplitSink<WebSocketStream<S>, Message>, mailbox: Arc<Mailbox>, stats: Arc<ServerStats>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut batch = Batch::default();
    let mut buf = Vec::new();
    loop {
        mailbox.wait().await;
        mailbox.take(&mut batch);
        let mut bytes = 0;
        for frame in batch.frames.drain(..) {
            bytes += frame.len() as u64;
            if guarded(&mailbox, sink.feed(Message::Binary(frame))).await.is_err() {
                return;
            }
        }
        stats.bytes_sent.inc_by(bytes);
        match batch.closing.take() {
            None => {
                if guarded(&mailbox, sink.flush()).await.is_err() {
                    return;
                }
            }
            Some(Closing::Quietly) => {
                let _ = guarded(&mailbox, sink.close()).await;
                return;
            }
            Some(Closing::Bye(b)) => {
                encode_server_into(&ServerMsg::Bye(b.clone()), &mut buf);
                let _ = guarded(&mailbox, sink.feed(Message::Binary(Bytes::copy_from_slice(&buf)))).await;
                // A close frame's reason may hold at most 123 bytes.
                let mut end = b.message.len().min(120);
                while !b.message.is_char_boundary(end) {
                    end -= 1;
                }
                let frame =
                    CloseFrame { code: CloseCode::from(b.reason.close_code()), reason: b.message[..end].into() };
                let _ = guarded(&mailbox, sink.send(Message::Close(Some(frame)))).await;
                let _ = guarded(&mailbox, sink.close()).await;
                return;
            }
        }
    }
}
