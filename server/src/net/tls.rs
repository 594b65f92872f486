//! TLS on the game's one port (`--tls-cert`/`--tls-key`): the PEM certificate chain and key
//! loaded once at start (with errors that name the file and what is wrong with it), and a
//! [`TlsListener`] that hands axum finished TLS streams, so `/`, `/ws`, `/healthz` and `/metrics`
//! are served over https and wss exactly as they are over plain HTTP.
//!
//! Handshakes run concurrently, each in its own task with a time limit, and only so many at once:
//! a slow or silent client never holds up the accepts of others. Failed handshakes are counted in
//! `arena_tls_handshake_failures_total{reason}`. This module knows nothing of WebSockets: the
//! upgrade in [`http`](crate::net::http) runs unchanged over the TLS stream. Certificates are not
//! reloaded while running: a renewed certificate needs a restart.

use crate::metrics::ServerStats;
use rustls::ServerConfig;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Most TLS handshakes in progress at once; further connections wait in the kernel's accept
/// queue until one finishes or times out.
pub const MAX_HANDSHAKES: usize = 1024;

/// Why the TLS setup could not be loaded at start. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// Only one of `--tls-cert` and `--tls-key` was given.
    #[error("TLS needs both --tls-cert and --tls-key (only one was given)")]
    Incomplete,
    /// A file could not be opened or read.
    #[error("cannot read the TLS {what} file {}: {source}", path.display())]
    Read {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A file is not valid PEM (a broken block, bad base64).
    #[error("the TLS {what} file {} is not valid PEM: {reason}", path.display())]
    BadPem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the PEM parser said.
        reason: String,
    },
    /// The certificate file holds no `CERTIFICATE` block.
    #[error(
        "the TLS certificate file {} has no certificate in it (expected PEM `-----BEGIN CERTIFICATE-----` blocks, the server's own first)",
        path.display()
    )]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no private key block.
    #[error(
        "the TLS private key file {} has no private key in it (expected a PEM `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY` block)",
        path.display()
    )]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The key could not be used (an unsupported algorithm, or corrupt).
    #[error("the TLS private key in {} cannot be used: {reason}", path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What rustls said.
        reason: String,
    },
    /// The key is not the one of the certificate.
    #[error("the TLS private key in {} does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The certificate could not be used (corrupt, or rejected by rustls).
    #[error("the TLS certificate in {} cannot be used: {reason}", path.display())]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// What rustls said.
        reason: String,
    },
}

/// Turns a PEM parsing error into the setup error for `path`.
fn pem_error(what: &'static str, path: &Path, e: pem::Error, none: TlsSetupError) -> TlsSetupError {
    match e {
        pem::Error::Io(source) => TlsSetupError::Read { what, path: path.to_owned(), source },
        pem::Error::NoItemsFound => none,
        other => TlsSetupError::BadPem { what, path: path.to_owned(), reason: other.to_string() },
    }
}

/// The certificate chain in the PEM file `path`, the server's own certificate first.
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let what = "certificate";
    let none = || TlsSetupError::NoCertificate { path: path.to_owned() };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(what, path, e, none()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(what, path, e, none()))?;
    if certs.is_empty() { Err(none()) } else { Ok(certs) }
}

/// The private key in the PEM file `path` (PKCS#8, PKCS#1 or SEC1; the first one if several).
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| pem_error("private key", path, e, TlsSetupError::NoKey { path: path.to_owned() }))
}

