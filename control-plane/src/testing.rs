//! Test support (cargo feature `testing`): a control plane running in-process on 127.0.0.1:0 with
//! a temporary data dir, plus client-side helpers (CSR generation, TLS channels) so tests speak
//! real mTLS with real certificates. Not for production use.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use muster_proto::tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use muster_proto::v1::{ReportRequest, report_request};
use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::{HttpConfig, Limits};
use crate::enroll::IssuedToken;
use crate::ingest::{IngestOutcome, Report, ReportBody};
use crate::pki::Pki;
use crate::server::ServeError;
use crate::state::{ControlPlane, unix_now};
use crate::store::{DynStore, IngestEntry, Store, StoreError};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A running in-process control plane. Dropping it stops the server.
///
/// Its ingest entry point records every report it is asked to ingest ([`TestControlPlane::received_reports`])
/// and can hold ingest ([`TestControlPlane::hold_ingest`]) so a test can act while a report is
/// in flight. [`TestControlPlane::stop_keeping_data`] stops it without deleting its data dir, and
/// [`StoppedControlPlane::start`] brings it back on the same data, database and gRPC port.
#[derive(Debug)]
pub struct TestControlPlane {
    pub state: Arc<ControlPlane>,
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    data_dir: tempfile::TempDir,
    database_url: Option<String>,
    limits: Limits,
    recorder: Recorder,
    http_config: HttpConfig,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

/// A control plane stopped by [`TestControlPlane::stop_keeping_data`]: its data dir, database
/// URL, gRPC port and report log, ready to start again.
#[derive(Debug)]
pub struct StoppedControlPlane {
    data_dir: tempfile::TempDir,
    database_url: Option<String>,
    limits: Limits,
    grpc_port: u16,
    recorder: Recorder,
    http_config: HttpConfig,
}

impl StoppedControlPlane {
    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.path()
    }

    /// The gRPC port it listened on (and will listen on again).
    pub fn grpc_port(&self) -> u16 {
        self.grpc_port
    }

    /// Starts again on the same data dir and database, listening on the same gRPC port so
    /// agents find it at the address they enrolled with.
    pub async fn start(self) -> Result<TestControlPlane, BoxError> {
        TestControlPlane::start_in(
            self.data_dir,
            self.database_url,
            self.limits,
            self.grpc_port,
            self.recorder,
            self.http_config,
        )
        .await
    }
}

impl TestControlPlane {
    /// Starts on SQLite in a fresh temp dir.
    pub async fn start() -> Result<Self, BoxError> {
        Self::start_with(None, Limits::default()).await
    }

    /// Starts with `database_url` (None: SQLite in the temp dir) and the given limits.
    pub async fn start_with(database_url: Option<&str>, limits: Limits) -> Result<Self, BoxError> {
        Self::start_in(
            tempfile::tempdir()?,
            database_url.map(str::to_string),
            limits,
            0,
            Recorder::default(),
            HttpConfig::default(),
        )
        .await
    }

    /// Starts on SQLite with the given HTTP settings.
    pub async fn start_with_http(http: HttpConfig) -> Result<Self, BoxError> {
        Self::start_in(tempfile::tempdir()?, None, Limits::default(), 0, Recorder::default(), http).await
    }

    /// Starts with `database_url` (None: SQLite in the temp dir) and the given HTTP settings.
    pub async fn start_with_db_and_http(database_url: Option<&str>, http: HttpConfig) -> Result<Self, BoxError> {
        Self::start_in(
            tempfile::tempdir()?,
            database_url.map(str::to_string),
            Limits::default(),
            0,
            Recorder::default(),
            http,
        )
        .await
    }

    /// Starts a new control plane (own data dir, so its own CA) on a given gRPC port: an
    /// impostor at an address agents already know.
    pub async fn start_on_port(grpc_port: u16) -> Result<Self, BoxError> {
        Self::start_in(
            tempfile::tempdir()?,
            None,
            Limits::default(),
            grpc_port,
            Recorder::default(),
            HttpConfig::default(),
        )
        .await
    }

    async fn start_in(
        data_dir: tempfile::TempDir,
        database_url: Option<String>,
        limits: Limits,
        grpc_port: u16,
        recorder: Recorder,
        http_config: HttpConfig,
    ) -> Result<Self, BoxError> {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let pki = Pki::load_or_create(data_dir.path(), &names)?;
        let url = match &database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", data_dir.path().join("muster.db").display()),
        };
        let store = crate::store::open(&url).await?;
        let ingest = Arc::new(RecordingIngest { store: store.clone(), recorder: recorder.clone() });
        let state = ControlPlane::with_ingest(store, ingest, Arc::new(pki), limits, http_config.clone());
        let grpc = TcpListener::bind(("127.0.0.1", grpc_port)).await?;
        let http = TcpListener::bind("127.0.0.1:0").await?;
        let grpc_addr = grpc.local_addr()?;
        let http_addr = http.local_addr()?;
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(crate::serve(state.clone(), grpc, http, async move {
            let _ = stop.await;
        }));
        Ok(Self {
            state,
            grpc_addr,
            http_addr,
            data_dir,
            database_url,
            limits,
            recorder,
            http_config,
            shutdown: Some(shutdown),
            task: Some(task),
        })
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

