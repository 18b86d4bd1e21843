//! Conformance of the exports-and-webhooks storage ([`ExportStore`]): the same cases on SQLite
//! (temp dir) and PostgreSQL (a fresh database on `MUSTER_TEST_POSTGRES_URL`, dropped afterwards),
//! in the manner of `store_conformance.rs`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use muster_control_plane::enroll::{create_token, hash_token};
use muster_control_plane::ingest::{Report, ReportBody};
use muster_control_plane::store::exports::{DeliveryAttempt, DeliveryStatus, NewWebhook};
use muster_control_plane::store::{DynStore, NewAgent};
use muster_proto::v1::{Finding, Package};
use support::{server, snapshot};

const NOW: i64 = 1_800_000_000;

use support::{conformance_suite, run_postgres, run_sqlite};

conformance_suite!(
    server_details_and_findings_come_back_as_sent,
    webhooks_are_stored_listed_and_deleted_with_their_log,
    delivery_log_keeps_every_attempt_in_order,
    notified_findings_report_only_new_keys_and_forget_gone_ones,
);

async fn enrolled(store: &DynStore, seed: &str) -> String {
    let token = create_token(store.as_ref(), 1, support::DAY, NOW).await.unwrap();
    let id = format!("00000000-0000-4000-8000-{seed:0>12}");
    let agent = NewAgent {
        id: id.clone(),
        hostname: "laptop-1".into(),
        cert_serial: "01".into(),
        cert_not_after: NOW + 86400,
        agent_version: "0.1.0".into(),
        enrolled_at: NOW,
    };
    store.enroll_agent(&hash_token(&token.token), NOW, &agent).await.unwrap();
    id
}

async fn server_details_and_findings_come_back_as_sent(store: DynStore) {
    let agent = enrolled(&store, "a1").await;
    let mut b = server("b", "npx");
    b.package = Some(Package { ecosystem: 1, name: "@acme/mcp".into(), version: Some("1.2.3".into()), pinned: true });
    let a = server("a", "uvx");
    let mut snap = snapshot(vec![b.clone(), a.clone()]);
    snap.findings.push(Finding {
        id: "MUSTER-TRIFECTA".into(),
        severity: 5,
        owasp: "MCP03".into(),
        message: "lethal trifecta".into(),
        server_ids: vec!["a".into(), "b".into()],
        client: "cursor".into(),
        user: "alice".into(),
    });
    let report = Report { sequence: 1, base_sequence: 0, body: ReportBody::Full(snap), policy: None };
    store.ingest(&agent, &report, NOW).await.unwrap();

    let details = store.server_details(&agent).await.unwrap();
    assert_eq!(details, vec![a, b], "ordered by id, byte-for-byte the stored messages");
    let findings = store.agent_findings(&agent).await.unwrap();
    assert_eq!(findings.len(), 3);
    let host_level = &findings[0];
    assert_eq!(
        (host_level.server_id.as_str(), host_level.finding_id.as_str(), host_level.severity, host_level.owasp.as_str()),
        ("", "MUSTER-TRIFECTA", 5, "MCP03")
    );
    assert_eq!(host_level.server_ids, vec!["a".to_string(), "b".to_string()]);
    assert_eq!((host_level.client.as_str(), host_level.user.as_str()), ("cursor", "alice"));
    assert_eq!((findings[1].server_id.as_str(), findings[2].server_id.as_str()), ("a", "b"));
    assert!(store.server_details("unknown-agent").await.unwrap().is_empty());
}

fn webhook(id: &str, created_at: i64) -> NewWebhook {
    NewWebhook {
        id: id.into(),
        url: format!("https://hooks.example.test/{id}"),
        secret: format!("whsec_{id}_secret"),
        min_severity: 4,
        created_at,
    }
}