/// The server's TLS settings from `--tls-cert` and `--tls-key`: rustls with the ring provider,
/// TLS 1.2 and 1.3, ALPN `http/1.1` (the WebSocket upgrade is an HTTP/1.1 affair).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let chain = load_certificates(cert)?;
    let private_key = load_private_key(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::BadCertificate { path: cert.to_owned(), reason: e.to_string() })?;
    let mut config = builder.with_no_client_auth().with_single_cert(chain, private_key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsSetupError::KeyMismatch { cert: cert.to_owned(), key: key.to_owned() },
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
            TlsSetupError::BadCertificate { path: cert.to_owned(), reason: e.to_string() }
        }
        other => TlsSetupError::BadKey { path: key.to_owned(), reason: other.to_string() },
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Why a handshake failed, as labelled in `arena_tls_handshake_failures_total{reason}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// The client's first bytes were not a TLS record: plain HTTP or garbage (answered with a
    /// plain `400` that says to use https).
    NotTls,
    /// The client closed the connection before the handshake finished.
    Closed,
    /// The handshake took longer than `--tls-handshake-timeout`.
    Timeout,
    /// TLS itself failed: no common version or cipher, a client that rejected the certificate…
    Error,
}

impl HandshakeFailure {
    /// Every reason.
    pub const ALL: [HandshakeFailure; 4] =
        [HandshakeFailure::NotTls, HandshakeFailure::Closed, HandshakeFailure::Timeout, HandshakeFailure::Error];

    /// The label value.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            HandshakeFailure::NotTls => "not_tls",
            HandshakeFailure::Closed => "closed",
            HandshakeFailure::Timeout => "timeout",
            HandshakeFailure::Error => "error",
        }
    }
}

/// What a handshake task ends with.
type Handshaken = Option<(TlsStream<TcpStream>, SocketAddr)>;

/// An [`axum::serve::Listener`] over a TCP listener whose `accept` returns TLS streams whose
/// handshake is done. Handshakes run in tasks of its own (aborted when it is dropped), at most
/// [`MAX_HANDSHAKES`] at once, each within `--tls-handshake-timeout`.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Handshaken>,
    send_buffer: Option<u32>,
    stats: Arc<ServerStats>,
    timeout: Duration,
    max_handshakes: usize,
    /// After an accept error such as too many open files: no accepts until then.
    backoff: Option<Instant>,
}

impl TlsListener {
    /// Serves TLS with `config` on `tcp`; accepted sockets get TCP_NODELAY and, if given, a send
    /// buffer of `send_buffer` bytes (as plain connections do); a handshake not done within
    /// `timeout` (`--tls-handshake-timeout`) is dropped; failures are counted in `stats`.
    #[must_use]
    pub fn new(
        tcp: TcpListener,
        config: Arc<ServerConfig>,
        timeout: Duration,
        send_buffer: Option<u32>,
        stats: Arc<ServerStats>,
    ) -> Self {
        // Every reason shows in `/metrics` from the start, at zero.
        for failure in HandshakeFailure::ALL {
            let _ = stats.tls_handshake_failures_with(failure.label());
        }
        TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(config),
            handshakes: JoinSet::new(),
            send_buffer,
            stats,
            timeout,
            max_handshakes: MAX_HANDSHAKES,
            backoff: None,
        }
    }

    /// Starts the handshake of a freshly accepted connection in a task of its own.
    fn start_handshake(&mut self, tcp: TcpStream, peer: SocketAddr) {
        crate::tune_socket(&tcp, self.send_buffer);
        let acceptor = self.acceptor.clone();
        let stats = self.stats.clone();
        let timeout = self.timeout;
        self.handshakes.spawn(async move {
            let failure = match tokio::time::timeout(timeout, handshake(acceptor, tcp)).await {
                Ok(Ok(tls)) => return Some((tls, peer)),
                Ok(Err(failure)) => failure,
                Err(_) => HandshakeFailure::Timeout,
            };
            stats.count_tls_handshake_failure(failure.label());
            tracing::debug!(%peer, reason = failure.label(), "tls handshake failed");
            None
        });
    }
}

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// What a plain-HTTP client on the TLS port is told.
const NOT_TLS_RESPONSE: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\
    Content-Length: 52\r\n\r\nthis port speaks TLS: use https:// or wss:// for it\n";

/// One server-side TLS handshake; a client whose first byte is not a TLS handshake record gets a
/// plain `400` and is dropped without ever reaching rustls.
async fn handshake(acceptor: TlsAcceptor, mut tcp: TcpStream) -> Result<TlsStream<TcpStream>, HandshakeFailure> {
    let mut first = [0u8; 1];
    match tcp.peek(&mut first).await {
        Ok(0) | Err(_) => return Err(HandshakeFailure::Closed),
        Ok(_) if first[0] != TLS_HANDSHAKE_RECORD => {
            let _ = tcp.write_all(NOT_TLS_RESPONSE).await;
            let _ = tcp.shutdown().await;
            return Err(HandshakeFailure::NotTls);
        }
        Ok(_) => {}
    }
    acceptor.accept(tcp).await.map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
            HandshakeFailure::Closed
        }
        _ => HandshakeFailure::Error,
    })
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let room = self.handshakes.len() < self.max_handshakes;
            let backoff = self.backoff;
            tokio::select! {
                accepted = self.tcp.accept(), if room && backoff.is_none() => match accepted {
                    Ok((tcp, peer)) => self.start_handshake(tcp, peer),
                    Err(e) if is_connection_error(&e) => {}
                    Err(e) => {
                        // Too many open files and the like: the same pause as axum's own listener.
                        tracing::error!(error = %e, "accept failed; pausing accepts for a second");
                        self.backoff = Some(Instant::now() + Duration::from_secs(1));
                    }
                },
                Some(done) = self.handshakes.join_next() => {
                    if let Ok(Some(stream)) = done {
                        return stream;
                    }
                }
                () = tokio::time::sleep_until(backoff.unwrap_or_else(Instant::now)), if backoff.is_some() => {
                    self.backoff = None;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Errors of one connection (not of the listener), which only skip that connection.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_not_tls_response_has_a_correct_content_length() {
        let text = std::str::from_utf8(NOT_TLS_RESPONSE).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.contains(&format!("Content-Length: {}", body.len())), "{head:?} for a body of {}", body.len());
    }

    #[test]
    fn missing_files_are_named_in_the_error() {
        let err = server_config(Path::new("/nonexistent/cert.pem"), Path::new("/nonexistent/key.pem"))
            .expect_err("a missing file cannot be loaded");
        let text = err.to_string();
        assert!(text.contains("/nonexistent/cert.pem") && text.contains("certificate"), "{text}");
    }
}
