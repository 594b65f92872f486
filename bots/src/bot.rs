//! One bot: a real WebSocket client that says Hello, mirrors the world from its snapshots, plays
//! one input per tick with its [`Brain`], pings once a second, and measures what it experienced.

use crate::behaviour::Brain;
use crate::mirror::WorldMirror;
use arena_protocol::codec::encode_client_into;
use arena_protocol::{Bye, ClientMsg, GameEvent, Hello, InputFrame, NetId, ServerMsg, Tick, decode_server};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// How long a bot waits for its `Welcome`.
pub const WELCOME_TIMEOUT: Duration = Duration::from_secs(10);

/// What a bot is told to do.
#[derive(Clone, Debug)]
pub struct BotConfig {
    /// WebSocket URL of the game, e.g. `ws://127.0.0.1:8080/ws`.
    pub url: String,
    /// Display name to ask for.
    pub name: String,
    /// Protocol version to announce (tests lie here on purpose).
    pub protocol_version: u16,
    /// How it plays.
    pub brain: Brain,
    /// When it disconnects.
    pub stop_at: Instant,
    /// A misbehaviour to perform instead of playing.
    pub chaos: Option<crate::behaviour::Chaos>,
    /// Local address to connect from (one source address has ~28k ports; spread big swarms
    /// over several `127.0.0.x`). `None`: the OS chooses.
    pub source_ip: Option<std::net::IpAddr>,
}

/// Counters all bots of a swarm add to while running, for live progress.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Bots that got their `Welcome` and are still connected.
    pub connected: AtomicU64,
    /// Snapshots received by all bots.
    pub snapshots: AtomicU64,
    /// Payload bytes received by all bots.
    pub bytes_down: AtomicU64,
    /// Payload bytes sent by all bots.
    pub bytes_up: AtomicU64,
    /// Bots that failed to connect or were disconnected early.
    pub errors: AtomicU64,
    /// Snapshots that did not apply or whose checksum did not match.
    pub desyncs: AtomicU64,
    /// Recent round trips in microseconds (the progress display reads and resets it).
    pub recent_rtt_us: std::sync::Mutex<Option<Histogram<u64>>>,
}

impl LiveCounters {
    /// Adds one round trip to the recent ones.
    pub fn record_rtt(&self, us: u64) {
        let mut h = self.recent_rtt_us.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        h.get_or_insert_with(rtt_histogram).saturating_record(us.max(1));
    }

    /// The p99 of the round trips since the last call, in milliseconds, and forgets them.
    pub fn take_rtt_p99_ms(&self) -> Option<f64> {
        let mut h = self.recent_rtt_us.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let p99 = h.as_ref().filter(|h| !h.is_empty()).map(|h| h.value_at_quantile(0.99) as f64 / 1000.0);
        if let Some(h) = h.as_mut() {
            h.reset();
        }
        p99
    }
}

/// What one bot measured.
#[derive(Clone, Debug)]
pub struct BotReport {
    /// Whether it got a `Welcome`.
    pub joined: bool,
    /// Why it could not connect or was cut off, if it was.
    pub error: Option<String>,
    /// Its ship's id.
    pub my_id: Option<NetId>,
    /// Time from `Welcome` to the end.
    pub played: Duration,
    /// Snapshots received.
    pub snapshots: u64,
    /// Snapshots that did not apply cleanly or left the world with a wrong checksum.
    pub desyncs: u64,
    /// Full snapshots among those received.
    pub full_snapshots: u64,
    /// Payload bytes received.
    pub bytes_down: u64,
    /// Payload bytes sent.
    pub bytes_up: u64,
    /// Inputs sent.
    pub inputs_sent: u64,
    /// Highest input `seq` the server acknowledged.
    pub last_ack: u32,
    /// Ping round trips, in microseconds.
    pub rtt_us: Histogram<u64>,
    /// From sending an input to the first snapshot that acknowledges it, in microseconds.
    pub input_ack_us: Histogram<u64>,
    /// Time between consecutive snapshots, in microseconds.
    pub snapshot_gap_us: Histogram<u64>,
    /// Other ships that appeared in its snapshots (sampled every 8th snapshot).
    pub others_seen: BTreeSet<NetId>,
    /// Own position in the first and the last snapshot.
    pub first_pos: Option<(f32, f32)>,
    /// Own position in the last snapshot.
    pub last_pos: Option<(f32, f32)>,
    /// Kill events received.
    pub kills_seen: u64,
    /// Highest score seen on any scoreboard.
    pub top_score_seen: u32,
    /// The `Bye` the server sent, if it sent one.
    pub bye: Option<Bye>,
    /// Close code and reason of a close frame from the server.
    pub close: Option<(u16, String)>,
    /// Connections made (more than one only for a reconnect storm).
    pub connections: u64,
}

