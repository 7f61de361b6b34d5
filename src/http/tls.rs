//! TLS on the public HTTP port: rustls (ring) with the certificate chain and key read from
//! PEM files and swapped in place, without a restart, on SIGHUP or when the files change.
//!
//! Handshakes run in their own tasks (bounded, with a timeout) ahead of axum, which only
//! ever sees finished TLS streams. A certificate that does not load at start is a
//! configuration error naming the file; one that does not load at a reload is logged and
//! counted, and the previous certificate stays in service.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use crate::metrics::{HTTP_TLS_CERT_LOADED_TIMESTAMP, HTTP_TLS_HANDSHAKES_TOTAL, HTTP_TLS_RELOADS_TOTAL};

/// How a request reached this node. The node's TLS listener marks its requests with
/// `Transport::Tls` (an `Extension` on that listener's router); unmarked is plain HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    Tls,
}

/// A client has this long for its whole handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in flight at most; further connections wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 256;
/// Finished handshakes waiting for the HTTP server to pick them up.
const QUEUE: usize = 64;
/// The first octet of a TLS record carrying a handshake message.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {key} {path}: {error}")]
    Read { key: &'static str, path: PathBuf, error: io::Error },
    #[error("{key} {path}: {message}")]
    Invalid { key: &'static str, path: PathBuf, message: String },
    #[error("http.tls_key {key} does not fit the certificate in http.tls_cert {cert}: {message}")]
    Mismatch { cert: PathBuf, key: PathBuf, message: String },
    #[error("TLS setup: {0}")]
    Setup(String),
}

/// The certificate in service, and where it comes from.
pub(crate) struct CertStore {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<CertifiedKey>,
    /// Modification time and length of both files when last looked at.
    seen: Mutex<Option<[(SystemTime, u64); 2]>>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CertStore({}, <key {}>)", self.cert_path.display(), self.key_path.display())
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

impl CertStore {
    /// Loads the certificate chain and key; any problem is an error naming the file.
    pub(crate) fn open(cert: &Path, key: &Path) -> Result<Arc<Self>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let seen = stamps(cert, key);
        let loaded = load(cert, key, &provider)?;
        HTTP_TLS_CERT_LOADED_TIMESTAMP.set(crate::metrics::unix_now());
        Ok(Arc::new(CertStore {
            cert_path: cert.to_path_buf(),
            key_path: key.to_path_buf(),
            provider,
            current: ArcSwap::from_pointee(loaded),
            seen: Mutex::new(seen),
        }))
    }

    /// The rustls server configuration that always presents the current certificate.
    pub(crate) fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Loads the files again and swaps the new certificate in; on failure the old one
    /// stays. Returns whether the new one is in service.
    pub(crate) fn reload(&self, trigger: &'static str) -> bool {
        let span = tracing::info_span!("tls_reload", trigger, cert = %self.cert_path.display());
        let _enter = span.enter();
        if let Ok(mut seen) = self.seen.lock() {
            *seen = stamps(&self.cert_path, &self.key_path);
        }
        match load(&self.cert_path, &self.key_path, &self.provider) {
            Ok(loaded) => {
                self.current.store(Arc::new(loaded));
                HTTP_TLS_RELOADS_TOTAL.with_label_values(&["ok"]).inc();
                HTTP_TLS_CERT_LOADED_TIMESTAMP.set(crate::metrics::unix_now());
                tracing::info!("TLS certificate reloaded");
                true
            }
            Err(e) => {
                HTTP_TLS_RELOADS_TOTAL.with_label_values(&["error"]).inc();
                tracing::error!(error = %e, "TLS certificate reload failed; keeping the previous certificate");
                false
            }
        }
    }

    /// Whether either file changed (time or size) since it was last loaded.
    fn files_changed(&self) -> bool {
        let now = stamps(&self.cert_path, &self.key_path);
        self.seen.lock().map(|seen| *seen != now).unwrap_or(false)
    }
}

fn stamps(cert: &Path, key: &Path) -> Option<[(SystemTime, u64); 2]> {
    let stamp = |p: &Path| std::fs::metadata(p).ok().and_then(|m| Some((m.modified().ok()?, m.len())));
    Some([stamp(cert)?, stamp(key)?])
}

/// Reads a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or
/// SEC1) and checks that they belong together.
pub(crate) fn load(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let read = |key_name: &'static str, path: &Path| {
        std::fs::read(path).map_err(|error| TlsError::Read { key: key_name, path: path.to_path_buf(), error })
    };
    let invalid = |key_name: &'static str, path: &Path, message: String| TlsError::Invalid {
        key: key_name,
        path: path.to_path_buf(),
        message,
    };
    let chain = CertificateDer::pem_slice_iter(&read("http.tls_cert", cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("http.tls_cert", cert, format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(invalid("http.tls_cert", cert, "no CERTIFICATE in the file".into()));
    }
    let der = PrivateKeyDer::from_pem_slice(&read("http.tls_key", key)?)
        .map_err(|e| invalid("http.tls_key", key, format!("no PEM private key (PKCS#8, RSA or EC): {e}")))?;
    CertifiedKey::from_der(chain, der, provider).map_err(|e| TlsError::Mismatch {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        message: e.to_string(),
    })
}

/// Reloads `store` on SIGHUP and, every `interval` (zero: never), when its files changed.
/// The SIGHUP handler is in place when this returns (before, SIGHUP would end the
/// process); the future it returns does the reloading.
pub(crate) fn watch_reloads(
    store: Arc<CertStore>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; TLS certificates reload on file changes only");
            None
        }
    };
    async move {
        let poll = !interval.is_zero();
        let mut ticks = tokio::time::interval(if poll { interval } else { Duration::from_secs(3600) });
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            #[cfg(unix)]
            let hup = async {
                match hangup.as_mut() {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let hup = std::future::pending::<Option<()>>();
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = hup => {
                    store.reload("sighup");
                }
                _ = ticks.tick(), if poll => {
                    if store.files_changed() {
                        store.reload("file_change");
                    }
                }
            }
        }
    }
}

