//! `Exceptions` over real mTLS on port 0: an agent files an exception request for one of its
//! servers, which lands in the analysts' queue covering the endpoint of its certificate (no
//! field can name another); its `WatchExceptionRequests` stream carries only requests covering
//! its own endpoint, and pushes an analyst's decision as soon as it is made (no polling).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::time::Duration;

use muster_control_plane::exception_requests as requests;
use muster_control_plane::policies::{self, NoListener};
use muster_control_plane::store::exception_requests::RequestState;
use muster_control_plane::testing::TestControlPlane;
use muster_proto::tonic::Streaming;
use muster_proto::v1::exceptions_client::ExceptionsClient;
use muster_proto::v1::{
    AgentExceptionRequests, ExceptionRequestState, FileExceptionRequestRequest, WatchExceptionRequestsRequest,
};
use support::*;

const POLICY: &str = "version = 1\nname = \"acme\"\n[[rule]]\nid = \"no-sse\"\naction = \"block\"\n[rule.match]\ntransport = [\"sse\"]\n";

fn ask(server_id: &str, rule: &str) -> FileExceptionRequestRequest {
    FileExceptionRequestRequest {
        server_id: server_id.into(),
        rule_ids: vec![rule.into()],
        user: "alice".into(),
        reason: "the legacy SSE gateway until the migration on Friday".into(),
    }
}

/// The next list the stream pushes, within a deadline (a hung stream fails the test).
async fn next(stream: &mut Streaming<AgentExceptionRequests>) -> Vec<(String, i32, String)> {
    let list = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a list pushed in time")
        .expect("the stream stays open")
        .expect("a message");
    list.requests.into_iter().map(|r| (r.id, r.state, r.note)).collect()
}

#[tokio::test]
async fn an_agent_files_for_its_own_endpoint_and_the_decision_is_pushed_back() {
    let cp = TestControlPlane::start().await.unwrap();
    let store = cp.state.store.clone();
    policies::publish(store.as_ref(), &NoListener, POLICY, "admin", "", 1_800_000_000).await.unwrap();
    let agent = enroll(&cp).await;
    let other = enroll(&cp).await;
    let mut client = ExceptionsClient::new(agent_channel(&cp, &agent).await);
    let mut other_client = ExceptionsClient::new(agent_channel(&cp, &other).await);
    let mut mine = client.watch_exception_requests(WatchExceptionRequestsRequest {}).await.unwrap().into_inner();
    let mut theirs =
        other_client.watch_exception_requests(WatchExceptionRequestsRequest {}).await.unwrap().into_inner();
    assert!(next(&mut mine).await.is_empty(), "nothing filed yet");
    assert!(next(&mut theirs).await.is_empty());

    let filed = client.file_exception_request(ask("s1", "no-sse")).await.unwrap().into_inner();
    assert_eq!(filed.state, ExceptionRequestState::Pending as i32);
    let stored = store.exception_request(&filed.id).await.unwrap().expect("in the analysts' queue");
    assert_eq!(stored.agent_id, agent.id, "the endpoint is the certificate's");
    assert_eq!((stored.server_id.as_str(), stored.user.as_str()), ("s1", "alice"));
    assert_eq!(stored.requested_by, format!("agent:{}", agent.id));
    assert_eq!(next(&mut mine).await, [(filed.id.clone(), ExceptionRequestState::Pending as i32, String::new())]);

    // Refused requests store nothing: an unknown rule, no server, a reason that is too long.
    let unknown = client.file_exception_request(ask("s1", "no-such-rule")).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument, "{unknown:?}");
    let no_server = client.file_exception_request(ask(" ", "no-sse")).await.unwrap_err();
    assert_eq!(no_server.code(), tonic::Code::InvalidArgument);
    let long = FileExceptionRequestRequest { reason: "x".repeat(501), ..ask("s1", "no-sse") };
    assert_eq!(client.file_exception_request(long).await.unwrap_err().code(), tonic::Code::InvalidArgument);
    assert_eq!(requests::list(store.as_ref(), None, 100).await.unwrap().len(), 1);

    // The other agent files its own; each stream carries only its own endpoint's requests.
    let their_filed = other_client.file_exception_request(ask("s1", "*")).await.unwrap().into_inner();
    assert_eq!(
        next(&mut theirs).await,
        [(their_filed.id.clone(), ExceptionRequestState::Pending as i32, String::new())]
    );
    assert_eq!(store.exception_request(&their_filed.id).await.unwrap().unwrap().agent_id, other.id);

    // The analyst's decision is pushed to the agent whose request it was, and only to it: the
    // next thing the other stream carries is its own request's decision, not this one.
    requests::deny(store.as_ref(), cp.state.as_ref(), &filed.id, "analyst", "use the https gateway", 1_800_000_100)
        .await
        .unwrap();
    assert_eq!(
        next(&mut mine).await,
        [(filed.id.clone(), ExceptionRequestState::Denied as i32, "use the https gateway".into())]
    );
    requests::deny(store.as_ref(), cp.state.as_ref(), &their_filed.id, "analyst", "no", 1_800_000_101).await.unwrap();
    assert_eq!(next(&mut theirs).await, [(their_filed.id.clone(), ExceptionRequestState::Denied as i32, "no".into())]);
    assert_eq!(store.exception_request(&filed.id).await.unwrap().unwrap().state, RequestState::Denied);

    // A new stream starts from the current list, with the decision's time.
    let mut again = client.watch_exception_requests(WatchExceptionRequestsRequest {}).await.unwrap().into_inner();
    let first = tokio::time::timeout(Duration::from_secs(10), again.message()).await.unwrap().unwrap().unwrap();
    assert_eq!(first.requests.len(), 1);
    assert_eq!(first.requests[0].decided_at_unix, Some(1_800_000_100));

    // A revoked agent's stream closes and it can file nothing more.
    cp.revoke_agent(&agent.id).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), mine.message()).await.expect("closed in time");
    assert_eq!(closed.unwrap_err().code(), tonic::Code::PermissionDenied);
    assert_eq!(
        client.file_exception_request(ask("s1", "no-sse")).await.unwrap_err().code(),
        tonic::Code::PermissionDenied
    );
}