impl BotReport {
    fn new() -> BotReport {
        BotReport {
            joined: false,
            error: None,
            my_id: None,
            played: Duration::ZERO,
            snapshots: 0,
            desyncs: 0,
            full_snapshots: 0,
            bytes_down: 0,
            bytes_up: 0,
            inputs_sent: 0,
            last_ack: 0,
            rtt_us: rtt_histogram(),
            input_ack_us: rtt_histogram(),
            snapshot_gap_us: rtt_histogram(),
            others_seen: BTreeSet::new(),
            first_pos: None,
            last_pos: None,
            kills_seen: 0,
            top_score_seen: 0,
            bye: None,
            close: None,
            connections: 0,
        }
    }
}

/// An empty RTT histogram: 1 µs to 60 s at 3 significant digits.
#[must_use]
pub fn rtt_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| unreachable!("the bounds are valid constants"))
}

/// tungstenite settings for a bot: small buffers, so thousands of bots fit in one process.
#[must_use]
pub fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(16 * 1024).write_buffer_size(0)
}

/// Runs one bot until `config.stop_at`, the server closes it, or the connection fails.
pub async fn run(mut config: BotConfig, live: Arc<LiveCounters>) -> BotReport {
    let mut report = BotReport::new();
    if let Some(chaos) = config.chaos {
        if let Err(e) = crate::chaos::misbehave(&config, chaos, &mut report).await {
            report.error = Some(e);
        }
        return report;
    }
    if let Err(e) = play(&mut config, &live, &mut report).await {
        live.errors.fetch_add(1, Ordering::Relaxed);
        report.error = Some(e);
    }
    report
}

