//! Policy exception requests through their use-cases on a real store (SQLite and PostgreSQL):
//! refused requests store nothing, an approval publishes the current policy with the exception
//! as a new version (which the dry run then reports as excepted), a request is decided once.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use muster_control_plane::enroll::{create_token, hash_token};
use muster_control_plane::exception_requests::{self as requests, NewRequest};
use muster_control_plane::ingest::{Report, ReportBody};
use muster_control_plane::policies::{self, NoListener};
use muster_control_plane::policy_preview::dry_run;
use muster_control_plane::store::exception_requests::RequestState;
use muster_control_plane::store::{DynStore, NewAgent};
use muster_proto::v1::{Host, InventorySnapshot, McpServer, Transport};

mod support;

use support::{conformance_suite, run_postgres, run_sqlite};

const NOW: i64 = 1_800_000_000;

conformance_suite!(an_approved_request_is_published_as_an_exception_and_decided_once, bad_requests_store_nothing);

const POLICY: &str = "version = 1\nname = \"acme\"\n[[rule]]\nid = \"no-sse\"\naction = \"block\"\n[rule.match]\n\
                      transport = [\"sse\"]\n";

/// One endpoint with one SSE server; its agent id.
async fn sse_endpoint(store: &DynStore) -> String {
    let token = create_token(store.as_ref(), 1, std::time::Duration::from_secs(3600), NOW - 100).await.unwrap();
    let id = "00000000-0000-4000-8000-000000000001".to_string();
    let agent = NewAgent {
        id: id.clone(),
        hostname: "laptop-1".into(),
        cert_serial: "01".into(),
        cert_not_after: NOW + 86_400,
        agent_version: "0.1.0".into(),
        enrolled_at: NOW - 100,
    };
    store.enroll_agent(&hash_token(&token.token), NOW - 100, &agent).await.unwrap();
    let inventory = InventorySnapshot {
        host: Some(Host { hostname: "laptop-1".into(), os: 1, ..Default::default() }),
        servers: vec![McpServer {
            id: "s1".into(),
            name: "legacy".into(),
            user: "alice".into(),
            transport: Transport::Sse as i32,
            ..Default::default()
        }],
        ..Default::default()
    };
    store
        .ingest(&id, &Report { sequence: 1, base_sequence: 0, body: ReportBody::Full(inventory), policy: None }, NOW)
        .await
        .unwrap();
    id
}

fn ask(agent_id: &str) -> NewRequest {
    NewRequest {
        rules: vec!["no-sse".into()],
        agent_id: agent_id.into(),
        server_id: "s1".into(),
        user: String::new(),
        reason: "the vendor ships SSE only until March".into(),
    }
}

