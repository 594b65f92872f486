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
    tweak(&mut config);
    arena_server::start(&config).await.expect("the server should start on a free loopback port")
}

/// Runs one bot with `brain` against `url` for `play`, and returns its report.
pub fn spawn_bot(url: &str, name: &str, brain: Brain, play: Duration) -> tokio::task::JoinHandle<BotReport> {
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
        });
        c.send(Message::Binary(encode_client(&hello).into())).await;
        c
    }

    /// Connects and says Hello with `name` and an optional resume token.
    pub async fn hello(url: &str, name: &str, resume: Option<arena_protocol::ResumeToken>) -> RawClient {
        let mut c = RawClient::connect(url).await;
        let hello =
            ClientMsg::Hello(Hello { protocol_version: PROTOCOL_VERSION, name: name.into(), resume, join_token: None });
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
