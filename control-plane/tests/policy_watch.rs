//! `Policy.Watch` over real mTLS: the current version on connect when newer than the agent's,
//! every new version as it is published (through this process at once, through another process
//! such as the CLI within the store poll), each signed by the key the agent received at
//! enrollment, never a version the agent already holds.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::time::Duration;

use muster_control_plane::policies::{self, NoListener};
use muster_control_plane::testing::TestControlPlane;
use muster_proto::v1::policy_client::PolicyClient;
use muster_proto::v1::{PolicyBundle, RenewRequest, WatchRequest};
use support::*;

const POLICY: &str = "version = 1\nname = \"acme\"\n[[rule]]\nid = \"no-sse\"\naction = \"notify\"\n[rule.match]\ntransport = [\"sse\"]\n";

fn verified(bundle: &PolicyBundle, key: &[u8]) -> muster_policy::Bundle {
    let message = muster_proto::policy_signing_message(bundle.version, bundle.issued_at_unix, &bundle.document);
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key)
        .verify(&message, &bundle.signature)
        .expect("signed by the key the agent pinned");
    let parsed = muster_policy::parse(std::str::from_utf8(&bundle.document).unwrap()).unwrap();
    assert_eq!(parsed.revision(), bundle.version, "the document names the envelope's version");
    parsed
}

async fn next(stream: &mut tonic::Streaming<PolicyBundle>) -> PolicyBundle {
    tokio::time::timeout(Duration::from_secs(10), stream.message()).await.expect("a bundle in time").unwrap().unwrap()
}

#[tokio::test]
async fn watch_streams_signed_versions_as_they_are_published() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let key = agent.response.policy_public_key.clone();
    assert_eq!(key.len(), 32, "enrollment hands out the policy key");
    assert_ne!(key, agent.response.fleet_fingerprint_key);

    let mut watch = PolicyClient::new(agent_channel(&cp, &agent).await);
    let mut stream = watch.watch(WatchRequest { known_version: 0, ..Default::default() }).await.unwrap().into_inner();
    let store = cp.state.store.clone();
    policies::publish(store.as_ref(), cp.state.as_ref(), POLICY, "alice", "", 1_800_000_000).await.unwrap();
    let first = next(&mut stream).await;
    assert_eq!(first.version, 1);
    assert_eq!(first.issued_at_unix, 1_800_000_000);
    assert_eq!(verified(&first, &key).name(), "acme");

    // Published by another process (the CLI tells no listener): the store poll brings it.
    policies::publish(store.as_ref(), &NoListener, POLICY, "cli", "", 1_800_000_100).await.unwrap();
    let second = next(&mut stream).await;
    assert_eq!(second.version, 2);
    verified(&second, &key);

    // A stream opened by an agent holding version 2 gets nothing until version 3.
    let mut current = watch.watch(WatchRequest { known_version: 2, ..Default::default() }).await.unwrap().into_inner();
    let mut fresh = watch.watch(WatchRequest { known_version: 0, ..Default::default() }).await.unwrap().into_inner();
    assert_eq!(next(&mut fresh).await.version, 2, "a new stream starts with the current version");
    policies::rollback(store.as_ref(), cp.state.as_ref(), 1, "alice", "", 1_800_000_200).await.unwrap();
    let third = next(&mut current).await;
    assert_eq!(third.version, 3, "the stream skipped what the agent held");
    verified(&third, &key);
    assert_eq!(next(&mut stream).await.version, 3);
}

#[tokio::test]
async fn renewal_hands_the_policy_key_to_agents_enrolled_before_it_existed() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let key = muster_control_plane::testing::AgentKey::generate().unwrap();
    let mut client = muster_proto::v1::enrollment_client::EnrollmentClient::new(agent_channel(&cp, &agent).await);
    let renewed = client.renew(RenewRequest { csr_der: key.csr_der }).await.unwrap().into_inner();
    assert_eq!(renewed.policy_public_key, agent.response.policy_public_key);
}

#[tokio::test]
async fn a_restarted_control_plane_signs_with_the_same_key() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let stopped = cp.stop_keeping_data().await.unwrap();
    let cp: TestControlPlane = stopped.start().await.unwrap();
    let store = cp.state.store.clone();
    policies::publish(store.as_ref(), &NoListener, POLICY, "cli", "", 1_800_000_000).await.unwrap();
    let mut watch = PolicyClient::new(agent_channel(&cp, &agent).await);
    let mut stream = watch.watch(WatchRequest { known_version: 0, ..Default::default() }).await.unwrap().into_inner();
    verified(&next(&mut stream).await, &agent.response.policy_public_key);
}

/// Data bundles ride on the same stream, signed by the same key over their own message, only to
/// agents that ask for them; an agent holding the current bundle is not sent it again.
#[tokio::test]
async fn data_bundles_reach_only_the_agents_that_ask_and_verify_with_the_pinned_key() {
    use muster_control_plane::data_bundles::{self, DataParts};
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let key = agent.response.policy_public_key.clone();
    let mut watch = PolicyClient::new(agent_channel(&cp, &agent).await);
    let asks = WatchRequest { data_bundles: true, ..Default::default() };
    let mut data_stream = watch.watch(asks).await.unwrap().into_inner();
    let mut old_agent = watch.watch(WatchRequest::default()).await.unwrap().into_inner();
    let store = cp.state.store.clone();
    let parts = DataParts { advisories_osv_json: Some("[]".into()), ..DataParts::default() };
    let (published, _) =
        data_bundles::publish(store.as_ref(), cp.state.as_ref(), &parts, "alice", "", 1_800_000_000).await.unwrap();
    let message = next(&mut data_stream).await;
    assert_eq!((message.version, message.document.len(), message.signature.len()), (0, 0, 0), "no policy in it");
    let bundle = message.data.expect("the data bundle");
    assert_eq!(bundle.version, published.version);
    let signed = muster_proto::data_signing_message(bundle.version, bundle.issued_at_unix, &bundle.document);
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &key)
        .verify(&signed, &bundle.signature)
        .expect("signed by the key the agent pinned");
    let as_policy = muster_proto::policy_signing_message(bundle.version, bundle.issued_at_unix, &bundle.document);
    assert!(
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &key)
            .verify(&as_policy, &bundle.signature)
            .is_err(),
        "a data bundle's signature is no policy signature"
    );
    let document: serde_json::Value = serde_json::from_slice(&bundle.document).unwrap();
    assert_eq!(document["version"], published.version);
    assert_eq!(document["advisories_osv_json"], "[]");

    // A policy published next reaches both; the stream of the agent that did not ask for data
    // bundles starts with it (it never saw the data bundle).
    policies::publish(store.as_ref(), cp.state.as_ref(), POLICY, "alice", "", 1_800_000_100).await.unwrap();
    let first_old = next(&mut old_agent).await;
    assert_eq!((first_old.version, first_old.data.is_none()), (1, true));
    assert_eq!(next(&mut data_stream).await.version, 1);

    // An agent already holding the bundle gets the policy only.
    let holding = WatchRequest { data_bundles: true, known_data_version: published.version, known_version: 0 };
    let mut holding = watch.watch(holding).await.unwrap().into_inner();
    let first = next(&mut holding).await;
    assert_eq!((first.version, first.data.is_none()), (1, true));
}
