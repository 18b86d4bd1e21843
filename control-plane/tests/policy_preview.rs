//! The policy previews against a real store (SQLite and PostgreSQL): a generated fleet is put in
//! through real ingest (full snapshots and deltas), and the dry run must decide, endpoint by
//! endpoint, exactly what `muster_policy::evaluate` decides on the inventory each agent sent;
//! the draft from observation must allow the whole fleet as it is.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use muster_control_plane::enroll::{create_token, hash_token};
use muster_control_plane::ingest::{Report, ReportBody};
use muster_control_plane::policy_preview::dry_run::{self, DryRunError, Tally};
use muster_control_plane::policy_preview::{draft, for_each_endpoint};
use muster_control_plane::store::{DynStore, NewAgent};
use muster_policy::Endpoint;
use muster_proto::v1::{
    AutoApprove, Credential, CredentialSource, Ecosystem, Finding, Host, InventoryDelta, InventorySnapshot, McpServer,
    Package, RemoteEndpoint, Scope, Severity, Transport,
};

mod support;

use support::{conformance_suite, run_postgres, run_sqlite};

const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

conformance_suite!(
    the_dry_run_decides_per_endpoint_what_evaluate_decides_on_the_sent_inventory,
    a_refused_policy_names_every_problem_and_reads_nothing,
    the_draft_from_observation_allows_the_whole_fleet_as_it_is,
);

/// A small deterministic generator (xorshift), so the fleet is varied but reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// One server with every fact a policy reads drawn at random.
fn gen_server(rng: &mut Rng, n: usize, s: usize, users: &[String]) -> McpServer {
    let client = rng.pick(&["cursor", "claude-code", "vscode", "windsurf"]).to_string();
    let user = if rng.below(8) == 0 { String::new() } else { users[rng.below(users.len() as u64) as usize].clone() };
    let scope = if user.is_empty() { Scope::Managed } else { [Scope::User, Scope::Project][rng.below(2) as usize] };
    let mut server = McpServer {
        id: format!("{n:04}{s:04}{:08x}", rng.next() as u32),
        name: rng.pick(&["github", "fs", "slack", "db", "fetch", "grafana"]).to_string(),
        client,
        user: user.clone(),
        scope: scope as i32,
        config_path: format!("/home/{user}/.config/mcp.json"),
        service: rng.pick(&["github", "slack", "", "filesystem"]).to_string(),
        ..Default::default()
    };
    match rng.below(4) {
        0 => {
            let scheme = rng.pick(&["https", "http", "ws"]);
            let host =
                rng.pick(&["mcp.linear.app", "api.githubcopilot.com", "10.0.0.5", "localhost", "mcp.evil.example"]);
            server.transport = [Transport::Http, Transport::Sse, Transport::Ws][rng.below(3) as usize] as i32;
            server.url = format!("{scheme}://{host}/mcp");
            server.endpoint = Some(RemoteEndpoint {
                scheme: scheme.into(),
                host: host.into(),
                path: "/mcp".into(),
                ..Default::default()
            });
        }
        k => {
            server.transport = Transport::Stdio as i32;
            let (eco, package, command) = match k {
                1 => (
                    Ecosystem::Npm,
                    rng.pick(&["@modelcontextprotocol/server-filesystem", "@acme/mcp", "evil-mcp"]),
                    "npx",
                ),
                2 => (Ecosystem::Pypi, rng.pick(&["mcp-server-fetch", "mcp-server-git"]), "uvx"),
                _ => (Ecosystem::Oci, rng.pick(&["mcp/grafana", "ghcr.io/github/github-mcp-server"]), "docker"),
            };
            let version = match (eco, rng.below(3)) {
                (_, 0) => None,
                (Ecosystem::Npm, _) => Some(rng.pick(&["1.4.2", "1.5.0", "2.0.1"]).to_string()),
                (Ecosystem::Pypi, _) => Some(rng.pick(&["0.6.2", "0.6.3", "1.0"]).to_string()),
                _ => Some(rng.pick(&["v1.2", "latest", "sha256:0f1e"]).to_string()),
            };
            server.command = command.into();
            server.args = vec!["-y".into(), package.into()];
            if rng.below(5) == 0 {
                server.args.push("--privileged".into());
            }
            server.package = Some(Package {
                ecosystem: eco as i32,
                name: package.into(),
                pinned: version.as_deref().is_some_and(|v| v != "latest"),
                version,
            });
        }
    }
    if rng.below(3) == 0 {
        server.credentials.push(Credential {
            location: rng.pick(&["env:GITHUB_TOKEN", "arg:2", "header:Authorization"]).into(),
            kind: "github-pat".into(),
            source: [CredentialSource::Literal, CredentialSource::Reference][rng.below(2) as usize] as i32,
            fingerprint: format!("{:032x}", rng.next()),
            provider: "github".into(),
            ..Default::default()
        });
    }
    if rng.below(4) == 0 {
        server.auto_approve = Some(AutoApprove { all: rng.below(2) == 0, tools: vec!["delete_repository".into()] });
    }
    if rng.below(4) == 0 {
        server.findings.push(Finding {
            id: rng.pick(&["MUSTER-PKG-VULNERABLE", "MUSTER-PKG-MALICIOUS"]).into(),
            severity: [Severity::Medium, Severity::High, Severity::Critical][rng.below(3) as usize] as i32,
            message: "advisory".into(),
            ..Default::default()
        });
    }
    server
}

