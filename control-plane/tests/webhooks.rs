//! Webhooks end to end: a receiver on 127.0.0.1:0 that verifies every signature, a worker whose
//! waits between attempts are recorded instead of slept, the delivery log, and the ingest hook
//! through the real gRPC server.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use muster_control_plane::ingest::{IngestEvent, Report, ReportBody};
use muster_control_plane::store::exports::DeliveryStatus;
use muster_control_plane::store::{DynStore, NewAgent};
use muster_control_plane::webhook::signature::{self, DEFAULT_TOLERANCE, SignatureError};
use muster_control_plane::webhook::{Backoff, DeliveryOutcome, Sleeper, WebhookConfig, WebhookWorker, register};
use muster_proto::v1::{Finding, McpServer, Severity};
use serde_json::Value;
use tokio::task::JoinSet;

const NOW: i64 = 1_800_000_000;

#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
    answered: u16,
}

#[derive(Debug, Default)]
struct ReceiverState {
    script: Mutex<VecDeque<u16>>,
    received: Mutex<Vec<Received>>,
}

/// An HTTP receiver answering with the scripted statuses in turn, then 200.
async fn receiver(script: &[u16]) -> (String, Arc<ReceiverState>) {
    let state = Arc::new(ReceiverState { script: Mutex::new(script.iter().copied().collect()), ..Default::default() });
    async fn hook(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let answered = state.script.lock().unwrap().pop_front().unwrap_or(200);
        state.received.lock().unwrap().push(Received { headers, body, answered });
        StatusCode::from_u16(answered).unwrap()
    }
    let app = Router::new().route("/hook", post(hook)).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), state)
}

/// Records the waits the worker asks for and returns at once.
#[derive(Debug, Default)]
struct RecordingSleeper(Mutex<Vec<Duration>>);

#[async_trait::async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }
}

async fn sqlite_store(dir: &tempfile::TempDir) -> DynStore {
    muster_control_plane::store::open(&format!("sqlite://{}", dir.path().join("muster.db").display())).await.unwrap()
}

async fn enrolled(store: &DynStore) -> String {
    let token = muster_control_plane::enroll::create_token(store.as_ref(), 1, support::DAY, NOW).await.unwrap();
    let id = "00000000-0000-4000-8000-000000000001".to_string();
    let agent = NewAgent {
        id: id.clone(),
        hostname: "laptop-1".into(),
        cert_serial: "01".into(),
        cert_not_after: NOW + 86400,
        agent_version: "0.1.0".into(),
        enrolled_at: NOW,
    };
    store.enroll_agent(&muster_control_plane::enroll::hash_token(&token.token), NOW, &agent).await.unwrap();
    id
}

fn with_finding(mut server: McpServer, id: &str, severity: Severity) -> McpServer {
    server.findings = vec![Finding {
        id: id.into(),
        severity: severity as i32,
        owasp: "MCP01".into(),
        message: format!("{id} on {}", server.name),
        server_ids: vec![server.id.clone()],
        client: server.client.clone(),
        user: server.user.clone(),
    }];
    server
}

async fn ingest(store: &DynStore, agent: &str, sequence: u64, servers: Vec<McpServer>) {
    let report =
        Report { sequence, base_sequence: 0, body: ReportBody::Full(support::snapshot(servers)), policy: None };
    store.ingest(agent, &report, NOW).await.unwrap();
}

fn fast_config() -> WebhookConfig {
    WebhookConfig {
        backoff: Backoff { first: Duration::from_secs(4), max: Duration::from_secs(60), attempts: 5 },
        request_timeout: Duration::from_secs(10),
    }
}

async fn run(worker: &WebhookWorker, agent: &str) -> Vec<DeliveryOutcome> {
    let mut deliveries = JoinSet::new();
    worker.handle(&IngestEvent::ReportApplied { agent_id: agent.into() }, &mut deliveries).await.unwrap();
    let mut outcomes = Vec::new();
    while let Some(outcome) = deliveries.join_next().await {
        outcomes.push(outcome.unwrap());
    }
    outcomes
}

fn verify(received: &Received, secret: &str, now: i64) -> Result<(), SignatureError> {
    let header = received.headers.get(signature::SIGNATURE_HEADER).unwrap().to_str().unwrap();
    signature::verify(secret.as_bytes(), header, &received.body, now, DEFAULT_TOLERANCE)
}

