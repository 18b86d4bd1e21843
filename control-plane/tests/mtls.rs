//! Enrollment and the mTLS refusal cases, each against a real control plane on 127.0.0.1:0 with
//! real certificates. Each refusal test also checks that nothing was stored, so it fails if the
//! check it covers is removed.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::time::{Duration, SystemTime};

use muster_control_plane::pki::{Pki, agent_id_from_certificate, fingerprint, pem_to_der};
use muster_control_plane::store::AgentStatus;
use muster_control_plane::testing::{AgentKey, TestControlPlane, channel};
use muster_proto::v1::policy_client::PolicyClient;
use muster_proto::v1::{HeartbeatRequest, WatchRequest};
use support::*;
use tonic::Code;

#[tokio::test]
async fn enroll_with_token_returns_pinned_ca_certificate_and_fleet_key() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;

    let ca_der = pem_to_der(&agent.response.ca_certificate_pem).unwrap();
    assert_eq!(fingerprint(&ca_der), cp.ca_fingerprint(), "the CA the agent pinned is the one it receives");
    assert_eq!(agent.response.fleet_fingerprint_key.len(), 32);
    let leaf = pem_to_der(&agent.chain_pem).unwrap();
    assert_eq!(agent_id_from_certificate(&leaf).as_deref(), Some(agent.id.as_str()));

    let stored = cp.store().agent(&agent.id).await.unwrap().expect("agent row");
    assert_eq!(stored.status, AgentStatus::Active);
    assert_eq!(stored.hostname, "laptop-1");
    assert_eq!(stored.cert_not_after, agent.response.not_after_unix);

    let response = try_report_with(&cp, Some((&agent.chain_pem, &agent.key_pem)), full_report(&agent.id, 1, vec![]))
        .await
        .expect("an enrolled agent can report");
    assert_eq!(response.acked_sequence, 1);
}

#[tokio::test]
async fn multi_use_token_enrolls_several_agents_then_stops() {
    let cp = TestControlPlane::start().await.unwrap();
    let token = cp.create_token(2, DAY).await.unwrap();
    let (first, _) = try_enroll(&cp, &token.token).await.unwrap();
    let (second, _) = try_enroll(&cp, &token.token).await.unwrap();
    assert_ne!(first.agent_id, second.agent_id);
    let third = try_enroll(&cp, &token.token).await.unwrap_err();
    assert_eq!(third.code(), Code::Unauthenticated);
    assert_eq!(cp.store().list_tokens().await.unwrap()[0].uses, 2);
}

#[tokio::test]
async fn reused_single_use_token_is_refused() {
    let cp = TestControlPlane::start().await.unwrap();
    let token = cp.create_token(1, DAY).await.unwrap();
    try_enroll(&cp, &token.token).await.expect("first use");
    let refused = try_enroll(&cp, &token.token).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(cp.store().list_agents().await.unwrap().len(), 1);
}

#[tokio::test]
async fn expired_token_is_refused() {
    let cp = TestControlPlane::start().await.unwrap();
    let token = cp.create_expired_token().await.unwrap();
    let refused = try_enroll(&cp, &token.token).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(cp.store().list_agents().await.unwrap().is_empty());
}

#[tokio::test]
async fn revoked_and_unknown_tokens_are_refused() {
    let cp = TestControlPlane::start().await.unwrap();
    let token = cp.create_token(5, DAY).await.unwrap();
    assert!(cp.store().revoke_token(&token.id, 0).await.unwrap());
    assert_eq!(try_enroll(&cp, &token.token).await.unwrap_err().code(), Code::Unauthenticated);
    assert_eq!(try_enroll(&cp, "mst_0000_guess").await.unwrap_err().code(), Code::Unauthenticated);
    assert!(cp.store().list_agents().await.unwrap().is_empty());
}

#[tokio::test]
async fn report_without_client_certificate_is_refused() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let refused = try_report_with(&cp, None, full_report(&agent.id, 1, vec![server("a", "npx")])).await.unwrap_err();
    assert!(refused.contains("Unauthenticated"), "{refused}");
    assert_eq!(cp.store().agent(&agent.id).await.unwrap().unwrap().last_sequence, 0);
}

#[tokio::test]
async fn client_certificate_from_another_ca_is_refused() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    // Another fleet's CA signs a certificate naming this very agent.
    let other_dir = tempfile::tempdir().unwrap();
    let other = Pki::load_or_create(other_dir.path(), &["localhost".into()]).unwrap();
    let key = AgentKey::generate().unwrap();
    let forged = other.sign_agent_csr(&key.csr_der, &agent.id).unwrap();
    let refused = try_report_with(
        &cp,
        Some((&forged.chain_pem, &key.key_pem)),
        full_report(&agent.id, 1, vec![server("a", "npx")]),
    )
    .await
    .unwrap_err();
    // The handshake fails: the signature does not verify against the fleet CA.
    assert!(["DecryptError", "UnknownCA", "BadCertificate"].iter().any(|alert| refused.contains(alert)), "{refused}");
    assert_eq!(cp.store().agent(&agent.id).await.unwrap().unwrap().last_sequence, 0);
}

