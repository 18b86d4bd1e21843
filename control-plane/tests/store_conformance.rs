//! The storage conformance suite: the same cases run against SQLite (temp dir) and PostgreSQL
//! (a fresh `muster_test_<random>` database on `MUSTER_TEST_POSTGRES_URL`, dropped afterwards).
//! PostgreSQL cases fail when the URL is unset unless `MUSTER_SKIP_POSTGRES=1`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use muster_control_plane::enroll::{create_token, create_token_expiring, hash_token};
use muster_control_plane::ingest::{ChangeKind, Decision, Report, ReportBody};
use muster_control_plane::store::{AgentStatus, DynStore, NewAgent, StoreError, TokenRefusal};
use muster_proto::v1::{ConfigSource, Finding, InventoryDelta, McpServer, OsUser};
use support::{server, snapshot};

const NOW: i64 = 1_800_000_000;

use support::{conformance_suite, run_postgres, run_sqlite};

conformance_suite!(
    single_use_token_enrolls_once,
    expired_revoked_and_unlimited_tokens,
    revoked_agent_cannot_ingest_or_renew,
    full_snapshot_then_delta,
    retried_sequence_changes_nothing,
    gap_requires_resync_until_full_snapshot,
    full_snapshot_replaces_host_state,
    concurrent_retries_apply_once,
    unknown_agent_is_refused,
    unchanged_servers_keep_details_and_move_last_seen,
    full_snapshot_restores_parts_a_delta_changed,
    full_snapshot_rewrites_changed_users_sources_and_findings,
    duplicate_ids_in_one_report_keep_the_last,
    snapshot_larger_than_one_statement_is_stored_whole,
    sequence_above_i64_is_refused_not_clamped,
    snapshot_of_forty_thousand_servers_is_stored_and_read_back,
    renewal_keeps_the_previous_certificate_until_confirmed,
);

fn new_agent(id: &str) -> NewAgent {
    NewAgent {
        id: id.into(),
        hostname: "laptop-1".into(),
        cert_serial: "01ab".into(),
        cert_not_after: NOW + 30 * 86400,
        agent_version: "0.1.0".into(),
        enrolled_at: NOW,
    }
}

/// Enrolls an agent with a fresh token and returns its id.
async fn enrolled(store: &DynStore) -> String {
    let token = create_token(store.as_ref(), 1, support::DAY, NOW).await.unwrap();
    let id = uuid_like(&token.id);
    store.enroll_agent(&hash_token(&token.token), NOW, &new_agent(&id)).await.unwrap();
    id
}

fn uuid_like(seed: &str) -> String {
    format!("00000000-0000-4000-8000-{:0>12}", &seed[..12.min(seed.len())])
}

fn full(sequence: u64, servers: Vec<McpServer>) -> Report {
    Report { sequence, base_sequence: 0, body: ReportBody::Full(snapshot(servers)), policy: None }
}

fn delta(sequence: u64, base_sequence: u64, delta: InventoryDelta) -> Report {
    Report { sequence, base_sequence, body: ReportBody::Delta(delta), policy: None }
}

async fn single_use_token_enrolls_once(store: DynStore) {
    let token = create_token(store.as_ref(), 1, support::DAY, NOW).await.unwrap();
    let listed = store.list_tokens().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id.as_str(), listed[0].max_uses, listed[0].uses), (token.id.as_str(), 1, 0));
    store.enroll_agent(&hash_token(&token.token), NOW, &new_agent(&uuid_like("a1"))).await.unwrap();
    let again = store.enroll_agent(&hash_token(&token.token), NOW, &new_agent(&uuid_like("a2"))).await;
    assert!(matches!(again, Err(StoreError::TokenRefused(TokenRefusal::Exhausted))), "{again:?}");
    let unknown = store.enroll_agent(&hash_token("mst_nope"), NOW, &new_agent(&uuid_like("a3"))).await;
    assert!(matches!(unknown, Err(StoreError::TokenRefused(TokenRefusal::Unknown))), "{unknown:?}");
    let agents = store.list_agents().await.unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0].enrolled_with_token, token.id);
    assert_eq!(store.list_tokens().await.unwrap()[0].uses, 1);
}

