//! Report ingest over real mTLS gRPC: a full snapshot then a delta, idempotent retries, a gap
//! answered with resync, heartbeats, and the message size and rate limits.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use muster_control_plane::config::Limits;
use muster_control_plane::ingest::ChangeKind;
use muster_control_plane::testing::TestControlPlane;
use muster_proto::v1::{HeartbeatRequest, InventoryDelta};
use support::*;
use tonic::Code;

#[tokio::test]
async fn full_snapshot_then_delta_is_stored() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let mut client = inventory(&cp, &agent).await;

    let ack = client.report(full_report(&agent.id, 1, vec![server("a", "npx a"), server("b", "npx b")])).await.unwrap();
    assert_eq!((ack.get_ref().acked_sequence, ack.get_ref().resync_required), (1, false));
    let stored = cp.store().host_inventory(&agent.id).await.unwrap();
    assert_eq!(stored.servers.len(), 2);
    assert_eq!(stored.host.unwrap().hostname, "laptop-1");

    let step = InventoryDelta {
        upserted_servers: vec![server("b", "npx b@2")],
        removed_server_ids: vec!["a".into()],
        ..Default::default()
    };
    let ack = client.report(delta_report(&agent.id, 2, 1, step)).await.unwrap();
    assert_eq!((ack.get_ref().acked_sequence, ack.get_ref().resync_required), (2, false));
    let stored = cp.store().host_inventory(&agent.id).await.unwrap();
    assert_eq!(
        stored.servers.iter().map(|s| (s.server_id.as_str(), s.command.as_str())).collect::<Vec<_>>(),
        [("b", "npx b@2")]
    );
    let kinds: Vec<ChangeKind> = cp.store().change_events(&agent.id).await.unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [ChangeKind::Appeared, ChangeKind::Appeared, ChangeKind::Changed, ChangeKind::Disappeared]);
}

#[tokio::test]
async fn same_sequence_twice_acks_and_changes_nothing() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let mut client = inventory(&cp, &agent).await;
    client.report(full_report(&agent.id, 1, vec![server("a", "npx a")])).await.unwrap();
    let before = cp.store().host_inventory(&agent.id).await.unwrap();
    let ack = client.report(full_report(&agent.id, 1, vec![server("a", "npx a")])).await.unwrap().into_inner();
    assert_eq!((ack.acked_sequence, ack.resync_required), (1, false));
    assert_eq!(cp.store().host_inventory(&agent.id).await.unwrap(), before);
    assert_eq!(cp.store().change_events(&agent.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn delta_after_a_gap_asks_for_resync() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let mut client = inventory(&cp, &agent).await;
    client.report(full_report(&agent.id, 1, vec![server("a", "npx a")])).await.unwrap();
    let step = InventoryDelta { upserted_servers: vec![server("z", "npx z")], ..Default::default() };
    let ack = client.report(delta_report(&agent.id, 5, 4, step)).await.unwrap().into_inner();
    assert_eq!((ack.acked_sequence, ack.resync_required), (1, true));
    assert_eq!(cp.store().host_inventory(&agent.id).await.unwrap().servers.len(), 1);
    let ack = client.report(full_report(&agent.id, 6, vec![server("z", "npx z")])).await.unwrap().into_inner();
    assert_eq!((ack.acked_sequence, ack.resync_required), (6, false));
}

#[tokio::test]
async fn malformed_reports_are_invalid_arguments() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let mut client = inventory(&cp, &agent).await;
    let zero = client.report(full_report(&agent.id, 0, vec![])).await.unwrap_err();
    assert_eq!(zero.code(), Code::InvalidArgument);
    let mut empty = full_report(&agent.id, 1, vec![]);
    empty.body = None;
    assert_eq!(client.report(empty).await.unwrap_err().code(), Code::InvalidArgument);
}

#[tokio::test]
async fn heartbeat_asks_for_resync_when_the_server_is_behind() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let mut client = inventory(&cp, &agent).await;
    client.report(full_report(&agent.id, 1, vec![])).await.unwrap();
    let ok = client.heartbeat(HeartbeatRequest { agent_version: "0.2.0".into(), last_sequence: 1 }).await.unwrap();
    assert!(!ok.get_ref().resync_required);
    assert!(ok.get_ref().server_time_unix > 1_700_000_000);
    let behind = client.heartbeat(HeartbeatRequest { agent_version: "0.2.0".into(), last_sequence: 9 }).await.unwrap();
    assert!(behind.get_ref().resync_required);
    assert_eq!(cp.store().agent(&agent.id).await.unwrap().unwrap().agent_version, "0.2.0");
}

