//! Ingest limits and fairness over real mTLS gRPC (`docs/adr/0004-ingest-fairness.md`): reports
//! over the per-report caps are refused for good, an agent over its work budget is told to come
//! back later, and one agent's big reports cannot make other agents' reports wait behind them.
//!
//! Regression tests for "one enrolled agent can stall ingest for everyone": valid multi-megabyte
//! snapshots, sent within the request rate limit, used to queue in front of every other agent's
//! reports. Ordering is observed through the test store (which records reports as ingest receives
//! them and can hold ingest) and the ingest queue's counters, never through wall-clock time.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::time::Duration;

use muster_control_plane::config::Limits;
use muster_control_plane::ingest::Report;
use muster_control_plane::ingest::limits::{ReportSize, request_bytes};
use muster_control_plane::testing::TestControlPlane;
use muster_proto::v1::{HeartbeatRequest, InventoryDelta, McpProcess, McpServer, ReportRequest, ReportResponse};
use support::*;
use tokio::task::JoinHandle;
use tonic::Code;

const WAIT: Duration = Duration::from_secs(30);

fn servers(prefix: &str, n: usize) -> Vec<McpServer> {
    (0..n).map(|i| server(&format!("{prefix}{i}"), &format!("npx -y @example/server-{i} --verbose"))).collect()
}

/// A full snapshot of `n` servers, the kind the test team sent by the thousand.
fn big_report(agent_id: &str, sequence: u64, n: usize) -> ReportRequest {
    full_report(agent_id, sequence, servers("big", n))
}

fn work_of(request: &ReportRequest) -> u64 {
    ReportSize::of(&Report::from_request(request.clone()).unwrap(), request_bytes(request)).work()
}

/// Sends one report on a connection of its own, in a task.
async fn spawn_report(
    cp: &TestControlPlane,
    agent: &Agent,
    request: ReportRequest,
) -> JoinHandle<Result<tonic::Response<ReportResponse>, tonic::Status>> {
    let mut client = inventory(cp, agent).await;
    tokio::spawn(async move { client.report(request).await })
}

fn received_from(cp: &TestControlPlane, agent_id: &str) -> usize {
    cp.received_reports().iter().filter(|r| r.agent_id == agent_id).count()
}

#[tokio::test]
async fn reports_over_the_server_and_list_caps_are_refused_for_good() {
    let limits = Limits { max_servers_per_report: 10, max_list_items_per_report: 5, ..Limits::default() };
    let cp = TestControlPlane::start_with(None, limits).await.unwrap();
    let agent = enroll(&cp).await;
    let mut client = inventory(&cp, &agent).await;

    let refused = client.report(full_report(&agent.id, 1, servers("s", 11))).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert_eq!(
        refused.message(),
        "snapshot has 11 servers, more than the limit of 10; this report will not be accepted"
    );
    assert!(cp.received_reports().is_empty(), "a refused report never reaches ingest");
    assert_eq!(cp.store().agent(&agent.id).await.unwrap().unwrap().last_sequence, 0);

    client.report(full_report(&agent.id, 2, servers("s", 10))).await.expect("at the cap is accepted");

    let upserts = InventoryDelta { upserted_servers: servers("t", 11), ..Default::default() };
    let refused = client.report(delta_report(&agent.id, 3, 2, upserts)).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().starts_with("delta has 11 servers, more than the limit of 10"), "{refused:?}");
    let processes =
        InventoryDelta { replace_processes: true, processes: vec![McpProcess::default(); 6], ..Default::default() };
    let refused = client.report(delta_report(&agent.id, 3, 2, processes)).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("6 processes, more than the limit of 5"), "{refused:?}");
    assert_eq!(cp.store().agent(&agent.id).await.unwrap().unwrap().last_sequence, 2);
    assert_eq!(cp.received_reports().len(), 1);
}

