//! One bot: a real WebSocket client that says Hello, mirrors the world from its snapshots, plays
//! with its [`Brain`], pings (once a second by default), and measures what it experienced.
//!
//! Inputs go out on an [`InputClock`] that the server's feedback (`input_offset`) dilates, each
//! with the unacknowledged ones before it ([`InputLog`]). With a [`LinkProfile`] the bot plays
//! through a link conditioner (a development and test tool): a [`DelayLine`] on its outgoing frames
//! and one on its incoming frames, which are timestamped when read from the socket.

use crate::behaviour::Brain;
use crate::mirror::WorldMirror;
use crate::timing::{DilationStats, InputClock, InputLog, QueueDepths};
use arena_netsim::{DelayLine, LinkProfile};
use arena_protocol::codec::encode_client_into;
use arena_protocol::timing::Dilation;
use arena_protocol::{Bye, ClientMsg, GameEvent, Hello, InputCmd, NetId, ServerMsg, Tick, decode_server};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// Time between two pings of a bot unless told otherwise.
pub const DEFAULT_PING_EVERY: Duration = Duration::from_secs(1);

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
    /// The link conditioner: latency and jitter added to each direction of this bot's link (a
    /// development and test tool). `LinkProfile::default()` adds nothing and costs nothing. The
    /// jitter is seeded from `name`, so a run repeats. Chaos bots ignore it.
    pub link: LinkProfile,
    /// Time between two pings (RTT samples); [`DEFAULT_PING_EVERY`] unless a test needs more.
    pub ping_every: Duration,
    /// A light bot: it reads every frame and counts bytes, snapshots, their gaps and close codes,
    /// but only peeks at each snapshot's header (tick, acknowledgement) instead of decoding and
    /// applying it, and drifts (its brain's [`Brain::drift`]), so it costs a fraction of a
    /// decoding bot's CPU. No desync, checksum or input→ack figures come from it.
    pub light: bool,
    /// The room to join (`Hello.room`); `None`: quick play.
    pub room: Option<String>,
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
    /// The link conditioner it played through (zero: none).
    pub link: LinkProfile,
    /// Tick rate of its room (from `Welcome`; 0 if it never joined).
    pub tick_hz: u16,
    /// The server's queue of this bot's inputs, as each snapshot reported it.
    pub input_queue: QueueDepths,
    /// The dilation of the input clock at each input sent.
    pub dilation: DilationStats,
    /// It was a light bot (see [`BotConfig::light`]).
    pub light: bool,
    /// It misbehaved on purpose (a chaos bot) instead of playing.
    pub chaos: bool,
}

impl BotReport {
    pub(crate) fn new() -> BotReport {
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
            link: LinkProfile::default(),
            tick_hz: 0,
            input_queue: QueueDepths::default(),
            dilation: DilationStats::default(),
            light: false,
            chaos: false,
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
    WebSocketConfig::default().read_buffer_size(4 * 1024).write_buffer_size(0)
}

/// What a bot reads from its socket: a frame, a read error, or the end of the stream.
type Inbound = Option<Result<Message, tokio_tungstenite::tungstenite::Error>>;

/// Far enough ahead to let every frame of a delay line fall due (latency and jitter are at most
/// 10 s each).
const DRAIN_ALL: Duration = Duration::from_secs(60);

/// The sending half of a bot's connection: frames go straight to the socket, or through the
/// outbound delay line when the link is conditioned.
struct Outbox<'a> {
    sink: SplitSink<Socket, Message>,
    buf: Vec<u8>,
    line: Option<DelayLine<Bytes>>,
    live: &'a LiveCounters,
}

impl Outbox<'_> {
    /// Encodes and sends `msg` (into the delay line, if there is one); counts its bytes as sent.
    async fn send(&mut self, msg: &ClientMsg, report: &mut BotReport) -> Result<(), String> {
        encode_client_into(msg, &mut self.buf);
        report.bytes_up += self.buf.len() as u64;
        self.live.bytes_up.fetch_add(self.buf.len() as u64, Ordering::Relaxed);
        let frame = Bytes::copy_from_slice(&self.buf);
        match &mut self.line {
            Some(line) => {
                line.push(std::time::Instant::now(), frame);
                Ok(())
            }
            None => self.write(frame).await,
        }
    }

    async fn write(&mut self, frame: Bytes) -> Result<(), String> {
        self.sink.send(Message::Binary(frame)).await.map_err(|e| format!("send failed: {e}"))
    }

    /// When the next delayed frame is due, if one is in flight.
    fn next_due(&self) -> Option<std::time::Instant> {
        self.line.as_ref().and_then(DelayLine::next_due)
    }

    /// Writes every delayed frame due at `now`, in order.
    async fn write_due(&mut self, now: std::time::Instant) -> Result<(), String> {
        while let Some(frame) = self.line.as_mut().and_then(|l| l.pop_due(now)) {
            self.write(frame).await?;
        }
        Ok(())
    }
}

