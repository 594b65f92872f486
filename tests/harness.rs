//! The end-to-end test harness: a real server in-process on `127.0.0.1:0`, bots and raw
//! WebSocket clients that talk to it over loopback, and waits that are bounded.

use arena_bots::behaviour::{Behaviour, Brain};
use arena_bots::bot::{self, BotConfig, BotReport, LiveCounters};
use arena_protocol::codec::encode_client;
use arena_protocol::{ClientMsg, Hello, PROTOCOL_VERSION, ServerMsg, decode_server};
use arena_server::RunningServer;
use arena_server::config::Config;
use futures_util::{SinkExt, StreamExt};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Starts a server on a free loopback port with the default configuration changed by `tweak`.
pub async fn start_server(tweak: impl FnOnce(&mut Config)) -> RunningServer {
    let mut config = Config::for_tests();
    config.seed = Some(42);
    // A debug build on a shared 2-core machine overruns ticks now and then; tests that are not
    // about admission control must not see players turned away for it (tests/busy.rs turns it on).
    config.admission_control = false;
    tweak(&mut config);
    arena_server::start(&config).await.expect("the server should start on a free loopback port")
}

/// Runs one bot with `brain` against `url` for `play`, and returns its report.
pub fn spawn_bot(url: &str, name: &str, brain: Brain, play: Duration) -> tokio::task::JoinHandle<BotReport> {
    spawn_bot_in(url, name, None, brain, play)
}

/// [`spawn_bot`] in the room `room` (quick play if `None`).
pub fn spawn_bot_in(
    url: &str,
    name: &str,
    room: Option<&str>,
    brain: Brain,
    play: Duration,
) -> tokio::task::JoinHandle<BotReport> {
    let config = BotConfig {
        url: url.to_owned(),
        name: name.to_owned(),
        protocol_version: PROTOCOL_VERSION,
        brain,
        stop_at: Instant::now() + play,
        chaos: None,
        source_ip: None,
        link: Default::default(),
        ping_every: arena_bots::bot::DEFAULT_PING_EVERY,
        light: false,
        room: room.map(str::to_owned),
    };
    tokio::spawn(bot::run(config, Arc::new(LiveCounters::default())))
}

/// Runs `n` bots named `bot0`, `bot1`, … playing `behaviour` (bot `i` seeded with `i`) for `play`.
pub fn spawn_bots(url: &str, n: u64, behaviour: Behaviour, play: Duration) -> Vec<tokio::task::JoinHandle<BotReport>> {
    (0..n)
        .map(|i| spawn_bot(url, &format!("bot{i}"), Brain::new(behaviour, Pcg64Mcg::seed_from_u64(i)), play))
        .collect()
}

/// Waits for every bot and returns their reports.
pub async fn reports(handles: Vec<tokio::task::JoinHandle<BotReport>>) -> Vec<BotReport> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("a bot task should not panic"));
    }
    out
}

/// A bare WebSocket client that sends whatever a test wants, good or bad.
pub struct RawClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a connection ended, as the client saw it.
#[derive(Debug, Default)]
pub struct Ending {
    /// Server messages received before the close, decoded.
    pub messages: Vec<ServerMsg>,
    /// Close code and reason, if a close frame came.
    pub close: Option<(u16, String)>,
}

impl Ending {
    /// The `Bye` among the messages, if one came.
    #[must_use]
    pub fn bye(&self) -> Option<arena_protocol::Bye> {
        self.messages.iter().find_map(|m| if let ServerMsg::Bye(b) = m { Some(b.clone()) } else { None })
    }
}

impl RawClient {
    /// Connects to `url`.
    pub async fn connect(url: &str) -> RawClient {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("the server should accept a WebSocket");
        RawClient { ws }
    }

    /// Connects and says a proper Hello.
    pub async fn joined(url: &str) -> RawClient {
        let mut c = RawClient::connect(url).await;
        let hello = ClientMsg::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            name: "raw".into(),
            resume: None,
            join_token: None,
            room: None,
        });
        c.send(Message::Binary(encode_client(&hello).into())).await;
        c
    }

    /// Connects and says Hello with `name`, asking for `room` (quick play if `None`).
    pub async fn in_room(url: &str, name: &str, room: Option<&str>) -> RawClient {
        let mut c = RawClient::connect(url).await;
        let hello = ClientMsg::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            name: name.into(),
            resume: None,
            join_token: None,
            room: room.map(str::to_owned),
        });
        c.send(Message::Binary(encode_client(&hello).into())).await;
        c
    }

    /// Waits for this client's `Welcome` (skipping anything before it).
    pub async fn welcome(&mut self, within: Duration) -> Option<arena_protocol::Welcome> {
        self.wait_for(within, |m| if let ServerMsg::Welcome(w) = m { Some(w) } else { None }).await
    }

    /// Connects and says Hello with `name` and an optional resume token.
    pub async fn hello(url: &str, name: &str, resume: Option<arena_protocol::ResumeToken>) -> RawClient {
        let mut c = RawClient::connect(url).await;
        let hello = ClientMsg::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            name: name.into(),
            resume,
            join_token: None,
            room: None,
        });
        c.send(Message::Binary(encode_client(&hello).into())).await;
        c
    }

    /// The next server message within `within` (frames that do not decode are skipped); `None`
    /// on timeout or when the connection ends.
    pub async fn next_message(&mut self, within: Duration) -> Option<ServerMsg> {
        let deadline = Instant::now() + within;
        while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            match msg {
                Ok(Message::Binary(b)) => {
                    if let Ok(m) = decode_server(&b) {
                        return Some(m);
                    }
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
        None
    }

    /// The first message matching `pick` within `within`.
    pub async fn wait_for<T>(&mut self, within: Duration, mut pick: impl FnMut(ServerMsg) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            if let Some(t) = pick(self.next_message(left).await?) {
                return Some(t);
            }
        }
    }

    /// Drops the connection without a close frame, as a network failure would.
    pub fn vanish(self) {
        drop(self.ws);
    }

    /// Sends one WebSocket message (errors ignored: the server may already have closed).
    pub async fn send(&mut self, msg: Message) {
        let _ = self.ws.send(msg).await;
    }

    /// Sends raw bytes as a binary frame.
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.send(Message::Binary(Bytes::copy_from_slice(bytes))).await;
    }

    /// Reads until the server closes the connection (bounded by `within`).
    pub async fn ending(&mut self, within: Duration) -> Ending {
        let mut ending = Ending::default();
        let deadline = Instant::now() + within;
        while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            match msg {
                Ok(Message::Binary(b)) => {
                    if let Ok(m) = decode_server(&b) {
                        ending.messages.push(m);
                    }
                }
                Ok(Message::Close(frame)) => {
                    ending.close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        ending
    }
}

/// Polls `check` every 20 ms until it holds or `within` has passed; returns whether it held.
pub async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

/// A plain HTTP/1.0 GET: the status code and the body (0 and empty if the request failed).
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    arena_bots::server_stats::http_get(addr, path).await.unwrap_or_default()
}