#[tokio::test]
async fn an_agent_sending_big_snapshots_back_to_back_runs_out_of_work_budget() {
    let big = |sequence| big_report("", sequence, 2_000);
    let work = work_of(&big(1));
    // Room for three big reports; the refill (one unit a minute) adds nothing during the test.
    let limits = Limits { agent_work_burst: 3 * work + work / 2, agent_work_per_minute: 1, ..Limits::default() };
    let cp = TestControlPlane::start_with(None, limits).await.unwrap();
    let heavy = enroll(&cp).await;
    let light = enroll(&cp).await;
    let mut heavy_client = inventory(&cp, &heavy).await;

    for sequence in 1..=3 {
        let request = ReportRequest { agent_id: heavy.id.clone(), ..big(sequence) };
        heavy_client.report(request).await.expect("within the work budget");
    }
    let request = ReportRequest { agent_id: heavy.id.clone(), ..big(4) };
    let cost = work_of(&request);
    let refused = heavy_client.report(request).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let expected = format!("work budget exceeded: this report costs {cost} work units; retry in about ");
    assert!(refused.message().starts_with(&expected), "{refused:?}");
    assert_eq!(cp.store().agent(&heavy.id).await.unwrap().unwrap().last_sequence, 3);
    assert_eq!(received_from(&cp, &heavy.id), 3, "the refused report never reached ingest");

    // The budget is the heavy agent's alone; its requests budget is untouched too.
    heavy_client.heartbeat(HeartbeatRequest::default()).await.expect("heartbeats cost no work");
    let mut light_client = inventory(&cp, &light).await;
    light_client.report(full_report(&light.id, 1, vec![server("a", "npx a")])).await.expect("other agents report");
}

#[tokio::test]
async fn one_agents_backlog_of_big_snapshots_does_not_queue_ahead_of_others() {
    let cp = TestControlPlane::start().await.unwrap();
    let heavy = enroll(&cp).await;
    let light = enroll(&cp).await;
    cp.hold_ingest();

    // The heavy agent fires six big snapshots at once, on one connection.
    let heavy_client = inventory(&cp, &heavy).await;
    let backlog: Vec<_> = (1..=6)
        .map(|sequence| {
            let mut client = heavy_client.clone();
            let request = big_report(&heavy.id, sequence, 2_000);
            tokio::spawn(async move { client.report(request).await })
        })
        .collect();
    // Every one of them reached the control plane: handed to ingest, or already answered.
    let arrived = eventually(WAIT, || async {
        received_from(&cp, &heavy.id) + backlog.iter().filter(|task| task.is_finished()).count() == 6
    })
    .await;
    assert!(arrived, "the backlog never arrived");

    let mut light_client = inventory(&cp, &light).await;
    let light_id = light.id.clone();
    let small =
        tokio::spawn(async move { light_client.report(full_report(&light_id, 1, vec![server("a", "npx a")])).await });
    assert!(eventually(WAIT, || async { received_from(&cp, &light.id) == 1 }).await, "the small report waits");
    let ahead = cp.received_reports().iter().take_while(|r| r.agent_id != light.id).count();
    assert!(ahead <= 1, "{ahead} big reports of one agent were in ingest ahead of the small one");

    cp.release_ingest();
    small.await.unwrap().expect("the small report is acknowledged");
    let mut refused = 0;
    for task in backlog {
        match task.await.unwrap() {
            Ok(_) => {}
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert!(status.message().contains("already being ingested"), "{status:?}");
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 5, "one big report at a time; the others are told to retry");
}

#[tokio::test]
async fn a_small_report_is_admitted_before_a_big_one_that_waits_for_capacity() {
    let big = |agent_id: &str| big_report(agent_id, 1, 2_000);
    // Ingest holds one big report's work at a time.
    let limits = Limits { ingest_work_capacity: work_of(&big("")), ..Limits::default() };
    let cp = TestControlPlane::start_with(None, limits).await.unwrap();
    let filler = enroll(&cp).await;
    let heavy = enroll(&cp).await;
    let light = enroll(&cp).await;
    cp.hold_ingest();

    let filling = spawn_report(&cp, &filler, big(&filler.id)).await;
    assert!(eventually(WAIT, || async { received_from(&cp, &filler.id) == 1 }).await);
    // The big report arrives first and waits for capacity; the small one arrives after it.
    let heavy_report = spawn_report(&cp, &heavy, big(&heavy.id)).await;
    assert!(eventually(WAIT, || async { cp.state.ingest_queue.waiting() == 1 }).await);
    let light_report = spawn_report(&cp, &light, full_report(&light.id, 1, vec![server("a", "npx a")])).await;
    assert!(eventually(WAIT, || async { cp.state.ingest_queue.waiting() == 2 }).await);

    cp.release_ingest();
    for task in [filling, heavy_report, light_report] {
        task.await.unwrap().expect("every report is acknowledged");
    }
    let order: Vec<String> = cp.received_reports().into_iter().map(|r| r.agent_id).collect();
    assert_eq!(order, [filler.id, light.id, heavy.id], "the small report went ahead of the waiting big one");
}