fn gen_endpoint(rng: &mut Rng, n: usize) -> InventorySnapshot {
    let users: Vec<String> = (0..1 + rng.below(2)).map(|u| format!("user{}", (n + u as usize) % 7)).collect();
    let servers = (0..rng.below(7) as usize).map(|s| gen_server(rng, n, s, &users)).collect();
    InventorySnapshot {
        host: Some(Host {
            hostname: format!("{}-{n:03}", rng.pick(&["lap", "build", "dev"])),
            os: 1 + rng.below(3) as i32,
            arch: "arm64".into(),
            ..Default::default()
        }),
        servers,
        scanned_at_unix: NOW,
        ..Default::default()
    }
}

async fn enroll(store: &DynStore, hostname: &str) -> String {
    let token =
        create_token(store.as_ref(), 1, std::time::Duration::from_secs(DAY as u64), NOW - 60 * DAY).await.unwrap();
    let id = format!("00000000-0000-4000-8000-{:0>12}", &token.id[..12.min(token.id.len())]);
    let agent = NewAgent {
        id: id.clone(),
        hostname: hostname.into(),
        cert_serial: "01".into(),
        cert_not_after: NOW + 30 * DAY,
        agent_version: "0.1.0".into(),
        enrolled_at: NOW - 60 * DAY,
    };
    store.enroll_agent(&hash_token(&token.token), NOW - 60 * DAY, &agent).await.unwrap();
    id
}

/// Ingests a generated fleet: every third endpoint gets a delta after its snapshot (one server
/// changed, one removed, one added), and one more agent is revoked. Returns each active agent's
/// id with the inventory it sent last, in agent id order.
async fn fleet(store: &DynStore, endpoints: usize) -> Vec<(String, InventorySnapshot)> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut sent = Vec::new();
    for n in 0..endpoints {
        let mut inv = gen_endpoint(&mut rng, n);
        let id = enroll(store, &inv.host.as_ref().unwrap().hostname).await;
        let full = Report { sequence: 1, base_sequence: 0, body: ReportBody::Full(inv.clone()), policy: None };
        store.ingest(&id, &full, NOW - 100).await.unwrap();
        if n % 3 == 0 && inv.servers.len() >= 2 {
            let users = vec!["user1".to_string()];
            let added = gen_server(&mut rng, n, 90, &users);
            let removed = inv.servers.remove(0).id;
            inv.servers[0].args.push("--changed".into());
            let changed = inv.servers[0].clone();
            inv.servers.push(added.clone());
            let delta = InventoryDelta {
                upserted_servers: vec![changed, added],
                removed_server_ids: vec![removed],
                scanned_at_unix: NOW,
                ..Default::default()
            };
            let report = Report { sequence: 2, base_sequence: 1, body: ReportBody::Delta(delta), policy: None };
            store.ingest(&id, &report, NOW - 50).await.unwrap();
        }
        sent.push((id, inv));
    }
    // Twins: servers differing from another endpoint's in one field a condition reads, so a
    // shape key that left the field out would decide both alike.
    let (bases, variants) = twins();
    for (hostname, servers) in [("lap-twin-a", bases), ("lap-twin-b", variants)] {
        let inv = InventorySnapshot {
            host: Some(Host { hostname: hostname.into(), os: 1, arch: "arm64".into(), ..Default::default() }),
            servers,
            scanned_at_unix: NOW,
            ..Default::default()
        };
        let id = enroll(store, hostname).await;
        let full = Report { sequence: 1, base_sequence: 0, body: ReportBody::Full(inv.clone()), policy: None };
        store.ingest(&id, &full, NOW - 100).await.unwrap();
        sent.push((id, inv));
    }
    let revoked = enroll(store, "revoked-laptop").await;
    let inv = gen_endpoint(&mut rng, 999);
    store
        .ingest(&revoked, &Report { sequence: 1, base_sequence: 0, body: ReportBody::Full(inv), policy: None }, NOW)
        .await
        .unwrap();
    assert!(store.revoke_agent(&revoked, NOW).await.unwrap());
    sent.sort_by(|a, b| a.0.cmp(&b.0));
    sent
}