/// A WebSocket spoken by hand over TCP, for what a library client refuses to send: unmasked or
/// reserved frames, floods of control and continuation frames, silence that does not answer pings.
pub struct RawSocket {
    tcp: TcpStream,
    buffered: Vec<u8>,
}

/// A frame as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    /// The opcode (2 binary, 8 close, 9 ping, …).
    pub opcode: u8,
    /// The payload.
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// The close code of a close frame.
    #[must_use]
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == 8 && self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// A client frame: FIN and `opcode`, the payload masked (unless `masked` is false).
#[must_use]
pub fn client_frame(opcode: u8, fin: bool, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![opcode | if fin { 0x80 } else { 0 }];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= 0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let key = [0x12, 0x34, 0x56, 0x78];
    if masked {
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

impl RawSocket {
    /// Sends an upgrade request for `/ws` with `extra` header lines (each `Name: value`), and
    /// returns the response's status code, its head, and the socket if it switched protocols.
    pub async fn upgrade(addr: std::net::SocketAddr, extra: &[&str]) -> (u16, String, Option<RawSocket>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = TcpStream::connect(addr).await.expect("connect to the server");
        let mut request = format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        );
        for line in extra {
            request.push_str(line);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        tcp.write_all(request.as_bytes()).await.expect("send the upgrade request");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut byte)).await {
                Ok(Ok(1)) => head.push(byte[0]),
                _ => break,
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let socket = (status == 101).then(|| RawSocket { tcp, buffered: Vec::new() });
        (status, head, socket)
    }

    /// Upgrades and sends a proper Hello.
    pub async fn joined(addr: std::net::SocketAddr) -> RawSocket {
        let (status, head, socket) = RawSocket::upgrade(addr, &[]).await;
        let mut socket = socket.unwrap_or_else(|| panic!("the upgrade should succeed: {status} {head}"));
        let hello = ClientMsg::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            name: "raw".into(),
            resume: None,
            join_token: None,
            room: None,
        });
        socket.send(&client_frame(2, true, &encode_client(&hello), true)).await;
        socket
    }

    /// Writes raw bytes (errors ignored: the server may have closed already).
    pub async fn send(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        let _ = self.tcp.write_all(bytes).await;
    }

    /// The next frame within `within`; `None` on timeout or end of stream.
    pub async fn next_frame(&mut self, within: Duration) -> Option<RawFrame> {
        use tokio::io::AsyncReadExt;
        let deadline = Instant::now() + within;
        loop {
            if let Some((frame, used)) = parse_server_frame(&self.buffered) {
                self.buffered.drain(..used);
                return Some(frame);
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout_at(deadline, self.tcp.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.buffered.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }

    /// Reads frames until a close frame (returned) or the end of the stream or `within`.
    pub async fn close_frame(&mut self, within: Duration) -> (Vec<RawFrame>, Option<RawFrame>) {
        let deadline = Instant::now() + within;
        let mut before = Vec::new();
        while let Some(frame) = self.next_frame(deadline.saturating_duration_since(Instant::now())).await {
            if frame.opcode == 8 {
                return (before, Some(frame));
            }
            before.push(frame);
        }
        (before, None)
    }
}

/// One unmasked server frame at the start of `bytes`, and how many bytes it took.
fn parse_server_frame(bytes: &[u8]) -> Option<(RawFrame, usize)> {
    let (&b0, rest) = bytes.split_first()?;
    let (&b1, rest) = rest.split_first()?;
    let (len, header) = match b1 & 0x7f {
        126 => (usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?])), 4),
        127 => (usize::try_from(u64::from_be_bytes(rest.get(..8)?.try_into().ok()?)).ok()?, 10),
        n => (usize::from(n), 2),
    };
    let payload = bytes.get(header..header + len)?.to_vec();
    Some((RawFrame { opcode: b0 & 0x0f, payload }, header + len))
}