async fn play(config: &mut BotConfig, live: &LiveCounters, report: &mut BotReport) -> Result<(), String> {
    let ws = tokio::time::timeout_at(config.stop_at, connect(&config.url, config.source_ip))
        .await
        .map_err(|_| "connect timed out".to_owned())??;
    report.connections += 1;
    let (mut sink, mut stream) = ws.split();
    let mut buf = Vec::new();
    let mut send = async |msg: &ClientMsg, report: &mut BotReport| {
        encode_client_into(msg, &mut buf);
        report.bytes_up += buf.len() as u64;
        live.bytes_up.fetch_add(buf.len() as u64, Ordering::Relaxed);
        sink.send(Message::Binary(Bytes::copy_from_slice(&buf))).await.map_err(|e| format!("send failed: {e}"))
    };
    let hello = ClientMsg::Hello(Hello { protocol_version: config.protocol_version, name: config.name.clone() });
    send(&hello, report).await?;

    let welcome_by = Instant::now() + WELCOME_TIMEOUT;
    let mut world = loop {
        let next = tokio::time::timeout_at(welcome_by.min(config.stop_at), stream.next()).await;
        match next.map_err(|_| "no Welcome in time".to_owned())? {
            Some(Ok(Message::Binary(b))) => match decode_server(&b) {
                Ok(ServerMsg::Welcome(w)) => {
                    report.bytes_down += b.len() as u64;
                    live.bytes_down.fetch_add(b.len() as u64, Ordering::Relaxed);
                    break WorldMirror::new(&w);
                }
                Ok(ServerMsg::Bye(bye)) => {
                    let why = format!("turned away: {:?}: {}", bye.reason, bye.message);
                    report.bye = Some(bye);
                    report.close = read_close(&mut stream).await;
                    return Err(why);
                }
                Ok(other) => return Err(format!("expected Welcome, got {other:?}")),
                Err(e) => return Err(format!("undecodable frame before Welcome: {e}")),
            },
            Some(Ok(Message::Close(frame))) => {
                report.close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                return Err("closed before Welcome".into());
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("read failed before Welcome: {e}")),
            None => return Err("closed before Welcome".into()),
        }
    };
    report.joined = true;
    report.my_id = Some(world.my_id);
    live.connected.fetch_add(1, Ordering::Relaxed);
    let joined_at = Instant::now();

    let tick = Duration::from_secs_f64(1.0 / f64::from(world.tick_hz.max(1)));
    let mut inputs = tokio::time::interval(tick);
    inputs.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut pings = tokio::time::interval(Duration::from_secs(1));
    pings.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let epoch = Instant::now();
    let mut seq = 0u32;
    let mut timing = Timing { sent_at: VecDeque::new(), last_snapshot: None };
    let stop = tokio::time::sleep_until(config.stop_at);
    tokio::pin!(stop);
    let outcome = loop {
        tokio::select! {
            () = &mut stop => break Ok(()),
            _ = inputs.tick() => {
                let (buttons, aim) = config.brain.decide(&world);
                seq += 1;
                report.inputs_sent += 1;
                if timing.sent_at.len() >= 512 {
                    timing.sent_at.pop_front();
                }
                timing.sent_at.push_back((seq, Instant::now()));
                if let Err(e) = send(&ClientMsg::Input(InputFrame { seq, buttons, aim }), report).await {
                    break Err(e);
                }
            }
            _ = pings.tick() => {
                let t = epoch.elapsed().as_micros() as u64;
                if let Err(e) = send(&ClientMsg::Ping { t }, report).await {
                    break Err(e);
                }
            }
            msg = stream.next() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    report.bytes_down += b.len() as u64;
                    live.bytes_down.fetch_add(b.len() as u64, Ordering::Relaxed);
                    match decode_server(&b) {
                        Ok(msg) => match receive(msg, &mut world, report, live, epoch, &mut timing) {
                            Some(Reply::Bye(bye)) => report.bye = Some(bye),
                            Some(Reply::RequestFull(tick)) => {
                                if let Err(e) = send(&ClientMsg::RequestFull { tick }, report).await {
                                    break Err(e);
                                }
                            }
                            None => {}
                        },
                        Err(e) => break Err(format!("undecodable frame: {e}")),
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    report.close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                    break Err("closed by the server".into());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => break Err(format!("read failed: {e}")),
                None => break Err("connection lost".into()),
            },
        }
    };
    report.played = joined_at.elapsed();
    report.last_ack = world.ack_seq;
    live.connected.fetch_sub(1, Ordering::Relaxed);
    if outcome.is_ok() {
        let mut ws = sink.reunite(stream).map_err(|e| format!("cannot reunite the socket: {e}"))?;
        let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    }
    outcome
}

/// What a received message asks of the bot.
enum Reply {
    /// The server said goodbye.
    Bye(Bye),
    /// The world desynced: ask for a full snapshot.
    RequestFull(Tick),
}

/// When inputs went out and the last snapshot came in.
struct Timing {
    sent_at: VecDeque<(u32, Instant)>,
    last_snapshot: Option<Instant>,
}

