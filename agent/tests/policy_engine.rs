//! The daemon's policy step (`enforce::engine`) on a real machine image: a policy in force is
//! evaluated on a real scan, its quarantine is written into the user's file, every rule broken
//! becomes one action result of the report (applied, pending with a deadline, excepted) and one
//! decision of the tray's view; the next scan no longer sees the quarantined entry yet still
//! reports it as applied; a newer version without the rule restores the file byte-identical;
//! with enforcement turned off nothing is written and the action is pending.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use muster_agent::enforce::engine::{Engine, Outcome};
use muster_agent::platform::{EnvMap, Layout, Os};
use muster_agent::policy::{AcceptedPolicy, PolicyStatus};
use muster_agent::{ScanRequest, Scanned, scan_all};
use muster_proto::local::v1 as local;
use muster_proto::v1::{PolicyActionResult, PolicyActionState, PolicyBundle, PolicyReport};

const NOW: i64 = 1_900_000_000;

fn write_image(root: &Path) {
    let home = root.join("home/dev");
    std::fs::create_dir_all(home.join(".cursor")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/passwd"), "dev:x:1000:1000::/home/dev:/bin/bash\n").unwrap();
    std::fs::write(
        home.join(".cursor/mcp.json"),
        "{\r\n  // work servers\r\n  \"mcpServers\": {\r\n    \"legacy-crm\": {\"url\": \"https://crm.example.com/sse\", \"transport\": \"sse\"},\r\n    \"docs\": {\"command\": \"docs-server\"},\r\n    \"wiki\": {\"command\": \"wiki-server\"},\r\n  },\r\n}\r\n",
    )
    .unwrap();
}

/// Quarantine SSE now; tell about `docs`; quarantine `wiki` after a grace period; `docs` is
/// also quarantined but an exception lifts that.
const POLICY: &str = r#"version = 1
name = "engine"

[[rule]]
id = "no-sse"
action = "quarantine"
[rule.match]
transport = ["sse"]

[[rule]]
id = "tell-docs"
action = "notify"
[rule.match]
name = ["docs"]

[[rule]]
id = "retire-docs"
action = "quarantine"
[rule.match]
name = ["docs"]

[[rule]]
id = "retire-wiki"
action = "quarantine"
grace = "14d"
[rule.match]
name = ["wiki"]

[[exception]]
id = "docs-until-spring"
rules = ["retire-docs"]
server = "docs"
reason = "migration"
approver = "sec@example.com"
expires = 2100-01-01T00:00:00Z
"#;

const NOTHING: &str = "version = 1\nname = \"engine\"\n";

fn status(text: &str, version: u64) -> PolicyStatus {
    let bundle = muster_policy::publish(text, version, NOW).unwrap();
    let envelope = PolicyBundle { version, document: bundle.canonical_bytes().to_vec(), ..Default::default() };
    PolicyStatus { current: Some(Arc::new(AcceptedPolicy { envelope, bundle })), refusal: None }
}

fn scan(root: &Path) -> Scanned {
    scan_all(&ScanRequest {
        layout: Layout::image(root.to_path_buf(), Os::Linux),
        env: EnvMap::new(),
        processes: false,
        fleet_key: None,
        project: None,
        tags: Vec::new(),
    })
    .unwrap()
}

fn server_id(scanned: &Scanned, name: &str) -> String {
    scanned.inventory.servers.iter().find(|s| s.name == name).map(|s| s.id.clone()).expect(name)
}

fn action<'a>(report: &'a PolicyReport, server: &str, rule: &str) -> &'a PolicyActionResult {
    report
        .servers
        .iter()
        .filter(|s| s.server_id == server)
        .flat_map(|s| &s.actions)
        .find(|a| a.rule_id == rule)
        .unwrap_or_else(|| panic!("no result for {rule} on {server}: {report:#?}"))
}

fn engine(root: &Path, state: &Path, enforce: bool) -> Engine {
    Engine::new(Layout::image(root.to_path_buf(), Os::Linux), Vec::new(), state, enforce).unwrap()
}

