//! Arena's authoritative game server as a library, so tests and benches run it in-process.
//!
//! - [`sim`]: the bevy_ecs world and its fixed-tick schedule (sans-IO, no tokio).
//! - [`replication`]: turning the world into each client's snapshot bytes (sans-IO).
//! - [`room`]: one room's core (commands in, frames out) and the OS thread that ticks it.
//! - [`rooms`]: the process's rooms: placement (named or quick play), opening, idle closing.
//! - [`mailbox`]: the hand-off of frames from a room to a connection's writer.
//! - [`net`]: HTTP, the WebSocket upgrade and the connection tasks (tokio, no bevy).
//! - [`config`]: flags and config file; [`metrics`]: counters, tick timings, `/metrics`;
//!   [`process`]: the process's CPU and memory.

#[cfg(feature = "agones")]
pub mod agones;
pub mod config;
pub mod heap;
pub mod mailbox;
pub mod metrics;
pub mod net;
pub mod process;
pub mod replication;
pub mod room;
pub mod rooms;
pub mod sim;

use crate::config::Config;
use crate::metrics::ServerStats;
use crate::net::http::{AppState, admin_router, router};
use crate::replication::View;
use crate::room::RoomSettings;
use crate::rooms::{Rooms, RoomsConfig};
use crate::sim::SimSettings;
use anyhow::Context;
use arena_protocol::rules::Arena;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long shutdown waits for connections to flush their close frames.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A server running in this process: its address, counters and the means to stop it.
pub struct RunningServer {
    addr: SocketAddr,
    stats: Arc<ServerStats>,
    shutdown: CancellationToken,
    http: JoinHandle<()>,
    admin: Option<(SocketAddr, JoinHandle<()>)>,
    sweeper: JoinHandle<()>,
    /// Cancelled when the server asks to be stopped (Agones `Shutdown`, `--shutdown-when-empty`).
    stop_requested: CancellationToken,
    #[cfg(feature = "agones")]
    agones: Option<agones::Agones>,
    app: Arc<AppState>,
    tls: bool,
}

impl RunningServer {
    /// The address it listens on (useful after binding port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's counters.
    #[must_use]
    pub fn stats(&self) -> &Arc<ServerStats> {
        &self.stats
    }

    /// The WebSocket URL of the game (`wss://` with `--tls-cert`).
    #[must_use]
    pub fn ws_url(&self) -> String {
        format!("{}://{}/ws", if self.tls { "wss" } else { "ws" }, self.addr)
    }

    /// The address of the operator endpoints' own port (`--admin-bind`), if they have one.
    #[must_use]
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(addr, _)| *addr)
    }

    /// The URL of the web client's page (`https://` with `--tls-cert`).
    #[must_use]
    pub fn page_url(&self) -> String {
        format!("{}://{}/", if self.tls { "https" } else { "http" }, self.addr)
    }

    /// Injects a fault into the thread of the room called `room`: tests use it to prove the
    /// watchdog and the panic handling (see [`room::runner::Fault`]). `false` if no such room.
    #[doc(hidden)]
    pub fn inject_fault(&self, room: &str, fault: room::runner::Fault) -> bool {
        self.app.rooms.get(room).map(|r| r.inbox.inject(fault)).is_some()
    }

    /// The process's rooms.
    #[must_use]
    pub fn rooms(&self) -> &Arc<Rooms> {
        &self.app.rooms
    }

    /// Resolves when the server asks to be stopped: Agones set the game server to `Shutdown`, or
    /// `--shutdown-when-empty` saw the last player leave. The caller then calls
    /// [`RunningServer::shutdown`] (as it does on SIGTERM).
    pub async fn stop_requested(&self) {
        self.stop_requested.cancelled().await;
    }

    /// Live connections as the connection limits count them (they include connections still
    /// lingering after their close).
    #[must_use]
    pub fn open_connections(&self) -> u32 {
        self.app.limits.total()
    }

    /// Stops accepting, says goodbye to every client with a close frame, and waits (at most
    /// [`SHUTDOWN_GRACE`]) for the connections to finish.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.sweeper.abort();
        let rooms = self.app.rooms.clone();
        // Joining the room threads blocks; each returns within one tick.
        let _ = tokio::task::spawn_blocking(move || rooms.close_all()).await;
        self.app.tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.app.tracker.wait()).await.is_err() {
            tracing::warn!("some connections did not close in time");
        }
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, self.http).await;
        if let Some((_, admin)) = self.admin {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, admin).await;
        }
        // Drained: everyone was told and the connections are closed.
        #[cfg(feature = "agones")]
        if let Some(agones) = self.agones {
            agones.shutdown().await;
        }
    }
}

