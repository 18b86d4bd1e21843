//! Shared helpers for the control plane's integration tests: enrolling agents over real TLS and
//! building realistic reports.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use muster_control_plane::testing::{AgentKey, TestControlPlane, channel};
use muster_proto::tonic::transport::Channel;
use muster_proto::v1::enrollment_client::EnrollmentClient;
use muster_proto::v1::inventory_client::InventoryClient;
use muster_proto::v1::{
    Credential, EnrollRequest, EnrollResponse, Finding, Host, InventoryDelta, InventorySnapshot, McpServer, OsUser,
    ReportRequest, ReportResponse, report_request,
};

pub const DAY: Duration = Duration::from_secs(24 * 3600);

/// An enrolled agent: its id, certificate chain and key.
#[derive(Debug, Clone)]
pub struct Agent {
    pub id: String,
    pub chain_pem: String,
    pub key_pem: String,
    pub response: EnrollResponse,
}

/// A channel without a client certificate (what an unenrolled agent has).
pub async fn anonymous_channel(cp: &TestControlPlane) -> Channel {
    channel(cp.grpc_addr, cp.ca_pem(), None).await.expect("server-authenticated TLS channel")
}

pub async fn try_enroll(cp: &TestControlPlane, token: &str) -> Result<(EnrollResponse, AgentKey), tonic::Status> {
    let key = AgentKey::generate().unwrap();
    let mut client = EnrollmentClient::new(anonymous_channel(cp).await);
    let response = client
        .enroll(EnrollRequest {
            token: token.to_string(),
            csr_der: key.csr_der.clone(),
            host: Some(Host { hostname: "laptop-1".into(), ..Default::default() }),
            agent_version: "0.1.0-test".into(),
        })
        .await?
        .into_inner();
    Ok((response, key))
}

pub async fn enroll(cp: &TestControlPlane) -> Agent {
    let token = cp.create_token(1, DAY).await.unwrap();
    let (response, key) = try_enroll(cp, &token.token).await.expect("enrollment with a fresh token");
    Agent {
        id: response.agent_id.clone(),
        chain_pem: response.certificate_chain_pem.clone(),
        key_pem: key.key_pem,
        response,
    }
}

pub async fn agent_channel(cp: &TestControlPlane, agent: &Agent) -> Channel {
    channel(cp.grpc_addr, cp.ca_pem(), Some((&agent.chain_pem, &agent.key_pem))).await.expect("mTLS channel")
}

pub async fn inventory(cp: &TestControlPlane, agent: &Agent) -> InventoryClient<Channel> {
    InventoryClient::new(agent_channel(cp, agent).await)
}

/// Connects with the given identity and sends one report; any failure (handshake or RPC) is an
/// Err with its description.
pub async fn try_report_with(
    cp: &TestControlPlane,
    identity: Option<(&str, &str)>,
    request: ReportRequest,
) -> Result<ReportResponse, String> {
    let channel = channel(cp.grpc_addr, cp.ca_pem(), identity).await.map_err(|e| format!("connect: {e:?}"))?;
    let mut client = InventoryClient::new(channel);
    client.report(request).await.map(|r| r.into_inner()).map_err(|status| format!("{status:?}"))
}

pub fn server(id: &str, command: &str) -> McpServer {
    McpServer {
        id: id.into(),
        name: format!("server-{id}"),
        client: "cursor".into(),
        user: "alice".into(),
        config_path: "/home/alice/.cursor/mcp.json".into(),
        command: command.into(),
        env_names: vec!["GITHUB_TOKEN".into()],
        credentials: vec![Credential {
            location: "env:GITHUB_TOKEN".into(),
            kind: "github-pat".into(),
            fingerprint: format!("{:0>32}", id),
            provider: "github".into(),
            ..Default::default()
        }],
        findings: vec![Finding {
            id: "MUSTER-SECRET-ENV".into(),
            severity: 4,
            message: "literal secret".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub fn snapshot(servers: Vec<McpServer>) -> InventorySnapshot {
    InventorySnapshot {
        host: Some(Host { hostname: "laptop-1".into(), os: 1, arch: "x86_64".into(), ..Default::default() }),
        users: vec![OsUser { name: "alice".into(), uid: Some(1000), home: "/home/alice".into() }],
        sources: vec![muster_proto::v1::ConfigSource {
            path: "/home/alice/.cursor/mcp.json".into(),
            client: "cursor".into(),
            server_count: u32::try_from(servers.len()).unwrap(),
            client_accepts: true,
            ..Default::default()
        }],
        servers,
        scanned_at_unix: 1_700_000_000,
        agent_version: "0.1.0-test".into(),
        ..Default::default()
    }
}

pub fn full_report(agent_id: &str, sequence: u64, servers: Vec<McpServer>) -> ReportRequest {
    ReportRequest {
        agent_id: agent_id.into(),
        sequence,
        base_sequence: 0,
        body: Some(report_request::Body::Full(snapshot(servers))),
        policy: None,
    }
}

pub fn delta_report(agent_id: &str, sequence: u64, base_sequence: u64, delta: InventoryDelta) -> ReportRequest {
    ReportRequest {
        agent_id: agent_id.into(),
        sequence,
        base_sequence,
        body: Some(report_request::Body::Delta(delta)),
        policy: None,
    }
}

/// Polls `check` until it returns true or `deadline` passes.
pub async fn eventually<F, Fut>(deadline: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs one storage case on a fresh SQLite database in a temp dir.
pub async fn run_sqlite<F, Fut>(case: F)
where
    F: FnOnce(muster_control_plane::store::DynStore) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("muster.db").display());
    let store = muster_control_plane::store::open(&url).await.expect("open sqlite store");
    case(store).await;
}

/// Runs one storage case on a fresh PostgreSQL database (dropped afterwards, even when the case
/// fails). Fails when `MUSTER_TEST_POSTGRES_URL` is unset, unless `MUSTER_SKIP_POSTGRES=1`.
pub async fn run_postgres<F, Fut>(case: F)
where
    F: FnOnce(muster_control_plane::store::DynStore) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let database = match muster_control_plane::testing::TestDatabase::create().await {
        Ok(Some(database)) => database,
        Ok(None) => {
            eprintln!("skipping PostgreSQL case: MUSTER_SKIP_POSTGRES=1");
            return;
        }
        Err(error) => panic!("{error}"),
    };
    let store = muster_control_plane::store::open(&database.url).await.expect("open postgres store");
    // Run the case in its own task so a failing assertion still lets us drop the database.
    let outcome = tokio::spawn(case(store)).await;
    database.drop_database().await.expect("drop test database");
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// Declares every listed case as a test on SQLite and on PostgreSQL; the calling module must
/// have `run_sqlite` and `run_postgres` in scope.
#[allow(unused_macros)]
macro_rules! conformance_suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $case() { super::run_sqlite(super::$case).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $case() { super::run_postgres(super::$case).await })*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use conformance_suite;
