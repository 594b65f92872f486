//! The HTTP accept loop: one hyper HTTP/1 connection (with upgrades, for `/ws`) per accepted
//! socket, plain or TLS, with a **header read timeout** and graceful shutdown.
//!
//! It replaces `axum::serve`, which gives hyper no timer and so no timeout at all: a client that
//! opened a TCP connection and sent half a request line (or one request and then nothing on a
//! kept-alive connection) held its socket and task for as long as it liked ("slowloris"). Here
//! hyper closes a connection that has not delivered a complete request head within
//! `--http-header-timeout` of starting one, or of going idle after a response.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

/// Accepts connections from `listener` and serves `router` on each until `stop` is cancelled;
/// then stops accepting, lets every connection finish its current response (upgraded WebSockets
/// live on: they are the connection tasks' own) and returns once all have closed.
///
/// Every request carries the peer's address as axum's [`ConnectInfo<SocketAddr>`].
pub async fn serve<L>(mut listener: L, router: Router, header_timeout: Duration, stop: CancellationToken)
where
    L: Listener<Addr = SocketAddr>,
{
    let connections = TaskTracker::new();
    loop {
        let (io, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let router = router.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(request.map(Body::new))
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
            let connection = builder.serve_connection(TokioIo::new(io), service).with_upgrades();
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                // Timeouts, resets and malformed requests: the client's doing, not ours.
                tracing::debug!(%peer, error = %e, "http connection ended with an error");
            }
        });
    }
    connections.close();
    connections.wait().await;
}