/// A listener of finished TLS connections for `axum::serve`.
pub(crate) struct TlsListener {
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(conn) => conn,
            // The accept loop stopped (shutdown): no more connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// Accepts TCP connections on `tcp` and hands their finished handshakes to the listener
/// returned, until `stop` turns true.
pub(crate) fn listen(
    tcp: TcpListener,
    config: Arc<ServerConfig>,
    stop: watch::Receiver<bool>,
) -> io::Result<TlsListener> {
    let local = tcp.local_addr()?;
    let (tx, incoming) = mpsc::channel(QUEUE);
    tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), tx, stop));
    Ok(TlsListener { incoming, local })
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        // Wait for a handshake slot, then for a connection; stop (releasing the port)
        // whenever the server stops.
        let permit = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tx.closed() => return,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tx.closed() => return,
            accepted = tcp.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "https accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(
            async move {
                if let Some(tls) = handshake(stream, &acceptor).await {
                    let _ = tx.send((tls, peer)).await;
                }
                drop(permit);
            }
            .instrument(tracing::debug_span!("tls_handshake", %peer)),
        );
    }
}

async fn handshake(stream: TcpStream, acceptor: &TlsAcceptor) -> Option<TlsStream<TcpStream>> {
    let _ = stream.set_nodelay(true);
    let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout_at(deadline, stream.peek(&mut first)).await;
    if matches!(peeked, Ok(Ok(1))) && first[0] != TLS_HANDSHAKE_RECORD && first[0].is_ascii_uppercase() {
        HTTP_TLS_HANDSHAKES_TOTAL.with_label_values(&["plain_http"]).inc();
        tracing::debug!("plain HTTP request on the TLS port");
        refuse_plain_http(stream).await;
        return None;
    }
    let outcome = match peeked {
        Err(_) => Err("timeout"),
        Ok(_) => match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Ok(tls),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "TLS handshake failed");
                Err("error")
            }
            Err(_) => Err("timeout"),
        },
    };
    HTTP_TLS_HANDSHAKES_TOTAL
        .with_label_values(&[match &outcome {
            Ok(_) => "ok",
            Err(why) => *why,
        }])
        .inc();
    outcome.ok()
}

/// Tells a plain-HTTP client on the TLS port what went wrong, then closes.
async fn refuse_plain_http(mut stream: TcpStream) {
    let body = "This port speaks HTTPS only: use an https:// URL.\n";
    let resp = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        // Read (part of) the request first, so closing does not reset the connection
        // before the client sees the answer.
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf).await;
        stream.write_all(resp.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), exchange).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_certificate_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let provider = rustls::crypto::ring::default_provider();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let err = load(&cert, &key, &provider).unwrap_err().to_string();
        assert!(err.starts_with("cannot read http.tls_cert") && err.contains(&cert.display().to_string()), "{err}");
        std::fs::write(&cert, "not pem at all\n").unwrap();
        let err = load(&cert, &key, &provider).unwrap_err().to_string();
        assert!(err.contains("no CERTIFICATE") && err.contains(&cert.display().to_string()), "{err}");
        let bogus = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
        std::fs::write(&cert, bogus).unwrap();
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n").unwrap();
        let err = load(&cert, &key, &provider).unwrap_err().to_string();
        assert!(err.contains(&key.display().to_string()), "{err}");
        assert!(CertStore::open(&cert, &key).is_err());
    }
}
