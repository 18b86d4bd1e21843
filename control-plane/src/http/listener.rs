//! Serving the HTTP router: HTTPS by default (the control plane's server certificate, or a
//! configured certificate and key), plain HTTP only on a loopback listen address.
//!
//! [`TlsListener`] is an axum [`Listener`] whose handshakes run in their own tasks (with a
//! timeout), so a slow client cannot hold up others; connections that fail the handshake are
//! dropped. It does not know about routes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::HttpConfig;
use crate::pki::Pki;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum HttpListenerError {
    #[error(
        "refusing to serve plain HTTP on {0}: plain HTTP is only allowed on a loopback address; \
         enable http.tls or listen on 127.0.0.1"
    )]
    PlainHttpNotLoopback(SocketAddr),
    #[error("cannot read {path}")]
    Pem {
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("invalid TLS certificate or key for the HTTP listener")]
    Rustls(#[from] rustls::Error),
    #[error("cannot read the listener address")]
    Io(#[from] std::io::Error),
}

/// Refuses plain HTTP on a non-loopback address.
pub fn check_plain_http(config: &HttpConfig, addr: SocketAddr) -> Result<(), HttpListenerError> {
    if config.tls || addr.ip().is_loopback() { Ok(()) } else { Err(HttpListenerError::PlainHttpNotLoopback(addr)) }
}

/// The rustls configuration of the HTTP listener: TLS 1.2 and 1.3, ALPN h2 and http/1.1, no
/// client certificates; the configured certificate or else the control plane's.
pub fn tls_config(config: &HttpConfig, pki: &Pki) -> Result<Arc<rustls::ServerConfig>, HttpListenerError> {
    let (chain, key) = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => (read_chain(cert)?, read_key(key)?),
        _ => (pki.server_chain(), pki.server_key()),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(tls))
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, HttpListenerError> {
    let pem = |source| HttpListenerError::Pem { path: path.to_path_buf(), source };
    CertificateDer::pem_file_iter(path).map_err(pem)?.collect::<Result<Vec<_>, _>>().map_err(pem)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, HttpListenerError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| HttpListenerError::Pem { path: path.to_path_buf(), source })
}

/// A TCP listener yielding connections that completed a TLS handshake.
#[derive(Debug)]
pub struct TlsListener {
    local_addr: SocketAddr,
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (tx, accepted) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let accept_task = tokio::spawn(async move {
            loop {
                let (tcp, peer) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => {
                            tracing::warn!(%error, "http accept failed");
                            // Out of file descriptors and the like: back off instead of spinning.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    () = tx.closed() => break,
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "http tls handshake failed"),
                        Err(_) => tracing::debug!(%peer, "http tls handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { local_addr, accepted, accept_task })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(accepted) => accepted,
            // The accept task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
