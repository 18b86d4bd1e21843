//! The generated leak test for running processes: every planted secret family of
//! `muster_e2e::leakgen`, placed in a running MCP server's command line in every way a launch
//! command carries one (flag and `--flag=` values, a package spec, a URL's userinfo and path, a
//! positional argument, `env NAME=value`, a `sh -c` string), through the agent's analysis and
//! inventory (the process record, its package identity and the shadow-server finding), then
//! searched for in the encoded report, its JSON rendering and its debug form.
//!
//! Discovery from `/proc` is the system edge here: the records are built the way discovery
//! builds them, so the test needs no real process holding a secret on the CI machine. It fails
//! when the gate's process pass (`inventory::scrub_snapshot` → `scrub_process`) is a no-op
//! (checked 2026-12-07). Argument flag masking in `inventory::process` (`mask::mask_args`) is a
//! second line under the gate: made a no-op alone, nothing leaks.

use muster_agent::analysis::{AnalysisContext, analyse};
use muster_agent::discovery::Discovery;
use muster_agent::discovery::processes::ProcessRecord;
use muster_agent::findings::catalog::FindingsCatalog;
use muster_agent::platform::{Layout, Os};
use muster_agent::secrets::Secret;
use muster_agent::secrets::fingerprint::FleetKey;
use muster_e2e::leakgen::{self, Planted, find_leaks};
use muster_proto::prost::Message as _;
use muster_proto::v1 as pb;

/// Launch command lines holding `s` (a secret as a config would write it), argv[0] first.
fn placements(s: &str) -> Vec<Vec<String>> {
    let v = |parts: &[&str]| parts.iter().map(|p| (*p).to_string()).collect::<Vec<_>>();
    vec![
        v(&["npx", "-y", "@acme/shadow-mcp", "--token", s]),
        v(&["npx", "-y", "@acme/shadow-mcp", &format!("--api-key={s}")]),
        v(&["npx", "-y", &format!("git+https://{s}@github.com/acme/shadow-mcp")]),
        v(&["npx", "-y", &format!("git+https://x-access-token:{s}@github.com/acme/shadow-mcp")]),
        v(&["uvx", "--from", &format!("git+https://oauth2:{s}@gitlab.com/acme/shadow-mcp"), "shadow-mcp"]),
        v(&["node", "/opt/shadow/server.js", s]),
        v(&["npx", "-y", "mcp-remote", &format!("https://mcp.example.com/api/mcp/s/{s}/mcp")]),
        v(&["npx", "-y", "mcp-remote", &format!("https://mcp.example.com/sse?key={s}")]),
        v(&["env", &format!("SHADOW_TOKEN={s}"), "npx", "-y", "@acme/shadow-mcp"]),
        v(&["sh", "-c", &format!("npx -y @acme/shadow-mcp --token {s}")]),
    ]
}

/// How a family is written: pairs with their public half, the rest as they are.
fn as_written(p: &Planted) -> String {
    match p.family.as_str() {
        "pair-user-secret" => format!("svc-deploy:{}", p.secret),
        "pair-id-key-secret" => format!("AKIAIOSFODNN7EXAMPLE/build:{}", p.secret),
        _ => p.secret.clone(),
    }
}

fn record(pid: u32, argv: &[String]) -> ProcessRecord {
    ProcessRecord {
        pid,
        parent_pid: Some(1),
        user: Some("dev".into()),
        exe: format!("/usr/bin/{}", argv[0]),
        command: argv[0].clone(),
        args: argv[1..].iter().map(|a| Secret::new(a.as_str())).collect(),
        // Discovery names a package when it recognises the launcher; the inventory parses the
        // package again from the masked command line.
        package: Some(pb::Package {
            ecosystem: pb::Ecosystem::Npm as i32,
            name: "placeholder".into(),
            ..Default::default()
        }),
        parent_client: None,
        server_ids: Vec::new(),
        unmanaged: true,
        listeners: Vec::new(),
        started_unix: None,
    }
}

#[test]
fn generated_secrets_in_running_processes_never_leave_the_agent() {
    let planted = leakgen::secrets(0x5eed_0bad);
    assert!(planted.len() > 20, "the generator gives every family: {}", planted.len());
    let mut processes = Vec::new();
    for p in &planted {
        for argv in placements(&as_written(p)) {
            let pid = u32::try_from(processes.len()).unwrap() + 1000;
            processes.push(record(pid, &argv));
        }
    }
    let count = processes.len();
    let found = Discovery { processes, ..Discovery::default() };
    let key = FleetKey::from_bytes([0x5a; 32]);
    let ctx = AnalysisContext {
        fleet_key: &key,
        catalog: muster_agent::catalog::bundled().unwrap(),
        advisories: muster_agent::advisories::AdvisoryDb::bundled().unwrap(),
        findings: FindingsCatalog::bundled().unwrap(),
        registry: &Default::default(),
    };
    let analysis = analyse(&found, &ctx);
    let layout = Layout::image(std::env::temp_dir(), Os::Linux);
    let inv = muster_agent::inventory::build(&found, &analysis, &layout, &[], 1_800_000_000);

    // It cannot pass by reporting nothing: every process is reported, each shadow server raises
    // its finding, and the ones with a recognisable package keep a package name.
    assert_eq!(inv.processes.len(), count);
    let shadow = inv.findings.iter().filter(|f| f.id == "MUSTER-SHADOW-SERVER").count();
    assert_eq!(shadow, count, "one shadow-server finding per unmanaged process");
    assert!(
        inv.processes.iter().any(|p| p.package.as_ref().is_some_and(|k| k.name == "@acme/shadow-mcp")),
        "packages are still identified from the masked command lines"
    );

    let haystacks = vec![
        ("report (protobuf)".to_string(), inv.encode_to_vec()),
        ("scan --format json".to_string(), muster_agent::output::json::render(&inv).into_bytes()),
        ("debug form".to_string(), format!("{inv:?}").into_bytes()),
    ];
    let leaks = find_leaks(&planted, &haystacks);
    assert!(leaks.is_empty(), "{} leaks, first: {:#?}", leaks.len(), &leaks[..leaks.len().min(10)]);
}