#[test]
fn the_policy_step_enforces_reports_each_rule_and_restores_when_the_rule_goes() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, state) = (tmp.path().join("image"), tmp.path().join("state"));
    write_image(&root);
    let file = root.join("home/dev/.cursor/mcp.json");
    let original = std::fs::read(&file).unwrap();
    let engine = engine(&root, &state, true);

    let first = scan(&root);
    let (crm, docs, wiki) = (server_id(&first, "legacy-crm"), server_id(&first, "docs"), server_id(&first, "wiki"));
    let Outcome { report, view, .. } = engine.run(&status(POLICY, 4), &first, NOW);
    assert_eq!((report.applied_version, report.acked_version, report.evaluated_at_unix), (4, 4, NOW));

    let quarantined = action(&report, &crm, "no-sse");
    assert_eq!(quarantined.state(), PolicyActionState::Applied, "{quarantined:?}");
    assert_eq!(quarantined.action, "quarantine");
    assert_eq!(action(&report, &docs, "tell-docs").state(), PolicyActionState::Applied);
    let excepted = action(&report, &docs, "retire-docs");
    assert_eq!((excepted.state(), excepted.detail.as_str()), (PolicyActionState::Excepted, "docs-until-spring"));
    let graced = action(&report, &wiki, "retire-wiki");
    assert_eq!(graced.state(), PolicyActionState::Pending);
    assert_eq!(graced.due_at_unix, NOW + 14 * 86_400);
    assert_ne!(std::fs::read(&file).unwrap(), original, "the quarantine was written");

    // The tray's view: every rule broken, the grace deadline, the quarantine; all dev's.
    assert_eq!(view.version, 4);
    let rules: Vec<&str> = view.decisions.iter().map(|(_, d)| d.rule_id.as_str()).collect();
    assert_eq!(rules.len(), 4, "{rules:?}");
    assert!(view.decisions.iter().all(|(user, _)| user == "dev"));
    assert_eq!(view.pending.len(), 1);
    assert_eq!(view.pending[0].1.deadline_unix, NOW + 14 * 86_400);
    assert_eq!(view.pending[0].1.action, local::PolicyAction::Quarantine as i32);
    let q: Vec<&str> = view.quarantines.iter().map(|(_, q)| q.server_name.as_str()).collect();
    assert_eq!(q, ["legacy-crm"]);

    // The quarantined entry is gone from the next scan, and still reported as applied.
    let second = scan(&root);
    assert!(second.inventory.servers.iter().all(|s| s.name != "legacy-crm"));
    let again = engine.run(&status(POLICY, 4), &second, NOW + 60).report;
    assert_eq!(action(&again, &crm, "no-sse").state(), PolicyActionState::Applied);

    // A newer version without the rules: nothing is broken and the file is as it was.
    let lifted = engine.run(&status(NOTHING, 5), &second, NOW + 120);
    assert_eq!(lifted.report.applied_version, 5);
    assert!(lifted.report.servers.is_empty(), "{:#?}", lifted.report);
    assert!(lifted.view.decisions.is_empty() && lifted.view.quarantines.is_empty());
    assert_eq!(std::fs::read(&file).unwrap(), original, "restored byte-identical");
}

#[test]
fn with_enforcement_off_the_policy_is_reported_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, state) = (tmp.path().join("image"), tmp.path().join("state"));
    write_image(&root);
    let file = root.join("home/dev/.cursor/mcp.json");
    let original = std::fs::read(&file).unwrap();
    let scanned = scan(&root);
    let crm = server_id(&scanned, "legacy-crm");
    let report = engine(&root, &state, false).run(&status(POLICY, 2), &scanned, NOW).report;
    let result = action(&report, &crm, "no-sse");
    assert_eq!(result.state(), PolicyActionState::Pending);
    assert!(result.detail.contains("turned off"), "{result:?}");
    assert_eq!(std::fs::read(&file).unwrap(), original);
}

#[test]
fn without_a_policy_the_report_says_version_zero_and_why_the_last_bundle_was_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, state) = (tmp.path().join("image"), tmp.path().join("state"));
    write_image(&root);
    let refused = PolicyStatus { current: None, refusal: Some("version 3: bad signature".into()) };
    let report = engine(&root, &state, true).run(&refused, &scan(&root), NOW).report;
    assert_eq!(report.applied_version, 0);
    assert!(report.servers.is_empty());
    assert_eq!(report.refusal, "version 3: bad signature");
}