/// Binds `config.bind`, starts the HTTP server and the rooms' sweeper, and returns at once. Rooms
/// open as players arrive.
pub async fn start(config: &Config) -> anyhow::Result<RunningServer> {
    if config.agones && !cfg!(feature = "agones") {
        anyhow::bail!("--agones: this build has no Agones support (build with `--features agones`)");
    }
    // Certificate problems are reported before anything else starts.
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(net::tls::server_config(cert, key)?),
        (None, None) => None,
        _ => return Err(net::tls::TlsSetupError::Incomplete.into()),
    };
    let listener = TcpListener::bind(config.bind).await.with_context(|| format!("cannot listen on {}", config.bind))?;
    let addr = listener.local_addr()?;
    let arena = Arena { width: config.arena_size as f32, height: config.arena_size as f32 };
    let tick_hz = config.tick_hz;
    let settings = RoomSettings {
        sim: SimSettings {
            tick_hz,
            arena,
            orbs: config.orbs,
            seed: config.seed.unwrap_or_else(rand::random),
            max_rewind_ticks: config.max_rewind_ticks(),
        },
        view: View { half_width: config.view_width as f32 / 2.0, half_height: config.view_height as f32 / 2.0 },
        max_clients: config.room_capacity,
        slow_client_ticks: (config.slow_client_timeout.as_secs_f64() * f64::from(tick_hz)).ceil() as u32,
        snapshot_budget: config.snapshot_budget(),
        resume_grace: config.resume_grace,
        replication_threads: config.replication_threads(),
    };
    let stats = Arc::new(ServerStats::new(tick_hz));
    let rooms_config = RoomsConfig {
        room: settings,
        max_rooms: config.max_rooms,
        max_players: config.max_clients,
        idle_timeout: config.room_idle_timeout,
    };
    let pool = room::replication_pool(settings.replication_threads);
    let rooms = Arc::new(Rooms::new(rooms_config, stats.clone(), pool));
    let sweeper = tokio::spawn(sweep_rooms(rooms.clone(), config.room_idle_timeout));
    let shutdown = CancellationToken::new();
    let app = Arc::new(AppState::new(rooms, stats.clone(), config, shutdown.clone()));
    let web_root = config.web_root();
    if !web_root.join("pkg/arena_wasm.wasm").exists() {
        tracing::warn!(web_root = %web_root.display(), "the web client's wasm module is missing: run `scripts/build-web.sh`");
    }
    let app_router = router(app.clone(), web_root, config.admin_bind.is_none());
    let admin = match config.admin_bind {
        Some(bind) => {
            let listener =
                TcpListener::bind(bind).await.with_context(|| format!("cannot listen on {bind} (--admin-bind)"))?;
            let admin_addr = listener.local_addr()?;
            let serving =
                net::serve::serve(listener, admin_router(app.clone()), config.http_header_timeout, shutdown.clone());
            tracing::info!(%admin_addr, "operator endpoints (/metrics, /stats, /rooms, /console) on their own port");
            Some((admin_addr, tokio::spawn(serving)))
        }
        None => None,
    };
    let send_buffer = config.send_buffer;
    let stop = shutdown.clone();
    let with_tls = tls.is_some();
    let header_timeout = config.http_header_timeout;
    // The same service and graceful shutdown either way; only the listener differs.
    let http = match tls {
        None => {
            let listener = axum::serve::ListenerExt::tap_io(listener, move |tcp: &mut tokio::net::TcpStream| {
                tune_socket(tcp, send_buffer);
            });
            tokio::spawn(net::serve::serve(listener, app_router, header_timeout, stop))
        }
        Some(tls) => {
            // The sockets are tuned before their handshake.
            let listener =
                net::tls::TlsListener::new(listener, tls, config.tls_handshake_timeout, send_buffer, stats.clone());
            tokio::spawn(net::serve::serve(listener, app_router, header_timeout, stop))
        }
    };
    if config.sim_latency.max > Duration::ZERO || !config.sim_jitter.is_zero() {
        tracing::warn!(latency = %config.sim_latency, jitter = ?config.sim_jitter, "link conditioner on: every frame is delayed (a development and test tool)");
    }
    tracing::info!(%addr, tick_hz, tls = with_tls, "arena listening");
    let stop_requested = CancellationToken::new();
    #[cfg(feature = "agones")]
    let agones = match config.agones {
        true => {
            let mut link = agones::Agones::connect(Some(config.agones_sdk_port)).await?;
            let watch = agones::Watch {
                rooms: app.rooms.clone(),
                stats: stats.clone(),
                watchdog: config.watchdog(),
                shutdown_when_empty: config.shutdown_when_empty,
                stop: stop_requested.clone(),
            };
            link.ready(watch).await?;
            Some(link)
        }
        false => None,
    };
    if config.shutdown_when_empty && !config.agones {
        tokio::spawn(stop_when_empty(stats.clone(), app.rooms.clone(), stop_requested.clone()));
    }
    Ok(RunningServer {
        addr,
        stats,
        shutdown,
        http,
        admin,
        sweeper,
        stop_requested,
        #[cfg(feature = "agones")]
        agones,
        app,
        tls: with_tls,
    })
}

/// `--shutdown-when-empty` without Agones: asks to stop once players came and all have left.
async fn stop_when_empty(stats: Arc<ServerStats>, rooms: Arc<Rooms>, stop: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_millis(250));
    let mut had_players = false;
    loop {
        every.tick().await;
        let players = stats.clients.get();
        had_players |= players > 0;
        if had_players && players == 0 && rooms.seated() == 0 && stats.suspended.get() == 0 {
            tracing::info!("the last player left: shutting down (--shutdown-when-empty)");
            stop.cancel();
            return;
        }
    }
}

/// Closes idle rooms and forgets dead ones, a few times per idle timeout (at most once a second).
async fn sweep_rooms(rooms: Arc<Rooms>, idle_timeout: Duration) {
    let mut every = tokio::time::interval((idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1)));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let gone = rooms.sweep(Instant::now());
        if !gone.is_empty() {
            // Joining a room thread blocks for up to a tick.
            let _ = tokio::task::spawn_blocking(move || Rooms::stop_rooms(gone)).await;
        }
    }
}

/// Socket options of every accepted connection, plain or TLS: TCP_NODELAY (game frames are
/// small and latency matters more than packet count) and `--send-buffer`, if given.
pub(crate) fn tune_socket(tcp: &tokio::net::TcpStream, send_buffer: Option<u32>) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    if let Some(bytes) = send_buffer
        && let Err(e) = socket2::SockRef::from(tcp).set_send_buffer_size(bytes as usize)
    {
        tracing::debug!(error = %e, "cannot set the send buffer size");
    }
}