#[tokio::test]
async fn oversized_report_is_refused() {
    let limits = Limits { max_message_bytes: 16 * 1024, ..Limits::default() };
    let cp = TestControlPlane::start_with(None, limits).await.unwrap();
    let agent = enroll(&cp).await;
    let mut client = inventory(&cp, &agent).await;
    let huge = (0..200).map(|n| server(&format!("s{n}"), &"x".repeat(200))).collect();
    let refused = client.report(full_report(&agent.id, 1, huge)).await.unwrap_err();
    assert_eq!(refused.code(), Code::OutOfRange, "{refused:?}");
    assert_eq!(cp.store().agent(&agent.id).await.unwrap().unwrap().last_sequence, 0);
}

#[tokio::test]
async fn agent_over_its_rate_limit_is_refused() {
    let limits = Limits { agent_burst: 3, agent_requests_per_minute: 1, ..Limits::default() };
    let cp = TestControlPlane::start_with(None, limits).await.unwrap();
    let agent = enroll(&cp).await;
    let other = enroll(&cp).await;
    let mut client = inventory(&cp, &agent).await;
    for _ in 0..3 {
        client.heartbeat(HeartbeatRequest::default()).await.unwrap();
    }
    let refused = client.heartbeat(HeartbeatRequest::default()).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    let mut other_client = inventory(&cp, &other).await;
    other_client.heartbeat(HeartbeatRequest::default()).await.expect("other agents keep their own budget");
}

/// The same flow over gRPC with PostgreSQL behind it (a fresh database, dropped afterwards).
#[tokio::test]
async fn full_snapshot_then_delta_on_postgres() {
    let Some(database) = muster_control_plane::testing::TestDatabase::create().await.unwrap() else {
        eprintln!("skipping PostgreSQL case: MUSTER_SKIP_POSTGRES=1");
        return;
    };
    let url = database.url.clone();
    let outcome = tokio::spawn(async move {
        let cp = TestControlPlane::start_with(Some(&url), Limits::default()).await.unwrap();
        let agent = enroll(&cp).await;
        let mut client = inventory(&cp, &agent).await;
        client.report(full_report(&agent.id, 1, vec![server("a", "npx a")])).await.unwrap();
        let retry = client.report(full_report(&agent.id, 1, vec![server("a", "npx a")])).await.unwrap();
        assert_eq!(retry.get_ref().acked_sequence, 1);
        let step = InventoryDelta { upserted_servers: vec![server("b", "npx b")], ..Default::default() };
        let ack = client.report(delta_report(&agent.id, 2, 1, step)).await.unwrap().into_inner();
        assert_eq!((ack.acked_sequence, ack.resync_required), (2, false));
        let gap = client.report(delta_report(&agent.id, 9, 8, InventoryDelta::default())).await.unwrap().into_inner();
        assert!(gap.resync_required);
        assert_eq!(cp.store().host_inventory(&agent.id).await.unwrap().servers.len(), 2);
        assert_eq!(cp.store().change_events(&agent.id).await.unwrap().len(), 2);
        cp.stop().await.unwrap();
    })
    .await;
    database.drop_database().await.unwrap();
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// Regression: a report with a sequence of 2^63 or more was acknowledged but stored clamped to
/// i64::MAX, so it could be applied again and every later report looked "already stored". It is
/// refused at the gRPC boundary with InvalidArgument, before ingest, and changes nothing.
#[tokio::test]
async fn sequence_above_the_storable_range_is_refused_not_acknowledged() {
    let cp = TestControlPlane::start().await.unwrap();
    let agent = enroll(&cp).await;
    let mut client = inventory(&cp, &agent).await;
    client.report(full_report(&agent.id, 1, vec![server("a", "npx a")])).await.unwrap();
    let before = cp.store().host_inventory(&agent.id).await.unwrap();

    for sequence in [1u64 << 63, u64::MAX] {
        let refused = client.report(full_report(&agent.id, sequence, vec![server("b", "npx b")])).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{sequence}: {refused:?}");
        assert!(refused.message().contains(&format!("sequence {sequence}")), "{}", refused.message());
        let step = InventoryDelta { upserted_servers: vec![server("c", "npx c")], ..Default::default() };
        let refused = client.report(delta_report(&agent.id, sequence, 1, step)).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "delta {sequence}: {refused:?}");
    }
    assert_eq!(cp.received_reports().len(), 1, "refused before ingest");
    assert_eq!(cp.store().agent(&agent.id).await.unwrap().unwrap().last_sequence, 1);
    assert_eq!(cp.store().host_inventory(&agent.id).await.unwrap(), before);

    // The agent's sequence is untouched: the next report applies.
    let ack = client.report(full_report(&agent.id, 2, vec![server("d", "npx d")])).await.unwrap().into_inner();
    assert_eq!((ack.acked_sequence, ack.resync_required), (2, false));
    let stored = cp.store().host_inventory(&agent.id).await.unwrap();
    assert_eq!(stored.servers.iter().map(|s| s.server_id.as_str()).collect::<Vec<_>>(), ["d"]);
}
