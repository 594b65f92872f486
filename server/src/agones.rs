//! Arena as an Agones game server (`--agones`, built with the `agones` feature): it talks to the
//! SDK sidecar through the official `agones` crate (gRPC on `localhost:$AGONES_SDK_GRPC_PORT`).
//!
//! - `Ready` once the server listens.
//! - `Health` every [`HEALTH_EVERY`] while every open room ticks (the watchdog's test): a stuck
//!   room stops the pings, and Agones marks the game server `Unhealthy` after its threshold.
//! - Players and rooms published as labels (`agones.dev/sdk-players`, `agones.dev/sdk-rooms`)
//!   when they change, and as the Counters `players` and `rooms` where the fleet declares them.
//! - A `Shutdown` state from Agones (or `--shutdown-when-empty` once the last player left) asks
//!   the server to stop; the server then drains (readiness off, no new players, everyone told)
//!   and calls `Shutdown` itself at the end ([`Agones::shutdown`]).

use crate::metrics::ServerStats;
use crate::rooms::Rooms;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Time between two health pings (Agones' default `periodSeconds` is 5).
pub const HEALTH_EVERY: Duration = Duration::from_secs(2);
/// Time between two looks at the player and room counts.
pub const PUBLISH_EVERY: Duration = Duration::from_secs(1);
/// How long to wait for the sidecar at start.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(35);

/// The link to the Agones sidecar and its background tasks.
pub struct Agones {
    sdk: agones::Sdk,
    tasks: Vec<JoinHandle<()>>,
}

/// What the Agones tasks watch and whom they tell.
pub struct Watch {
    /// The process's rooms (health and counts).
    pub rooms: Arc<Rooms>,
    /// The process's counters (players; health pings sent).
    pub stats: Arc<ServerStats>,
    /// A room that has not ticked for this long stops the health pings.
    pub watchdog: Duration,
    /// `--shutdown-when-empty`: ask to stop once the last player has left.
    pub shutdown_when_empty: bool,
    /// Cancelled to ask the server to stop (Agones said `Shutdown`, or the game is over).
    pub stop: CancellationToken,
}

impl Agones {
    /// Connects to the sidecar (`port`, else `$AGONES_SDK_GRPC_PORT`, else 9357).
    pub async fn connect(port: Option<u16>) -> anyhow::Result<Agones> {
        let sdk = tokio::time::timeout(CONNECT_TIMEOUT, agones::Sdk::new(port, None))
            .await
            .map_err(|_| anyhow::anyhow!("the Agones SDK sidecar did not answer within {CONNECT_TIMEOUT:?}"))?
            .map_err(|e| anyhow::anyhow!("cannot reach the Agones SDK sidecar: {e}"))?;
        Ok(Agones { sdk, tasks: Vec::new() })
    }

    /// Tells Agones the server is ready for players, and starts health, publishing and watching.
    pub async fn ready(&mut self, watch: Watch) -> anyhow::Result<()> {
        self.sdk.ready().await.map_err(|e| anyhow::anyhow!("Agones Ready failed: {e}"))?;
        tracing::info!("Agones: Ready");
        let watch = Arc::new(watch);
        self.tasks.push(tokio::spawn(health(self.sdk.clone(), watch.clone())));
        self.tasks.push(tokio::spawn(publish(self.sdk.clone(), watch.clone())));
        self.tasks.push(tokio::spawn(watch_state(self.sdk.clone(), watch)));
        Ok(())
    }

    /// The end of a drain: stops the background tasks and tells Agones to shut the game server
    /// down.
    pub async fn shutdown(mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        match self.sdk.shutdown().await {
            Ok(()) => tracing::info!("Agones: Shutdown"),
            Err(e) => tracing::error!(error = %e, "Agones Shutdown failed"),
        }
    }
}

/// Pings while every room ticks; a stuck room (no tick within the watchdog) stops the pings.
async fn health(sdk: agones::Sdk, watch: Arc<Watch>) {
    let pings = sdk.health_check();
    let mut every = tokio::time::interval(HEALTH_EVERY);
    let mut silent = false;
    loop {
        every.tick().await;
        let stuck = watch.rooms.health(Instant::now(), watch.watchdog).stuck;
        if stuck.is_empty() {
            if pings.send(()).await.is_err() {
                tracing::error!("Agones: the health stream closed");
                return;
            }
            watch.stats.agones_health_pings.inc();
            silent = false;
        } else if !silent {
            tracing::error!(rooms = ?stuck, "Agones: a room is stuck; health pings stop");
            silent = true;
        }
    }
}

/// Publishes the players and rooms when they change; with `--shutdown-when-empty`, asks to stop
/// once players came and all have gone (and no ship is kept for a lost connection).
async fn publish(mut sdk: agones::Sdk, watch: Arc<Watch>) {
    let mut every = tokio::time::interval(PUBLISH_EVERY);
    let mut last: Option<(i64, i64)> = None;
    let mut had_players = false;
    let counters_missing = AtomicBool::new(false);
    loop {
        every.tick().await;
        let players = watch.stats.clients.get();
        let rooms = watch.stats.rooms_open.get();
        had_players |= players > 0;
        if last != Some((players, rooms)) {
            let labels = async {
                sdk.set_label("players", players.to_string()).await?;
                sdk.set_label("rooms", rooms.to_string()).await
            };
            match labels.await {
                Ok(()) => last = Some((players, rooms)),
                Err(e) => tracing::warn!(error = %e, "Agones: cannot set the labels"),
            }
            let mut beta = sdk.beta().clone();
            let counters = async {
                beta.set_counter_count("players", players).await?;
                beta.set_counter_count("rooms", rooms).await
            };
            if let Err(e) = counters.await
                && !counters_missing.swap(true, Ordering::Relaxed)
            {
                tracing::info!(error = %e, "Agones: no `players`/`rooms` Counters (declare them in the Fleet to use them)");
            }
        }
        let empty = players == 0 && watch.rooms.seated() == 0 && watch.stats.suspended.get() == 0;
        if watch.shutdown_when_empty && had_players && empty {
            tracing::info!("the last player left: shutting down (--shutdown-when-empty)");
            watch.stop.cancel();
            return;
        }
    }
}

/// Watches the game server's state: `Shutdown` (the game server was shut down through Agones)
/// asks the server to drain and stop. A watch that ends or fails (the sidecar restarted, or it
/// dropped a slow watcher) is opened again; every new watch starts with the current state.
async fn watch_state(mut sdk: agones::Sdk, watch: Arc<Watch>) {
    const REWATCH_AFTER: Duration = Duration::from_millis(500);
    loop {
        match sdk.watch_gameserver().await {
            Ok(mut states) => loop {
                match states.message().await {
                    Ok(Some(gs)) => {
                        let state = gs.status.map(|s| s.state).unwrap_or_default();
                        tracing::debug!(%state, "Agones: game server state");
                        if state == "Shutdown" {
                            tracing::info!("Agones asked for Shutdown: draining");
                            watch.stop.cancel();
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(error = %e, "Agones: the game server watch ended; watching again");
                        break;
                    }
                }
            },
            Err(e) => tracing::warn!(error = %e, "Agones: cannot watch the game server; trying again"),
        }
        tokio::time::sleep(REWATCH_AFTER).await;
    }
}
