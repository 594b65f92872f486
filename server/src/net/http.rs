//! The HTTP side of the one port: static web client at `/`, `/healthz`, and the WebSocket
//! upgrade at `/ws` (done by hand with hyper so that tungstenite's buffer limits are ours to set).

use crate::metrics::ServerStats;
use crate::net::admission::{self, ConnectionLimits, Refusal};
use crate::net::connection;
use crate::net::frame_meter::FrameBudget;
use crate::net::join_token::JoinTokens;
use crate::net::metered_io::MeteredIo;
use crate::room::ClientId;
use crate::room::runner::RoomInbox;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::ServeDir;

/// What every request handler and connection task shares.
pub struct AppState {
    /// The room's inbox.
    pub inbox: RoomInbox,
    /// Server-wide counters.
    pub stats: Arc<ServerStats>,
    /// Ticks per second (for the input rate limit).
    pub tick_hz: u16,
    /// Most players at once (for `/readyz`).
    pub max_clients: u32,
    /// How long a client has to send its `Hello`.
    pub hello_timeout: Duration,
    /// `--admission-control`: turn new players away while the room is busy.
    pub admission_control: bool,
    /// Cancelled when the server starts shutting down.
    pub shutdown: CancellationToken,
    /// Tracks connection tasks so shutdown can wait for their close frames.
    pub tracker: TaskTracker,
    /// The link conditioner's setting (off unless `--sim-latency`/`--sim-jitter`).
    pub link: crate::net::link::LinkSettings,
    /// How long a player's connection may stay silent before it is closed.
    pub idle_timeout: Duration,
    /// Join token checks (`--join-secret`), if on.
    pub join_tokens: Option<JoinTokens>,
    /// Live connections, in total and per address.
    pub limits: ConnectionLimits,
    /// `--allowed-origins` (empty: any).
    pub allowed_origins: Vec<String>,
    /// `--trusted-proxies`.
    pub trusted_proxies: Vec<IpAddr>,
    /// `/healthz` fails when the room has not finished a tick for this long.
    pub watchdog: Duration,
    next_client: AtomicU64,
}

impl AppState {
    /// Whether new players are turned away now: admission control is on and the room is busy.
    #[must_use]
    pub fn turns_players_away(&self) -> bool {
        self.admission_control && self.stats.is_busy()
    }

    /// Shared state for a server whose room is behind `inbox`.
    #[must_use]
    pub fn new(
        inbox: RoomInbox,
        stats: Arc<ServerStats>,
        config: &crate::config::Config,
        shutdown: CancellationToken,
    ) -> AppState {
        AppState {
            inbox,
            stats,
            tick_hz: config.tick_hz,
            max_clients: config.max_clients,
            hello_timeout: config.hello_timeout,
            admission_control: config.admission_control,
            shutdown,
            tracker: TaskTracker::new(),
            link: crate::net::link::LinkSettings { latency: config.sim_latency, jitter: config.sim_jitter },
            idle_timeout: config.idle_timeout,
            join_tokens: config.join_secret.as_ref().map(|s| JoinTokens::new(s.0.as_bytes())),
            limits: ConnectionLimits::new(config.max_connections, config.max_connections_per_ip),
            allowed_origins: config.allowed_origins.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
            watchdog: config.watchdog(),
            next_client: AtomicU64::new(1),
        }
    }
}

/// tungstenite settings for game connections: small buffers (the defaults of 128 KiB each per
/// connection would dominate the server's memory) and a message and frame limit of
/// [`MAX_CLIENT_FRAME`](arena_protocol::codec::MAX_CLIENT_FRAME), the largest client message: a
/// larger frame is refused from its header, before its payload is buffered, and closed with 1009.
#[must_use]
pub fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(4 * 1024 * 1024)
        .max_message_size(Some(arena_protocol::codec::MAX_CLIENT_FRAME))
        .max_frame_size(Some(arena_protocol::codec::MAX_CLIENT_FRAME))
}

/// The router for the one port.
pub fn router(state: Arc<AppState>, web_root: PathBuf) -> Router {
    Router::new()
        .route("/ws", get(upgrade))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/stats", get(stats))
        .fallback_service(ServeDir::new(web_root))
        .with_state(state)
}

/// Liveness: the process answers and its room finished a tick within the watchdog's time;
/// 503 with how long ago if not (the room thread is stuck or dead).
async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let ticks = state.stats.ticks.get();
    let clients = state.stats.clients.get();
    match state.stats.since_last_tick() {
        Some(ago) if ago <= state.watchdog => format!("ok ticks={ticks} clients={clients}\n").into_response(),
        Some(ago) => {
            let body = format!(
                "stuck: the room's last tick ended {} ms ago (limit {} ms)\n",
                ago.as_millis(),
                state.watchdog.as_millis()
            );
            (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
        }
        None => (StatusCode::SERVICE_UNAVAILABLE, "starting: the room has not ticked yet\n").into_response(),
    }
}