#[tokio::test]
async fn expired_client_certificate_is_refused() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let key = AgentKey::generate().unwrap();
    let now = SystemTime::now();
    let expired = cp
        .state
        .pki
        .sign_agent_csr_valid(&key.csr_der, &agent.id, now - Duration::from_secs(7200), now - Duration::from_secs(3600))
        .unwrap();
    let refused = try_report_with(
        &cp,
        Some((&expired.chain_pem, &key.key_pem)),
        full_report(&agent.id, 1, vec![server("a", "npx")]),
    )
    .await
    .unwrap_err();
    assert!(refused.contains("CertificateExpired"), "{refused}");
    assert_eq!(cp.store().agent(&agent.id).await.unwrap().unwrap().last_sequence, 0);
}

#[tokio::test]
async fn revoked_agent_is_refused_and_its_stream_closes() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let mut policy = PolicyClient::new(agent_channel(&cp, &agent).await);
    let mut stream =
        policy.watch(WatchRequest { known_version: 0, ..Default::default() }).await.expect("watch opens").into_inner();
    let mut client = inventory(&cp, &agent).await;
    client.report(full_report(&agent.id, 1, vec![server("a", "npx")])).await.expect("report before revocation");

    assert!(cp.revoke_agent(&agent.id).await.unwrap());

    let closed = tokio::time::timeout(Duration::from_secs(10), stream.message()).await.expect("stream closes promptly");
    match closed {
        Err(status) => assert_eq!(status.code(), Code::PermissionDenied),
        Ok(None) => {}
        Ok(Some(bundle)) => panic!("unexpected policy bundle {bundle:?}"),
    }
    let refused = client.report(full_report(&agent.id, 2, vec![])).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = client.heartbeat(HeartbeatRequest::default()).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(cp.store().agent(&agent.id).await.unwrap().unwrap().last_sequence, 1);
    assert_eq!(cp.store().host_inventory(&agent.id).await.unwrap().servers.len(), 1);
}

#[tokio::test]
async fn report_about_another_agent_is_refused() {
    let cp = TestControlPlane::start().await.unwrap();
    let alice = enroll(&cp).await;
    let mallory = enroll(&cp).await;
    let mut client = inventory(&cp, &mallory).await;
    let refused = client.report(full_report(&alice.id, 1, vec![server("evil", "curl")])).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(cp.store().agent(&alice.id).await.unwrap().unwrap().last_sequence, 0);
    assert_eq!(cp.store().agent(&mallory.id).await.unwrap().unwrap().last_sequence, 0);
    assert!(cp.store().host_inventory(&alice.id).await.unwrap().servers.is_empty());
}

#[tokio::test]
async fn plaintext_connection_is_refused() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let plaintext = tonic::transport::Channel::from_shared(format!("http://{}", cp.grpc_addr))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5));
    let result = match plaintext.connect().await {
        Ok(channel) => muster_proto::v1::inventory_client::InventoryClient::new(channel)
            .report(full_report(&agent.id, 1, vec![server("a", "npx")]))
            .await
            .map(|_| ())
            .map_err(|status| status.code()),
        Err(_) => Err(Code::Unavailable),
    };
    assert!(result.is_err(), "a plaintext gRPC call must not be served");
    assert_eq!(cp.store().agent(&agent.id).await.unwrap().unwrap().last_sequence, 0);
    // The listener still serves TLS afterwards.
    let ok = channel(cp.grpc_addr, cp.ca_pem(), Some((&agent.chain_pem, &agent.key_pem))).await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn renew_issues_a_new_certificate_for_the_same_agent() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let mut client = muster_proto::v1::enrollment_client::EnrollmentClient::new(agent_channel(&cp, &agent).await);
    let key = AgentKey::generate().unwrap();
    let renewed =
        client.renew(muster_proto::v1::RenewRequest { csr_der: key.csr_der.clone() }).await.unwrap().into_inner();
    let leaf = pem_to_der(&renewed.certificate_chain_pem).unwrap();
    assert_eq!(agent_id_from_certificate(&leaf).as_deref(), Some(agent.id.as_str()));
    let stored = cp.store().agent(&agent.id).await.unwrap().unwrap();
    assert_ne!(stored.cert_serial, "");
    let renewed_agent = Agent { chain_pem: renewed.certificate_chain_pem, key_pem: key.key_pem, ..agent.clone() };
    let response = try_report_with(
        &cp,
        Some((&renewed_agent.chain_pem, &renewed_agent.key_pem)),
        full_report(&agent.id, 1, vec![]),
    )
    .await
    .unwrap();
    assert_eq!(response.acked_sequence, 1);
    // Renewal needs a client certificate.
    let mut anonymous = muster_proto::v1::enrollment_client::EnrollmentClient::new(anonymous_channel(&cp).await);
    let refused = anonymous.renew(muster_proto::v1::RenewRequest { csr_der: key.csr_der }).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn healthz_answers_on_the_http_listener() {
    let cp = TestControlPlane::start().await.unwrap();
    let request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let response = muster_control_plane::testing::https_request(cp.http_addr, cp.ca_pem(), request).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    cp.stop().await.unwrap();
}