/// Everything a bot knows and measures while connected, apart from the socket.
struct Player {
    /// The mirror, from `Welcome` on.
    world: Option<WorldMirror>,
    /// Why the server turned the bot away before `Welcome` (its `Bye`), while its close frame is awaited.
    turned_away: Option<String>,
    /// When the bot gives up waiting for `Welcome` (earlier once a `Bye` came).
    welcome_by: Instant,
    /// When `Welcome` came.
    joined_at: Option<Instant>,
    /// Zero of the pings' timestamps.
    epoch: Instant,
    /// Input send times, snapshot arrivals and the dilation they lead to.
    timing: Timing,
    /// The inputs not acknowledged yet.
    inputs: InputLog,
    /// A light bot (see [`BotConfig::light`]).
    light: bool,
}

/// When inputs went out and the last snapshot came in, and the input clock's rate.
struct Timing {
    /// Send times of the inputs not acknowledged yet, oldest first.
    sent_at: VecDeque<(u32, Instant)>,
    /// When the last snapshot came in.
    last_snapshot: Option<Instant>,
    /// The input clock's rate, from the server's feedback.
    dilation: Dilation,
}

/// Runs one bot until `config.stop_at`, the server closes it, or the connection fails.
pub async fn run(mut config: BotConfig, live: Arc<LiveCounters>) -> BotReport {
    let mut report = BotReport::new();
    report.light = config.light && config.chaos.is_none();
    report.chaos = config.chaos.is_some();
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

/// A repeatable seed for a bot's delay lines (FNV-1a of its name).
fn link_seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

async fn play(config: &mut BotConfig, live: &LiveCounters, report: &mut BotReport) -> Result<(), String> {
    let ws = tokio::time::timeout_at(config.stop_at, connect(&config.url, config.source_ip))
        .await
        .map_err(|_| "connect timed out".to_owned())??;
    report.connections += 1;
    report.link = config.link;
    let (sink, mut stream) = ws.split();
    let conditioned = !config.link.is_off();
    let seed = link_seed(&config.name);
    let mut out = Outbox { sink, buf: Vec::new(), line: conditioned.then(|| DelayLine::new(config.link, seed)), live };
    let mut inbound: Option<DelayLine<Inbound>> = conditioned.then(|| DelayLine::new(config.link, !seed));
    let hello = ClientMsg::Hello(Hello {
        protocol_version: config.protocol_version,
        name: config.name.clone(),
        resume: None,
        join_token: crate::join::token_for(&config.name),
        room: config.room.clone(),
    });
    out.send(&hello, report).await?;

    let now = Instant::now();
    let mut p = Player {
        world: None,
        turned_away: None,
        welcome_by: now + WELCOME_TIMEOUT,
        joined_at: None,
        epoch: now,
        timing: Timing { sent_at: VecDeque::new(), last_snapshot: None, dilation: Dilation::default() },
        inputs: InputLog::default(),
        light: config.light,
    };
    // Armed at `Welcome`.
    let mut clock: Option<InputClock> = None;
    let input_timer = tokio::time::sleep_until(config.stop_at);
    tokio::pin!(input_timer);
    let mut pings = tokio::time::interval_at(config.stop_at, config.ping_every.max(Duration::from_millis(10)));
    pings.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let stop = tokio::time::sleep_until(config.stop_at);
    tokio::pin!(stop);
    let mut reading = true;
    let outcome = 'run: loop {
        let joined = p.world.is_some();
        let out_due = out.next_due();
        let in_due = inbound.as_ref().and_then(DelayLine::next_due);
        tokio::select! {
            () = &mut stop => break if joined { Ok(()) } else { Err("no Welcome in time".to_owned()) },
            () = sleep_until(Some(p.welcome_by)), if !joined => {
                break Err(p.turned_away.take().unwrap_or_else(|| "no Welcome in time".to_owned()));
            }
            () = &mut input_timer, if joined => {
                let now = Instant::now();
                let used = p.timing.dilation.current();
                if let Some(clock) = &mut clock {
                    input_timer.as_mut().reset(Instant::from_std(clock.advance(now.into_std(), used)));
                }
                if let Some(batch) = p.input(&mut config.brain, now) {
                    report.inputs_sent += 1;
                    report.dilation.record(used);
                    if let Err(e) = out.send(&ClientMsg::Input(batch), report).await {
                        break Err(e);
                    }
                }
            }
            _ = pings.tick(), if joined => {
                let t = p.epoch.elapsed().as_micros() as u64;
                if let Err(e) = out.send(&ClientMsg::Ping { t }, report).await {
                    break Err(e);
                }
            }
            item = stream.next(), if reading => {
                reading = matches!(item, Some(Ok(_)));
                match &mut inbound {
                    Some(line) => {
                        line.push(std::time::Instant::now(), item);
                    }
                    None => match p.take(item, report, live) {
                        Ok(Some(reply)) => {
                            if let Err(e) = out.send(&reply, report).await {
                                break Err(e);
                            }
                        }
                        Ok(None) => {}
                        Err(e) => break Err(e),
                    },
                }
            }
            () = sleep_until(in_due.map(Instant::from_std)), if in_due.is_some() => {
                let now = std::time::Instant::now();
                while let Some(item) = inbound.as_mut().and_then(|l| l.pop_due(now)) {
                    match p.take(item, report, live) {
                        Ok(Some(reply)) => {
                            if let Err(e) = out.send(&reply, report).await {
                                break 'run Err(e);
                            }
                        }
                        Ok(None) => {}
                        Err(e) => break 'run Err(e),
                    }
                }
            }
            () = sleep_until(out_due.map(Instant::from_std)), if out_due.is_some() => {
                if let Err(e) = out.write_due(std::time::Instant::now()).await {
                    break Err(e);
                }
            }
        }
        if !joined && let Some(world) = &p.world {
            // Welcome came: start the input clock (first input now) and the pings.
            let now = Instant::now();
            clock = Some(InputClock::new(now.into_std(), tick_period(world.tick_hz)));
            input_timer.as_mut().reset(now);
            pings.reset_immediately();
        }
    };
    if let Some(joined_at) = p.joined_at {
        report.played = joined_at.elapsed();
        live.connected.fetch_sub(1, Ordering::Relaxed);
    }
    report.last_ack = p.world.as_ref().map_or(0, |w| w.ack_seq);
    if outcome.is_ok() {
        // Leaving: what is still in the delay line goes now, then a close frame with code 1000,
        // which tells the server the player left (any other end keeps its ship for the resume grace).
        let _ = out.write_due(std::time::Instant::now() + DRAIN_ALL).await;
        let mut ws = out.sink.reunite(stream).map_err(|e| format!("cannot reunite the socket: {e}"))?;
        let bye = CloseFrame { code: CloseCode::Normal, reason: "done".into() };
        let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(Some(bye))).await;
        // Read to the server's close frame, so the closing handshake completes.
        let _ =
            tokio::time::timeout(Duration::from_secs(1), async { while let Some(Ok(_)) = ws.next().await {} }).await;
    }
    outcome
}