fn unix_now() -> i64 {
    muster_control_plane::state::unix_now()
}

#[tokio::test]
async fn receiver_failing_twice_gets_exactly_one_successful_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let agent = enrolled(&store).await;
    let (url, received) = receiver(&[503, 500]).await;
    let webhook = register(store.as_ref(), &url, Severity::High).await.unwrap();
    let sleeper = Arc::new(RecordingSleeper::default());
    let worker = WebhookWorker::new(store.clone(), fast_config()).unwrap().with_sleeper(sleeper.clone());

    let servers = vec![
        with_finding(support::server("a", "npx"), "MUSTER-SECRET-ENV", Severity::High),
        with_finding(support::server("b", "npx"), "MUSTER-LOW", Severity::Low),
    ];
    ingest(&store, &agent, 1, servers.clone()).await;
    assert_eq!(run(&worker, &agent).await, vec![DeliveryOutcome { delivered: true, attempts: 3 }]);

    let requests = received.received.lock().unwrap().clone();
    let answers: Vec<u16> = requests.iter().map(|r| r.answered).collect();
    assert_eq!(answers, vec![503, 500, 200], "exactly one successful delivery, after two failures");
    let event_ids: Vec<&str> = requests.iter().map(|r| r.headers["muster-event-id"].to_str().unwrap()).collect();
    assert!(event_ids.iter().all(|id| *id == event_ids[0]), "retries repeat the event id");
    for request in &requests {
        assert_eq!(verify(request, &webhook.secret, unix_now()), Ok(()));
        assert_eq!(verify(request, "whsec_wrong", unix_now()), Err(SignatureError::Mismatch));
        assert!(matches!(verify(request, &webhook.secret, unix_now() + 3600), Err(SignatureError::Stale { .. })));
        let body = String::from_utf8(request.body.to_vec()).unwrap();
        assert!(!body.contains(&webhook.secret), "the secret never travels in the body");
        assert!(!body.contains(&webhook.secret[6..]), "nor its hex part");
    }
    let event: Value = serde_json::from_slice(&requests[2].body).unwrap();
    assert_eq!(event["type"], "findings.new");
    assert_eq!(event["id"], event_ids[0]);
    assert_eq!(event["endpoint"]["agent_id"], agent.as_str());
    assert_eq!(event["endpoint"]["hostname"], "laptop-1");
    let findings = event["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "only high and critical findings: {findings:#?}");
    assert_eq!(findings[0]["finding_id"], "MUSTER-SECRET-ENV");
    assert_eq!(findings[0]["severity"], "high");
    assert_eq!(findings[0]["servers"][0]["name"], "server-a");

    // Exponential backoff with jitter: attempt n waits within [first*2^(n-1)/2, first*2^(n-1)].
    let waits = sleeper.0.lock().unwrap().clone();
    assert_eq!(waits.len(), 2);
    assert!(waits[0] >= Duration::from_secs(2) && waits[0] <= Duration::from_secs(4), "{waits:?}");
    assert!(waits[1] >= Duration::from_secs(4) && waits[1] <= Duration::from_secs(8), "{waits:?}");

    // The delivery log has every attempt.
    let log = store.list_deliveries(&webhook.id, 10).await.unwrap();
    let summary: Vec<(u32, DeliveryStatus, Option<u16>)> =
        log.iter().map(|a| (a.attempt, a.status, a.response_code)).collect();
    assert_eq!(
        summary,
        vec![
            (1, DeliveryStatus::Retrying, Some(503)),
            (2, DeliveryStatus::Retrying, Some(500)),
            (3, DeliveryStatus::Delivered, Some(200)),
        ]
    );
    assert!(log[0].next_retry_at.is_some() && log[1].next_retry_at.is_some() && log[2].next_retry_at.is_none());
    assert_eq!(log[0].error, "http status 503");
    assert!(log.iter().all(|a| a.event_id == event_ids[0]));
    assert!(!format!("{log:?}").contains(&webhook.secret));

    // The same findings in the next report are not new: nothing is sent.
    ingest(&store, &agent, 2, servers.clone()).await;
    assert!(run(&worker, &agent).await.is_empty());
    assert_eq!(received.received.lock().unwrap().len(), 3);

    // A new critical finding is announced once, alone.
    let mut more = servers;
    more.push(with_finding(support::server("c", "uvx"), "MUSTER-RCE", Severity::Critical));
    ingest(&store, &agent, 3, more).await;
    assert_eq!(run(&worker, &agent).await, vec![DeliveryOutcome { delivered: true, attempts: 1 }]);
    let last: Value = serde_json::from_slice(&received.received.lock().unwrap()[3].body).unwrap();
    let ids: Vec<&str> =
        last["findings"].as_array().unwrap().iter().map(|f| f["finding_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["MUSTER-RCE"]);
    assert_eq!(last["findings"][0]["severity"], "critical");
}

#[tokio::test]
async fn a_refusing_receiver_is_not_retried_and_an_unreachable_one_gives_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let agent = enrolled(&store).await;
    let (url, received) = receiver(&[400]).await;
    let refusing = register(store.as_ref(), &url, Severity::High).await.unwrap();
    // A port nobody listens on: bind, note the port, close.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let unreachable = register(store.as_ref(), &format!("http://{closed}/hook"), Severity::High).await.unwrap();
    let sleeper = Arc::new(RecordingSleeper::default());
    let worker = WebhookWorker::new(store.clone(), fast_config()).unwrap().with_sleeper(sleeper.clone());

    ingest(&store, &agent, 1, vec![with_finding(support::server("a", "npx"), "MUSTER-SECRET-ENV", Severity::Critical)])
        .await;
    let mut outcomes = run(&worker, &agent).await;
    outcomes.sort_by_key(|o| o.attempts);
    assert_eq!(
        outcomes,
        vec![DeliveryOutcome { delivered: false, attempts: 1 }, DeliveryOutcome { delivered: false, attempts: 5 }]
    );
    assert_eq!(received.received.lock().unwrap().len(), 1, "a 4xx is final");
    let log = store.list_deliveries(&refusing.id, 10).await.unwrap();
    assert_eq!((log.len(), log[0].status, log[0].response_code), (1, DeliveryStatus::Failed, Some(400)));
    let log = store.list_deliveries(&unreachable.id, 10).await.unwrap();
    let statuses: Vec<DeliveryStatus> = log.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [[DeliveryStatus::Retrying; 4].as_slice(), &[DeliveryStatus::Failed]].concat());
    assert!(log.iter().all(|a| a.response_code.is_none() && a.error == "connection failed"), "{log:#?}");
    assert!(log.iter().all(|a| !a.error.contains("127.0.0.1")), "errors never quote the url");
    assert_eq!(sleeper.0.lock().unwrap().len(), 4);
}

#[test]
fn backoff_doubles_up_to_its_cap_and_jitter_stays_in_the_upper_half() {
    let backoff = Backoff { first: Duration::from_secs(5), max: Duration::from_secs(60), attempts: 8 };
    let full: Vec<u64> = (1..=6).map(|n| backoff.delay(n, 1.0).as_secs()).collect();
    assert_eq!(full, vec![5, 10, 20, 40, 60, 60]);
    let low: Vec<u64> = (1..=6).map(|n| backoff.delay(n, 0.0).as_millis() as u64).collect();
    assert_eq!(low, vec![2500, 5000, 10_000, 20_000, 30_000, 30_000]);
    assert_eq!(backoff.delay(u32::MAX, 1.0), Duration::from_secs(60), "no overflow");
}

#[tokio::test]
async fn a_report_through_grpc_reaches_the_receiver() {
    let cp = muster_control_plane::testing::TestControlPlane::start().await.unwrap();
    let (url, received) = receiver(&[]).await;
    let webhook = register(cp.store(), &url, Severity::High).await.unwrap();
    let agent = support::enroll(&cp).await;
    let mut client = support::inventory(&cp, &agent).await;
    let servers = vec![with_finding(support::server("a", "npx"), "MUSTER-SECRET-ENV", Severity::High)];
    client.report(support::full_report(&agent.id, 1, servers)).await.unwrap();

    let arrived =
        support::eventually(Duration::from_secs(20), || async { !received.received.lock().unwrap().is_empty() }).await;
    assert!(arrived, "the webhook was not delivered");
    let request = received.received.lock().unwrap()[0].clone();
    assert_eq!(verify(&request, &webhook.secret, unix_now()), Ok(()));
    let event: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(event["endpoint"]["agent_id"], agent.id.as_str());
    let logged = support::eventually(Duration::from_secs(10), || async {
        cp.store().list_deliveries(&webhook.id, 10).await.unwrap().len() == 1
    })
    .await;
    assert!(logged, "the delivery was not logged");
}
