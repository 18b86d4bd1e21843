//! Findings on fixtures: one synthetic Linux image built to raise every finding of
//! `agent/data/findings.toml` that configuration can raise (with negative twins: a 0600 file, an
//! ignored project file, a trifecta broken by a disabled server), snapshotted with a fixed fleet
//! key; process findings (shadow servers, non-loopback listeners) on a hand-built `Discovery`;
//! and a coverage check that fails when the catalog gains an id no rule raises here.
//!
//! It does not re-test the detectors or the catalogs' own parsing (their unit tests do).

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "common/image_scan.rs"]
mod image_scan;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use muster_agent::analysis::rules::process_findings;
use muster_agent::discovery::Discovery;
use muster_agent::discovery::processes::{ProcessRecord, SocketInfo};
use muster_agent::findings::catalog::FindingsCatalog;
use muster_agent::secrets::Secret;
use muster_proto::v1 as pb;
use serde_json::{Value, json};

/// Ids that only running processes can raise; an image cannot.
const PROCESS_ONLY: [&str; 2] = ["MUSTER-SHADOW-SERVER", "MUSTER-LISTEN-NONLOOPBACK"];
/// Raised only with MCP Registry data from a data bundle (the built-in data has none); tested in
/// `registry_data.rs`.
const REGISTRY_ONLY: [&str; 1] = ["MUSTER-PKG-DEPRECATED-VERSION"];
/// Raised only from a remote server's answers (`remote_auth`), never from files alone.
const PROBE_ONLY: [&str; 3] = ["MUSTER-REMOTE-NO-AUTH", "MUSTER-REMOTE-OAUTH-NO-PKCE", "MUSTER-REMOTE-OAUTH-DCR-ONLY"];

/// A random-looking token in a git package spec (no provider shape: only the gate catches it).
const PACKAGE_TOKEN: &str = "Zq8rT4mWx2LpK9sVb3NdYh7Fk2Jc0PuE5aQ1";

/// Deterministic fake secrets (fixed so fingerprints in the snapshot are stable).
fn fake(seed: u64, n: usize) -> String {
    const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            A[((x >> 33) % 62) as usize] as char
        })
        .collect()
}