async fn an_approved_request_is_published_as_an_exception_and_decided_once(store: DynStore) {
    let agent = sse_endpoint(&store).await;
    policies::publish(store.as_ref(), &NoListener, POLICY, "admin", "first", NOW).await.unwrap();
    let before = dry_run::dry_run(store.as_ref(), POLICY, NOW).await.unwrap();
    assert_eq!(before.affected.servers, 1);

    let (request, event) = requests::create(store.as_ref(), &NoListener, "dev", &ask(&agent), NOW).await.unwrap();
    assert_eq!(request.state, RequestState::Pending);
    assert_eq!(
        event.entry("dev", "local", muster_control_plane::store::AuditOutcome::Success, NOW).action,
        "exception_request.create"
    );
    let pending = requests::list(store.as_ref(), Some(RequestState::Pending), 10).await.unwrap();
    assert_eq!(pending.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [request.id.as_str()]);

    let expires = NOW + 30 * 86_400;
    let (version, _) =
        requests::approve(store.as_ref(), &NoListener, &request.id, "admin", expires, "ok", NOW + 1).await.unwrap();
    assert_eq!(version, 2);
    let current = policies::current(store.as_ref()).await.unwrap().unwrap();
    assert_eq!(current.version, 2);
    assert!(current.source_text.contains(&format!("id = \"request-{}\"", request.id)), "{}", current.source_text);
    assert!(current.reason.contains(&request.id));

    // The published version lifts exactly that server until the expiry.
    let after = dry_run::dry_run(store.as_ref(), &current.source_text, NOW + 2).await.unwrap();
    assert_eq!((after.affected.servers, after.excepted_servers), (0, 1));
    let expired = dry_run::dry_run(store.as_ref(), &current.source_text, expires).await.unwrap();
    assert_eq!(expired.affected.servers, 1, "the exception ends at its expiry");

    let stored = requests::list(store.as_ref(), None, 10).await.unwrap();
    assert_eq!(stored[0].state, RequestState::Approved);
    assert_eq!((stored[0].policy_version, stored[0].expires_at), (Some(2), Some(expires)));
    // Decided once: neither a second approval nor a denial changes it, and nothing is published.
    assert!(requests::approve(store.as_ref(), &NoListener, &request.id, "admin", expires, "", NOW + 3).await.is_err());
    assert!(requests::deny(store.as_ref(), &NoListener, &request.id, "admin", "no", NOW + 3).await.is_err());
    assert_eq!(policies::current(store.as_ref()).await.unwrap().unwrap().version, 2);

    let (other, _) = requests::create(store.as_ref(), &NoListener, "dev", &ask(&agent), NOW + 4).await.unwrap();
    requests::deny(store.as_ref(), &NoListener, &other.id, "admin", "use the HTTP transport", NOW + 5).await.unwrap();
    let denied = requests::list(store.as_ref(), Some(RequestState::Denied), 10).await.unwrap();
    assert_eq!((denied.len(), denied[0].note.as_str()), (1, "use the HTTP transport"));
    assert_eq!(policies::current(store.as_ref()).await.unwrap().unwrap().version, 2, "a denial publishes nothing");
    assert!(requests::list(store.as_ref(), Some(RequestState::Pending), 10).await.unwrap().is_empty());

    // What the endpoint's agent may list: the requests covering it, newest first, and no other's.
    let of_agent = requests::list_for_agent(store.as_ref(), &agent, 10).await.unwrap();
    assert_eq!(of_agent.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [other.id.as_str(), request.id.as_str()]);
    assert!(
        requests::list_for_agent(store.as_ref(), "00000000-0000-4000-8000-000000000002", 10).await.unwrap().is_empty()
    );
    assert_eq!(requests::list_for_agent(store.as_ref(), &agent, 1).await.unwrap().len(), 1, "the limit holds");
}

async fn bad_requests_store_nothing(store: DynStore) {
    let agent = sse_endpoint(&store).await;
    assert!(
        requests::create(store.as_ref(), &NoListener, "dev", &ask(&agent), NOW).await.is_err(),
        "no policy published yet"
    );
    policies::publish(store.as_ref(), &NoListener, POLICY, "admin", "first", NOW).await.unwrap();
    let cases = [
        NewRequest { rules: vec!["no-such-rule".into()], ..ask(&agent) },
        NewRequest { rules: vec![], ..ask(&agent) },
        NewRequest { agent_id: String::new(), server_id: String::new(), ..ask(&agent) },
        NewRequest { reason: "  ".into(), ..ask(&agent) },
        NewRequest { user: "bob\"\nrules = [\"*\"]".into(), ..ask(&agent) },
    ];
    for case in cases {
        assert!(requests::create(store.as_ref(), &NoListener, "dev", &case, NOW).await.is_err(), "{case:?} accepted");
    }
    assert!(requests::list(store.as_ref(), None, 10).await.unwrap().is_empty());
    let (ok, _) = requests::create(store.as_ref(), &NoListener, "dev", &ask(&agent), NOW).await.unwrap();
    assert!(
        requests::approve(store.as_ref(), &NoListener, &ok.id, "admin", NOW - 1, "", NOW).await.is_err(),
        "past expiry"
    );
    assert!(requests::approve(store.as_ref(), &NoListener, "nope", "admin", NOW + 10, "", NOW).await.is_err());
    assert_eq!(policies::current(store.as_ref()).await.unwrap().unwrap().version, 1);
}
