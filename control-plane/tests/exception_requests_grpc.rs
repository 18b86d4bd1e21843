//! `Exceptions` over real mTLS on port 0: an agent files an exception request for one of its
//! servers, which lands in the analysts' queue covering the endpoint of its certificate (no
//! field can name another), and lists only requests covering its own endpoint, with the
//! analyst's decision once made.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use muster_control_plane::exception_requests as requests;
use muster_control_plane::policies::{self, NoListener};
use muster_control_plane::store::ExceptionRequestStore;
use muster_control_plane::store::exception_requests::RequestState;
use muster_control_plane::testing::TestControlPlane;
use muster_proto::v1::exceptions_client::ExceptionsClient;
use muster_proto::v1::{ExceptionRequestState, FileExceptionRequestRequest, ListExceptionRequestsRequest};
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

#[tokio::test]
async fn an_agent_files_a_request_for_its_own_endpoint_and_sees_the_decision() {
    let cp = TestControlPlane::start().await.unwrap();
    let store = cp.state.store.clone();
    policies::publish(store.as_ref(), &NoListener, POLICY, "admin", "", 1_800_000_000).await.unwrap();
    let agent = enroll(&cp).await;
    let other = enroll(&cp).await;
    let mut client = ExceptionsClient::new(agent_channel(&cp, &agent).await);
    let mut other_client = ExceptionsClient::new(agent_channel(&cp, &other).await);

    let filed = client.file_exception_request(ask("s1", "no-sse")).await.unwrap().into_inner();
    assert_eq!(filed.state, ExceptionRequestState::Pending as i32);
    let stored = store.exception_request(&filed.id).await.unwrap().expect("in the analysts' queue");
    assert_eq!(stored.agent_id, agent.id, "the endpoint is the certificate's");
    assert_eq!((stored.server_id.as_str(), stored.user.as_str()), ("s1", "alice"));
    assert_eq!(stored.requested_by, format!("agent:{}", agent.id));

    // Refused requests store nothing: an unknown rule, no server.
    let unknown = client.file_exception_request(ask("s1", "no-such-rule")).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument, "{unknown:?}");
    let no_server = client.file_exception_request(ask(" ", "no-sse")).await.unwrap_err();
    assert_eq!(no_server.code(), tonic::Code::InvalidArgument);
    assert_eq!(requests::list(store.as_ref(), None, 100).await.unwrap().len(), 1);

    // Each agent sees only requests covering its own endpoint.
    let mine = client.list_exception_requests(ListExceptionRequestsRequest {}).await.unwrap().into_inner();
    assert_eq!(mine.requests.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [filed.id.as_str()]);
    let theirs = other_client.list_exception_requests(ListExceptionRequestsRequest {}).await.unwrap().into_inner();
    assert!(theirs.requests.is_empty());

    // The analyst's decision comes back to the agent.
    requests::deny(store.as_ref(), &filed.id, "analyst", "use the https gateway", 1_800_000_100).await.unwrap();
    let mine = client.list_exception_requests(ListExceptionRequestsRequest {}).await.unwrap().into_inner();
    let decided = &mine.requests[0];
    assert_eq!(decided.state, ExceptionRequestState::Denied as i32);
    assert_eq!(decided.note, "use the https gateway");
    assert_eq!(decided.decided_at_unix, Some(1_800_000_100));
    assert_eq!(store.exception_request(&filed.id).await.unwrap().unwrap().state, RequestState::Denied);
}