/// Sleeps until `at`, or forever without one. The timer is only made when the future is first
/// polled, so a disabled `select!` branch (no delay line, already joined) costs nothing.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The room's tick period.
fn tick_period(tick_hz: u16) -> Duration {
    Duration::from_secs_f64(1.0 / f64::from(tick_hz.max(1)))
}

impl Player {
    /// The next input: the brain's choice, numbered and batched with the unacknowledged ones
    /// before it; its send time is kept for the input→ack figure. `None` before `Welcome`.
    fn input(&mut self, brain: &mut Brain, now: Instant) -> Option<arena_protocol::InputBatch> {
        let world = self.world.as_ref()?;
        let (buttons, aim) = if self.light { brain.drift(world.tick_hz) } else { brain.decide(world) };
        let batch = self.inputs.next(InputCmd { buttons, aim }, world.ack_seq, world.view());
        let sent = &mut self.timing.sent_at;
        if sent.len() >= 512 {
            sent.pop_front();
        }
        sent.push_back((batch.seq, now));
        Some(batch)
    }

    /// Takes in what was read from the socket (after the inbound delay, if any). Returns a
    /// message to send back, or why the connection is over.
    fn take(
        &mut self,
        item: Inbound,
        report: &mut BotReport,
        live: &LiveCounters,
    ) -> Result<Option<ClientMsg>, String> {
        let joined = self.world.is_some();
        match item {
            Some(Ok(Message::Binary(b))) => {
                report.bytes_down += b.len() as u64;
                live.bytes_down.fetch_add(b.len() as u64, Ordering::Relaxed);
                if self.light
                    && let Some(world) = &mut self.world
                    && let Some((tick, ack_seq)) = snapshot_header(&b)
                {
                    world.note_snapshot(tick, ack_seq);
                    report.snapshots += 1;
                    live.snapshots.fetch_add(1, Ordering::Relaxed);
                    let now = Instant::now();
                    if let Some(last) = self.timing.last_snapshot.replace(now) {
                        report.snapshot_gap_us.saturating_record((now - last).as_micros().max(1) as u64);
                    }
                    return Ok(None);
                }
                let msg = match decode_server(&b) {
                    Ok(msg) => msg,
                    Err(e) if joined => return Err(format!("undecodable frame: {e}")),
                    Err(e) => return Err(format!("undecodable frame before Welcome: {e}")),
                };
                match (msg, &mut self.world) {
                    (ServerMsg::Welcome(w), None) => {
                        report.joined = true;
                        report.my_id = Some(w.your_id);
                        report.tick_hz = w.tick_hz;
                        live.connected.fetch_add(1, Ordering::Relaxed);
                        self.joined_at = Some(Instant::now());
                        self.world = Some(WorldMirror::new(&w));
                        Ok(None)
                    }
                    (ServerMsg::Bye(bye), None) => {
                        // Its close frame follows; wait a little for it.
                        self.turned_away = Some(format!("turned away: {:?}: {}", bye.reason, bye.message));
                        self.welcome_by = self.welcome_by.min(Instant::now() + Duration::from_secs(2));
                        report.bye = Some(bye);
                        Ok(None)
                    }
                    (other, None) => Err(format!("expected Welcome, got {other:?}")),
                    (msg, Some(world)) => Ok(receive(msg, world, report, live, self.epoch, &mut self.timing)),
                }
            }
            Some(Ok(Message::Close(frame))) => {
                report.close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                Err(match self.turned_away.take() {
                    Some(why) => why,
                    None if joined => "closed by the server".into(),
                    None => "closed before Welcome".into(),
                })
            }
            Some(Ok(_)) => Ok(None),
            Some(Err(e)) if joined => Err(format!("read failed: {e}")),
            Some(Err(e)) => Err(format!("read failed before Welcome: {e}")),
            None if joined => Err("connection lost".into()),
            None => Err(self.turned_away.take().unwrap_or_else(|| "closed before Welcome".into())),
        }
    }
}