fn put(root: &Path, machine: &str, text: &str, mode: u32) {
    let host = root.join(machine.trim_start_matches('/'));
    std::fs::create_dir_all(host.parent().unwrap()).unwrap();
    std::fs::write(&host, text).unwrap();
    std::fs::set_permissions(&host, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Writes the image: user `dev` with one client per concern.
fn write_image(root: &Path) {
    let shared = format!("{}-{}", fake(1, 20), fake(2, 20)); // one secret, two servers
    let db_password = fake(3, 24);
    let stripe = format!("sk_test_{}", fake(4, 24));
    let bearer = fake(5, 40);
    let google = format!("AIza{}", fake(6, 35));
    let ignored_password = fake(7, 24);

    // Cursor, 0644: literal env secret in a world-readable file, unpinned package, filesystem
    // granted the whole home, and the lethal trifecta (fs: private data + untrusted content;
    // fetch: untrusted content + external communication).
    put(
        root,
        "/home/dev/.cursor/mcp.json",
        &serde_json::to_string_pretty(&json!({"mcpServers": {
            "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/home/dev"]},
            "fetch": {"command": "uvx", "args": ["mcp-server-fetch==2025.4.7"]},
            "metrics": {"command": "npx", "args": ["-y", "@acme/metrics-mcp"], "env": {"METRICS_API_TOKEN": shared}}
        }}))
        .unwrap(),
        0o644,
    );
    // Windsurf, 0600: the same secret again (reuse), a narrow filesystem grant, and the trifecta's
    // negative twin: fetch is disabled, so no external-communication leg.
    put(
        root,
        "/home/dev/.codeium/windsurf/mcp_config.json",
        &serde_json::to_string_pretty(&json!({"mcpServers": {
            "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/home/dev/src/app"]},
            "fetch": {"command": "uvx", "args": ["mcp-server-fetch==2025.4.7"], "disabled": true},
            "metrics": {"command": "npx", "args": ["-y", "@acme/metrics-mcp@1.0.0"], "env": {"METRICS_API_TOKEN": shared}}
        }}))
        .unwrap(),
        0o600,
    );
    // Cline, 0600: malicious package, vulnerable mcp-remote, dangerous docker run, auto-approve.
    put(
        root,
        "/home/dev/.cline/data/settings/cline_mcp_settings.json",
        &serde_json::to_string_pretty(&json!({"mcpServers": {
            "postmark": {"command": "npx", "args": ["-y", "postmark-mcp@1.0.16"]},
            "remote": {"command": "npx", "args": ["-y", "mcp-remote@0.1.10", "https://mcp.acme.example/mcp"]},
            "sandbox": {"command": "docker", "args": ["run", "-i", "--rm", "--privileged", "--network", "host", "-v", "/home/dev:/data", "ghcr.io/acme/tool:1.0.0"]},
            "time": {"command": "uvx", "args": ["mcp-server-time==1.0.0"], "autoApprove": ["get_current_time"]},
            "private": {"command": "npx", "args": ["-y", format!("git+https://x-access-token:{PACKAGE_TOKEN}@github.com/acme/private-mcp.git")]}
        }}))
        .unwrap(),
        0o600,
    );
    // Claude Desktop, 0600: a trailing comma, which Claude Desktop's strict parser refuses.
    put(
        root,
        "/home/dev/.config/Claude/claude_desktop_config.json",
        "{\n  \"mcpServers\": {\n    \"time\": {\"command\": \"uvx\", \"args\": [\"mcp-server-time==1.0.0\"]},\n  }\n}\n",
        0o600,
    );
    // VS Code, 0600: plaintext http, SSE, a static bearer header, a key in the URL query.
    put(
        root,
        "/home/dev/.config/Code/User/mcp.json",
        &serde_json::to_string_pretty(&json!({"servers": {
            "plain": {"type": "http", "url": "http://mcp.acme.example/mcp"},
            "legacy": {"type": "sse", "url": "https://legacy.acme.example/sse"},
            "implicit-sse": {"url": "https://old.acme.example/v1/sse"},
            "bridged-sse": {"command": "npx", "args": ["-y", "mcp-remote@0.1.29", "https://bridge.acme.example/sse"]},
            "bridged-http": {"command": "npx", "args": ["-y", "mcp-remote@0.1.29", "https://bridge.acme.example/mcp"]},
            "static": {"type": "http", "url": "https://api.acme.example/mcp", "headers": {"Authorization": format!("Bearer {bearer}")}},
            "maps": {"type": "http", "url": format!("https://maps.acme.example/mcp?key={google}")}
        }}))
        .unwrap(),
        0o600,
    );
    // Claude Code user file, 0600: a secret as a command-line argument.
    put(
        root,
        "/home/dev/.claude.json",
        &serde_json::to_string_pretty(&json!({"mcpServers": {
            "stripe": {"command": "npx", "args": ["-y", "@stripe/mcp@0.2.4", format!("--api-key={stripe}")]}
        }}))
        .unwrap(),
        0o600,
    );
    // A repository whose .mcp.json git would commit, and one whose .gitignore covers it.
    std::fs::create_dir_all(root.join("home/dev/src/app/.git")).unwrap();
    put(
        root,
        "/home/dev/src/app/.mcp.json",
        &serde_json::to_string_pretty(&json!({"mcpServers": {
            "db": {"command": "npx", "args": ["-y", "@acme/db-mcp@1.0.0"], "env": {"DB_PASSWORD": db_password}}
        }}))
        .unwrap(),
        0o600,
    );
    std::fs::create_dir_all(root.join("home/dev/src/private/.git")).unwrap();
    put(root, "/home/dev/src/private/.gitignore", ".mcp.json\n", 0o644);
    put(
        root,
        "/home/dev/src/private/.mcp.json",
        &serde_json::to_string_pretty(&json!({"mcpServers": {
            "db": {"command": "npx", "args": ["-y", "@acme/db-mcp@1.0.0"], "env": {"DB_PASSWORD": ignored_password}}
        }}))
        .unwrap(),
        0o600,
    );
}

fn scan_image() -> (tempfile::TempDir, pb::InventorySnapshot) {
    let dir = tempfile::tempdir().unwrap();
    write_image(dir.path());
    let inv = muster_agent::scan(&image_scan::image_request(dir.path())).unwrap();
    (dir, inv)
}