async fn expired_revoked_and_unlimited_tokens(store: DynStore) {
    let expired = create_token_expiring(store.as_ref(), 1, NOW - 1, NOW - 100).await.unwrap();
    let refused = store.enroll_agent(&hash_token(&expired.token), NOW, &new_agent(&uuid_like("b1"))).await;
    assert!(matches!(refused, Err(StoreError::TokenRefused(TokenRefusal::Expired))), "{refused:?}");

    let revoked = create_token(store.as_ref(), 3, support::DAY, NOW).await.unwrap();
    assert!(store.revoke_token(&revoked.id, NOW).await.unwrap());
    assert!(!store.revoke_token(&revoked.id, NOW).await.unwrap(), "revoking twice reports nothing to do");
    let refused = store.enroll_agent(&hash_token(&revoked.token), NOW, &new_agent(&uuid_like("b2"))).await;
    assert!(matches!(refused, Err(StoreError::TokenRefused(TokenRefusal::Revoked))), "{refused:?}");

    let unlimited = create_token(store.as_ref(), 0, support::DAY, NOW).await.unwrap();
    for n in 0..3 {
        store.enroll_agent(&hash_token(&unlimited.token), NOW, &new_agent(&uuid_like(&format!("c{n}")))).await.unwrap();
    }
    assert_eq!(store.list_agents().await.unwrap().len(), 3);
}

async fn revoked_agent_cannot_ingest_or_renew(store: DynStore) {
    let id = enrolled(&store).await;
    assert_eq!(store.heartbeat(&id, "0.2.0", NOW + 5).await.unwrap(), 0);
    let agent = store.agent(&id).await.unwrap().unwrap();
    assert_eq!(
        (agent.status, agent.agent_version.as_str(), agent.last_seen_at),
        (AgentStatus::Active, "0.2.0", Some(NOW + 5))
    );
    store.renew_agent_cert(&id, "02cd", NOW + 60 * 86400).await.unwrap();
    assert_eq!(store.agent(&id).await.unwrap().unwrap().cert_serial, "02cd");

    assert!(store.revoke_agent(&id, NOW + 10).await.unwrap());
    assert!(!store.revoke_agent(&id, NOW + 11).await.unwrap());
    let agent = store.agent(&id).await.unwrap().unwrap();
    assert_eq!((agent.status, agent.revoked_at), (AgentStatus::Revoked, Some(NOW + 10)));
    let refused = store.ingest(&id, &full(1, vec![server("a", "npx")]), NOW + 12).await;
    assert!(matches!(refused, Err(StoreError::AgentRevoked(_))), "{refused:?}");
    assert!(store.host_inventory(&id).await.unwrap().servers.is_empty());
    assert!(store.renew_agent_cert(&id, "03ef", NOW).await.is_err());
    assert!(store.heartbeat(&id, "0.2.0", NOW).await.is_err());
}