/// The tick and acknowledged input `seq` of a `Snapshot` frame, read from its first bytes
/// (message tag 1, then `tick`, `baseline_gap` and `ack_seq` as varints: docs/PROTOCOL.md §5)
/// without decoding the rest; `None` for any other frame.
fn snapshot_header(frame: &[u8]) -> Option<(Tick, u32)> {
    let (&tag, rest) = frame.split_first()?;
    if tag != 1 {
        return None;
    }
    let mut r = arena_protocol::varint::Reader::new(rest);
    let tick = r.u32().ok()?;
    let _gap = r.u32().ok()?;
    let ack_seq = r.u32().ok()?;
    Some((Tick(tick), ack_seq))
}

/// The WebSocket stream a bot plays over.
pub(crate) type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to `url` (`ws://`, or `wss://` through [`crate::tls`]), from `source_ip` if given,
/// with a kernel receive buffer of `recv_buffer` bytes if given (a small one makes a client that
/// stops reading show up fast).
pub(crate) async fn connect_with(
    url: &str,
    source_ip: Option<std::net::IpAddr>,
    recv_buffer: Option<u32>,
) -> Result<Socket, String> {
    let uri: tokio_tungstenite::tungstenite::http::Uri = url.parse().map_err(|e| format!("bad url {url}: {e}"))?;
    let host = uri.host().ok_or_else(|| format!("no host in {url}"))?;
    let tls = uri.scheme_str() == Some("wss");
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
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
    let (ws, _) = if tls {
        let connector = tokio_tungstenite::Connector::Rustls(crate::tls::client_config());
        tokio_tungstenite::client_async_tls_with_config(url, tcp, Some(websocket_config()), Some(connector))
            .await
            .map_err(|e| format!("tls or websocket handshake failed: {e}"))?
    } else {
        let stream = tokio_tungstenite::MaybeTlsStream::Plain(tcp);
        tokio_tungstenite::client_async_with_config(url, stream, Some(websocket_config()))
            .await
            .map_err(|e| format!("websocket handshake failed: {e}"))?
    };
    Ok(ws)
}

/// Connects to `url`, from `source_ip` if given.
pub(crate) async fn connect(url: &str, source_ip: Option<std::net::IpAddr>) -> Result<Socket, String> {
    connect_with(url, source_ip, None).await
}

/// Takes in one server message after `Welcome`; returns a request for a full snapshot when the
/// world desynced.
fn receive(
    msg: ServerMsg,
    world: &mut WorldMirror,
    report: &mut BotReport,
    live: &LiveCounters,
    epoch: Instant,
    timing: &mut Timing,
) -> Option<ClientMsg> {
    match msg {
        ServerMsg::Snapshot(snapshot) => {
            let now = Instant::now();
            report.input_queue.record(snapshot.input_queue);
            timing.dilation.update(snapshot.input_offset);
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
                return Some(ClientMsg::RequestFull { tick: snapshot.tick });
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
        ServerMsg::Bye(bye) => report.bye = Some(bye),
        ServerMsg::Welcome(_) => {}
    }
    None
}