/// A revocation written by another process (the CLI) reaches open streams through polling.
#[tokio::test]
async fn revocation_by_another_process_closes_the_stream() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let mut policy = PolicyClient::new(agent_channel(&cp, &agent).await);
    let mut stream = policy.watch(WatchRequest { known_version: 0, ..Default::default() }).await.unwrap().into_inner();
    // Straight to the store, as `muster-server agents revoke` does: no in-process notification.
    assert!(cp.store().revoke_agent(&agent.id, 0).await.unwrap());
    let closed = tokio::time::timeout(Duration::from_secs(20), stream.message()).await.expect("stream closes");
    assert!(matches!(closed, Err(ref status) if status.code() == Code::PermissionDenied) || matches!(closed, Ok(None)));
}

#[tokio::test]
async fn enrollment_is_rate_limited_per_source_address() {
    let limits =
        muster_control_plane::config::Limits { agent_burst: 2, agent_requests_per_minute: 1, ..Default::default() };
    let cp = TestControlPlane::start_with(None, limits).await.unwrap();
    let token = cp.create_token(0, DAY).await.unwrap();
    try_enroll(&cp, &token.token).await.unwrap();
    try_enroll(&cp, &token.token).await.unwrap();
    let refused = try_enroll(&cp, &token.token).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert_eq!(cp.store().list_agents().await.unwrap().len(), 2);
}

/// Shutdown ends open Policy.Watch streams instead of waiting out the grace period.
#[tokio::test]
async fn shutdown_closes_open_watch_streams() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let mut policy = PolicyClient::new(agent_channel(&cp, &agent).await);
    let mut stream = policy.watch(WatchRequest { known_version: 0, ..Default::default() }).await.unwrap().into_inner();
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(20), cp.stop()).await.expect("stop finishes").unwrap();
    assert!(started.elapsed() < muster_control_plane::server::GRACE_PERIOD, "stopped before the grace period ran out");
    let ended = tokio::time::timeout(Duration::from_secs(10), stream.message()).await.expect("stream ends");
    assert!(!matches!(ended, Ok(Some(_))), "no bundle after shutdown: {ended:?}");
}

/// Renews `agent`'s certificate over mTLS with the certificate it holds; returns the agent
/// holding the new certificate (the old one is left as it was).
async fn renewed(cp: &TestControlPlane, agent: &Agent) -> Agent {
    let mut client = muster_proto::v1::enrollment_client::EnrollmentClient::new(agent_channel(cp, agent).await);
    let key = AgentKey::generate().unwrap();
    let response = client.renew(muster_proto::v1::RenewRequest { csr_der: key.csr_der }).await.unwrap().into_inner();
    Agent { chain_pem: response.certificate_chain_pem, key_pem: key.key_pem, ..agent.clone() }
}

fn serial_of(agent: &Agent) -> String {
    muster_control_plane::pki::certificate_serial(&pem_to_der(&agent.chain_pem).unwrap()).unwrap()
}