/// The findings of a scan in a stable, reviewable shape: per server (sorted by config path and
/// name), then the client-level ones.
fn findings_view(inv: &pb::InventorySnapshot) -> Value {
    let finding = |f: &pb::Finding| {
        json!({
            "id": f.id,
            "severity": muster_agent::output::json::severity(f.severity),
            "owasp": f.owasp,
            "message": f.message,
        })
    };
    let mut servers: Vec<&pb::McpServer> = inv.servers.iter().collect();
    servers.sort_by(|a, b| (&a.config_path, &a.name).cmp(&(&b.config_path, &b.name)));
    let name_of = |id: &str| {
        inv.servers.iter().find(|s| s.id == id).map(|s| format!("{}/{}", s.client, s.name)).unwrap_or_default()
    };
    json!({
        "servers": servers.iter().map(|s| json!({
            "server": format!("{} {} {}", s.client, s.config_path, s.name),
            "findings": s.findings.iter().map(finding).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "client_findings": inv.findings.iter().map(|f| {
            let mut v = finding(f);
            let mut names: Vec<String> = f.server_ids.iter().map(|id| name_of(id)).collect();
            names.sort();
            v["servers"] = json!(names);
            v["client"] = json!(f.client);
            v["user"] = json!(f.user);
            v
        }).collect::<Vec<_>>(),
    })
}

fn ids_of(inv: &pb::InventorySnapshot, server: &str, config_suffix: &str) -> BTreeSet<String> {
    let s = inv
        .servers
        .iter()
        .find(|s| s.name == server && s.config_path.ends_with(config_suffix))
        .unwrap_or_else(|| panic!("no server {server} in {config_suffix}"));
    s.findings.iter().map(|f| f.id.clone()).collect()
}

fn has(ids: &BTreeSet<String>, id: &str) -> bool {
    ids.contains(id)
}

#[test]
fn findings_on_the_image_snapshot() {
    let (_dir, inv) = scan_image();
    assert!(inv.problems.iter().all(|p| p.path.ends_with("claude_desktop_config.json")), "{:#?}", inv.problems);
    insta::assert_json_snapshot!("findings_on_the_image", findings_view(&inv));
}

#[test]
fn each_rule_fires_where_planted_and_not_on_its_negative_twin() {
    let (_dir, inv) = scan_image();
    let cursor = |n| ids_of(&inv, n, "/.cursor/mcp.json");
    let windsurf = |n| ids_of(&inv, n, "/windsurf/mcp_config.json");
    let cline = |n| ids_of(&inv, n, "/cline_mcp_settings.json");
    let vscode = |n| ids_of(&inv, n, "/Code/User/mcp.json");

    // Literal secrets, by place; file permissions.
    assert!(has(&cursor("metrics"), "MUSTER-SECRET-ENV"));
    assert!(has(&cursor("metrics"), "MUSTER-SECRET-FILE-READABLE"), "0644 file with a secret");
    assert!(has(&windsurf("metrics"), "MUSTER-SECRET-ENV"));
    assert!(!has(&windsurf("metrics"), "MUSTER-SECRET-FILE-READABLE"), "0600 file is fine");
    assert!(has(&ids_of(&inv, "stripe", "/.claude.json"), "MUSTER-SECRET-ARG"));
    assert!(has(&vscode("static"), "MUSTER-SECRET-HEADER"));
    assert!(has(&vscode("static"), "MUSTER-REMOTE-STATIC-AUTH"));
    assert!(has(&vscode("maps"), "MUSTER-SECRET-URL"));
    // Committable vs ignored project files.
    assert!(has(&ids_of(&inv, "db", "/src/app/.mcp.json"), "MUSTER-SECRET-COMMITTABLE"));
    let ignored = ids_of(&inv, "db", "/src/private/.mcp.json");
    assert!(has(&ignored, "MUSTER-SECRET-ENV") && !has(&ignored, "MUSTER-SECRET-COMMITTABLE"), "{ignored:?}");
    // Supply chain.
    assert!(has(&cursor("metrics"), "MUSTER-PKG-UNPINNED"));
    assert!(!has(&windsurf("metrics"), "MUSTER-PKG-UNPINNED"), "pinned @1.0.0");
    assert!(has(&cline("postmark"), "MUSTER-PKG-MALICIOUS"));
    assert!(has(&cline("remote"), "MUSTER-PKG-VULNERABLE"));
    assert!(!has(&cursor("fs"), "MUSTER-PKG-VULNERABLE"), "filesystem 2025.8.21 is past every fix");
    // A token in the package spec is masked out of the package name, and said so.
    assert!(has(&cline("private"), "MUSTER-SECRET-PACKAGE-SPEC"));
    assert!(!has(&cline("time"), "MUSTER-SECRET-PACKAGE-SPEC"));
    let private = inv.servers.iter().find(|s| s.name == "private").unwrap();
    let name = &private.package.as_ref().unwrap().name;
    assert!(name.contains("****@github.com/acme/private-mcp") && !name.contains(&PACKAGE_TOKEN[..12]), "{name}");
    // Remotes.
    assert!(has(&vscode("plain"), "MUSTER-REMOTE-PLAINTEXT"));
    assert!(!has(&vscode("legacy"), "MUSTER-REMOTE-PLAINTEXT"));
    assert!(has(&vscode("legacy"), "MUSTER-REMOTE-SSE-DEPRECATED"));
    // Regression (issue 16): a URL at `/sse` without a type, and a bridge reaching one.
    assert!(has(&vscode("implicit-sse"), "MUSTER-REMOTE-SSE-DEPRECATED"));
    assert!(has(&vscode("bridged-sse"), "MUSTER-REMOTE-SSE-DEPRECATED"));
    assert!(!has(&vscode("bridged-http"), "MUSTER-REMOTE-SSE-DEPRECATED"));
    assert!(!has(&vscode("plain"), "MUSTER-REMOTE-SSE-DEPRECATED"));
    assert!(!has(&vscode("plain"), "MUSTER-REMOTE-STATIC-AUTH"), "no credential, no static auth");
    // Approvals, containers, filesystem reach, ignored files.
    assert!(has(&cline("time"), "MUSTER-AUTO-APPROVE"));
    assert!(has(&cline("sandbox"), "MUSTER-DOCKER-PRIVILEGED"));
    assert!(has(&cursor("fs"), "MUSTER-FS-BROAD"));
    assert!(!has(&windsurf("fs"), "MUSTER-FS-BROAD"), "a project dir is not broad");
    assert!(has(&ids_of(&inv, "time", "/claude_desktop_config.json"), "MUSTER-CONFIG-IGNORED"));
    assert!(!has(&cline("time"), "MUSTER-CONFIG-IGNORED"));

    // Reuse: one finding naming both metrics servers, and only them.
    let reused: Vec<&pb::Finding> = inv.findings.iter().filter(|f| f.id == "MUSTER-SECRET-REUSED").collect();
    assert_eq!(reused.len(), 1, "{reused:#?}");
    let metrics: BTreeSet<&str> = inv.servers.iter().filter(|s| s.name == "metrics").map(|s| s.id.as_str()).collect();
    assert_eq!(reused[0].server_ids.iter().map(String::as_str).collect::<BTreeSet<_>>(), metrics);

    // Trifecta: Cursor has it and names the servers per leg; Windsurf, with fetch disabled,
    // does not.
    let trifecta: Vec<&pb::Finding> = inv.findings.iter().filter(|f| f.id == "MUSTER-LETHAL-TRIFECTA").collect();
    let cursor_t = trifecta.iter().find(|f| f.client == "cursor").expect("cursor trifecta");
    assert_eq!(cursor_t.user, "dev");
    assert!(cursor_t.message.contains("private data (fs)"), "{}", cursor_t.message);
    assert!(cursor_t.message.contains("external communication (fetch)"), "{}", cursor_t.message);
    assert!(cursor_t.message.contains("untrusted content (fetch, fs)"), "{}", cursor_t.message);
    assert!(!trifecta.iter().any(|f| f.client == "windsurf"), "a disabled server brings no leg: {trifecta:#?}");
}

/// A running process, built by hand.
fn process(pid: u32, package: Option<&str>, unmanaged: bool, listeners: &[(&str, u16)]) -> ProcessRecord {
    ProcessRecord {
        pid,
        parent_pid: Some(1),
        user: Some("dev".into()),
        exe: "/usr/bin/node".into(),
        command: "node".into(),
        args: vec![Secret::new("server.js")],
        package: package.map(|name| pb::Package {
            ecosystem: pb::Ecosystem::Npm as i32,
            name: name.into(),
            ..Default::default()
        }),
        parent_client: None,
        server_ids: vec![format!("server-{pid}")],
        unmanaged,
        listeners: listeners.iter().map(|(a, p)| SocketInfo { pid, address: (*a).into(), port: *p }).collect(),
        started_unix: None,
    }
}

fn process_ids(d: &Discovery) -> Vec<(u32, String)> {
    let cat = FindingsCatalog::bundled().unwrap();
    let mut out: Vec<(u32, String)> = process_findings(d, cat)
        .into_iter()
        .map(|f| {
            let pid = f.message.split("(pid ").nth(1).and_then(|r| r.split(')').next()).unwrap().parse().unwrap();
            (pid, f.id)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn shadow_server_is_reported_and_a_configured_one_is_not() {
    let d = Discovery {
        processes: vec![
            process(100, Some("@acme/shadow-mcp"), true, &[]),
            process(101, Some("@acme/known"), false, &[]),
        ],
        ..Discovery::default()
    };
    assert_eq!(process_ids(&d), [(100, "MUSTER-SHADOW-SERVER".to_string())]);
    let cat = FindingsCatalog::bundled().unwrap();
    let f = process_findings(&d, cat);
    assert_eq!(f[0].user, "dev");
    assert!(f[0].message.contains("@acme/shadow-mcp"), "{}", f[0].message);
    assert_eq!(f[0].owasp, "MCP09");
}

#[test]
fn non_loopback_listeners_are_reported_and_loopback_ones_are_not() {
    let d = Discovery {
        processes: vec![
            process(200, None, false, &[("0.0.0.0", 8080), ("127.0.0.1", 9000)]),
            process(201, None, false, &[("::", 3001)]),
            process(202, None, false, &[("127.0.0.1", 3000), ("::1", 3000), ("localhost", 3002)]),
            process(203, None, false, &[("192.168.1.20", 8443)]),
        ],
        ..Discovery::default()
    };
    assert_eq!(
        process_ids(&d),
        [
            (200, "MUSTER-LISTEN-NONLOOPBACK".to_string()),
            (201, "MUSTER-LISTEN-NONLOOPBACK".to_string()),
            (203, "MUSTER-LISTEN-NONLOOPBACK".to_string()),
        ]
    );
    let cat = FindingsCatalog::bundled().unwrap();
    let f = process_findings(&d, cat);
    assert!(f[0].message.contains("0.0.0.0:8080") && !f[0].message.contains("9000"), "{}", f[0].message);
    assert_eq!(f[0].server_ids, ["server-200"]);
}

#[test]
fn every_catalog_finding_maps_to_owasp_and_is_raised_by_a_fixture() {
    let cat = FindingsCatalog::bundled().unwrap();
    let owasp: BTreeSet<String> = (1..=10).map(|n| format!("MCP{n:02}")).collect();
    for def in cat.all() {
        assert!(owasp.contains(&def.owasp), "{} maps to {:?}, not an OWASP MCP Top 10 id", def.id, def.owasp);
        assert!(!def.title.is_empty() && !def.remediation.is_empty(), "{}", def.id);
    }

    let catalog: BTreeSet<String> = cat.all().iter().map(|d| d.id.clone()).collect();
    let (_dir, inv) = scan_image();
    let from_image: BTreeSet<String> =
        inv.findings.iter().chain(inv.servers.iter().flat_map(|s| s.findings.iter())).map(|f| f.id.clone()).collect();
    let expected_from_image: BTreeSet<String> = catalog
        .iter()
        .filter(|id| ![&PROCESS_ONLY[..], &PROBE_ONLY, &REGISTRY_ONLY].iter().any(|only| only.contains(&id.as_str())))
        .cloned()
        .collect();
    let missing: Vec<&String> = expected_from_image.difference(&from_image).collect();
    assert!(missing.is_empty(), "catalog ids the image never raises (add a fixture or a rule): {missing:?}");
    assert!(from_image.is_subset(&catalog), "ids outside the catalog: {:?}", from_image.difference(&catalog));

    let d =
        Discovery { processes: vec![process(1, Some("@acme/x"), true, &[("0.0.0.0", 80)])], ..Discovery::default() };
    let from_processes: BTreeSet<String> = process_ids(&d).into_iter().map(|(_, id)| id).collect();
    let process_only: BTreeSet<String> = PROCESS_ONLY.iter().map(|s| s.to_string()).collect();
    assert_eq!(from_processes, process_only);
    assert!(process_only.is_subset(&catalog), "a process-only id left the catalog");

    let probe_only: BTreeSet<String> = PROBE_ONLY.iter().map(|s| s.to_string()).collect();
    assert_eq!(probe_findings(), probe_only);
    assert!(probe_only.is_subset(&catalog), "a probe-only id left the catalog");
}

/// The findings `remote_auth::annotate` raises for three answers: an `initialize` answered
/// without credentials, OAuth without PKCE S256, OAuth registering clients only dynamically.
fn probe_findings() -> BTreeSet<String> {
    use muster_agent::remote_auth::{Answer, AsMetadata, Discovery, InitReply, Observation, ResourceMetadata, Timed};
    let server = |name: &str, host: &str| pb::McpServer {
        name: name.into(),
        transport: pb::Transport::Http as i32,
        endpoint: Some(pb::RemoteEndpoint {
            scheme: "https".into(),
            host: host.into(),
            path: "/mcp".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut inv = pb::InventorySnapshot {
        servers: vec![server("open", "open.example"), server("nopkce", "nopkce.example"), server("dcr", "dcr.example")],
        ..Default::default()
    };
    let oauth = |m: AsMetadata| {
        Observation::Answered(Answer {
            initialize: InitReply::Refused { status: 401, bearer: true },
            resource_metadata: Some(ResourceMetadata {
                discovery: Discovery::Header,
                authorization_server: Some("auth.example".into()),
                resource_matches: true,
            }),
            as_metadata: Some(m),
        })
    };
    let full = AsMetadata {
        pkce_s256: true,
        client_id_metadata_documents: true,
        dynamic_registration: false,
        iss_parameter: true,
    };
    let answers = [
        (
            "https://open.example/mcp",
            Observation::Answered(Answer { initialize: InitReply::Mcp, resource_metadata: None, as_metadata: None }),
        ),
        ("https://nopkce.example/mcp", oauth(AsMetadata { pkce_s256: false, ..full })),
        (
            "https://dcr.example/mcp",
            oauth(AsMetadata { client_id_metadata_documents: false, dynamic_registration: true, ..full }),
        ),
    ]
    .into_iter()
    .map(|(k, observation)| (k.to_string(), Timed { probed_at: 1, observation }))
    .collect();
    muster_agent::remote_auth::annotate(
        &mut inv,
        &answers,
        None,
        &Default::default(),
        FindingsCatalog::bundled().unwrap(),
    );
    let per_server: Vec<Vec<String>> =
        inv.servers.iter().map(|s| s.findings.iter().map(|f| f.id.clone()).collect()).collect();
    assert_eq!(
        per_server,
        [vec![PROBE_ONLY[0].to_string()], vec![PROBE_ONLY[1].to_string()], vec![PROBE_ONLY[2].to_string()]]
    );
    per_server.into_iter().flatten().collect()
}

/// Regression: the trifecta grouped servers by user and client only, so a private-data server
/// in one project and a fetch server in another (which never run together) made a trifecta.
#[test]
fn trifecta_does_not_combine_servers_of_different_projects() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let sqlite = json!({"command": "uvx", "args": ["mcp-server-sqlite==0.6.2", "--db-path", "/tmp/x.db"]});
    let fetch = json!({"command": "uvx", "args": ["mcp-server-fetch==2025.4.7"]});
    for (project, servers) in [
        ("a", json!({"sqlite": sqlite})),
        ("b", json!({"fetch": fetch})),
        ("c", json!({"sqlite": sqlite, "fetch": fetch})),
    ] {
        std::fs::create_dir_all(root.join(format!("home/dev/src/{project}/.git"))).unwrap();
        put(
            root,
            &format!("/home/dev/src/{project}/.mcp.json"),
            &serde_json::to_string(&json!({ "mcpServers": servers })).unwrap(),
            0o600,
        );
    }
    let inv = muster_agent::scan(&image_scan::image_request(root)).unwrap();
    assert_eq!(inv.servers.len(), 4, "{:#?}", inv.problems);
    let trifecta: Vec<&pb::Finding> = inv.findings.iter().filter(|f| f.id == "MUSTER-LETHAL-TRIFECTA").collect();
    assert_eq!(trifecta.len(), 1, "only project c runs all three legs: {trifecta:#?}");
    assert!(trifecta[0].message.contains("in project /home/dev/src/c"), "{}", trifecta[0].message);
    let c_ids: BTreeSet<&str> =
        inv.servers.iter().filter(|s| s.config_path.contains("/src/c/")).map(|s| s.id.as_str()).collect();
    assert_eq!(trifecta[0].server_ids.iter().map(String::as_str).collect::<BTreeSet<_>>(), c_ids);
}