async fn full_snapshot_then_delta(store: DynStore) {
    let id = enrolled(&store).await;
    let outcome = store.ingest(&id, &full(1, vec![server("a", "npx a"), server("b", "npx b")]), NOW).await.unwrap();
    assert_eq!((outcome.acked_sequence, outcome.resync_required, outcome.decision), (1, false, Decision::Apply));
    let inventory = store.host_inventory(&id).await.unwrap();
    assert_eq!(inventory.host.as_ref().unwrap().hostname, "laptop-1");
    assert_eq!(inventory.users, vec!["alice".to_string()]);
    assert_eq!(inventory.clients, vec!["cursor".to_string()]);
    assert_eq!(inventory.source_paths, vec!["/home/alice/.cursor/mcp.json".to_string()]);
    assert_eq!(inventory.servers.iter().map(|s| s.server_id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(inventory.credentials.len(), 2);
    assert!(inventory.credentials.iter().all(|c| c.fingerprint.len() == 32 && c.kind == "github-pat"));
    assert_eq!(inventory.findings.len(), 2);

    let step = InventoryDelta {
        upserted_servers: vec![server("b", "npx b@2"), server("c", "uvx c")],
        removed_server_ids: vec!["a".into()],
        ..Default::default()
    };
    let outcome = store.ingest(&id, &delta(2, 1, step), NOW + 60).await.unwrap();
    assert_eq!((outcome.acked_sequence, outcome.decision), (2, Decision::Apply));
    let inventory = store.host_inventory(&id).await.unwrap();
    assert_eq!(inventory.servers.iter().map(|s| s.server_id.as_str()).collect::<Vec<_>>(), ["b", "c"]);
    let b = &inventory.servers[0];
    assert_eq!((b.command.as_str(), b.first_seen_at, b.last_seen_at), ("npx b@2", NOW, NOW + 60));
    assert_eq!(inventory.credentials.iter().map(|c| c.server_id.as_str()).collect::<Vec<_>>(), ["b", "c"]);

    let events: Vec<(String, ChangeKind, u64)> =
        store.change_events(&id).await.unwrap().into_iter().map(|e| (e.server_id, e.kind, e.sequence)).collect();
    assert_eq!(
        events,
        vec![
            ("a".into(), ChangeKind::Appeared, 1),
            ("b".into(), ChangeKind::Appeared, 1),
            ("b".into(), ChangeKind::Changed, 2),
            ("c".into(), ChangeKind::Appeared, 2),
            ("a".into(), ChangeKind::Disappeared, 2),
        ]
    );
    assert_eq!(store.agent(&id).await.unwrap().unwrap().last_sequence, 2);
}

async fn retried_sequence_changes_nothing(store: DynStore) {
    let id = enrolled(&store).await;
    store.ingest(&id, &full(1, vec![server("a", "npx a")]), NOW).await.unwrap();
    let before = store.host_inventory(&id).await.unwrap();
    // The retry carries different content: it must still change nothing.
    let retry = store.ingest(&id, &full(1, vec![server("z", "evil")]), NOW + 5).await.unwrap();
    assert_eq!((retry.acked_sequence, retry.resync_required, retry.decision), (1, false, Decision::AlreadyStored));
    let late_delta = store.ingest(&id, &delta(1, 0, InventoryDelta::default()), NOW + 6).await.unwrap();
    assert_eq!(late_delta.decision, Decision::AlreadyStored);
    assert_eq!(store.host_inventory(&id).await.unwrap(), before);
    assert_eq!(store.change_events(&id).await.unwrap().len(), 1);
}

async fn gap_requires_resync_until_full_snapshot(store: DynStore) {
    let id = enrolled(&store).await;
    store.ingest(&id, &full(1, vec![server("a", "npx a")]), NOW).await.unwrap();
    let gap = InventoryDelta { upserted_servers: vec![server("x", "x")], ..Default::default() };
    let outcome = store.ingest(&id, &delta(3, 2, gap), NOW).await.unwrap();
    assert_eq!((outcome.acked_sequence, outcome.resync_required, outcome.decision), (1, true, Decision::Resync));
    assert_eq!(store.host_inventory(&id).await.unwrap().servers.len(), 1);
    let outcome = store.ingest(&id, &full(4, vec![server("a", "npx a"), server("x", "x")]), NOW).await.unwrap();
    assert_eq!((outcome.acked_sequence, outcome.resync_required), (4, false));
    assert_eq!(store.host_inventory(&id).await.unwrap().servers.len(), 2);
}

async fn full_snapshot_replaces_host_state(store: DynStore) {
    let id = enrolled(&store).await;
    store.ingest(&id, &full(1, vec![server("a", "npx a"), server("b", "npx b")]), NOW).await.unwrap();
    store.ingest(&id, &full(2, vec![server("c", "npx c")]), NOW + 1).await.unwrap();
    let inventory = store.host_inventory(&id).await.unwrap();
    assert_eq!(inventory.servers.iter().map(|s| s.server_id.as_str()).collect::<Vec<_>>(), ["c"]);
    assert_eq!(inventory.credentials.iter().map(|c| c.server_id.as_str()).collect::<Vec<_>>(), ["c"]);
    assert_eq!(inventory.findings.len(), 1);
    let kinds: Vec<ChangeKind> = store.change_events(&id).await.unwrap().iter().skip(2).map(|e| e.kind).collect();
    assert_eq!(kinds, vec![ChangeKind::Appeared, ChangeKind::Disappeared, ChangeKind::Disappeared]);
}

async fn concurrent_retries_apply_once(store: DynStore) {
    let id = enrolled(&store).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            store.ingest(&id, &full(1, vec![server("a", "npx a"), server("b", "npx b")]), NOW).await.unwrap()
        }));
    }
    let mut applied = 0;
    for task in tasks {
        let outcome = task.await.unwrap();
        assert_eq!(outcome.acked_sequence, 1);
        if outcome.decision == Decision::Apply {
            applied += 1;
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(store.change_events(&id).await.unwrap().len(), 2);
}

async fn unknown_agent_is_refused(store: DynStore) {
    let refused = store.ingest(&uuid_like("ffff"), &full(1, vec![]), NOW).await;
    assert!(matches!(refused, Err(StoreError::UnknownAgent(_))), "{refused:?}");
    assert!(store.agent(&uuid_like("ffff")).await.unwrap().is_none());
}

async fn unchanged_servers_keep_details_and_move_last_seen(store: DynStore) {
    let id = enrolled(&store).await;
    store.ingest(&id, &full(1, vec![server("a", "npx a"), server("b", "npx b")]), NOW).await.unwrap();
    store.ingest(&id, &full(2, vec![server("a", "npx a"), server("b", "npx b")]), NOW + 10).await.unwrap();
    let step = InventoryDelta { upserted_servers: vec![server("a", "npx a")], ..Default::default() };
    store.ingest(&id, &delta(3, 2, step), NOW + 20).await.unwrap();
    let inventory = store.host_inventory(&id).await.unwrap();
    let seen: Vec<(i64, i64)> = inventory.servers.iter().map(|s| (s.first_seen_at, s.last_seen_at)).collect();
    assert_eq!(seen, vec![(NOW, NOW + 20), (NOW, NOW + 10)]);
    assert_eq!(inventory.credentials.len(), 2);
    assert_eq!(inventory.findings.len(), 2);
    assert_eq!(store.change_events(&id).await.unwrap().len(), 2, "nothing changed after the first report");
}

/// Regression test for skipping unchanged snapshot parts by hash: a delta that edits sources,
/// users or host-wide findings must make the next identical full snapshot write them again.
async fn full_snapshot_restores_parts_a_delta_changed(store: DynStore) {
    let id = enrolled(&store).await;
    store.ingest(&id, &full(1, vec![server("a", "npx a")]), NOW).await.unwrap();
    let before = store.host_inventory(&id).await.unwrap();
    let step = InventoryDelta {
        removed_source_paths: vec!["/home/alice/.cursor/mcp.json".into()],
        upserted_sources: vec![ConfigSource {
            path: "/home/alice/.vscode/mcp.json".into(),
            client: "vscode".into(),
            ..Default::default()
        }],
        users: vec![OsUser { name: "bob".into(), uid: Some(1001), home: "/home/bob".into() }],
        replace_findings: true,
        findings: vec![Finding {
            id: "MUSTER-HOST".into(),
            severity: 2,
            message: "host-wide".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    store.ingest(&id, &delta(2, 1, step), NOW + 1).await.unwrap();
    let changed = store.host_inventory(&id).await.unwrap();
    assert_eq!(changed.source_paths, vec!["/home/alice/.vscode/mcp.json".to_string()]);
    assert_eq!(changed.users, vec!["bob".to_string()]);
    assert_eq!(changed.clients, vec!["cursor".to_string(), "vscode".to_string()]);
    assert_eq!(changed.findings.len(), 2);

    store.ingest(&id, &full(3, vec![server("a", "npx a")]), NOW + 2).await.unwrap();
    let restored = store.host_inventory(&id).await.unwrap();
    assert_eq!(restored.source_paths, before.source_paths);
    assert_eq!(restored.users, before.users);
    assert_eq!(restored.clients, before.clients);
    assert_eq!(restored.findings, before.findings);
}

async fn full_snapshot_rewrites_changed_users_sources_and_findings(store: DynStore) {
    let id = enrolled(&store).await;
    store.ingest(&id, &full(1, vec![server("a", "npx a")]), NOW).await.unwrap();
    let mut next = support::snapshot(vec![server("a", "npx a")]);
    next.users.push(OsUser { name: "carol".into(), uid: Some(1002), home: "/home/carol".into() });
    next.sources[0].server_count = 7;
    next.sources.push(ConfigSource {
        path: "/home/carol/.codex/config.toml".into(),
        client: "codex".into(),
        ..Default::default()
    });
    next.findings.push(Finding {
        id: "MUSTER-HOST".into(),
        severity: 2,
        message: "host-wide".into(),
        ..Default::default()
    });
    store
        .ingest(&id, &Report { sequence: 2, base_sequence: 0, body: ReportBody::Full(next), policy: None }, NOW + 1)
        .await
        .unwrap();
    let inventory = store.host_inventory(&id).await.unwrap();
    assert_eq!(inventory.users, vec!["alice".to_string(), "carol".to_string()]);
    assert_eq!(
        inventory.source_paths,
        vec!["/home/alice/.cursor/mcp.json".to_string(), "/home/carol/.codex/config.toml".to_string()]
    );
    assert_eq!(inventory.clients, vec!["codex".to_string(), "cursor".to_string()]);
    assert_eq!(inventory.findings.iter().filter(|f| f.server_id.is_empty()).count(), 1);

    // And back: the same snapshot as the first one removes what the second added.
    store.ingest(&id, &full(3, vec![server("a", "npx a")]), NOW + 2).await.unwrap();
    let inventory = store.host_inventory(&id).await.unwrap();
    assert_eq!(inventory.users, vec!["alice".to_string()]);
    assert_eq!(inventory.clients, vec!["cursor".to_string()]);
    assert!(inventory.findings.iter().all(|f| !f.server_id.is_empty()));
}

/// One report naming a server, source or user twice: the last one wins, as if applied in order.
async fn duplicate_ids_in_one_report_keep_the_last(store: DynStore) {
    let id = enrolled(&store).await;
    let mut twice = server("a", "npx second");
    twice.credentials.push(twice.credentials[0].clone());
    let mut report = support::snapshot(vec![server("a", "npx first"), twice]);
    report.users.push(report.users[0].clone());
    report.sources.push(report.sources[0].clone());
    store
        .ingest(&id, &Report { sequence: 1, base_sequence: 0, body: ReportBody::Full(report), policy: None }, NOW)
        .await
        .unwrap();
    let inventory = store.host_inventory(&id).await.unwrap();
    assert_eq!(inventory.servers.len(), 1);
    assert_eq!(inventory.servers[0].command, "npx second");
    assert_eq!(inventory.credentials.len(), 1);
    assert_eq!(inventory.users.len(), 1);
    assert_eq!(inventory.source_paths.len(), 1);

    let step = InventoryDelta { upserted_servers: vec![server("b", "one"), server("b", "two")], ..Default::default() };
    store.ingest(&id, &delta(2, 1, step), NOW + 1).await.unwrap();
    let inventory = store.host_inventory(&id).await.unwrap();
    assert_eq!(inventory.servers.iter().map(|s| s.command.as_str()).collect::<Vec<_>>(), ["npx second", "two"]);
}

/// Rows are written in multi-row statements of a bounded size; a host with more servers than
/// one statement holds is stored whole, and a full snapshot without them removes them all.
async fn snapshot_larger_than_one_statement_is_stored_whole(store: DynStore) {
    let id = enrolled(&store).await;
    let many: Vec<McpServer> = (0..1_100).map(|n| server(&format!("s{n:04}"), "npx")).collect();
    store.ingest(&id, &full(1, many), NOW).await.unwrap();
    let inventory = store.host_inventory(&id).await.unwrap();
    assert_eq!((inventory.servers.len(), inventory.credentials.len(), inventory.findings.len()), (1_100, 1_100, 1_100));
    assert_eq!(store.change_events(&id).await.unwrap().len(), 1_100);
    store.ingest(&id, &full(2, vec![server("s0000", "npx")]), NOW + 1).await.unwrap();
    let inventory = store.host_inventory(&id).await.unwrap();
    assert_eq!((inventory.servers.len(), inventory.credentials.len(), inventory.findings.len()), (1, 1, 1));
    assert_eq!(store.change_events(&id).await.unwrap().len(), 2_199);
}

/// Regression: a sequence above i64::MAX was stored clamped, so the report could apply twice.
/// The store refuses it (the gRPC layer refuses it earlier still) and changes nothing.
async fn sequence_above_i64_is_refused_not_clamped(store: DynStore) {
    let id = enrolled(&store).await;
    store.ingest(&id, &full(1, vec![server("a", "npx")]), NOW).await.unwrap();
    for sequence in [1u64 << 63, u64::MAX] {
        let refused = store.ingest(&id, &full(sequence, vec![server("b", "npx")]), NOW + 1).await;
        assert!(matches!(refused, Err(StoreError::SequenceOutOfRange(s)) if s == sequence), "{refused:?}");
    }
    assert_eq!(store.agent(&id).await.unwrap().unwrap().last_sequence, 1);
    let inventory = store.host_inventory(&id).await.unwrap();
    assert_eq!(inventory.servers.iter().map(|s| s.server_id.as_str()).collect::<Vec<_>>(), ["a"]);
    let largest = i64::MAX.unsigned_abs();
    let outcome = store.ingest(&id, &full(largest, vec![server("c", "npx")]), NOW + 2).await.unwrap();
    assert_eq!((outcome.decision, outcome.acked_sequence), (Decision::Apply, largest));
    assert_eq!(store.agent(&id).await.unwrap().unwrap().last_sequence, largest, "stored exactly");
}

/// Regression: a snapshot of more than ~32,766 servers failed forever on SQLite ("too many SQL
/// variables": the read-model step named every touched server in one statement), and delta
/// statements listing ids had the same unbounded shape. 40,000 servers (more than PostgreSQL's
/// 65,535 bind parameters would allow in one statement of two columns) go in as a full snapshot
/// and as a delta naming every one of them, and are read back; the delta also lists 70,000
/// removed source paths, past PostgreSQL's limit for one statement.
async fn snapshot_of_forty_thousand_servers_is_stored_and_read_back(store: DynStore) {
    const SERVERS: usize = 40_000;
    let id = enrolled(&store).await;
    let many: Vec<McpServer> = (0..SERVERS).map(|n| server(&format!("s{n:05}"), "npx")).collect();
    store.ingest(&id, &full(1, many.clone()), NOW).await.unwrap();
    let inventory = store.host_inventory(&id).await.unwrap();
    assert_eq!(
        (inventory.servers.len(), inventory.credentials.len(), inventory.findings.len()),
        (SERVERS, SERVERS, SERVERS)
    );
    assert_eq!(inventory.servers[SERVERS - 1].server_id, format!("s{:05}", SERVERS - 1));
    let page = store
        .endpoints(&muster_control_plane::store::read::EndpointQuery { online_since: NOW, ..Default::default() })
        .await
        .unwrap();
    assert_eq!((page.items[0].servers, page.items[0].open_findings), (SERVERS as i64, SERVERS as i64));

    // A delta naming every server (one changed, the rest unchanged) and more removed source paths
    // than PostgreSQL takes parameters in one statement.
    let mut upserted = many.clone();
    upserted[7].command = "npx changed".into();
    let step = InventoryDelta {
        upserted_servers: upserted,
        removed_source_paths: (0..70_000).map(|n| format!("/nowhere/{n}.json")).collect(),
        ..Default::default()
    };
    let outcome = store.ingest(&id, &delta(2, 1, step), NOW + 1).await.unwrap();
    assert_eq!(outcome.decision, Decision::Apply);
    let inventory = store.host_inventory(&id).await.unwrap();
    assert_eq!(inventory.servers.len(), SERVERS);
    assert_eq!(inventory.servers[7].command, "npx changed");
    assert!(inventory.servers.iter().all(|s| s.last_seen_at == NOW + 1), "unchanged servers were touched");
    let events = store.change_events(&id).await.unwrap();
    assert_eq!(events.len(), SERVERS + 1);
    assert_eq!(events[SERVERS].kind, ChangeKind::Changed);

    // A delta removing them all.
    let step = InventoryDelta { removed_server_ids: many.iter().map(|s| s.id.clone()).collect(), ..Default::default() };
    store.ingest(&id, &delta(3, 2, step), NOW + 2).await.unwrap();
    let inventory = store.host_inventory(&id).await.unwrap();
    assert_eq!((inventory.servers.len(), inventory.credentials.len(), inventory.findings.len()), (0, 0, 0));
}

/// A renewal keeps the replaced certificate as the previous one until the new one is confirmed;
/// an unconfirmed renewal renewed again keeps the certificate still in use as the previous one.
async fn renewal_keeps_the_previous_certificate_until_confirmed(store: DynStore) {
    let id = enrolled(&store).await;
    let certs = |store: DynStore, id: String| async move {
        let agent = store.agent(&id).await.unwrap().unwrap();
        (agent.cert_serial, agent.previous_cert_serial)
    };
    assert_eq!(certs(store.clone(), id.clone()).await, ("01ab".to_string(), None));
    assert!(!store.confirm_agent_cert(&id, "01ab").await.unwrap(), "nothing pending");
    store.renew_agent_cert(&id, "02cd", NOW + 60 * 86400).await.unwrap();
    assert_eq!(certs(store.clone(), id.clone()).await, ("02cd".to_string(), Some("01ab".to_string())));
    // Renewed again before the first renewal was used: the certificate in use stays accepted.
    store.renew_agent_cert(&id, "03ef", NOW + 60 * 86400).await.unwrap();
    assert_eq!(certs(store.clone(), id.clone()).await, ("03ef".to_string(), Some("01ab".to_string())));
    assert!(!store.confirm_agent_cert(&id, "02cd").await.unwrap(), "only the current certificate confirms");
    assert!(store.confirm_agent_cert(&id, "03ef").await.unwrap());
    assert_eq!(certs(store.clone(), id.clone()).await, ("03ef".to_string(), None));
    assert!(!store.confirm_agent_cert(&id, "03ef").await.unwrap());
    store.renew_agent_cert(&id, "04aa", NOW + 90 * 86400).await.unwrap();
    assert_eq!(certs(store.clone(), id.clone()).await, ("04aa".to_string(), Some("03ef".to_string())));
}