fn attempt(endpoint: &str, n: u32, status: DeliveryStatus) -> DeliveryAttempt {
    DeliveryAttempt {
        endpoint_id: endpoint.into(),
        event_id: "ev-1".into(),
        attempt: n,
        status,
        response_code: (status != DeliveryStatus::Retrying || n > 1)
            .then_some(if status == DeliveryStatus::Delivered { 200 } else { 503 }),
        latency_ms: u64::from(n) * 10,
        error: if status == DeliveryStatus::Delivered { String::new() } else { "http status 503".into() },
        attempted_at: NOW + i64::from(n),
        next_retry_at: (status == DeliveryStatus::Retrying).then_some(NOW + 100 * i64::from(n)),
    }
}

async fn webhooks_are_stored_listed_and_deleted_with_their_log(store: DynStore) {
    store.create_webhook(&webhook("w2", NOW + 1)).await.unwrap();
    store.create_webhook(&webhook("w1", NOW)).await.unwrap();
    let listed = store.list_webhooks().await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, vec!["w1", "w2"], "ordered by creation");
    assert_eq!(listed[0].secret, "whsec_w1_secret");
    assert!(listed[0].enabled);
    assert_eq!(listed[0].min_severity, 4);
    assert!(!format!("{listed:?}").contains("whsec_"), "Debug must not show secrets");
    assert!(store.create_webhook(&webhook("w1", NOW)).await.is_err(), "ids are unique");

    store.record_delivery(&attempt("w1", 1, DeliveryStatus::Delivered)).await.unwrap();
    assert!(store.delete_webhook("w1").await.unwrap());
    assert!(!store.delete_webhook("w1").await.unwrap(), "deleting twice reports nothing to do");
    assert!(store.list_deliveries("w1", 10).await.unwrap().is_empty(), "the log goes with its endpoint");
    assert_eq!(store.list_webhooks().await.unwrap().len(), 1);
}

async fn delivery_log_keeps_every_attempt_in_order(store: DynStore) {
    store.create_webhook(&webhook("w", NOW)).await.unwrap();
    let sent = vec![
        attempt("w", 1, DeliveryStatus::Retrying),
        attempt("w", 2, DeliveryStatus::Retrying),
        attempt("w", 3, DeliveryStatus::Delivered),
    ];
    for row in &sent {
        store.record_delivery(row).await.unwrap();
    }
    assert_eq!(store.list_deliveries("w", 10).await.unwrap(), sent);
    assert_eq!(store.list_deliveries("w", 2).await.unwrap(), sent[1..].to_vec(), "the latest, oldest first");
    assert!(store.list_deliveries("other", 10).await.unwrap().is_empty());
}

async fn notified_findings_report_only_new_keys_and_forget_gone_ones(store: DynStore) {
    let agent = enrolled(&store, "b1").await;
    let other = enrolled(&store, "b2").await;
    let keys = |list: &[&str]| list.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    assert_eq!(store.sync_notified_findings(&agent, &keys(&["k1", "k2"]), NOW).await.unwrap(), keys(&["k1", "k2"]));
    assert!(store.sync_notified_findings(&agent, &keys(&["k2", "k1"]), NOW).await.unwrap().is_empty());
    assert_eq!(
        store.sync_notified_findings(&other, &keys(&["k1"]), NOW).await.unwrap(),
        keys(&["k1"]),
        "keys are per agent"
    );
    // k1 goes away, k3 appears.
    assert_eq!(store.sync_notified_findings(&agent, &keys(&["k2", "k3"]), NOW).await.unwrap(), keys(&["k3"]));
    // k1 comes back: new again.
    assert_eq!(store.sync_notified_findings(&agent, &keys(&["k1", "k2", "k3"]), NOW).await.unwrap(), keys(&["k1"]));
    assert!(store.sync_notified_findings(&agent, &[], NOW).await.unwrap().is_empty());
    assert_eq!(
        store.sync_notified_findings(&agent, &keys(&["k2", "k2"]), NOW).await.unwrap(),
        keys(&["k2"]),
        "duplicates once"
    );
}