    /// Every report the gRPC layer handed to ingest since the first start (restarts included),
    /// in arrival order, with the outcome once ingest finished.
    pub fn received_reports(&self) -> Vec<ReceivedReport> {
        self.recorder.snapshot()
    }

    /// Makes ingest wait (after recording the report) until [`Self::release_ingest`].
    pub fn hold_ingest(&self) {
        self.recorder.hold.send_replace(true);
    }

    pub fn release_ingest(&self) {
        self.recorder.hold.send_replace(false);
    }

    /// Requests shutdown and waits for the server to finish.
    pub async fn stop(self) -> Result<(), BoxError> {
        self.stop_keeping_data().await.map(drop)
    }

    /// Stops like [`Self::stop`] but keeps the data dir (and database) for a restart.
    pub async fn stop_keeping_data(mut self) -> Result<StoppedControlPlane, BoxError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // A held ingest would keep the server busy through the whole grace period.
        self.release_ingest();
        if let Some(task) = self.task.take() {
            task.await??;
        }
        let grpc_port = self.grpc_addr.port();
        let recorder = self.recorder.clone();
        let database_url = self.database_url.take();
        let limits = self.limits;
        let http_config = self.http_config.clone();
        // Moves the data dir out; the rest (the store's pool among it) is dropped here.
        let data_dir = std::mem::replace(&mut self.data_dir, tempfile::tempdir()?);
        drop(self);
        Ok(StoppedControlPlane { data_dir, database_url, limits, grpc_port, recorder, http_config })
    }
}

impl Drop for TestControlPlane {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// One report as the control plane's ingest received it.
#[derive(Debug, Clone)]
pub struct ReceivedReport {
    /// The agent id from its verified certificate.
    pub agent_id: String,
    pub request: ReportRequest,
    /// `None` while ingest runs or when it failed.
    pub outcome: Option<IngestOutcome>,
}

#[derive(Debug, Clone)]
struct Recorder {
    reports: Arc<Mutex<Vec<ReceivedReport>>>,
    hold: Arc<watch::Sender<bool>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self { reports: Arc::default(), hold: Arc::new(watch::channel(false).0) }
    }
}

impl Recorder {
    fn snapshot(&self) -> Vec<ReceivedReport> {
        self.reports.lock().map(|r| r.clone()).unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    fn push(&self, report: ReceivedReport) -> usize {
        let mut reports = self.reports.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        reports.push(report);
        reports.len() - 1
    }

    fn set_outcome(&self, index: usize, outcome: IngestOutcome) {
        let mut reports = self.reports.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(report) = reports.get_mut(index) {
            report.outcome = Some(outcome);
        }
    }
}

/// The test control plane's ingest door: the real store's ingest, plus a log of every report
/// handed to it and an optional hold before it runs. Only the ingest entry point is wrapped
/// (`store::IngestEntry`); every other store call goes straight to the real store.
#[derive(Debug)]
struct RecordingIngest {
    store: DynStore,
    recorder: Recorder,
}

#[async_trait::async_trait]
impl IngestEntry for RecordingIngest {
    async fn ingest_report(&self, agent_id: &str, report: &Report, now: i64) -> Result<IngestOutcome, StoreError> {
        let body = match &report.body {
            ReportBody::Full(snapshot) => report_request::Body::Full(snapshot.clone()),
            ReportBody::Delta(delta) => report_request::Body::Delta(delta.clone()),
        };
        let request = ReportRequest {
            agent_id: agent_id.to_string(),
            sequence: report.sequence,
            base_sequence: report.base_sequence,
            body: Some(body),
            policy: None,
        };
        let index = self.recorder.push(ReceivedReport { agent_id: agent_id.to_string(), request, outcome: None });
        // In a task of its own: a held report is still stored after its caller went away (the
        // agent was killed mid-send), which is the case where only the acknowledgement is lost.
        let (store, recorder, agent_id, report) =
            (self.store.clone(), self.recorder.clone(), agent_id.to_string(), report.clone());
        let mut hold = self.recorder.hold.subscribe();
        let ingest = tokio::spawn(async move {
            let _ = hold.wait_for(|held| !*held).await;
            let outcome = store.ingest(&agent_id, &report, now).await?;
            recorder.set_outcome(index, outcome);
            Ok(outcome)
        });
        match ingest.await {
            Ok(result) => result,
            Err(join) => Err(StoreError::Corrupt(format!("test ingest task failed: {join}"))),
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

    /// Every row of every table, as text (see `PostgresStore::dump_rows_as_text`).
    pub async fn dump_rows_as_text(&self) -> Result<Vec<String>, BoxError> {
        Ok(crate::store::PostgresStore::dump_rows_as_text(&self.url).await?)
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