/// The WebSocket stream a bot plays over.
pub(crate) type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to `url`, from `source_ip` if given, with a kernel receive buffer of
/// `recv_buffer` bytes if given (a small one makes a client that stops reading show up fast).
pub(crate) async fn connect_with(
    url: &str,
    source_ip: Option<std::net::IpAddr>,
    recv_buffer: Option<u32>,
) -> Result<Socket, String> {
    let uri: tokio_tungstenite::tungstenite::http::Uri = url.parse().map_err(|e| format!("bad url {url}: {e}"))?;
    let host = uri.host().ok_or_else(|| format!("no host in {url}"))?;
    let port = uri.port_u16().unwrap_or(80);
    let addr = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .find(|a| source_ip.is_none_or(|ip| a.is_ipv4() == ip.is_ipv4()))
        .ok_or_else(|| format!("{host} has no usable address"))?;
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() }
        .map_err(|e| format!("socket: {e}"))?;
    if let Some(ip) = source_ip {
        socket.bind(std::net::SocketAddr::new(ip, 0)).map_err(|e| format!("cannot bind source address {ip}: {e}"))?;
    }
    if let Some(bytes) = recv_buffer {
        socket.set_recv_buffer_size(bytes).map_err(|e| format!("cannot set the receive buffer: {e}"))?;
    }
    let tcp = socket.connect(addr).await.map_err(|e| format!("connect failed: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(tcp);
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(websocket_config()))
        .await
        .map_err(|e| format!("websocket handshake failed: {e}"))?;
    Ok(ws)
}

/// Connects to `url`, from `source_ip` if given.
pub(crate) async fn connect(url: &str, source_ip: Option<std::net::IpAddr>) -> Result<Socket, String> {
    connect_with(url, source_ip, None).await
}

/// Takes in one server message.
fn receive(
    msg: ServerMsg,
    world: &mut WorldMirror,
    report: &mut BotReport,
    live: &LiveCounters,
    epoch: Instant,
    timing: &mut Timing,
) -> Option<Reply> {
    match msg {
        ServerMsg::Snapshot(snapshot) => {
            let now = Instant::now();
            if let Some(last) = timing.last_snapshot.replace(now) {
                report.snapshot_gap_us.saturating_record((now - last).as_micros().max(1) as u64);
            }
            while timing.sent_at.front().is_some_and(|(seq, _)| *seq <= snapshot.ack_seq) {
                if let Some((_, at)) = timing.sent_at.pop_front() {
                    report.input_ack_us.saturating_record((now - at).as_micros().max(1) as u64);
                }
            }
            report.snapshots += 1;
            live.snapshots.fetch_add(1, Ordering::Relaxed);
            if snapshot.baseline_gap == 0 {
                report.full_snapshots += 1;
            }
            if let Err(e) = world.apply_snapshot(&snapshot) {
                tracing::warn!(error = %e, tick = snapshot.tick.0, "desync");
                report.desyncs += 1;
                live.desyncs.fetch_add(1, Ordering::Relaxed);
                return Some(Reply::RequestFull(snapshot.tick));
            }
            // Sampled a few times a second: an exhaustive set insert per ship per snapshot was
            // 7 % of a bot's CPU, and a ship in view stays there longer than that.
            if report.snapshots % 8 == 1 {
                report.others_seen.extend(world.others().map(|o| o.id));
            }
            if let Some(me) = world.me() {
                let pos = me.position();
                report.first_pos.get_or_insert(pos);
                report.last_pos = Some(pos);
            }
        }
        ServerMsg::Pong { t } => {
            let rtt = (epoch.elapsed().as_micros() as u64).saturating_sub(t);
            report.rtt_us.saturating_record(rtt.max(1));
            live.record_rtt(rtt);
        }
        ServerMsg::Event(event) => {
            if matches!(event, GameEvent::Kill { .. }) {
                report.kills_seen += 1;
            }
            world.apply_event(&event);
        }
        ServerMsg::Scoreboard(board) => {
            let top = board.top.first().map_or(0, |e| e.score);
            report.top_score_seen = report.top_score_seen.max(top);
        }
        ServerMsg::Bye(bye) => return Some(Reply::Bye(bye)),
        ServerMsg::Welcome(_) => {}
    }
    None
}

async fn read_close<S>(stream: &mut S) -> Option<(u16, String)>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let deadline = Instant::now() + Duration::from_secs(2);
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, stream.next()).await {
        if let Message::Close(frame) = msg {
            return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
        }
    }
    None
}
