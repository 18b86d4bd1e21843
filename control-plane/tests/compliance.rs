//! Policy compliance end to end on SQLite and PostgreSQL: agents enrolled over real TLS send
//! reports carrying a `PolicyReport` over mTLS gRPC (full snapshots and deltas), and
//! `/api/v1/compliance*` serves what they said, compared with the current published version.
//! A report without the policy part (an agent older than policies) is still accepted and leaves
//! the stored state alone; a revoked agent leaves the counts; a malformed policy part is refused
//! and changes nothing.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use http::{Request, StatusCode};
use muster_control_plane::ControlPlane;
use muster_control_plane::access::api_tokens;
use muster_control_plane::compliance;
use muster_control_plane::policies;
use muster_control_plane::state::unix_now;
use muster_control_plane::store::Role;
use muster_control_plane::testing::{TestControlPlane, TestDatabase};
use muster_proto::v1::{
    Host, InventoryDelta, PolicyActionResult, PolicyActionState, PolicyReport, PolicyServerState, ReportRequest,
    report_request,
};
use serde_json::Value;
use support::*;
use tower::ServiceExt as _;

const POLICY: &str = "version = 1\nname = \"acme\"\n[[rule]]\nid = \"no-sse\"\naction = \"block\"\n[rule.match]\n\
                      transport = [\"sse\"]\n[[rule]]\nid = \"pinned\"\naction = \"notify\"\n[rule.match]\n\
                      unpinned = true\n";

fn action(rule: &str, action: &str, state: PolicyActionState, detail: &str) -> PolicyActionResult {
    PolicyActionResult {
        rule_id: rule.into(),
        action: action.into(),
        state: state as i32,
        detail: detail.into(),
        due_at_unix: 0,
    }
}

fn policy(version: u64, servers: Vec<(&str, Vec<PolicyActionResult>)>) -> PolicyReport {
    PolicyReport {
        applied_version: version,
        acked_version: version,
        evaluated_at_unix: 1_800_000_000,
        servers: servers.into_iter().map(|(id, actions)| PolicyServerState { server_id: id.into(), actions }).collect(),
        refusal: String::new(),
        ..PolicyReport::default()
    }
}

/// A full snapshot of `hostname` with servers a, b, c and the given policy part.
fn full_with(agent: &Agent, sequence: u64, hostname: &str, policy: Option<PolicyReport>) -> ReportRequest {
    let mut request =
        full_report(&agent.id, sequence, vec![server("a", "npx a"), server("b", "npx b"), server("c", "npx c")]);
    if let Some(report_request::Body::Full(snapshot)) = &mut request.body {
        snapshot.host = Some(Host { hostname: hostname.into(), os: 1, ..Default::default() });
    }
    request.policy = policy;
    request
}

struct Api {
    cp: Arc<ControlPlane>,
    token: String,
}

impl Api {
    async fn new(cp: &TestControlPlane) -> Self {
        let issued = api_tokens::create_api_token(
            cp.store(),
            "reader",
            Role::Viewer,
            Duration::from_secs(3600),
            "test",
            unix_now(),
        )
        .await
        .unwrap();
        Self { cp: cp.state.clone(), token: issued.token }
    }