/// Regression: the server stored a renewed certificate's serial but never checked it, so a stolen
/// superseded certificate kept working until its own expiry. After a renewal the old certificate
/// works until the agent first calls with the new one (so a lost Renew answer strands nobody);
/// from then on every call with the old certificate is refused, over a new connection or one
/// opened before, also after a restart, and a stream opened with it closes.
#[tokio::test]
async fn a_superseded_certificate_is_refused_once_the_renewal_is_used() {
    let cp = TestControlPlane::start().await.unwrap();
    let old = enroll(&cp).await;
    let mut old_client = inventory(&cp, &old).await;
    old_client
        .report(full_report(&old.id, 1, vec![server("a", "npx")]))
        .await
        .expect("report with the first certificate");
    let mut old_policy = PolicyClient::new(agent_channel(&cp, &old).await);
    let mut old_stream =
        old_policy.watch(WatchRequest { known_version: 0, ..Default::default() }).await.unwrap().into_inner();

    let new = renewed(&cp, &old).await;
    let stored = cp.store().agent(&old.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.cert_serial.clone(), stored.previous_cert_serial.clone()),
        (serial_of(&new), Some(serial_of(&old)))
    );
    // Not confirmed yet: the old certificate still works.
    old_client.heartbeat(HeartbeatRequest::default()).await.expect("old certificate before the new one is used");

    // The first call with the new certificate confirms the renewal.
    let mut new_client = inventory(&cp, &new).await;
    let ack = new_client.report(full_report(&old.id, 2, vec![server("a", "npx"), server("b", "npx")])).await.unwrap();
    assert_eq!(ack.get_ref().acked_sequence, 2);
    assert_eq!(cp.store().agent(&old.id).await.unwrap().unwrap().previous_cert_serial, None);

    // The old certificate is refused: on the connection opened before, on a new one, for every call.
    let refused = old_client.report(full_report(&old.id, 3, vec![server("evil", "curl")])).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains("superseded"), "{}", refused.message());
    let refused = old_client.heartbeat(HeartbeatRequest::default()).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused =
        try_report_with(&cp, Some((&old.chain_pem, &old.key_pem)), full_report(&old.id, 3, vec![])).await.unwrap_err();
    assert!(refused.contains("PermissionDenied"), "{refused}");
    let mut old_enrollment = muster_proto::v1::enrollment_client::EnrollmentClient::new(agent_channel(&cp, &old).await);
    let key = AgentKey::generate().unwrap();
    let refused = old_enrollment.renew(muster_proto::v1::RenewRequest { csr_der: key.csr_der }).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "a superseded certificate cannot renew itself back");
    let refused = PolicyClient::new(agent_channel(&cp, &old).await)
        .watch(WatchRequest { known_version: 0, ..Default::default() })
        .await;
    assert_eq!(refused.unwrap_err().code(), Code::PermissionDenied);
    // A stream opened with it closes.
    let closed = tokio::time::timeout(Duration::from_secs(20), old_stream.message()).await.expect("stream closes");
    assert!(matches!(closed, Err(ref status) if status.code() == Code::PermissionDenied) || matches!(closed, Ok(None)));

    // Nothing the old certificate sent was stored; the new one keeps working.
    assert_eq!(cp.store().agent(&old.id).await.unwrap().unwrap().last_sequence, 2);
    assert_eq!(cp.store().host_inventory(&old.id).await.unwrap().servers.len(), 2);
    new_client.heartbeat(HeartbeatRequest::default()).await.expect("the current certificate works");

    // The decision is the database's, not only this process's cache.
    let cp = cp.stop_keeping_data().await.unwrap().start().await.unwrap();
    let refused =
        try_report_with(&cp, Some((&old.chain_pem, &old.key_pem)), full_report(&old.id, 3, vec![])).await.unwrap_err();
    assert!(refused.contains("PermissionDenied"), "after a restart: {refused}");
    let ack = try_report_with(&cp, Some((&new.chain_pem, &new.key_pem)), full_report(&old.id, 3, vec![]))
        .await
        .expect("the current certificate after a restart");
    assert_eq!(ack.acked_sequence, 3);
}

/// A renewal whose answer never reached the agent is not a lock-out: the agent still holds the
/// old certificate and renews again with it; the certificate it never received is refused.
#[tokio::test]
async fn a_renewal_the_agent_never_received_can_be_retried_with_the_old_certificate() {
    let cp = TestControlPlane::start().await.unwrap();
    let old = enroll(&cp).await;
    let lost = renewed(&cp, &old).await;
    let kept = renewed(&cp, &old).await;
    let stored = cp.store().agent(&old.id).await.unwrap().unwrap();
    assert_eq!((stored.cert_serial, stored.previous_cert_serial), (serial_of(&kept), Some(serial_of(&old))));
    let refused = try_report_with(&cp, Some((&lost.chain_pem, &lost.key_pem)), full_report(&old.id, 1, vec![]))
        .await
        .unwrap_err();
    assert!(refused.contains("PermissionDenied"), "{refused}");
    try_report_with(&cp, Some((&old.chain_pem, &old.key_pem)), full_report(&old.id, 1, vec![]))
        .await
        .expect("old certificate until the renewal is used");
    try_report_with(&cp, Some((&kept.chain_pem, &kept.key_pem)), full_report(&old.id, 2, vec![])).await.unwrap();
    let refused =
        try_report_with(&cp, Some((&old.chain_pem, &old.key_pem)), full_report(&old.id, 3, vec![])).await.unwrap_err();
    assert!(refused.contains("PermissionDenied"), "{refused}");
    assert_eq!(cp.store().agent(&old.id).await.unwrap().unwrap().last_sequence, 2);
}