/// Pairs of servers alike in everything but one field a rule condition reads: the bases and,
/// in the same order, their variants.
fn twins() -> (Vec<McpServer>, Vec<McpServer>) {
    let base = McpServer {
        name: "twin".into(),
        client: "cursor".into(),
        user: "user1".into(),
        scope: Scope::User as i32,
        transport: Transport::Stdio as i32,
        command: "npx".into(),
        args: vec!["-y".into(), "@modelcontextprotocol/server-filesystem".into()],
        service: "github".into(),
        package: Some(Package {
            ecosystem: Ecosystem::Npm as i32,
            name: "@modelcontextprotocol/server-filesystem".into(),
            version: Some("1.5.0".into()),
            pinned: true,
        }),
        credentials: vec![Credential {
            location: "env:GITHUB_TOKEN".into(),
            kind: "github-pat".into(),
            source: CredentialSource::Reference as i32,
            provider: "github".into(),
            ..Default::default()
        }],
        auto_approve: Some(AutoApprove { all: false, tools: vec!["list_issues".into()] }),
        findings: vec![Finding {
            id: "MUSTER-PKG-VULNERABLE".into(),
            severity: Severity::Medium as i32,
            ..Default::default()
        }],
        ..Default::default()
    };
    let remote = McpServer {
        transport: Transport::Http as i32,
        command: String::new(),
        args: Vec::new(),
        package: None,
        url: "https://mcp.linear.app/mcp".into(),
        endpoint: Some(RemoteEndpoint {
            scheme: "https".into(),
            host: "mcp.linear.app".into(),
            path: "/mcp".into(),
            ..Default::default()
        }),
        ..base.clone()
    };
    type Change = fn(&mut McpServer);
    let vary: Vec<(&McpServer, Change)> = vec![
        (&base, |s| s.args.push("--privileged".into())),
        (&base, |s| s.package.as_mut().unwrap().version = Some("1.4.2".into())),
        (&base, |s| s.package.as_mut().unwrap().pinned = false),
        (&base, |s| s.credentials[0].source = CredentialSource::Literal as i32),
        (&base, |s| s.auto_approve.as_mut().unwrap().tools = vec!["delete_repository".into()]),
        (&base, |s| s.findings[0].severity = Severity::High as i32),
        (&base, |s| s.findings[0].id = "MUSTER-PKG-MALICIOUS".into()),
        (&remote, |s| s.endpoint.as_mut().unwrap().host = "mcp.evil.example".into()),
        (&remote, |s| s.endpoint.as_mut().unwrap().scheme = "http".into()),
    ];
    let (mut bases, mut variants) = (Vec::new(), Vec::new());
    for (i, (twin, change)) in vary.into_iter().enumerate() {
        let mut a = twin.clone();
        a.id = format!("twin-{i:02}");
        let mut b = a.clone();
        change(&mut b);
        bases.push(a);
        variants.push(b);
    }
    (bases, variants)
}

