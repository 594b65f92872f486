//! The HTTP side of the one port: static web client at `/`, `/healthz`, and the WebSocket
//! upgrade at `/ws` (done by hand with hyper so that tungstenite's buffer limits are ours to set).

use crate::metrics::ServerStats;
use crate::net::connection;
use crate::room::ClientId;
use crate::room::runner::RoomInbox;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::TokioIo;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
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
    /// Cancelled when the server starts shutting down.
    pub shutdown: CancellationToken,
    /// Tracks connection tasks so shutdown can wait for their close frames.
    pub tracker: TaskTracker,
    /// The link conditioner's setting (off unless `--sim-latency`/`--sim-jitter`).
    pub link: crate::net::link::LinkSettings,
    next_client: AtomicU64,
}

impl AppState {
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
            shutdown,
            tracker: TaskTracker::new(),
            link: crate::net::link::LinkSettings { latency: config.sim_latency, jitter: config.sim_jitter },
            next_client: AtomicU64::new(1),
        }
    }
}

/// Largest WebSocket message tungstenite reads from a client before giving up on the connection.
pub const MAX_WS_MESSAGE: usize = 16 * 1024;

/// tungstenite settings for game connections: small buffers (the defaults of 128 KiB each per
/// connection would dominate the server's memory) and a message limit far below the default
/// 64 MiB. The limit is still well above the codec's own (no client message is larger than a few
/// hundred bytes), so that a merely oversized message is read whole and answered with an orderly
/// close, and only absurd frames are cut off at the header.
#[must_use]
pub fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(4 * 1024 * 1024)
        .max_message_size(Some(MAX_WS_MESSAGE))
        .max_frame_size(Some(MAX_WS_MESSAGE))
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

/// Liveness: the process answers and its room ticks.
async fn healthz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let ticks = state.stats.ticks.get();
    let clients = state.stats.clients.get();
    format!("ok ticks={ticks} clients={clients}\n")
}

/// Readiness: accepting players (not draining, below `--max-clients`); 503 with the reason if not.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let clients = state.stats.clients.get();
    if state.shutdown.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining: the server is shutting down\n").into_response()
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
        "phases": phases,
    });
    ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn bad_request(why: &'static str) -> Response {
    (StatusCode::BAD_REQUEST, why).into_response()
}

fn websocket_key(headers: &HeaderMap) -> Result<String, &'static str> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .any(|v| v.to_str().is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))))
    };
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        return Err("expected a WebSocket upgrade request\n");
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).is_none_or(|v| v != "13") {
        return Err("only WebSocket version 13 is supported\n");
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY).ok_or("missing Sec-WebSocket-Key\n")?;
    Ok(derive_accept_key(key.as_bytes()))
}

async fn upgrade(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if state.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    let accept = match websocket_key(request.headers()) {
        Ok(accept) => accept,
        Err(why) => return bad_request(why),
    };
    let on_upgrade = hyper::upgrade::on(request);
    let client = ClientId(state.next_client.fetch_add(1, Ordering::Relaxed));
    let task_state = state.clone();
    state.tracker.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(websocket_config()))
                        .await;
                connection::run(ws, client, task_state).await;
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
