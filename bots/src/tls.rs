//! `wss://` for the bots: one rustls client setup (ring provider, ALPN `http/1.1`) shared by
//! every connection of the process, trusting the Mozilla roots of `webpki-roots` plus any
//! certificate added with [`trust_pem_file`] (`arena-bots --tls-ca FILE`, for a server with a
//! self-signed or private-CA certificate). Plain `ws://` never comes here.
//!
//! A certificate added that way is trusted both as a CA and, pinned, as the server's own
//! certificate exactly as it is: `openssl req -x509` makes self-signed certificates marked as
//! CAs, which the usual path validation refuses to accept from a server.
//!
//! The extra roots are process-wide and only ever added to, so tests running side by side in one
//! process may each trust their own throw-away certificate without disturbing the others.

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// Why a `--tls-ca` file could not be trusted.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The file could not be read, or is not valid PEM.
    #[error("cannot read the CA file {}: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The file holds no certificate.
    #[error("the CA file {} has no PEM certificate in it", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A certificate in the file cannot be a trust anchor.
    #[error("the CA file {} holds a certificate that cannot be trusted: {reason}", path.display())]
    Unusable {
        /// The file.
        path: PathBuf,
        /// What rustls said.
        reason: String,
    },
}

/// The certificates trusted on top of the Mozilla roots, and the client setup made from them
/// (built on first use, rebuilt after [`trust_pem_file`]).
struct Trust {
    extra: Vec<CertificateDer<'static>>,
    config: Option<Arc<ClientConfig>>,
}

static TRUST: Mutex<Trust> = Mutex::new(Trust { extra: Vec::new(), config: None });

/// Trusts every certificate in the PEM file `path` (a CA, or a server's self-signed certificate)
/// for all later `wss://` connections of this process; returns how many it added.
pub fn trust_pem_file(path: &Path) -> Result<usize, TrustError> {
    let read_error =
        |e: rustls_pki_types::pem::Error| TrustError::Read { path: path.to_owned(), reason: e.to_string() };
    let certs =
        CertificateDer::pem_file_iter(path).map_err(read_error)?.collect::<Result<Vec<_>, _>>().map_err(read_error)?;
    if certs.is_empty() {
        return Err(TrustError::NoCertificate { path: path.to_owned() });
    }
    // Check them now, so that a bad file fails the start rather than every connection.
    let mut check = RootCertStore::empty();
    for cert in &certs {
        check.add(cert.clone()).map_err(|e| TrustError::Unusable { path: path.to_owned(), reason: e.to_string() })?;
    }
    let mut trust = TRUST.lock().unwrap_or_else(PoisonError::into_inner);
    trust.extra.extend(certs.iter().cloned());
    trust.config = None;
    Ok(certs.len())
}

/// The client setup for `wss://` connections: the Mozilla roots plus the trusted extras.
#[must_use]
pub fn client_config() -> Arc<ClientConfig> {
    let mut trust = TRUST.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(config) = &trust.config {
        return config.clone();
    }
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    // Checked when added: none is refused here.
    let _ = roots.add_parsable_certificates(trust.extra.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = match ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions() {
        Ok(builder) => builder,
        Err(e) => unreachable!("the ring provider supports TLS 1.2 and 1.3: {e}"),
    };
    let mut config = match WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build() {
        Ok(webpki) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedOrWebPki { pinned: trust.extra.clone(), webpki }))
            .with_no_client_auth(),
        Err(e) => unreachable!("the root store holds the Mozilla roots: {e}"),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = Arc::new(config);
    trust.config = Some(config.clone());
    config
}

/// The usual path validation against the roots, and failing that, a server certificate that is
/// byte for byte one of the `--tls-ca` certificates (pinned). Handshake signatures are always
/// checked, so the server must hold the certificate's key either way.
#[derive(Debug)]
struct PinnedOrWebPki {
    pinned: Vec<CertificateDer<'static>>,
    webpki: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for PinnedOrWebPki {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(_) if self.pinned.iter().any(|pinned| pinned.as_ref() == end_entity.as_ref()) => {
                Ok(ServerCertVerified::assertion())
            }
            verdict => verdict,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_refused_with_its_name() {
        let err = trust_pem_file(Path::new("/nonexistent/ca.pem")).expect_err("a missing file");
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        let empty = std::env::temp_dir().join(format!("arena-bots-empty-ca-{}.pem", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").expect("the temp folder is writable");
        let err = trust_pem_file(&empty).expect_err("no certificate in it");
        let _ = std::fs::remove_file(&empty);
        assert!(matches!(err, TrustError::NoCertificate { .. }), "{err}");
    }

    #[test]
    fn the_client_setup_offers_http_1_1() {
        assert_eq!(client_config().alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