    async fn get_as(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let router = muster_control_plane::http::router(self.cp.clone());
        let response = router.oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = to_bytes(response.into_body(), 1 << 22).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.get_as(path, Some(&self.token)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    async fn hosts(&self, path: &str) -> Vec<String> {
        let body = self.get(path).await;
        body["items"].as_array().unwrap().iter().map(|e| e["hostname"].as_str().unwrap().to_string()).collect()
    }
}

async fn the_api_serves_what_agents_reported(cp: TestControlPlane) {
    let api = Api::new(&cp).await;
    let (status, _) = api.get_as("/api/v1/compliance", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "compliance is for signed-in users");
    let empty = api.get("/api/v1/compliance").await;
    assert_eq!((empty["endpoints"].as_u64(), &empty["current"]), (Some(0), &Value::Null));

    policies::publish(cp.store(), cp.state.as_ref(), POLICY, "alice", "", unix_now()).await.unwrap();
    let (one, two, old) = (enroll(&cp).await, enroll(&cp).await, enroll(&cp).await);
    let reported = policy(
        1,
        vec![
            ("a", vec![action("no-sse", "block", PolicyActionState::Pending, "")]),
            (
                "b",
                vec![
                    action("no-sse", "block", PolicyActionState::Failed, "no policy writer for cursor"),
                    action("pinned", "notify", PolicyActionState::Applied, ""),
                ],
            ),
            ("c", vec![action("pinned", "notify", PolicyActionState::Excepted, "x-legacy")]),
        ],
    );
    let mut client = inventory(&cp, &one).await;
    client.report(full_with(&one, 1, "alpha", Some(reported))).await.unwrap();
    let mut behind = policy(0, vec![]);
    behind.refusal = "bad signature".into();
    inventory(&cp, &two).await.report(full_with(&two, 1, "bravo", Some(behind))).await.unwrap();
    // An agent without policy support: accepted, and no compliance row.
    let ack = inventory(&cp, &old).await.report(full_with(&old, 1, "charlie", None)).await.unwrap().into_inner();
    assert_eq!(ack.acked_sequence, 1);

    let summary = api.get("/api/v1/compliance").await;
    assert_eq!(summary["current"]["version"], 1, "{summary}");
    assert_eq!(summary["endpoints"], 2, "the old agent reported no policy state: {summary}");
    assert_eq!((summary["on_current"].as_u64(), summary["violating"].as_u64()), (Some(1), Some(1)), "{summary}");
    assert_eq!((summary["without_policy"].as_u64(), summary["refusing"].as_u64()), (Some(1), Some(1)), "{summary}");
    let actions = &summary["actions"];
    assert_eq!(
        [&actions["pending"], &actions["applied"], &actions["failed"], &actions["excepted"], &actions["not_in_force"]],
        [1, 1, 1, 1, 0],
        "{summary}"
    );

    assert_eq!(api.hosts("/api/v1/compliance/endpoints").await, ["alpha", "bravo"]);
    assert_eq!(api.hosts("/api/v1/compliance/endpoints?state=failed").await, ["alpha"]);
    assert_eq!(api.hosts("/api/v1/compliance/endpoints?state=not_in_force").await, Vec::<String>::new());
    assert_eq!(api.hosts("/api/v1/compliance/endpoints?version=behind").await, ["bravo"]);
    assert_eq!(api.hosts("/api/v1/compliance/endpoints?version=current&violating=true").await, ["alpha"]);
    assert_eq!(api.hosts("/api/v1/compliance/endpoints?rule=pinned&state=excepted").await, ["alpha"]);
    assert_eq!(api.hosts("/api/v1/compliance/endpoints?rule=pinned&state=failed").await, Vec::<String>::new());
    let first = api.get("/api/v1/compliance/endpoints?limit=1").await;
    assert_eq!(first["items"][0]["hostname"], "alpha");
    let cursor = first["next_cursor"].as_str().expect("a second page");
    assert_eq!(api.hosts(&format!("/api/v1/compliance/endpoints?limit=1&cursor={cursor}")).await, ["bravo"]);
    for bad in ["state=unspecified", "state=2", "version=old", "limit=0", "cursor=zz", "colour=red"] {
        let (status, body) = api.get_as(&format!("/api/v1/compliance/endpoints?{bad}"), Some(&api.token)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }

    let detail = api.get(&format!("/api/v1/compliance/endpoints/{}", one.id)).await;
    assert_eq!((detail["current_version"].as_u64(), detail["endpoint"]["on_current"].as_bool()), (Some(1), Some(true)));
    let rows: Vec<(String, String, String, String)> = detail["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let text = |k: &str| a[k].as_str().unwrap().to_string();
            (text("server_name"), text("rule_id"), text("action_state"), text("detail"))
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("server-a".into(), "no-sse".into(), "pending".into(), String::new()),
            ("server-b".into(), "no-sse".into(), "failed".into(), "no policy writer for cursor".into()),
            ("server-b".into(), "pinned".into(), "applied".into(), String::new()),
            ("server-c".into(), "pinned".into(), "excepted".into(), "x-legacy".into()),
        ]
    );
    let (status, _) = api.get_as(&format!("/api/v1/compliance/endpoints/{}", old.id), Some(&api.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an agent that reported no policy state");

    let rules = api.get("/api/v1/compliance/rules").await;
    let items = rules["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{rules}");
    assert_eq!((items[0]["rule_id"].as_str(), items[0]["action"].as_str()), (Some("no-sse"), Some("block")));
    assert_eq!(items[0]["endpoints"], 1);
    assert_eq!((items[0]["servers"]["pending"].as_u64(), items[0]["servers"]["failed"].as_u64()), (Some(1), Some(1)));
    assert_eq!((items[1]["servers"]["applied"].as_u64(), items[1]["servers"]["excepted"].as_u64()), (Some(1), Some(1)));
    let paged = api.get("/api/v1/compliance/rules?limit=1").await;
    let cursor = paged["next_cursor"].as_str().unwrap();
    let next = api.get(&format!("/api/v1/compliance/rules?limit=1&cursor={cursor}")).await;
    assert_eq!(next["items"][0]["rule_id"], "pinned");

    // The rollup task counted an empty fleet when the control plane started; counting again
    // rewrites this hour's point.
    let point = compliance::record_trend(cp.store(), unix_now()).await.unwrap();
    assert_eq!((point.endpoints, point.on_current, point.policy_version), (2, 1, 1));
    let trend = api.get("/api/v1/compliance/trend?days=1").await;
    let last = trend.as_array().unwrap().last().cloned().expect("a trend point");
    assert_eq!(last["hour"].as_i64(), Some(point.hour), "{trend}");
    assert_eq!((last["violating"].as_u64(), last["actions"]["failed"].as_u64()), (Some(1), Some(1)), "{trend}");
    let (status, _) = api.get_as("/api/v1/compliance/trend?days=91", Some(&api.token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn deltas_replace_the_state_and_reports_without_one_keep_it(cp: TestControlPlane) {
    let api = Api::new(&cp).await;
    let agent = enroll(&cp).await;
    let mut client = inventory(&cp, &agent).await;
    let failed = policy(1, vec![("a", vec![action("no-sse", "block", PolicyActionState::Failed, "locked file")])]);
    client.report(full_with(&agent, 1, "alpha", Some(failed))).await.unwrap();

    let mut delta = delta_report(&agent.id, 2, 1, InventoryDelta::default());
    delta.policy = Some(policy(2, vec![("b", vec![action("no-sse", "block", PolicyActionState::Applied, "")])]));
    assert_eq!(client.report(delta).await.unwrap().into_inner().acked_sequence, 2);
    let detail = api.get(&format!("/api/v1/compliance/endpoints/{}", agent.id)).await;
    assert_eq!(detail["endpoint"]["applied_version"], 2);
    let actions = detail["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "the delta's policy part replaced the actions: {detail}");
    assert_eq!((actions[0]["server_id"].as_str(), actions[0]["action_state"].as_str()), (Some("b"), Some("applied")));

    // Without a policy part (a delta, then a full snapshot): applied, and the state stays.
    let ack = client.report(delta_report(&agent.id, 3, 2, InventoryDelta::default())).await.unwrap().into_inner();
    assert_eq!(ack.acked_sequence, 3);
    client.report(full_with(&agent, 4, "alpha", None)).await.unwrap();
    assert_eq!(api.get(&format!("/api/v1/compliance/endpoints/{}", agent.id)).await, detail);

    // An empty policy part means "nothing broken": the actions are gone.
    let mut clean = delta_report(&agent.id, 5, 4, InventoryDelta::default());
    clean.policy = Some(policy(2, vec![]));
    client.report(clean).await.unwrap();
    let detail = api.get(&format!("/api/v1/compliance/endpoints/{}", agent.id)).await;
    assert_eq!((detail["actions"].as_array().unwrap().len(), detail["endpoint"]["violations"].as_u64()), (0, Some(0)));

    // A revoked agent leaves the counts.
    let mut again = delta_report(&agent.id, 6, 5, InventoryDelta::default());
    again.policy = Some(policy(2, vec![("a", vec![action("no-sse", "block", PolicyActionState::Pending, "")])]));
    client.report(again).await.unwrap();
    assert_eq!(api.get("/api/v1/compliance").await["actions"]["pending"], 1);
    assert!(cp.revoke_agent(&agent.id).await.unwrap());
    let summary = api.get("/api/v1/compliance").await;
    assert_eq!((summary["endpoints"].as_u64(), summary["actions"]["pending"].as_u64()), (Some(0), Some(0)));
    assert_eq!(api.get("/api/v1/compliance/rules").await["items"], serde_json::json!([]));
}

async fn a_malformed_policy_part_is_refused_and_changes_nothing(cp: TestControlPlane) {
    let api = Api::new(&cp).await;
    let agent = enroll(&cp).await;
    let mut client = inventory(&cp, &agent).await;
    let kept = policy(1, vec![("a", vec![action("no-sse", "block", PolicyActionState::Pending, "")])]);
    client.report(full_with(&agent, 1, "alpha", Some(kept))).await.unwrap();
    let before = api.get(&format!("/api/v1/compliance/endpoints/{}", agent.id)).await;

    let long_rule = "r".repeat(201);
    let bad = policy(1, vec![("a", vec![action(&long_rule, "block", PolicyActionState::Pending, "")])]);
    let status = client.report(full_with(&agent, 2, "alpha", Some(bad))).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("rule id"), "{}", status.message());
    // Over the list cap (the test control plane's default: 50,000 items per list).
    let many = (0..50_001).map(|i| action(&format!("r{i}"), "notify", PolicyActionState::Pending, "")).collect();
    let status = client.report(full_with(&agent, 2, "alpha", Some(policy(1, vec![("a", many)])))).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("policy actions"), "{}", status.message());
    assert_eq!(api.get(&format!("/api/v1/compliance/endpoints/{}", agent.id)).await, before);

    // A long reason is the agent's own text: cut, not refused.
    let reason = "x".repeat(5_000);
    let long = policy(1, vec![("a", vec![action("no-sse", "block", PolicyActionState::Failed, &reason)])]);
    client.report(full_with(&agent, 2, "alpha", Some(long))).await.unwrap();
    let detail = api.get(&format!("/api/v1/compliance/endpoints/{}", agent.id)).await;
    let stored = detail["actions"][0]["detail"].as_str().unwrap();
    assert_eq!(stored.chars().count(), 501, "500 characters and an ellipsis");
}

async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(TestControlPlane) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    case(TestControlPlane::start().await.unwrap()).await;
}

async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(TestControlPlane) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Some(database) = TestDatabase::create().await.unwrap() else {
        eprintln!("skipping PostgreSQL case: MUSTER_SKIP_POSTGRES=1");
        return;
    };
    let url = database.url.clone();
    let outcome = tokio::spawn(async move {
        let cp = TestControlPlane::start_with(Some(&url), Default::default()).await.unwrap();
        case(cp).await;
    })
    .await;
    database.drop_database().await.unwrap();
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() { super::on_sqlite(super::$case).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $case() { super::on_postgres(super::$case).await })*
        }
    };
}

on_both!(
    the_api_serves_what_agents_reported,
    deltas_replace_the_state_and_reports_without_one_keep_it,
    a_malformed_policy_part_is_refused_and_changes_nothing,
);