/// Every condition kind, targets and exceptions, a grace period.
const POLICY: &str = r#"
version = 1
name = "acme"

[[rule]]
id = "old-filesystem"
action = "block"
[rule.match]
ecosystem = ["npm"]
package = ["@modelcontextprotocol/server-filesystem"]
version = "<1.5.0"

[[rule]]
id = "fetch-old"
action = "notify"
[rule.match]
ecosystem = ["pypi"]
package = ["mcp-server-fetch"]
version = "<0.6.3"

[[rule]]
id = "unpinned"
action = "quarantine"
grace = "30d"
since = 2027-01-04T09:00:00Z
builtin = "MUSTER-PKG-UNPINNED"

[[rule]]
id = "remotes"
action = "block"
[rule.match]
transport = ["http", "sse", "ws"]
[rule.unless]
url_scheme = ["https"]
url_host = ["*.linear.app", "api.githubcopilot.com"]

[[rule]]
id = "plaintext"
action = "block"
[rule.match]
plaintext_remote = true
[rule.target]
os = ["macos", "windows"]

[[rule]]
id = "privileged"
action = "block"
[rule.match]
command = ["docker", "npx"]
command_line = ["* --privileged*"]

[[rule]]
id = "github-literal"
action = "notify"
[rule.match]
literal_credential = true
credential_provider = ["github"]
[rule.target]
user = ["user[1-3]"]

[[rule]]
id = "auto"
action = "require-approval"
[rule.match]
auto_approved_tool = ["delete_*"]
service = ["github", "slack"]

[[rule]]
id = "advisories"
action = "block"
[rule.match]
advisory_severity = "high"
[rule.target]
hostname = ["lap-*", "dev-*"]

[[rule]]
id = "malicious"
action = "block"
builtin = "MUSTER-PKG-MALICIOUS"

[[rule]]
id = "managed-only-on-build"
action = "quarantine"
[rule.match]
scope = ["user", "project"]
[rule.target]
hostname = ["build-*"]
client = ["cursor", "vscode"]

[[exception]]
id = "user2-remotes"
rules = ["remotes", "plaintext"]
user = "user2"
reason = "pilot"
approver = "sec"
expires = 2030-01-01T00:00:00Z

[[exception]]
id = "dev-hosts"
rules = ["*"]
endpoint = "dev-00*"
reason = "lab"
approver = "sec"
expires = 2030-01-01T00:00:00Z

[[exception]]
id = "expired"
rules = ["malicious"]
server = "fs"
reason = "old"
approver = "sec"
expires = 2020-01-01T00:00:00Z
"#;

