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

use crate::config::{HttpConfig, Limits};
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
        Self::start_full(database_url, limits, HttpConfig::default()).await
    }

    /// Starts on SQLite with the given HTTP settings.
    pub async fn start_with_http(http: HttpConfig) -> Result<Self, BoxError> {
        Self::start_full(None, Limits::default(), http).await
    }

    async fn start_full(database_url: Option<&str>, limits: Limits, http: HttpConfig) -> Result<Self, BoxError> {
        let data_dir = tempfile::tempdir()?;
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let pki = Pki::load_or_create(data_dir.path(), &names)?;
        let url = match database_url {
            Some(url) => url.to_string(),
            None => format!("sqlite://{}", data_dir.path().join("muster.db").display()),
        };
        let store = crate::store::open(&url).await?;
        let state = ControlPlane::with_http(store, Arc::new(pki), limits, http);
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

/// Sends one raw HTTP/1.1 request over TLS to `addr` (server name `localhost`, trusting only
/// `ca_pem`) and returns the whole response as text.
pub async fn https_request(addr: SocketAddr, ca_pem: &str, request: &str) -> Result<String, BoxError> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(crate::pki::pem_to_der(ca_pem).ok_or("bad CA PEM")?)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost")?;
    let mut tls = connector.connect(name, tcp).await?;
    tls.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    // A close_notify-less close is fine for a test client.
    let _ = tls.read_to_end(&mut response).await;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// Env var naming a PostgreSQL superuser URL for tests.
pub const ENV_TEST_POSTGRES_URL: &str = "MUSTER_TEST_POSTGRES_URL";
/// Set to `1` to skip PostgreSQL tests explicitly; without it a missing URL fails the tests.
pub const ENV_SKIP_POSTGRES: &str = "MUSTER_SKIP_POSTGRES";

/// A throwaway PostgreSQL database (`muster_test_<random>`) created for one test.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// Creates a fresh database on the server named by `MUSTER_TEST_POSTGRES_URL`. Returns
    /// `Ok(None)` only when `MUSTER_SKIP_POSTGRES=1`; an unset URL is an error, so PostgreSQL
    /// tests never pass silently.
    pub async fn create() -> Result<Option<Self>, BoxError> {
        let admin_url = match std::env::var(ENV_TEST_POSTGRES_URL) {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var(ENV_SKIP_POSTGRES).as_deref() == Ok("1") => return Ok(None),
            _ => {
                return Err(format!(
                    "{ENV_TEST_POSTGRES_URL} is not set: PostgreSQL tests need a superuser URL such as \
                     postgres://muster:muster@127.0.0.1:5432/postgres (or set {ENV_SKIP_POSTGRES}=1 to skip them)"
                )
                .into());
            }
        };
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).map_err(|e| format!("random: {e}"))?;
        let name = format!("muster_test_{}", hex::encode(suffix));
        let admin = crate::store::PostgresStore::admin_connect(&admin_url).await?;
        crate::store::PostgresStore::create_database(&admin, &name).await?;
        admin.close().await;
        let url = replace_database(&admin_url, &name).ok_or("cannot parse the PostgreSQL URL")?;
        Ok(Some(Self { url, admin_url, name }))
    }

    /// Drops the database (terminating any connections still open to it).
    pub async fn drop_database(self) -> Result<(), BoxError> {
        let admin = crate::store::PostgresStore::admin_connect(&self.admin_url).await?;
        crate::store::PostgresStore::drop_database(&admin, &self.name).await?;
        admin.close().await;
        Ok(())
    }
}

/// `url` with its database path replaced by `name` (query string kept).
fn replace_database(url: &str, name: &str) -> Option<String> {
    let scheme_end = url.find("://")? + 3;
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(base.len());
    Some(format!("{}/{}{}", &base[..path_start], name, query))
}
