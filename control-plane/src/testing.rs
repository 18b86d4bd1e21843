//! Test support (cargo feature `testing`): a control plane running in-process on 127.0.0.1:0 with
//! a temporary data dir, plus client-side helpers (CSR generation, TLS channels) so tests speak
//! real mTLS with real certificates. Not for production use.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use muster_proto::tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Limits;
use crate::enroll::IssuedToken;
use crate::pki::Pki;
use crate::server::ServeError;
use crate::state::{ControlPlane, unix_now};
use crate::store::Store;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A running in-process control plane. Dropping it stops the server.
#[derive(Debug)]
pub struct TestControlPlane {
    pub state: Arc<ControlPlane>,
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    data_dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl TestControlPlane {
    /// Starts on SQLite in a fresh temp dir.
    pub async fn start() -> Result<Self, BoxError> {
        Self::start_with(None, Limits::default()).await
    }

    /// Starts with `database_url` (None: SQLite in the temp dir) and the given limits.
    pub async fn start_with(database_url: Option<&str>, limits: Limits) -> Result<Self, BoxError> {
        let data_dir = tempfile::tempdir()?;
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let pki = Pki::load_or_create(data_dir.path(), &names)?;
        let url = match database_url {
            Some(url) => url.to_string(),
            None => format!("sqlite://{}", data_dir.path().join("muster.db").display()),
        };
        let store = crate::store::open(&url).await?;
        let state = ControlPlane::new(store, Arc::new(pki), limits);
        let grpc = TcpListener::bind("127.0.0.1:0").await?;
        let http = TcpListener::bind("127.0.0.1:0").await?;
        let grpc_addr = grpc.local_addr()?;
        let http_addr = http.local_addr()?;
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(crate::serve(state.clone(), grpc, http, async move {
            let _ = stop.await;
        }));
        Ok(Self { state, grpc_addr, http_addr, data_dir, shutdown: Some(shutdown), task: Some(task) })
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.path()
    }

    pub fn store(&self) -> &dyn Store {
        self.state.store.as_ref()
    }

    pub fn ca_pem(&self) -> &str {
        self.state.pki.ca_pem()
    }

    pub fn ca_fingerprint(&self) -> &str {
        self.state.pki.ca_fingerprint()
    }

    /// `https://localhost:PORT`, the URL an agent would be given.
    pub fn grpc_url(&self) -> String {
        format!("https://localhost:{}", self.grpc_addr.port())
    }

    pub async fn create_token(&self, max_uses: u32, ttl: Duration) -> Result<IssuedToken, BoxError> {
        Ok(self.state.create_token(max_uses, ttl).await?)
    }

    /// A token whose expiry is already past.
    pub async fn create_expired_token(&self) -> Result<IssuedToken, BoxError> {
        let now = unix_now();
        Ok(crate::enroll::create_token_expiring(self.store(), 1, now - 60, now - 3600).await?)
    }

    pub async fn revoke_agent(&self, agent_id: &str) -> Result<bool, BoxError> {
        Ok(self.state.revoke_agent(agent_id).await?)
    }

    /// Requests shutdown and waits for the server to finish.
    pub async fn stop(mut self) -> Result<(), BoxError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }
}

impl Drop for TestControlPlane {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// An agent-side key and its CSR, as an agent would create them before enrolling.
#[derive(Debug)]
pub struct AgentKey {
    pub key_pem: String,
    pub csr_der: Vec<u8>,
}

impl AgentKey {
    pub fn generate() -> Result<Self, BoxError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let csr = CertificateParams::new(Vec::<String>::new())?.serialize_request(&key)?;
        Ok(Self { key_pem: key.serialize_pem(), csr_der: csr.der().to_vec() })
    }
}

/// A TLS channel to `addr` trusting `ca_pem`, presenting `identity` (certificate chain PEM, key
/// PEM) when given. Server name `localhost`.
pub async fn channel(addr: SocketAddr, ca_pem: &str, identity: Option<(&str, &str)>) -> Result<Channel, BoxError> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem)).domain_name("localhost");
    if let Some((chain, key)) = identity {
        tls = tls.identity(Identity::from_pem(chain, key));
    }
    let channel = Channel::from_shared(format!("https://{addr}"))?
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .connect()
        .await?;
    Ok(channel)
}