async fn the_dry_run_decides_per_endpoint_what_evaluate_decides_on_the_sent_inventory(store: DynStore) {
    let sent = fleet(&store, 40).await;
    let bundle = muster_policy::parse(POLICY).expect("the test policy is valid");

    // Endpoint by endpoint: the stored inventory, rebuilt, gets the decisions its agent would make.
    let mut seen = Vec::new();
    for_each_endpoint(store.as_ref(), |agent_id, stored| {
        seen.push((agent_id.to_string(), dry_run::decide(&bundle, agent_id, stored, NOW)));
    })
    .await
    .unwrap();
    assert_eq!(seen.len(), sent.len(), "every active endpoint once, the revoked one not at all");
    let mut expected = Tally::new(&bundle);
    for ((id, inv), (seen_id, decisions)) in sent.iter().zip(&seen) {
        assert_eq!(id, seen_id);
        let agent = muster_policy::evaluate(&bundle, &Endpoint { inventory: inv, agent_id: id, tags: &[] }, NOW);
        assert_eq!(&agent, decisions, "decisions of {id} differ from its agent's");
        expected.add(id, &inv.host.as_ref().unwrap().hostname, &agent);
    }

    // The use-case's counts are those of the agents' own decisions.
    let run = dry_run::dry_run(store.as_ref(), POLICY, NOW).await.unwrap();
    assert_eq!(run, expected.finish("acme", NOW));
    assert_eq!(run.evaluated.endpoints, 42);
    assert!(run.affected.endpoints > 0 && run.affected.endpoints < 42, "{:?}", run.affected);

    // Each twin is decided otherwise than its base, so the comparison above covers every field.
    let twins = |host: &str| {
        let (id, inv) = sent.iter().find(|(_, inv)| inv.host.as_ref().unwrap().hostname == host).unwrap();
        muster_policy::evaluate(&bundle, &Endpoint { inventory: inv, agent_id: id, tags: &[] }, NOW).servers
    };
    for (a, b) in twins("lap-twin-a").iter().zip(twins("lap-twin-b")) {
        assert_eq!(a.server_id, b.server_id);
        assert_ne!(a.violations, b.violations, "twin {} is decided like its base", a.server_id);
    }
    assert!(run.excepted_servers > 0, "an exception lifts something");
    assert_eq!(run.rules.len(), 11, "every rule listed, those hitting nothing included");
    let unpinned = run.rules.iter().find(|r| r.rule == "unpinned").unwrap();
    assert!(unpinned.due_later > 0 && unpinned.due_now == 0, "grace runs to 2027-02-03: {unpinned:?}");
    assert!(run.rules.iter().all(|r| r.hits.iter().all(|h| h.hostname != "revoked-laptop")));
    let text = dry_run::render_text(&run);
    assert!(text.starts_with(&format!("policy acme would affect {} endpoint(s)", run.affected.endpoints)), "{text}");
}

async fn a_refused_policy_names_every_problem_and_reads_nothing(store: DynStore) {
    let text = "version = 1\n[[rule]]\nid = \"x\"\naction = \"block\"\n[rule.match]\necosystem = [\"npm\"]\n\
                version = \">>1\"\n[[exception]]\nid = \"e\"\nrules = [\"nope\"]\nreason = \"r\"\napprover = \"a\"\n\
                expires = 2030-01-01T00:00:00Z\n";
    match dry_run::dry_run(store.as_ref(), text, NOW).await {
        Err(DryRunError::Invalid(e)) => {
            let places: Vec<(usize, usize)> = e.diagnostics.iter().map(|d| (d.line, d.column)).collect();
            assert!(places.len() >= 2, "both problems reported: {places:?}");
            assert!(places.iter().any(|(line, _)| *line == 7), "the version range's line: {places:?}");
            assert!(places.iter().any(|(line, _)| *line == 10), "the unknown rule's line: {places:?}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn the_draft_from_observation_allows_the_whole_fleet_as_it_is(store: DynStore) {
    let sent = fleet(&store, 25).await;
    let draft = draft::draft(store.as_ref(), NOW).await.unwrap();
    assert_eq!(draft.endpoints, 27, "25 generated and 2 twins");
    assert_eq!(draft.servers, sent.iter().map(|(_, inv)| inv.servers.len() as u64).sum::<u64>());
    assert!(draft.groups.iter().any(|g| g.package == "@acme/mcp" && g.endpoints >= 1));
    let covered: u64 = draft.groups.iter().map(|g| g.servers).sum();
    assert_eq!(covered + draft.uncovered_servers, draft.servers);

    // Allow what the fleet runs today: a dry run of the draft affects nobody ...
    let run = dry_run::dry_run(store.as_ref(), &draft.policy, NOW).await.unwrap();
    assert_eq!(run.affected, Default::default(), "{}", dry_run::render_text(&run));
    assert_eq!(run.evaluated.endpoints, 27);
    // ... and blocks anything else.
    let bundle = muster_policy::parse(&draft.policy).unwrap();
    let stranger = InventorySnapshot {
        servers: vec![McpServer {
            id: "s".into(),
            transport: Transport::Stdio as i32,
            command: "npx".into(),
            args: vec!["-y".into(), "@acme/mcp-but-other".into()],
            ..Default::default()
        }],
        ..Default::default()
    };
    let decisions = muster_policy::evaluate(&bundle, &Endpoint { inventory: &stranger, agent_id: "", tags: &[] }, NOW);
    assert_eq!(decisions.servers[0].violations.len(), 1);
}
