//! The HTTP side of the one port: static web client at `/`, `/healthz`, and the WebSocket
//! upgrade at `/ws` (done by hand with hyper so that tungstenite's buffer limits are ours to set).

use crate::metrics::ServerStats;
use crate::net::admission::{self, ConnectionLimits, Refusal};
use crate::net::connection;
use crate::net::frame_meter::FrameBudget;
use crate::net::join_token::JoinTokens;
use crate::net::metered_io::MeteredIo;
use crate::room::ClientId;
use crate::rooms::Rooms;
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
    /// The process's rooms.
    pub rooms: Arc<Rooms>,
    /// Server-wide counters.
    pub stats: Arc<ServerStats>,
    /// Ticks per second (for the input rate limit).
    pub tick_hz: u16,
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
    /// `/healthz` fails when a room has not finished a tick for this long.
    pub watchdog: Duration,
    /// `--admin-token`: the bearer token the operator endpoints need, if any.
    pub admin_token: Option<String>,
    next_client: AtomicU64,
}

impl AppState {
    /// Whether new players are turned away now: admission control is on and the room is busy.
    #[must_use]
    pub fn turns_players_away(&self) -> bool {
        self.admission_control && self.stats.is_busy()
    }

    /// Shared state for a server whose rooms are `rooms`.
    #[must_use]
    pub fn new(
        rooms: Arc<Rooms>,
        stats: Arc<ServerStats>,
        config: &crate::config::Config,
        shutdown: CancellationToken,
    ) -> AppState {
        AppState {
            rooms,
            stats,
            tick_hz: config.tick_hz,
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
            admin_token: config.admin_token.as_ref().map(|t| t.0.clone()),
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

/// The router of the game port: the page, `/ws`, the probes, and the operator endpoints too
/// unless they have a port of their own (`with_admin` false: `--admin-bind`).
pub fn router(state: Arc<AppState>, web_root: PathBuf, with_admin: bool) -> Router {
    let mut router =
        Router::new().route("/ws", get(upgrade)).route("/healthz", get(healthz)).route("/readyz", get(readyz));
    if with_admin {
        router = router.merge(crate::net::admin::routes(state.clone()));
    } else {
        // The console's files live in the web root too: not on this port.
        let not_here = || async { StatusCode::NOT_FOUND };
        router = router.route("/console", get(not_here)).route("/console/{*rest}", get(not_here));
    }
    router.fallback_service(ServeDir::new(web_root)).with_state(state)
}

/// The router of `--admin-bind`: the operator endpoints and the probes.
pub fn admin_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(crate::net::admin::routes(state.clone()))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .with_state(state)
}

/// Liveness: the process answers and every open room finished a tick within the watchdog's
/// time; 503 naming the stuck rooms if not (a stuck room thread cannot be saved: restart). A
/// room that panicked was closed (its players told) while the others play on: the body says
/// so, with a 200.
async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let health = state.rooms.health(Instant::now(), state.watchdog);
    if !health.stuck.is_empty() {
        let stuck: Vec<String> =
            health.stuck.iter().map(|(name, ago)| format!("{name} ({} ms)", ago.as_millis())).collect();
        let body = format!("stuck: no tick within {} ms in room {}\n", state.watchdog.as_millis(), stuck.join(", "));
        return (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    }
    let mut body = format!("ok rooms={} clients={} ticks={}", health.rooms, health.players, state.stats.ticks.get());
    if let Some((room, ago)) = &health.last_panic {
        let panics = state.stats.room_panics.get();
        body.push_str(&format!(
            " degraded: room_panics={panics}, the last in room {room} {} s ago (closed, its players told)",
            ago.as_secs()
        ));
    }
    body.push('\n');
    body.into_response()
}

/// Readiness: accepting players (rooms ticking, not draining, not busy, a place for a
/// quick-play player); 503 with the reason if not (and `Retry-After` when busy).
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let clients = state.stats.clients.get();
    let health = state.rooms.health(Instant::now(), state.watchdog);
    if state.shutdown.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining: the server is shutting down\n").into_response()
    } else if !health.stuck.is_empty() {
        (StatusCode::SERVICE_UNAVAILABLE, "stuck: a room is not ticking\n").into_response()
    } else if state.turns_players_away() {
        let retry = crate::room::load::BUSY_RETRY_AFTER.as_secs().to_string();
        let body = "busy: a room cannot hold its tick rate with more players\n";
        (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, retry)], body).into_response()
    } else if !state.rooms.has_room() {
        let c = state.rooms.config();
        let body = format!(
            "full: {} players placed (at most {}), {} rooms open (at most {} of {} players)\n",
            state.rooms.seated(),
            c.max_players,
            health.rooms,
            c.max_rooms,
            c.room.max_clients
        );
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    } else {
        format!("ready clients={clients} rooms={}\n", health.rooms).into_response()
    }
}

/// The open rooms as a JSON array: name, players, capacity, tick rate, tick p50/p99/max over the
/// last 10 s, overruns, busy (see `rooms::stats::RoomSummary`).
pub(crate) async fn rooms(State(state): State<Arc<AppState>>) -> Response {
    let body = serde_json::to_string(&state.rooms.summaries(Instant::now())).unwrap_or_else(|_| "[]".into());
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Prometheus text exposition (OpenMetrics flavour) of every counter, gauge and histogram.
pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.stats.render())
        .into_response()
}

/// Precise tick figures as JSON: counters and, per phase, the cumulative HDR histogram as
/// `[microseconds, count]` pairs (subtract two scrapes for a window), plus its percentiles.
pub(crate) async fn stats(State(state): State<Arc<AppState>>) -> Response {
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
    let process = crate::process::sample();
    let body = serde_json::json!({
        "process_cpu_seconds": process.as_ref().map(|p| p.cpu_seconds),
        "process_resident_bytes": process.as_ref().map(|p| p.resident_bytes),
        "connections_closed": s.closed_counts(),
        "connections_refused": s.refused_counts(),
        "tick_hz": state.tick_hz,
        "rooms": s.rooms_open.get(),
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
