//! Conformance suite for the read models (`store::read`): every case runs on SQLite (temp dir)
//! and on PostgreSQL (a fresh database on `MUSTER_TEST_POSTGRES_URL`, dropped afterwards), through
//! the public `Store` trait only, with data put in by real ingest.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;

use muster_control_plane::enroll::{create_token, hash_token};
use muster_control_plane::ingest::{ChangeKind, Report, ReportBody};
use muster_control_plane::store::read::{
    ActivityQuery, AgentQuery, Cursor, DecisionKind, EndpointQuery, EndpointSort, FindingKey, FindingQuery,
    FindingStateFilter, FingerprintQuery, FingerprintReuse, GroupKind, ServerGroupQuery,
};
use muster_control_plane::store::{DynStore, NewAgent, StoreError};
use muster_control_plane::testing::TestDatabase;
use muster_proto::v1::{
    AuthPosture, ConfigSource, Credential, CredentialSource, Finding, Host, InventoryDelta, InventorySnapshot,
    McpServer, OsUser, Package, RemoteAuth, RemoteEndpoint, Transport,
};

const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

mod support;

use support::{conformance_suite, run_postgres, run_sqlite};

conformance_suite!(
    overview_counts_online_secrets_findings_and_keeps_a_daily_trend,
    services_count_servers_endpoints_users_and_auth_modes,
    server_groups_by_package_and_remote_host_with_versions_and_advisories,
    endpoints_search_filter_and_every_sort_pages_without_gaps_or_repeats,
    endpoint_detail_lists_servers_findings_and_history,
    endpoint_tags_are_stored_listed_filtered_and_follow_deltas,
    credentials_group_literal_secrets_and_find_shared_fingerprints,
    findings_filter_by_severity_owasp_service_client_and_user,
    findings_filter_by_host_rule_and_text_ignoring_case_and_carry_their_fix,
    waived_finding_stops_counting_until_expiry_and_survives_reingest,
    one_waiver_applies_to_one_host_wide_finding_only,
    advisory_findings_of_one_server_are_decided_one_by_one,
    activity_filters_and_pages_newest_first,
    activity_says_what_changed_records_findings_and_names_the_scanned_host,
    agents_page_and_versions,
    garbage_cursor_is_refused,
    rollups_follow_every_report_and_agree_with_a_rebuild,
    drill_down_finds_endpoints_by_service_and_secrets_reused_within_a_host,
    remote_auth_posture_is_stored_counted_filtered_and_follows_deltas,
);

// ---------------------------------------------------------------------------------------------
// Builders

struct Srv {
    id: String,
    client: String,
    user: String,
    service: String,
    package: Option<(i32, String, Option<String>, bool)>,
    remote: Option<String>,
    auth: Option<RemoteAuth>,
    /// Reached through a local bridge (`npx mcp-remote URL`): stdio, with the remote endpoint.
    bridge: bool,
    credentials: Vec<(String, CredentialSource, String, String)>,
    findings: Vec<(String, i32, String, String)>,
}

fn srv(id: &str) -> Srv {
    Srv {
        id: id.into(),
        client: "cursor".into(),
        user: "alice".into(),
        service: String::new(),
        package: None,
        remote: None,
        auth: None,
        bridge: false,
        credentials: vec![],
        findings: vec![],
    }
}