/// Readiness: accepting players (room ticking, not draining, not busy, below `--max-clients`);
/// 503 with the reason if not (and `Retry-After` when busy).
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let clients = state.stats.clients.get();
    if state.shutdown.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining: the server is shutting down\n").into_response()
    } else if state.stats.since_last_tick().is_none_or(|ago| ago > state.watchdog) {
        (StatusCode::SERVICE_UNAVAILABLE, "stuck: the room is not ticking\n").into_response()
    } else if state.turns_players_away() {
        let retry = crate::room::load::BUSY_RETRY_AFTER.as_secs().to_string();
        let body = "busy: the room cannot hold its tick rate with more players\n";
        (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, retry)], body).into_response()
    } else if clients >= i64::from(state.max_clients) {
        (StatusCode::SERVICE_UNAVAILABLE, format!("full: {clients} of {} players\n", state.max_clients)).into_response()
    } else {
        format!("ready clients={clients} max_clients={}\n", state.max_clients).into_response()
    }
}

/// Prometheus text exposition (OpenMetrics flavour) of every counter, gauge and histogram.
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.stats.render())
        .into_response()
}

/// Precise tick figures as JSON: counters and, per phase, the cumulative HDR histogram as
/// `[microseconds, count]` pairs (subtract two scrapes for a window), plus its percentiles.
async fn stats(State(state): State<Arc<AppState>>) -> Response {
    let h = state.stats.tick_histograms();
    let phases: serde_json::Map<String, serde_json::Value> = crate::metrics::Phase::ALL
        .iter()
        .zip(&h.phases)
        .map(|(phase, hist)| {
            let recorded: Vec<[u64; 2]> =
                hist.iter_recorded().map(|v| [v.value_iterated_to(), v.count_since_last_iteration()]).collect();
            let q = |q: f64| hist.value_at_quantile(q);
            let value = serde_json::json!({
                "count": hist.len(), "p50_us": q(0.5), "p99_us": q(0.99), "p999_us": q(0.999), "max_us": hist.max(),
                "recorded": recorded,
            });
            (phase.label().to_owned(), value)
        })
        .collect();
    let s = &state.stats;
    let body = serde_json::json!({
        "tick_hz": state.tick_hz,
        "ticks": s.ticks.get(),
        "overruns": s.overruns.get(),
        "catch_up_ticks": s.catch_up_ticks.get(),
        "skipped_ticks": s.skipped_ticks.get(),
        "clients": s.clients.get(),
        "connections": s.connections.get(),
        "entities": s.entities.get(),
        "bytes_sent": s.bytes_sent.get(),
        "bytes_received": s.bytes_received.get(),
        "snapshots_sent": s.snapshots_sent.get(),
        "snapshots_dropped": s.snapshots_dropped.get(),
        "inputs_speculated": s.inputs_speculated.get(),
        "inputs_mispredicted": s.inputs_mispredicted.get(),
        "inputs_drained": s.inputs_drained.get(),
        "shots_fired": s.shots_fired.get(),
        "shots_rewind_capped": s.shots_rewind_capped.get(),
        "shots_rewind_wanted_ticks": s.shots_rewind_wanted_ticks.get(),
        "players_suspended": s.suspended.get(),
        "resumes": s.resumes.get(),
        "tokio_tasks": tokio::runtime::Handle::current().metrics().num_alive_tasks(),
        "heap_live_bytes": crate::heap::live_bytes(),
        "phases": phases,
    });
    ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// The HTTP answer to a refused upgrade; counted by reason.
fn refuse(stats: &ServerStats, refusal: Refusal) -> Response {
    stats.count_refusal(refusal.label());
    let retry = |status: StatusCode, seconds: &'static str, body: &'static str| {
        (status, [(header::RETRY_AFTER, seconds)], body).into_response()
    };
    match refusal {
        Refusal::NotWebSocket(why) => (StatusCode::BAD_REQUEST, why).into_response(),
        Refusal::Origin => (StatusCode::FORBIDDEN, "this origin may not open a game connection\n").into_response(),
        Refusal::PerIp => retry(StatusCode::TOO_MANY_REQUESTS, "10", "too many connections from your address\n"),
        Refusal::Total => retry(StatusCode::SERVICE_UNAVAILABLE, "10", "the server has too many connections\n"),
        Refusal::Draining => retry(StatusCode::SERVICE_UNAVAILABLE, "30", "the server is shutting down\n"),
    }
}

async fn upgrade(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if state.shutdown.is_cancelled() {
        return refuse(&state.stats, Refusal::Draining);
    }
    let accept = match admission::websocket_accept(request.headers()) {
        Ok(accept) => accept,
        Err(refusal) => return refuse(&state.stats, refusal),
    };
    if !admission::origin_allowed(request.headers(), &state.allowed_origins) {
        return refuse(&state.stats, Refusal::Origin);
    }
    let ip = admission::client_ip(peer, request.headers(), &state.trusted_proxies);
    let permit = match state.limits.try_acquire(ip) {
        Ok(permit) => permit,
        Err(refusal) => return refuse(&state.stats, refusal),
    };
    let on_upgrade = hyper::upgrade::on(request);
    let client = ClientId(state.next_client.fetch_add(1, Ordering::Relaxed));
    let task_state = state.clone();
    state.tracker.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let rate = connection::frame_rate(task_state.tick_hz);
                let budget = Arc::new(FrameBudget::new(rate, rate, Instant::now()));
                let io = MeteredIo::new(TokioIo::new(upgraded), budget.clone(), Some(permit));
                let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(websocket_config())).await;
                connection::run(ws, client, budget, task_state).await;
            }
            Err(e) => tracing::debug!(error = %e, "upgrade failed"),
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
