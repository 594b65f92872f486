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
    /// Cancelled when the server starts shutting down.
    pub shutdown: CancellationToken,
    /// Tracks connection tasks so shutdown can wait for their close frames.
    pub tracker: TaskTracker,
    next_client: AtomicU64,
}

impl AppState {
    /// Shared state for a server whose room is behind `inbox`.
    #[must_use]
    pub fn new(inbox: RoomInbox, stats: Arc<ServerStats>, tick_hz: u16, shutdown: CancellationToken) -> AppState {
        AppState { inbox, stats, tick_hz, shutdown, tracker: TaskTracker::new(), next_client: AtomicU64::new(1) }
    }
}

/// Largest WebSocket message tungstenite reads from a client before giving up on the connection.
pub const MAX_WS_MESSAGE: usize = 16 * 1024;

/// How long a client has to send its `Hello` after the upgrade.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

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
        .fallback_service(ServeDir::new(web_root))
        .with_state(state)
}

async fn healthz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let ticks = ServerStats::get(&state.stats.ticks);
    let clients = ServerStats::get(&state.stats.clients);
    format!("ok ticks={ticks} clients={clients}\n")
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