impl Srv {
    fn client(mut self, client: &str) -> Self {
        self.client = client.into();
        self
    }
    fn user(mut self, user: &str) -> Self {
        self.user = user.into();
        self
    }
    fn service(mut self, service: &str) -> Self {
        self.service = service.into();
        self
    }
    fn npm(mut self, name: &str, version: Option<&str>, pinned: bool) -> Self {
        self.package = Some((1, name.into(), version.map(str::to_string), pinned));
        self
    }
    fn remote(mut self, host: &str) -> Self {
        self.remote = Some(host.into());
        self
    }
    /// The remote's authentication as the agent reported it.
    fn posture(mut self, posture: AuthPosture, verified: bool, missing: &[&str], reason: &str) -> Self {
        self.auth = Some(RemoteAuth {
            posture: posture as i32,
            verified,
            missing: missing.iter().map(|m| m.to_string()).collect(),
            reason: reason.into(),
            ..Default::default()
        });
        self
    }
    /// (location, source, fingerprint, provider)
    fn credential(mut self, location: &str, source: CredentialSource, fingerprint: &str, provider: &str) -> Self {
        self.credentials.push((location.into(), source, fingerprint.into(), provider.into()));
        self
    }
    /// (id, severity, owasp, message)
    fn finding(mut self, id: &str, severity: i32, owasp: &str, message: &str) -> Self {
        self.findings.push((id.into(), severity, owasp.into(), message.into()));
        self
    }
    fn build(&self) -> McpServer {
        McpServer {
            id: self.id.clone(),
            name: format!("server-{}", self.id),
            client: self.client.clone(),
            user: self.user.clone(),
            config_path: format!("/home/{}/.{}/mcp.json", self.user, self.client),
            command: if self.remote.is_some() && !self.bridge { String::new() } else { "npx".into() },
            url: self.remote.as_ref().filter(|_| !self.bridge).map(|h| format!("https://{h}/mcp")).unwrap_or_default(),
            transport: if self.remote.is_some() && !self.bridge {
                Transport::Http as i32
            } else {
                Transport::Stdio as i32
            },
            service: self.service.clone(),
            package: self.package.as_ref().map(|(ecosystem, name, version, pinned)| Package {
                ecosystem: *ecosystem,
                name: name.clone(),
                version: version.clone(),
                pinned: *pinned,
            }),
            endpoint: self.remote.as_ref().map(|h| RemoteEndpoint {
                host: h.clone(),
                auth: self.auth.clone(),
                ..Default::default()
            }),
            credentials: self
                .credentials
                .iter()
                .map(|(location, source, fingerprint, provider)| Credential {
                    location: location.clone(),
                    kind: format!("{provider}-token"),
                    source: *source as i32,
                    fingerprint: fingerprint.clone(),
                    provider: provider.clone(),
                    ..Default::default()
                })
                .collect(),
            findings: self
                .findings
                .iter()
                .map(|(id, severity, owasp, message)| Finding {
                    id: id.clone(),
                    severity: *severity,
                    owasp: owasp.clone(),
                    message: message.clone(),
                    server_ids: vec![self.id.clone()],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}

struct Endpoint {
    hostname: String,
    os: i32,
    users: Vec<String>,
    servers: Vec<Srv>,
}

fn endpoint(hostname: &str, os: i32, users: &[&str], servers: Vec<Srv>) -> Endpoint {
    Endpoint { hostname: hostname.into(), os, users: users.iter().map(|u| u.to_string()).collect(), servers }
}

fn snapshot(endpoint: &Endpoint) -> InventorySnapshot {
    let servers: Vec<McpServer> = endpoint.servers.iter().map(Srv::build).collect();
    let clients: BTreeSet<&str> = servers.iter().map(|s| s.client.as_str()).collect();
    InventorySnapshot {
        host: Some(Host { hostname: endpoint.hostname.clone(), os: endpoint.os, ..Default::default() }),
        users: endpoint
            .users
            .iter()
            .map(|u| OsUser { name: u.clone(), uid: Some(1000), home: format!("/home/{u}") })
            .collect(),
        sources: clients
            .iter()
            .map(|c| ConfigSource { path: format!("/etc/{c}.json"), client: c.to_string(), ..Default::default() })
            .collect(),
        servers,
        scanned_at_unix: NOW,
        ..Default::default()
    }
}

fn full(sequence: u64, endpoint: &Endpoint) -> Report {
    Report { sequence, base_sequence: 0, body: ReportBody::Full(snapshot(endpoint)), policy: None }
}

/// Enrolls an agent and ingests `endpoint` as its first full snapshot at `at`.
async fn ingest_endpoint(store: &DynStore, endpoint: &Endpoint, at: i64) -> String {
    let token =
        create_token(store.as_ref(), 1, std::time::Duration::from_secs(DAY as u64), NOW - 60 * DAY).await.unwrap();
    let id = format!("00000000-0000-4000-8000-{:0>12}", &token.id[..12.min(token.id.len())]);
    let agent = NewAgent {
        id: id.clone(),
        hostname: endpoint.hostname.clone(),
        cert_serial: "01".into(),
        cert_not_after: NOW + 30 * DAY,
        agent_version: "0.1.0".into(),
        enrolled_at: NOW - 60 * DAY,
    };
    store.enroll_agent(&hash_token(&token.token), NOW - 60 * DAY, &agent).await.unwrap();
    store.ingest(&id, &full(1, endpoint), at).await.unwrap();
    id
}

fn key(agent_id: &str, server_id: &str, finding_id: &str) -> FindingKey {
    FindingKey {
        agent_id: agent_id.into(),
        server_id: server_id.into(),
        finding_id: finding_id.into(),
        subject: String::new(),
    }
}

/// Follows cursors to the end, asserting every page is at most `limit` long.
async fn all_endpoint_pages(store: &DynStore, mut query: EndpointQuery) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..100 {
        let page = store.endpoints(&query).await.unwrap();
        assert!(page.items.len() <= query.limit as usize);
        seen.extend(page.items.iter().map(|e| e.hostname.clone()));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return seen,
        }
    }
    panic!("pagination did not end");
}

// ---------------------------------------------------------------------------------------------
// Cases

async fn overview_counts_online_secrets_findings_and_keeps_a_daily_trend(store: DynStore) {
    let online = endpoint(
        "laptop-a",
        1,
        &["alice"],
        vec![
            srv("a1").service("github").credential("env:GH", CredentialSource::Literal, "f1", "github").finding(
                "MUSTER-SECRET-ENV",
                4,
                "MCP01",
                "literal",
            ),
            srv("a2").client("claude-code").finding("MUSTER-PKG-MALICIOUS", 5, "MCP04", "bad: MAL-2025-1 x"),
        ],
    );
    let offline = endpoint(
        "laptop-b",
        2,
        &["bob"],
        vec![srv("b1").credential("env:X", CredentialSource::Reference, "f2", "aws").finding("LOW", 2, "MCP02", "m")],
    );
    ingest_endpoint(&store, &online, NOW).await;
    ingest_endpoint(&store, &offline, NOW - 3 * DAY).await;

    let overview = store.overview(NOW, NOW - 600).await.unwrap();
    assert_eq!((overview.endpoints, overview.endpoints_online, overview.endpoints_offline), (2, 1, 1));
    assert_eq!((overview.servers, overview.clients, overview.literal_secrets), (3, 3, 1));
    assert_eq!((overview.findings_high, overview.findings_critical), (1, 1));
    // Services are live: the report is counted before any refresh ran.
    assert_eq!((overview.services, overview.trend.len(), overview.rollup_refreshed_at), (1, 0, None));

    store.refresh_rollups(NOW - 2 * DAY, NOW - 2 * DAY - 600).await.unwrap();
    store.refresh_rollups(NOW, NOW - 600).await.unwrap();
    store.refresh_rollups(NOW + 60, NOW - 540).await.unwrap();
    let overview = store.overview(NOW + 60, NOW - 540).await.unwrap();
    assert_eq!(overview.services, 1);
    assert_eq!(overview.rollup_refreshed_at, Some(NOW + 60));
    let days: Vec<i64> = overview.trend.iter().map(|p| p.day).collect();
    let today = NOW - NOW % DAY;
    assert_eq!(days, vec![today - 2 * DAY, today], "one point per day, today's overwritten");
    assert_eq!(overview.trend[1].servers, 3);
    assert_eq!(overview.trend[1].findings_critical, 1);
    // 40 days on, both points have left the 30-day window.
    assert!(store.overview(NOW + 40 * DAY, NOW).await.unwrap().trend.is_empty());
}

async fn services_count_servers_endpoints_users_and_auth_modes(store: DynStore) {
    ingest_endpoint(
        &store,
        &endpoint(
            "h1",
            1,
            &["alice", "bob"],
            vec![
                srv("1").service("github").credential("env:GH", CredentialSource::Literal, "f1", "github"),
                srv("2").service("github").user("bob").credential("env:GH", CredentialSource::Reference, "", "github"),
                srv("3").service("linear").remote("mcp.linear.app"),
                srv("4"),
            ],
        ),
        NOW,
    )
    .await;
    ingest_endpoint(&store, &endpoint("h2", 1, &["alice"], vec![srv("1").service("github")]), NOW).await;
    // No refresh: the rollups are live.
    let services = store.services().await.unwrap();
    let github = &services[0];
    assert_eq!(github.service, "github");
    assert_eq!((github.servers, github.endpoints, github.users), (3, 2, 3));
    assert_eq!((github.auth.literal, github.auth.reference, github.auth.oauth, github.auth.none), (1, 1, 0, 1));
    let linear = &services[1];
    assert_eq!((linear.service.as_str(), linear.servers, linear.auth.oauth), ("linear", 1, 1));
}

async fn server_groups_by_package_and_remote_host_with_versions_and_advisories(store: DynStore) {
    let vulnerable = "server \"gh\" runs @x/gh at version 1.0.0: GHSA-aaaa-bbbb-cccc prototype pollution";
    ingest_endpoint(
        &store,
        &endpoint(
            "h1",
            1,
            &["alice"],
            vec![
                srv("1").npm("@x/gh", Some("1.0.0"), true).finding("MUSTER-PKG-VULNERABLE", 4, "MCP04", vulnerable),
                srv("2").npm("@x/gh", None, false),
                srv("3").npm("@x/fs", Some("2.0.0"), true),
                srv("4").remote("API.Example.com"),
            ],
        ),
        NOW,
    )
    .await;
    ingest_endpoint(&store, &endpoint("h2", 1, &["bob"], vec![srv("1").npm("@x/gh", Some("1.1.0"), true)]), NOW).await;

    let packages =
        store.server_groups(&ServerGroupQuery { kind: Some(GroupKind::Package), ..Default::default() }).await.unwrap();
    let gh = &packages.items[0];
    assert_eq!((gh.name.as_str(), gh.ecosystem, gh.servers, gh.endpoints), ("@x/gh", 1, 3, 2));
    assert_eq!((gh.pinned_servers, gh.unpinned_servers), (2, 1));
    assert_eq!(gh.versions, vec!["1.0.0".to_string(), "1.1.0".to_string()]);
    assert_eq!(gh.advisories, vec!["GHSA-aaaa-bbbb-cccc".to_string()]);
    assert_eq!(packages.items.len(), 2);

    let remote =
        store.server_groups(&ServerGroupQuery { kind: Some(GroupKind::Remote), ..Default::default() }).await.unwrap();
    assert_eq!(remote.items.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["api.example.com"]);
    let advised = store.server_groups(&ServerGroupQuery { with_advisories: true, ..Default::default() }).await.unwrap();
    assert_eq!(advised.items.len(), 1);
    let named = store
        .server_groups(&ServerGroupQuery { name_contains: Some("FS".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(named.items.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["@x/fs"]);

    // Page one group at a time: every group exactly once, biggest first.
    let mut query = ServerGroupQuery { limit: 1, ..Default::default() };
    let mut names = Vec::new();
    loop {
        let page = store.server_groups(&query).await.unwrap();
        names.extend(page.items.iter().map(|g| g.name.clone()));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(names.len(), 3);
    assert_eq!(names[0], "@x/gh");
    assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), 3);
}

async fn endpoints_search_filter_and_every_sort_pages_without_gaps_or_repeats(store: DynStore) {
    let crit = |id: &str| srv(id).finding("MUSTER-PKG-MALICIOUS", 5, "MCP04", "m");
    let high = |id: &str| srv(id).finding("MUSTER-SECRET-ENV", 4, "MCP01", "m");
    let specs = vec![
        (endpoint("Zeta", 1, &["zoe"], vec![crit("1"), high("2")]), NOW),
        (endpoint("alpha", 2, &["alice"], vec![high("1")]), NOW - 10),
        (endpoint("beta", 3, &["bob", "Carol"], vec![srv("1").client("claude-code")]), NOW - 20),
        (endpoint("gamma", 1, &["carol"], vec![crit("1")]), NOW - 5 * DAY),
        (endpoint("delta_1", 1, &["dave"], vec![]), NOW - 30),
        (endpoint("delta%2", 2, &["dave"], vec![high("1"), high("2")]), NOW - 40),
        (endpoint("epsilon", 1, &["eve"], vec![srv("1")]), NOW - 6 * DAY),
    ];
    for (spec, at) in &specs {
        ingest_endpoint(&store, spec, *at).await;
    }
    let base = EndpointQuery { online_since: NOW - 600, limit: 2, ..Default::default() };

    let by_name = all_endpoint_pages(&store, base.clone()).await;
    assert_eq!(by_name, ["alpha", "beta", "delta%2", "delta_1", "epsilon", "gamma", "Zeta"]);
    let by_seen = all_endpoint_pages(&store, EndpointQuery { sort: EndpointSort::LastSeen, ..base.clone() }).await;
    assert_eq!(by_seen, ["Zeta", "alpha", "beta", "delta_1", "delta%2", "gamma", "epsilon"]);
    let by_risk = all_endpoint_pages(&store, EndpointQuery { sort: EndpointSort::Findings, ..base.clone() }).await;
    assert_eq!(&by_risk[..2], ["Zeta", "gamma"], "critical first, more findings first");
    assert_eq!(by_risk[2], "delta%2");
    assert_eq!(by_risk.len(), 7);

    let search = |text: &str| EndpointQuery { search: Some(text.into()), limit: 50, ..base.clone() };
    assert_eq!(all_endpoint_pages(&store, search("ZET")).await, ["Zeta"]);
    assert_eq!(all_endpoint_pages(&store, search("carol")).await, ["beta", "gamma"], "user names are searched");
    assert_eq!(all_endpoint_pages(&store, search("a_")).await, ["delta_1"], "_ is not a wildcard");
    assert_eq!(all_endpoint_pages(&store, search("a%")).await, ["delta%2"]);

    let filtered = |q: EndpointQuery| all_endpoint_pages(&store, EndpointQuery { limit: 50, ..q });
    assert_eq!(filtered(EndpointQuery { os: Some(2), ..base.clone() }).await, ["alpha", "delta%2"]);
    assert_eq!(filtered(EndpointQuery { user: Some("DAVE".into()), ..base.clone() }).await, ["delta%2", "delta_1"]);
    assert_eq!(filtered(EndpointQuery { client: Some("claude-code".into()), ..base.clone() }).await, ["beta"]);
    assert_eq!(filtered(EndpointQuery { min_severity: Some(5), ..base.clone() }).await, ["gamma", "Zeta"]);
    assert_eq!(
        filtered(EndpointQuery { online: Some(false), ..base.clone() }).await,
        ["epsilon", "gamma"],
        "seen before online_since"
    );
    assert_eq!(filtered(EndpointQuery { online: Some(true), os: Some(1), ..base.clone() }).await, ["delta_1", "Zeta"]);

    let first = store.endpoints(&EndpointQuery { limit: 50, ..base.clone() }).await.unwrap();
    let zeta = first.items.iter().find(|e| e.hostname == "Zeta").unwrap();
    assert_eq!((zeta.open_findings, zeta.findings_critical, zeta.findings_high, zeta.max_severity), (2, 1, 1, 5));
    assert_eq!((zeta.online, zeta.users.clone(), zeta.servers), (true, vec!["zoe".to_string()], 2));
}

async fn endpoint_tags_are_stored_listed_filtered_and_follow_deltas(store: DynStore) {
    let tagged = |hostname: &str, tags: &[&str]| {
        let mut snapshot = snapshot(&endpoint(hostname, 1, &["dev"], vec![srv("1")]));
        snapshot.host.as_mut().unwrap().tags = tags.iter().map(|t| t.to_string()).collect();
        snapshot
    };
    let mut ids = Vec::new();
    for (hostname, tags) in
        [("pay-1", &["team:payments", "ring/canary"][..]), ("pay-2", &["team:payments"]), ("web", &[])]
    {
        let id = ingest_endpoint(&store, &endpoint(hostname, 1, &["dev"], vec![]), NOW).await;
        let report =
            Report { sequence: 2, base_sequence: 0, body: ReportBody::Full(tagged(hostname, tags)), policy: None };
        store.ingest(&id, &report, NOW).await.unwrap();
        ids.push(id);
    }
    let base = EndpointQuery { online_since: NOW - 600, limit: 50, ..Default::default() };
    let page = store.endpoints(&base).await.unwrap();
    let tags: Vec<(&str, Vec<String>)> = page.items.iter().map(|e| (e.hostname.as_str(), e.tags.clone())).collect();
    assert_eq!(
        tags,
        [
            ("pay-1", vec!["team:payments".to_string(), "ring/canary".to_string()]),
            ("pay-2", vec!["team:payments".to_string()]),
            ("web", vec![])
        ],
        "in the order configured"
    );
    let by_tag = |tag: &str| EndpointQuery { tag: Some(tag.into()), ..base.clone() };
    assert_eq!(all_endpoint_pages(&store, by_tag("team:payments")).await, ["pay-1", "pay-2"]);
    assert_eq!(all_endpoint_pages(&store, by_tag("ring/canary")).await, ["pay-1"]);
    assert_eq!(all_endpoint_pages(&store, by_tag("team")).await, Vec::<String>::new(), "whole tags only");
    let inventory = store.host_inventory(&ids[0]).await.unwrap();
    assert_eq!(inventory.host.unwrap().tags, ["team:payments", "ring/canary"]);

    // IT retags a laptop: the delta carries the host, and the summary follows.
    let mut host = tagged("pay-1", &["team:web"]).host.unwrap();
    host.hostname = "pay-1".into();
    let step = InventoryDelta { host: Some(host), ..Default::default() };
    store
        .ingest(
            &ids[0],
            &Report { sequence: 3, base_sequence: 2, body: ReportBody::Delta(step), policy: None },
            NOW + 60,
        )
        .await
        .unwrap();
    let detail = store.endpoint_detail(&ids[0], NOW, NOW + 60).await.unwrap().expect("endpoint exists");
    assert_eq!(detail.endpoint.tags, ["team:web"]);
    assert_eq!(all_endpoint_pages(&store, by_tag("team:payments")).await, ["pay-2"]);
    // A snapshot without tags clears them.
    let report = Report { sequence: 3, base_sequence: 0, body: ReportBody::Full(tagged("pay-2", &[])), policy: None };
    store.ingest(&ids[1], &report, NOW + 60).await.unwrap();
    assert_eq!(all_endpoint_pages(&store, by_tag("team:payments")).await, Vec::<String>::new());
}

async fn endpoint_detail_lists_servers_findings_and_history(store: DynStore) {
    let spec = endpoint(
        "laptop-9",
        3,
        &["alice"],
        vec![
            srv("s1")
                .service("github")
                .npm("@x/gh", Some("1.0.0"), true)
                .credential("env:GH", CredentialSource::Literal, "f1", "github")
                .finding("MUSTER-SECRET-ENV", 4, "MCP01", "literal"),
            srv("s2").remote("mcp.example.com"),
        ],
    );
    let id = ingest_endpoint(&store, &spec, NOW).await;
    let step = InventoryDelta { removed_server_ids: vec!["s2".into()], ..Default::default() };
    store
        .ingest(&id, &Report { sequence: 2, base_sequence: 1, body: ReportBody::Delta(step), policy: None }, NOW + 60)
        .await
        .unwrap();

    let detail = store.endpoint_detail(&id, NOW, NOW + 60).await.unwrap().expect("endpoint exists");
    assert_eq!((detail.endpoint.hostname.as_str(), detail.endpoint.os, detail.endpoint.online), ("laptop-9", 3, true));
    assert_eq!(detail.endpoint.clients, vec!["cursor".to_string()]);
    assert_eq!(detail.servers.len(), 1);
    let server = &detail.servers[0];
    assert_eq!((server.service.as_str(), server.package_name.as_str(), server.pinned), ("github", "@x/gh", true));
    assert_eq!((server.auth.as_str(), server.literal_secrets), ("literal", 1));
    assert_eq!(detail.findings.len(), 1);
    assert_eq!(
        (detail.findings[0].service.as_str(), detail.findings[0].client.as_str(), detail.findings[0].user.as_str()),
        ("github", "cursor", "alice"),
        "a server finding inherits its server's service, client and user"
    );
    // Server events; findings appearing and resolving are in the history too (activity tests).
    let history: Vec<(String, ChangeKind)> = detail
        .history
        .iter()
        .filter(|e| !matches!(e.kind, ChangeKind::FindingAppeared | ChangeKind::FindingResolved))
        .map(|e| (e.server_id.clone(), e.kind))
        .collect();
    assert_eq!(
        history,
        vec![
            ("s2".into(), ChangeKind::Disappeared),
            ("s2".into(), ChangeKind::Appeared),
            ("s1".into(), ChangeKind::Appeared)
        ]
    );
    assert_eq!(detail.endpoint.servers, 1, "the summary follows deltas");
    assert!(store.endpoint_detail("nope", NOW, NOW).await.unwrap().is_none());
}

async fn credentials_group_literal_secrets_and_find_shared_fingerprints(store: DynStore) {
    let literal = CredentialSource::Literal;
    ingest_endpoint(
        &store,
        &endpoint(
            "h1",
            1,
            &["alice"],
            vec![
                srv("1")
                    .credential("env:GH", literal, "shared", "github")
                    .credential("arg:2", literal, "solo", "github"),
                srv("2").credential("header:Authorization", literal, "shared", "github"),
                srv("3").credential("env:AWS", CredentialSource::Reference, "ref", "aws"),
            ],
        ),
        NOW,
    )
    .await;
    ingest_endpoint(
        &store,
        &endpoint("h2", 1, &["bob"], vec![srv("1").credential("env:GH", literal, "shared", "github")]),
        NOW,
    )
    .await;
    ingest_endpoint(
        &store,
        &endpoint("h3", 1, &["eve"], vec![srv("1").credential("url", literal, "two", "slack")]),
        NOW,
    )
    .await;
    ingest_endpoint(
        &store,
        &endpoint("h4", 1, &["eve"], vec![srv("1").credential("url", literal, "two", "slack")]),
        NOW,
    )
    .await;

    let groups: Vec<(String, String, i64, i64)> = store
        .secret_groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.provider, g.location_type, g.secrets, g.endpoints))
        .collect();
    assert_eq!(
        groups,
        vec![
            ("github".into(), "env".into(), 2, 2),
            ("slack".into(), "url".into(), 2, 2),
            ("github".into(), "arg".into(), 1, 1),
            ("github".into(), "header".into(), 1, 1),
        ],
        "references are not literal secrets"
    );
    let shared = store.shared_fingerprints(&FingerprintQuery { limit: 1, ..Default::default() }).await.unwrap();
    assert_eq!(shared.items.len(), 1);
    assert_eq!((shared.items[0].fingerprint.as_str(), shared.items[0].hosts, shared.items[0].servers), ("two", 2, 2));
    let rest = store
        .shared_fingerprints(&FingerprintQuery { limit: 1, cursor: shared.next_cursor, ..Default::default() })
        .await
        .unwrap();
    assert_eq!((rest.items[0].fingerprint.as_str(), rest.items[0].hosts, rest.items[0].servers), ("shared", 2, 3));
    assert_eq!(rest.next_cursor, None, "single-host fingerprints are not listed");
    let slack = store
        .shared_fingerprints(&FingerprintQuery { provider: Some("slack".into()), min_hosts: 3, ..Default::default() })
        .await
        .unwrap();
    assert!(slack.items.is_empty());
}

async fn findings_filter_by_severity_owasp_service_client_and_user(store: DynStore) {
    ingest_endpoint(
        &store,
        &endpoint(
            "h1",
            1,
            &["alice", "bob"],
            vec![
                srv("1").service("github").finding("A", 5, "MCP04", "m").finding("B", 2, "MCP01", "m"),
                srv("2").client("vscode").user("bob").service("slack").finding("C", 4, "MCP01", "m"),
            ],
        ),
        NOW,
    )
    .await;
    let ids = |page: Vec<muster_control_plane::store::read::FindingView>| {
        page.into_iter().map(|f| f.key.finding_id).collect::<Vec<_>>()
    };
    let q = FindingQuery { now: NOW, ..Default::default() };
    assert_eq!(ids(store.findings(&q).await.unwrap().items), ["A", "C", "B"], "most severe first");
    let filter = |q: FindingQuery| {
        let store = store.clone();
        async move { ids(store.findings(&q).await.unwrap().items) }
    };
    assert_eq!(filter(FindingQuery { min_severity: Some(4), ..q.clone() }).await, ["A", "C"]);
    assert_eq!(filter(FindingQuery { owasp: Some("MCP01".into()), ..q.clone() }).await, ["C", "B"]);
    assert_eq!(filter(FindingQuery { service: Some("slack".into()), ..q.clone() }).await, ["C"]);
    assert_eq!(filter(FindingQuery { client: Some("cursor".into()), ..q.clone() }).await, ["A", "B"]);
    assert_eq!(filter(FindingQuery { user: Some("bob".into()), ..q.clone() }).await, ["C"]);
    let first = store.findings(&FindingQuery { limit: 2, ..q.clone() }).await.unwrap();
    let second = store.findings(&FindingQuery { limit: 2, cursor: first.next_cursor, ..q.clone() }).await.unwrap();
    assert_eq!(
        (ids(first.items), ids(second.items), second.next_cursor),
        (vec!["A".to_string(), "C".into()], vec!["B".to_string()], None)
    );
}

async fn findings_filter_by_host_rule_and_text_ignoring_case_and_carry_their_fix(store: DynStore) {
    let laptop = vec![
        srv("1").service("github").finding("MUSTER-SECRET-ENV", 3, "MCP01", "GitHub token in env GITHUB_TOKEN"),
        srv("2").user("Bob").finding("MUSTER-PKG-UNPINNED", 2, "MCP04", "unpinned npx package 50%_off"),
    ];
    ingest_endpoint(&store, &endpoint("Laptop-Ana", 1, &["alice", "Bob"], laptop), NOW).await;
    let other = vec![srv("3").finding("MUSTER-SECRET-ENV", 3, "MCP01", "Slack token in env")];
    ingest_endpoint(&store, &endpoint("ws-other", 1, &["alice"], other), NOW).await;
    let q = FindingQuery { now: NOW, ..Default::default() };
    let found = |q: FindingQuery| {
        let store = store.clone();
        async move {
            let mut items: Vec<String> = store
                .findings(&q)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|f| format!("{}:{}", f.hostname, f.key.finding_id))
                .collect();
            items.sort();
            items
        }
    };
    let (env_a, pkg_a, env_o) =
        ("Laptop-Ana:MUSTER-SECRET-ENV", "Laptop-Ana:MUSTER-PKG-UNPINNED", "ws-other:MUSTER-SECRET-ENV");
    assert_eq!(found(FindingQuery { host: Some("laptop-ANA".into()), ..q.clone() }).await, [pkg_a, env_a]);
    assert_eq!(found(FindingQuery { host: Some("ana".into()), ..q.clone() }).await, [pkg_a, env_a], "a substring");
    assert_eq!(found(FindingQuery { finding_id: Some("muster-secret-env".into()), ..q.clone() }).await, [env_a, env_o]);
    assert_eq!(found(FindingQuery { text: Some("github_TOKEN".into()), ..q.clone() }).await, [env_a]);
    assert_eq!(found(FindingQuery { text: Some("WS-OTHER".into()), ..q.clone() }).await, [env_o], "the hostname");
    assert_eq!(found(FindingQuery { text: Some("SERVER-2".into()), ..q.clone() }).await, [pkg_a], "the server name");
    assert_eq!(found(FindingQuery { text: Some("pkg-unpinned".into()), ..q.clone() }).await, [pkg_a], "the rule id");
    assert_eq!(found(FindingQuery { text: Some("50%_".into()), ..q.clone() }).await, [pkg_a]);
    assert!(found(FindingQuery { text: Some("0%x".into()), ..q.clone() }).await.is_empty(), "% is no wildcard");
    assert_eq!(found(FindingQuery { owasp: Some("mcp04".into()), ..q.clone() }).await, [pkg_a]);
    assert_eq!(found(FindingQuery { service: Some("GitHub".into()), ..q.clone() }).await, [env_a]);
    assert_eq!(found(FindingQuery { client: Some("CURSOR".into()), ..q.clone() }).await.len(), 3);
    assert_eq!(found(FindingQuery { user: Some("bob".into()), ..q.clone() }).await, [pkg_a]);
    assert_eq!(found(FindingQuery { user: Some("ALICE".into()), ..q.clone() }).await, [env_a, env_o]);

    // Each finding names its server, config file, and the catalog's title and fix.
    let items = store.findings(&FindingQuery { host: Some("laptop".into()), ..q.clone() }).await.unwrap().items;
    let env = items.iter().find(|f| f.key.finding_id == "MUSTER-SECRET-ENV").unwrap();
    assert_eq!((env.server_name.as_str(), env.config_path.as_str()), ("server-1", "/home/alice/.cursor/mcp.json"));
    assert_eq!(env.remediation, muster_control_plane::finding_catalog::remediation("MUSTER-SECRET-ENV"));
    assert!(env.remediation.contains("rotate") && !env.title.is_empty());
    // One finding by its full key: what the finding page asks for.
    let key = &env.key;
    let exact = FindingQuery {
        agent_id: Some(key.agent_id.clone()),
        server_id: Some(key.server_id.clone()),
        finding_id: Some(key.finding_id.clone()),
        subject: Some(key.subject.clone()),
        limit: 1,
        ..q.clone()
    };
    assert_eq!(found(exact).await, [env_a]);
}

async fn waived_finding_stops_counting_until_expiry_and_survives_reingest(store: DynStore) {
    let spec = endpoint(
        "h1",
        1,
        &["alice"],
        vec![srv("1").finding("CRIT", 5, "MCP04", "m"), srv("2").finding("HIGH", 4, "MCP01", "m")],
    );
    let id = ingest_endpoint(&store, &spec, NOW).await;
    let crit = key(&id, "1", "CRIT");
    assert!(
        store.decide_finding(&crit, DecisionKind::Waived, "vendor fix due", Some(NOW + DAY), "ana", NOW).await.unwrap()
    );
    assert!(
        store
            .decide_finding(&key(&id, "2", "HIGH"), DecisionKind::Acknowledged, "on it", None, "ana", NOW)
            .await
            .unwrap()
    );
    assert!(!store.decide_finding(&key(&id, "9", "CRIT"), DecisionKind::Waived, "x", None, "ana", NOW).await.unwrap());

    let overview = store.overview(NOW, NOW).await.unwrap();
    assert_eq!(
        (overview.findings_critical, overview.findings_high),
        (0, 1),
        "waived stops counting, acknowledged counts"
    );
    let row = &store.endpoints(&EndpointQuery { online_since: NOW, ..Default::default() }).await.unwrap().items[0];
    assert_eq!((row.open_findings, row.max_severity), (1, 4));
    let waived = store
        .findings(&FindingQuery { state: Some(FindingStateFilter::Waived), now: NOW, ..Default::default() })
        .await
        .unwrap();
    let decision = waived.items[0].decision.clone().unwrap();
    assert_eq!(
        (
            decision.kind,
            decision.reason.as_str(),
            decision.decided_by.as_str(),
            decision.decided_at,
            decision.expires_at
        ),
        (DecisionKind::Waived, "vendor fix due", "ana", NOW, Some(NOW + DAY))
    );
    let state_ids = |state| {
        let store = store.clone();
        async move {
            store
                .findings(&FindingQuery { state: Some(state), now: NOW, ..Default::default() })
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|f| f.key.finding_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(state_ids(FindingStateFilter::Open).await, Vec::<String>::new());
    assert_eq!(state_ids(FindingStateFilter::Counting).await, ["HIGH"]);
    assert_eq!(state_ids(FindingStateFilter::Acknowledged).await, ["HIGH"]);

    // Re-ingest replaces finding rows; the decision is keyed by what survives.
    store.ingest(&id, &full(2, &spec), NOW + 10).await.unwrap();
    assert_eq!(store.overview(NOW + 10, NOW).await.unwrap().findings_critical, 0);

    // After expiry the rollup recounts the endpoint and the finding is open again.
    let stats = store.refresh_rollups(NOW + DAY + 1, NOW).await.unwrap();
    assert_eq!(stats.expired_waiver_endpoints, 1);
    assert_eq!(store.overview(NOW + DAY + 1, NOW).await.unwrap().findings_critical, 1);
    let open = store
        .findings(&FindingQuery { state: Some(FindingStateFilter::Open), now: NOW + DAY + 1, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(open.items.len(), 1);
    assert!(!open.items[0].decision.as_ref().unwrap().active);

    assert!(store.clear_finding_decision(&key(&id, "2", "HIGH"), NOW).await.unwrap());
    assert!(!store.clear_finding_decision(&key(&id, "2", "HIGH"), NOW).await.unwrap());
}

async fn activity_filters_and_pages_newest_first(store: DynStore) {
    let a =
        ingest_endpoint(&store, &endpoint("h1", 1, &["alice"], vec![srv("1"), srv("2").client("vscode")]), NOW).await;
    let b = ingest_endpoint(&store, &endpoint("h2", 1, &["bob"], vec![srv("3")]), NOW + 10).await;
    store.ingest(&a, &full(2, &endpoint("h1", 1, &["alice"], vec![srv("1")])), NOW + 20).await.unwrap();

    let all = store.activity(&ActivityQuery::default()).await.unwrap().items;
    let seen: Vec<(&str, ChangeKind)> = all.iter().map(|e| (e.server_id.as_str(), e.kind)).collect();
    assert_eq!(
        seen,
        vec![
            ("2", ChangeKind::Disappeared),
            ("3", ChangeKind::Appeared),
            ("2", ChangeKind::Appeared),
            ("1", ChangeKind::Appeared)
        ]
    );
    assert_eq!(all[1].hostname, "h2");
    let kinds =
        store.activity(&ActivityQuery { kind: Some(ChangeKind::Disappeared), ..Default::default() }).await.unwrap();
    assert_eq!((kinds.items.len(), kinds.items[0].at), (1, NOW + 20));
    let vscode = store.activity(&ActivityQuery { client: Some("vscode".into()), ..Default::default() }).await.unwrap();
    assert_eq!(vscode.items.len(), 2);
    let of_b = store.activity(&ActivityQuery { agent_id: Some(b.clone()), ..Default::default() }).await.unwrap();
    assert_eq!(of_b.items.iter().map(|e| e.server_id.as_str()).collect::<Vec<_>>(), ["3"]);
    let window = store
        .activity(&ActivityQuery { since: Some(NOW + 5), until: Some(NOW + 20), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(window.items.iter().map(|e| e.server_id.as_str()).collect::<Vec<_>>(), ["3"]);

    let mut query = ActivityQuery { limit: 3, ..Default::default() };
    let first = store.activity(&query).await.unwrap();
    query.cursor = first.next_cursor.clone();
    let second = store.activity(&query).await.unwrap();
    assert_eq!((first.items.len(), second.items.len(), second.next_cursor), (3, 1, None));
    assert_eq!(second.items[0].server_id, "1");
}

async fn activity_says_what_changed_records_findings_and_names_the_scanned_host(store: DynStore) {
    let first = endpoint(
        "scanned-laptop",
        1,
        &["alice"],
        vec![
            srv("1").credential("env:GITHUB_TOKEN", CredentialSource::Literal, "f1", "github"),
            srv("2").finding("MUSTER-PKG-UNPINNED", 3, "MCP04", "unpinned"),
        ],
    );
    // Enrolled under another machine name than the one its agent scans (an image, a rename).
    let token = create_token(store.as_ref(), 1, std::time::Duration::from_secs(DAY as u64), NOW - DAY).await.unwrap();
    let id = "00000000-0000-4000-8000-0000000000aa".to_string();
    let agent = NewAgent {
        id: id.clone(),
        hostname: "enrolling-box".into(),
        cert_serial: "01".into(),
        cert_not_after: NOW + 30 * DAY,
        agent_version: "0.1.0".into(),
        enrolled_at: NOW - DAY,
    };
    store.enroll_agent(&hash_token(&token.token), NOW - DAY, &agent).await.unwrap();
    store.ingest(&id, &full(1, &first), NOW).await.unwrap();

    // Server 1: env name added, its secret replaced, a finding raised; server 2's finding fixed.
    let mut second = snapshot(&first);
    second.servers[0].env_names = vec!["GITHUB_HOST".into()];
    second.servers[0].credentials[0].fingerprint = "f2".into();
    second.servers[0].findings = vec![Finding {
        id: "MUSTER-SECRET-ENV".into(),
        severity: 4,
        server_ids: vec!["1".into()],
        ..Default::default()
    }];
    second.servers[1].findings.clear();
    let report = Report { sequence: 2, base_sequence: 0, body: ReportBody::Full(second), policy: None };
    store.ingest(&id, &report, NOW + DAY).await.unwrap();

    let events = store.activity(&ActivityQuery::default()).await.unwrap().items;
    let seen: Vec<(&str, ChangeKind, &str)> =
        events.iter().map(|e| (e.server_id.as_str(), e.kind, e.finding_id.as_str())).collect();
    assert_eq!(
        seen,
        vec![
            ("2", ChangeKind::FindingResolved, "MUSTER-PKG-UNPINNED"),
            ("1", ChangeKind::FindingAppeared, "MUSTER-SECRET-ENV"),
            ("2", ChangeKind::Changed, ""),
            ("1", ChangeKind::Changed, ""),
            ("2", ChangeKind::FindingAppeared, "MUSTER-PKG-UNPINNED"),
            ("2", ChangeKind::Appeared, ""),
            ("1", ChangeKind::Appeared, ""),
        ]
    );
    let changed_1 = events.iter().find(|e| e.server_id == "1" && e.kind == ChangeKind::Changed).unwrap();
    let texts: Vec<String> = changed_1.changes.iter().map(|c| c.text()).collect();
    assert_eq!(
        texts,
        ["env names added: GITHUB_HOST", "credentials changed: env:GITHUB_TOKEN", "findings added: MUSTER-SECRET-ENV"]
    );
    let appeared = events.iter().find(|e| e.kind == ChangeKind::FindingAppeared && e.server_id == "1").unwrap();
    assert_eq!((appeared.severity, appeared.server_name.as_str()), (4, "server-1"));
    assert!(events.iter().all(|e| e.hostname == "scanned-laptop"), "one name per host: {events:?}");
    let agents = store.agents_page(&AgentQuery::default()).await.unwrap().items;
    assert_eq!(agents[0].hostname, "scanned-laptop");

    // Time ranges read only their rows and page by (at, id).
    let today = store.activity(&ActivityQuery { since: Some(NOW + DAY), ..Default::default() }).await.unwrap();
    assert_eq!(today.items.len(), 4);
    let before = store.activity(&ActivityQuery { until: Some(NOW + DAY), ..Default::default() }).await.unwrap();
    assert_eq!(before.items.len(), 3);
    let mut query = ActivityQuery { since: Some(NOW + DAY), limit: 3, ..Default::default() };
    let page = store.activity(&query).await.unwrap();
    query.cursor = page.next_cursor.clone();
    let rest = store.activity(&query).await.unwrap();
    assert_eq!((page.items.len(), rest.items.len(), rest.next_cursor), (3, 1, None));
    let kinds =
        store.activity(&ActivityQuery { kind: Some(ChangeKind::FindingResolved), ..Default::default() }).await.unwrap();
    assert_eq!(kinds.items.len(), 1);
}

async fn agents_page_and_versions(store: DynStore) {
    for name in ["c-host", "a-host", "b-host"] {
        ingest_endpoint(&store, &endpoint(name, 1, &["u"], vec![]), NOW).await;
    }
    let first = store.agents_page(&AgentQuery { limit: 2, online_since: NOW, ..Default::default() }).await.unwrap();
    assert_eq!(first.items.iter().map(|a| a.hostname.as_str()).collect::<Vec<_>>(), ["a-host", "b-host"]);
    assert!(first.items[0].online);
    let rest = store
        .agents_page(&AgentQuery { limit: 2, cursor: first.next_cursor, online_since: NOW, ..Default::default() })
        .await
        .unwrap();
    assert_eq!((rest.items[0].hostname.as_str(), rest.next_cursor), ("c-host", None));
    let id = rest.items[0].id.clone();
    store.heartbeat(&id, "0.2.0", NOW + 1).await.unwrap();
    assert!(store.revoke_agent(&id, NOW + 2).await.unwrap());
    let revoked =
        store.agents_page(&AgentQuery { status: Some("revoked".into()), ..Default::default() }).await.unwrap();
    assert_eq!((revoked.items.len(), revoked.items[0].agent_version.as_str()), (1, "0.2.0"));
    let searched = store.agents_page(&AgentQuery { search: Some("B-H".into()), ..Default::default() }).await.unwrap();
    assert_eq!(searched.items.len(), 1);
    let versions: Vec<(String, i64)> =
        store.agent_versions().await.unwrap().into_iter().map(|v| (v.version, v.agents)).collect();
    assert_eq!(versions, vec![("0.1.0".to_string(), 2), ("0.2.0".to_string(), 1)]);
}

async fn garbage_cursor_is_refused(store: DynStore) {
    let bad = Some("not-hex".to_string());
    let refused = store.endpoints(&EndpointQuery { cursor: bad.clone(), ..Default::default() }).await;
    assert!(matches!(refused, Err(StoreError::InvalidCursor(_))), "{refused:?}");
    let wrong_type = Cursor { key: "abc".into(), id: "x".into() }.encode();
    let refused = store
        .endpoints(&EndpointQuery { sort: EndpointSort::LastSeen, cursor: Some(wrong_type), ..Default::default() })
        .await;
    assert!(matches!(refused, Err(StoreError::InvalidCursor(_))), "{refused:?}");
    let refused = store.findings(&FindingQuery { cursor: bad, ..Default::default() }).await;
    assert!(matches!(refused, Err(StoreError::InvalidCursor(_))), "{refused:?}");
}

// ---------------------------------------------------------------------------------------------
// The benchmark seeder writes tables directly; check it leaves them as ingest would (same
// counters in the summaries as in the base tables), on both backends.

async fn check_seeded(url: &str) {
    use muster_control_plane::store::read::seed::{FleetSpec, seed};
    let spec = FleetSpec { endpoints: 60, servers_per_endpoint: 7, now: NOW, seed: 3 };
    let report = seed(url, &spec).await.expect("seed");
    let rows = |table: &str| report.rows.iter().find(|(name, _)| *name == table).map_or(0, |(_, n)| *n);
    assert_eq!((rows("agents"), rows("servers"), rows("endpoint_summary")), (60, 420, 60));
    let store = muster_control_plane::store::open(url).await.unwrap();
    let overview = store.overview(NOW, NOW - 600).await.unwrap();
    assert_eq!((overview.endpoints, overview.servers), (60, 420));
    assert_eq!(overview.trend.len(), 30, "29 synthetic days and today's rollup");
    assert!(overview.services > 0 && overview.literal_secrets > 0);
    // Summaries agree with the base tables: open findings per endpoint equal the counting
    // findings listed for it.
    let mut query = EndpointQuery { online_since: NOW - 600, limit: 500, ..Default::default() };
    query.sort = EndpointSort::Findings;
    let endpoints = store.endpoints(&query).await.unwrap().items;
    assert_eq!(endpoints.len(), 60);
    for endpoint in endpoints.iter().take(5) {
        let listed = store
            .findings(&FindingQuery {
                agent_id: Some(endpoint.agent_id.clone()),
                state: Some(FindingStateFilter::Counting),
                now: NOW,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(listed.items.len() as i64, endpoint.open_findings, "{}", endpoint.hostname);
        let detail = store.endpoint_detail(&endpoint.agent_id, NOW - 600, NOW).await.unwrap().unwrap();
        assert_eq!(detail.servers.len(), 7);
    }
    let services = store.services().await.unwrap();
    assert_eq!(
        services.iter().map(|s| s.auth.oauth + s.auth.reference + s.auth.literal + s.auth.none).sum::<i64>(),
        services.iter().map(|s| s.servers).sum::<i64>()
    );
}

#[tokio::test]
async fn seeded_fleet_is_consistent_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    check_seeded(&format!("sqlite://{}", dir.path().join("fleet.db").display())).await;
}

#[tokio::test]
async fn seeded_fleet_is_consistent_on_postgres() {
    let Some(database) = TestDatabase::create().await.unwrap() else {
        eprintln!("skipping PostgreSQL case: MUSTER_SKIP_POSTGRES=1");
        return;
    };
    let url = database.url.clone();
    let outcome = tokio::spawn(async move { check_seeded(&url).await }).await;
    database.drop_database().await.expect("drop test database");
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// The rollup task refreshes as soon as it starts and ends when told to stop.
#[tokio::test]
async fn rollup_task_refreshes_at_once_and_stops_on_signal() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("muster.db").display());
    let store = muster_control_plane::store::open(&url).await.unwrap();
    ingest_endpoint(&store, &endpoint("h1", 1, &["alice"], vec![srv("1").service("github")]), NOW).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(muster_control_plane::rollup::run(
        store.clone(),
        std::time::Duration::from_secs(3600),
        stopped,
        || NOW,
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while store.overview(NOW, NOW).await.unwrap().rollup_refreshed_at != Some(NOW) {
        assert!(std::time::Instant::now() < deadline, "no refresh within 30 s");
        tokio::task::yield_now().await;
    }
    assert_eq!(store.services().await.unwrap()[0].service, "github");
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), task).await.expect("task stops").unwrap();
}

/// The lethal trifecta of one client for one user: a host-wide finding (no server id).
fn trifecta(client: &str, server_ids: &[&str]) -> Finding {
    Finding {
        id: "MUSTER-LETHAL-TRIFECTA".into(),
        severity: 5,
        owasp: "MCP03".into(),
        message: format!("{client} for user alice runs servers that together bring all three legs"),
        server_ids: server_ids.iter().map(|s| s.to_string()).collect(),
        client: client.into(),
        user: "alice".into(),
    }
}

/// Regression: host-wide findings shared one decision key (agent, server id "", finding id), so
/// waiving windsurf's lethal-trifecta finding also waived gemini-cli's, and clearing one cleared
/// both. Each finding now has its own key: the other stays open in every list and count, and
/// clearing one leaves the other's decision alone, also across a re-ingest.
async fn one_waiver_applies_to_one_host_wide_finding_only(store: DynStore) {
    let spec = endpoint(
        "h1",
        1,
        &["alice"],
        vec![srv("w1").client("windsurf"), srv("g1").client("gemini-cli"), srv("c1").finding("LOW", 2, "MCP09", "m")],
    );
    let mut snapshot = snapshot(&spec);
    snapshot.findings = vec![trifecta("windsurf", &["w1"]), trifecta("gemini-cli", &["g1"])];
    let report = |sequence, snapshot: &InventorySnapshot| Report {
        sequence,
        base_sequence: 0,
        body: ReportBody::Full(snapshot.clone()),
        policy: None,
    };
    let id = ingest_endpoint(&store, &spec, NOW).await;
    store.ingest(&id, &report(2, &snapshot), NOW).await.unwrap();

    let trifectas = |state: Option<FindingStateFilter>| {
        let store = store.clone();
        async move {
            let query = FindingQuery {
                finding_id: Some("MUSTER-LETHAL-TRIFECTA".into()),
                state,
                now: NOW,
                ..Default::default()
            };
            let mut found: Vec<(String, Option<DecisionKind>)> = store
                .findings(&query)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|f| (f.client, f.decision.filter(|d| d.active).map(|d| d.kind)))
                .collect();
            found.sort_by(|a, b| a.0.cmp(&b.0));
            found
        }
    };
    let all = store.findings(&FindingQuery { now: NOW, ..Default::default() }).await.unwrap().items;
    let key_of = |client: &str| {
        all.iter().find(|f| f.key.finding_id == "MUSTER-LETHAL-TRIFECTA" && f.client == client).unwrap().key.clone()
    };
    let (windsurf, gemini) = (key_of("windsurf"), key_of("gemini-cli"));
    assert_eq!((windsurf.server_id.as_str(), gemini.server_id.as_str()), ("", ""), "host-wide findings");
    assert_ne!(windsurf, gemini, "two findings, two keys");
    let counts = |store: DynStore| async move {
        let overview = store.overview(NOW, NOW).await.unwrap();
        let row = store.endpoints(&EndpointQuery { online_since: NOW, ..Default::default() }).await.unwrap().items;
        (overview.findings_critical, row[0].open_findings, row[0].findings_critical)
    };
    assert_eq!(counts(store.clone()).await, (2, 3, 2));

    assert!(
        store.decide_finding(&windsurf, DecisionKind::Waived, "sandboxed", Some(NOW + DAY), "ana", NOW).await.unwrap()
    );
    assert_eq!(
        trifectas(None).await,
        [("gemini-cli".to_string(), None), ("windsurf".to_string(), Some(DecisionKind::Waived))],
        "only windsurf's finding is waived"
    );
    assert_eq!(trifectas(Some(FindingStateFilter::Open)).await, [("gemini-cli".to_string(), None)]);
    assert_eq!(trifectas(Some(FindingStateFilter::Waived)).await.len(), 1);
    assert_eq!(counts(store.clone()).await, (1, 2, 1), "the waived one counts nowhere, the other everywhere");

    // Acknowledge gemini-cli's, then clear windsurf's: gemini-cli's decision survives.
    assert!(store.decide_finding(&gemini, DecisionKind::Acknowledged, "on it", None, "ana", NOW).await.unwrap());
    assert!(store.clear_finding_decision(&windsurf, NOW).await.unwrap());
    assert!(!store.clear_finding_decision(&windsurf, NOW).await.unwrap(), "nothing left to clear");
    assert_eq!(
        trifectas(None).await,
        [("gemini-cli".to_string(), Some(DecisionKind::Acknowledged)), ("windsurf".to_string(), None)]
    );
    assert_eq!(counts(store.clone()).await, (2, 3, 2), "acknowledged still counts");

    // Decisions follow their finding across re-ingest (host-wide rows are rewritten).
    assert!(
        store.decide_finding(&windsurf, DecisionKind::Waived, "sandboxed", Some(NOW + DAY), "ana", NOW).await.unwrap()
    );
    snapshot.findings.reverse();
    store.ingest(&id, &report(3, &snapshot), NOW + 10).await.unwrap();
    assert_eq!(
        trifectas(None).await,
        [
            ("gemini-cli".to_string(), Some(DecisionKind::Acknowledged)),
            ("windsurf".to_string(), Some(DecisionKind::Waived))
        ]
    );
    assert_eq!(counts(store.clone()).await, (1, 2, 1));
    // The old three-part key names no finding any more: it decides nothing.
    let legacy = key(&id, "", "MUSTER-LETHAL-TRIFECTA");
    assert!(!store.decide_finding(&legacy, DecisionKind::Waived, "x", Some(NOW + DAY), "ana", NOW).await.unwrap());
    assert!(!store.clear_finding_decision(&legacy, NOW).await.unwrap());
    assert_eq!(counts(store.clone()).await, (1, 2, 1));
}

/// A server can have several advisory findings with one catalog id; each is decided on its own.
async fn advisory_findings_of_one_server_are_decided_one_by_one(store: DynStore) {
    let spec = endpoint(
        "h1",
        1,
        &["alice"],
        vec![
            srv("1")
                .npm("left-pad", Some("1.0.0"), true)
                .finding("MUSTER-PKG-VULNERABLE", 4, "MCP04", "runs left-pad at version 1.0.0: GHSA-aaaa-bbbb-0001 x")
                .finding("MUSTER-PKG-VULNERABLE", 4, "MCP04", "runs left-pad at version 1.0.0: GHSA-aaaa-bbbb-0002 y"),
        ],
    );
    let id = ingest_endpoint(&store, &spec, NOW).await;
    let items = store.findings(&FindingQuery { now: NOW, ..Default::default() }).await.unwrap().items;
    let subjects: BTreeSet<String> = items.iter().map(|f| f.key.subject.clone()).collect();
    assert_eq!(subjects, BTreeSet::from(["GHSA-aaaa-bbbb-0001".to_string(), "GHSA-aaaa-bbbb-0002".to_string()]));
    let first = items.iter().find(|f| f.key.subject == "GHSA-aaaa-bbbb-0001").unwrap().key.clone();
    assert!(
        store.decide_finding(&first, DecisionKind::Waived, "not reachable", Some(NOW + DAY), "ana", NOW).await.unwrap()
    );
    let open = store
        .findings(&FindingQuery { state: Some(FindingStateFilter::Open), now: NOW, ..Default::default() })
        .await
        .unwrap()
        .items;
    assert_eq!(open.iter().map(|f| f.key.subject.as_str()).collect::<Vec<_>>(), ["GHSA-aaaa-bbbb-0002"]);
    let row = &store.endpoints(&EndpointQuery { online_since: NOW, ..Default::default() }).await.unwrap().items[0];
    assert_eq!((row.open_findings, row.findings_high), (1, 1));
    assert_eq!(first.agent_id, id);
}

/// Upgrading a database from `0006`: the old shared decisions (one waiver over both clients'
/// trifecta findings, one acknowledgement over a server's two advisories) become one decision per
/// finding they covered, so nothing changes on screen; from then on each is decided on its own.
async fn check_upgrade_from_0006(url: &str) {
    use muster_control_plane::store::upgrade_fixture::{AGENT_ID, WAIVER_EXPIRES_AT, create_legacy_database};
    create_legacy_database(url).await.unwrap();
    let store = muster_control_plane::store::open(url).await.unwrap();
    let now = NOW;
    let decisions = |store: DynStore| async move {
        let mut found: Vec<(String, String, Option<DecisionKind>)> = store
            .findings(&FindingQuery { now, ..Default::default() })
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|f| (f.key.finding_id, f.client, f.decision.map(|d| d.kind)))
            .collect();
        found.sort_by_key(|d| (d.0.clone(), d.1.clone(), format!("{:?}", d.2)));
        found
    };
    let waived = Some(DecisionKind::Waived);
    let acknowledged = Some(DecisionKind::Acknowledged);
    let trifecta = "MUSTER-LETHAL-TRIFECTA".to_string();
    let vulnerable = "MUSTER-PKG-VULNERABLE".to_string();
    assert_eq!(
        decisions(store.clone()).await,
        [
            (trifecta.clone(), "gemini-cli".to_string(), waived),
            (trifecta.clone(), "windsurf".to_string(), waived),
            (vulnerable.clone(), "cursor".to_string(), acknowledged),
            (vulnerable.clone(), "cursor".to_string(), acknowledged),
        ],
        "every finding keeps the decision it had"
    );
    let items = store.findings(&FindingQuery { now, ..Default::default() }).await.unwrap().items;
    let windsurf = items.iter().find(|f| f.client == "windsurf").unwrap();
    let decision = windsurf.decision.clone().unwrap();
    assert_eq!((decision.reason.as_str(), decision.expires_at), ("sandboxed", Some(WAIVER_EXPIRES_AT)));
    assert_eq!(windsurf.key.agent_id, AGENT_ID);

    // Now they are independent: clearing windsurf's leaves gemini-cli's waived.
    assert!(store.clear_finding_decision(&windsurf.key, now).await.unwrap());
    let advisory = items.iter().find(|f| f.key.subject == "GHSA-aaaa-bbbb-0001").unwrap();
    assert!(store.clear_finding_decision(&advisory.key, now).await.unwrap());
    assert_eq!(
        decisions(store.clone()).await,
        [
            (trifecta.clone(), "gemini-cli".to_string(), waived),
            (trifecta, "windsurf".to_string(), None),
            (vulnerable.clone(), "cursor".to_string(), None),
            (vulnerable, "cursor".to_string(), acknowledged),
        ]
    );
    // Opening again does not redo the backfill.
    drop(store);
    let store = muster_control_plane::store::open(url).await.unwrap();
    assert_eq!(decisions(store).await.iter().filter(|d| d.2.is_some()).count(), 2);
}

#[tokio::test]
async fn upgrade_from_0006_gives_each_finding_its_decision_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    check_upgrade_from_0006(&format!("sqlite://{}", dir.path().join("muster.db").display())).await;
}

#[tokio::test]
async fn upgrade_from_0006_gives_each_finding_its_decision_on_postgres() {
    let Some(database) = TestDatabase::create().await.unwrap() else {
        eprintln!("skipping PostgreSQL case: MUSTER_SKIP_POSTGRES=1");
        return;
    };
    let url = database.url.clone();
    let outcome = tokio::spawn(async move { check_upgrade_from_0006(&url).await }).await;
    database.drop_database().await.expect("drop test database");
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// Everything the fleet-wide rollups show, in a comparable form.
async fn rollup_views(store: &DynStore) -> Vec<String> {
    let mut out: Vec<String> = store.services().await.unwrap().iter().map(|s| format!("{s:?}")).collect();
    let groups = store.server_groups(&ServerGroupQuery { limit: 500, ..Default::default() }).await.unwrap();
    out.extend(groups.items.iter().map(|g| format!("{g:?}")));
    out.extend(store.secret_groups().await.unwrap().iter().map(|g| format!("{g:?}")));
    let fingerprints = store.shared_fingerprints(&FingerprintQuery { limit: 500, ..Default::default() }).await.unwrap();
    out.extend(fingerprints.items.iter().map(|f| format!("{f:?}")));
    out
}

/// Issue 15: every report shows on Services, Servers and Credentials as soon as it is stored
/// (no refresh runs in this test), including what a delta removes, and the counts ingest keeps
/// by differences are exactly what a full recount gives.
async fn rollups_follow_every_report_and_agree_with_a_rebuild(store: DynStore) {
    let literal = CredentialSource::Literal;
    let vulnerable = "server \"gh\" runs @x/gh at version 1.0.0: GHSA-aaaa-bbbb-cccc prototype pollution";
    let h1 = ingest_endpoint(
        &store,
        &endpoint(
            "h1",
            1,
            &["alice", "bob"],
            vec![
                srv("1")
                    .service("github")
                    .npm("@x/gh", Some("1.0.0"), true)
                    .credential("env:GH", literal, "shared", "github")
                    .finding("MUSTER-PKG-VULNERABLE", 4, "MCP04", vulnerable),
                srv("2").service("github").user("bob").credential("env:GH", literal, "shared", "github"),
                srv("3").service("linear").remote("mcp.linear.app").posture(AuthPosture::OauthPartial, true, &[], ""),
            ],
        ),
        NOW,
    )
    .await;
    let services = store.services().await.unwrap();
    assert_eq!(
        services.iter().map(|s| (s.service.as_str(), s.servers)).collect::<Vec<_>>(),
        [("github", 2), ("linear", 1)]
    );
    assert_eq!(services[1].remote_auth.oauth_partial, 1, "the posture is counted");
    let within = store.shared_fingerprints(&FingerprintQuery::default()).await.unwrap();
    assert!(within.items.is_empty(), "one host is no fleet-wide sharing");

    let h2 = ingest_endpoint(
        &store,
        &endpoint(
            "h2",
            1,
            &["eve"],
            vec![
                srv("1")
                    .service("github")
                    .npm("@x/gh", Some("1.1.0"), false)
                    .credential("header:A", literal, "shared", "github"),
            ],
        ),
        NOW,
    )
    .await;
    let github = store.services().await.unwrap().into_iter().find(|s| s.service == "github").unwrap();
    assert_eq!((github.servers, github.endpoints, github.users), (3, 2, 3));
    let shared = store.shared_fingerprints(&FingerprintQuery::default()).await.unwrap();
    assert_eq!(
        shared.items.iter().map(|f| (f.fingerprint.as_str(), f.hosts, f.servers)).collect::<Vec<_>>(),
        [("shared", 2, 3)]
    );
    let live = rollup_views(&store).await;
    store.rebuild_rollups().await.unwrap();
    assert_eq!(rollup_views(&store).await, live, "live rollups equal a full recount");

    // A delta removes h1's vulnerable server and its linear one: github loses a server, linear
    // and the advisory disappear at once.
    let step = InventoryDelta { removed_server_ids: vec!["1".into(), "3".into()], ..Default::default() };
    store
        .ingest(&h1, &Report { sequence: 2, base_sequence: 1, body: ReportBody::Delta(step), policy: None }, NOW + 1)
        .await
        .unwrap();
    let services = store.services().await.unwrap();
    assert_eq!(
        services.iter().map(|s| (s.service.as_str(), s.servers, s.endpoints)).collect::<Vec<_>>(),
        [("github", 2, 2)]
    );
    let groups = store.server_groups(&ServerGroupQuery::default()).await.unwrap();
    let gh = groups.items.iter().find(|g| g.name == "@x/gh").unwrap();
    assert_eq!((gh.servers, gh.versions.clone(), gh.advisories.clone()), (1, vec!["1.1.0".to_string()], vec![]));
    assert!(groups.items.iter().all(|g| g.name != "mcp.linear.app"));
    let live = rollup_views(&store).await;
    store.rebuild_rollups().await.unwrap();
    assert_eq!(rollup_views(&store).await, live, "live rollups equal a full recount after a delta");

    // h2 reports an empty inventory: everything it added is gone, and the Overview agrees.
    store.ingest(&h2, &full(2, &endpoint("h2", 1, &["eve"], vec![])), NOW + 2).await.unwrap();
    let overview = store.overview(NOW + 2, NOW).await.unwrap();
    let services = store.services().await.unwrap();
    assert_eq!(overview.services, services.len() as i64);
    assert_eq!(
        services.iter().map(|s| (s.service.as_str(), s.servers, s.endpoints)).collect::<Vec<_>>(),
        [("github", 1, 1)]
    );
    let secrets: i64 = store.secret_groups().await.unwrap().iter().map(|g| g.secrets).sum();
    assert_eq!(secrets, overview.literal_secrets, "Credentials and the Overview count the same literals");
    assert!(store.shared_fingerprints(&FingerprintQuery::default()).await.unwrap().items.is_empty());
    let live = rollup_views(&store).await;
    store.rebuild_rollups().await.unwrap();
    assert_eq!(rollup_views(&store).await, live, "live rollups equal a full recount after a removal");
}

/// Issue 15: a service leads to the endpoints running it, and a secret reused by two servers of
/// one host is listed (it used to be a 400), as are fingerprints found by their start.
async fn drill_down_finds_endpoints_by_service_and_secrets_reused_within_a_host(store: DynStore) {
    let literal = CredentialSource::Literal;
    let (within, across) = ("aaaa0000111122223333444455556666", "bbbb0000111122223333444455556666");
    ingest_endpoint(
        &store,
        &endpoint(
            "h1",
            1,
            &["alice"],
            vec![
                srv("1").service("github").credential("env:GH", literal, within, "github"),
                srv("2").service("github").client("windsurf").credential("env:GH", literal, within, "github"),
                srv("3").service("linear").remote("mcp.linear.app"),
            ],
        ),
        NOW,
    )
    .await;
    ingest_endpoint(
        &store,
        &endpoint("h2", 1, &["bob"], vec![srv("1").service("slack").credential("env:S", literal, across, "slack")]),
        NOW,
    )
    .await;
    ingest_endpoint(
        &store,
        &endpoint("h3", 1, &["eve"], vec![srv("1").service("github").credential("env:S", literal, across, "slack")]),
        NOW,
    )
    .await;
    let hosts = |service: &str| {
        let store = store.clone();
        let query = EndpointQuery { service: Some(service.into()), ..Default::default() };
        async move { all_endpoint_pages(&store, EndpointQuery { limit: 1, ..query }).await }
    };
    assert_eq!(hosts("github").await, ["h1", "h3"]);
    assert_eq!(hosts("linear").await, ["h1"]);
    assert!(hosts("gitlab").await.is_empty());

    let listed = |reuse: FingerprintReuse, prefix: Option<&str>| {
        let store = store.clone();
        let query = FingerprintQuery { reuse, prefix: prefix.map(str::to_string), ..Default::default() };
        async move {
            let page = store.shared_fingerprints(&query).await.unwrap();
            page.items.into_iter().map(|f| (f.fingerprint, f.hosts, f.servers)).collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(FingerprintReuse::WithinHost, None).await, [(within.to_string(), 1, 2)]);
    assert_eq!(listed(FingerprintReuse::AcrossHosts, None).await, [(across.to_string(), 2, 2)]);
    assert_eq!(listed(FingerprintReuse::Any, None).await.len(), 2);
    assert_eq!(listed(FingerprintReuse::Any, Some("bbbb00")).await, [(across.to_string(), 2, 2)]);
}

/// Issue 16: the posture an agent verified for each remote server is stored at ingest, shown per
/// server, counted per service, filters the endpoint list, replaces the configuration's guess for
/// an `mcp-remote` bridge (stdio, no key: "none" before), and follows a delta.
async fn remote_auth_posture_is_stored_counted_filtered_and_follows_deltas(store: DynStore) {
    // mcp-remote: a local bridge, reported as stdio with the remote it reaches.
    let mut bridge =
        srv("1").service("atlassian").remote("mcp.atlassian.com").posture(AuthPosture::Oauth, true, &[], "");
    bridge.bridge = true;
    let h1 = ingest_endpoint(
        &store,
        &endpoint(
            "h1",
            1,
            &["alice"],
            vec![
                bridge,
                srv("2").service("linear").remote("mcp.linear.app").posture(
                    AuthPosture::OauthPartial,
                    true,
                    &["pkce_s256", "iss_parameter"],
                    "refused without credentials (401)",
                ),
                srv("3").service("linear").remote("mcp.example.com").posture(
                    AuthPosture::Unknown,
                    false,
                    &[],
                    "not probed: offline",
                ),
                srv("4").service("github"),
            ],
        ),
        NOW,
    )
    .await;
    ingest_endpoint(
        &store,
        &endpoint(
            "h2",
            1,
            &["bob"],
            vec![srv("1").service("linear").remote("open.example.com").posture(
                AuthPosture::None,
                true,
                &[],
                "answered initialize without credentials",
            )],
        ),
        NOW,
    )
    .await;
    let detail = store.endpoint_detail(&h1, NOW - 300, NOW).await.unwrap().unwrap();
    let by_id = |id: &str| detail.servers.iter().find(|s| s.server_id == id).unwrap().clone();
    let partial = by_id("2");
    assert_eq!(partial.auth_posture, AuthPosture::OauthPartial as i32);
    assert!(partial.auth_verified);
    assert_eq!(partial.auth_missing, ["pkce_s256", "iss_parameter"]);
    assert_eq!(partial.auth_reason, "refused without credentials (401)");
    let unknown = by_id("3");
    assert_eq!((unknown.auth_posture, unknown.auth_verified), (AuthPosture::Unknown as i32, false));
    assert_eq!(unknown.auth_reason, "not probed: offline");
    assert!(unknown.auth_missing.is_empty());
    assert_eq!(by_id("4").auth_posture, 0, "a local server has no posture");
    assert_eq!(by_id("1").auth, "oauth");

    let services = store.services().await.unwrap();
    let linear = services.iter().find(|s| s.service == "linear").unwrap();
    assert_eq!(
        (
            linear.remote_auth.oauth_partial,
            linear.remote_auth.unknown,
            linear.remote_auth.none,
            linear.remote_auth.oauth
        ),
        (1, 1, 1, 0)
    );
    assert_eq!(linear.auth.none, 1, "the verified open server counts as none, not as guessed OAuth");
    let github = services.iter().find(|s| s.service == "github").unwrap();
    assert_eq!(github.remote_auth, Default::default(), "local servers count in no posture");

    let hosts = |posture: AuthPosture| {
        let store = store.clone();
        let query = EndpointQuery { auth_posture: Some(posture as i32), limit: 1, ..Default::default() };
        async move { all_endpoint_pages(&store, query).await }
    };
    assert_eq!(hosts(AuthPosture::OauthPartial).await, ["h1"]);
    assert_eq!(hosts(AuthPosture::None).await, ["h2"]);
    assert!(hosts(AuthPosture::StaticKey).await.is_empty());

    // The server fixes PKCE: a delta upserts it as oauth, and every view follows.
    let fixed = srv("2").service("linear").remote("mcp.linear.app").posture(AuthPosture::Oauth, true, &[], "");
    let step = InventoryDelta { upserted_servers: vec![fixed.build()], ..Default::default() };
    store
        .ingest(&h1, &Report { sequence: 2, base_sequence: 1, body: ReportBody::Delta(step), policy: None }, NOW + 1)
        .await
        .unwrap();
    assert!(hosts(AuthPosture::OauthPartial).await.is_empty());
    assert_eq!(hosts(AuthPosture::Oauth).await, ["h1"]);
    let linear = store.services().await.unwrap().into_iter().find(|s| s.service == "linear").unwrap();
    assert_eq!((linear.remote_auth.oauth_partial, linear.remote_auth.oauth), (0, 1));
    let live = rollup_views(&store).await;
    store.rebuild_rollups().await.unwrap();
    assert_eq!(rollup_views(&store).await, live, "posture counts equal a full recount");
}
