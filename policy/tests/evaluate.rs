//! `evaluate` on a realistic laptop inventory: every condition kind, target, action, grace
//! period and exception, each checked by the exact servers it hits.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use muster_policy::{Action, Due, Endpoint, evaluate, parse};

const NOW: i64 = 1_800_000_000; // 2027-01-15T08:00:00Z

/// Server ids the single rule `r` hits on the laptop (with the given tags).
fn hits_with(rule_body: &str, tags: &[String]) -> Vec<String> {
    let text = format!("version = 1\n[[rule]]\nid = \"r\"\naction = \"notify\"\n{rule_body}\n");
    let bundle = parse(&text).unwrap_or_else(|e| panic!("{text}\n{e:?}"));
    let inv = support::laptop();
    let d = evaluate(&bundle, &Endpoint { inventory: &inv, agent_id: "agent-1", tags }, NOW);
    d.servers.iter().filter(|s| !s.violations.is_empty()).map(|s| s.server_id.clone()).collect()
}

fn hits(rule_body: &str) -> Vec<String> {
    hits_with(rule_body, &[])
}

#[test]
fn every_condition_kind_hits_exactly_its_servers() {
    let cases: &[(&str, &[&str])] = &[
        ("[rule.match]", &["s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "s09"]),
        ("[rule.match]\nname = [\"git*\", \"fetch\"]", &["s01", "s03"]),
        ("[rule.match]\necosystem = [\"npm\"]", &["s01", "s02", "s08"]),
        ("[rule.match]\npackage = [\"@modelcontextprotocol/*\"]", &["s01", "s02"]),
        (
            "[rule.match]\necosystem = [\"npm\"]\npackage = [\"@modelcontextprotocol/*\"]\nversion = \"<1.5.0\"",
            &["s02"],
        ),
        ("[rule.match]\necosystem = [\"npm\"]\nversion = \">=1.5 || 1.0.16\"", &["s08"]),
        ("[rule.match]\necosystem = [\"pypi\"]\nversion = \">=0.6,<0.7\"", &["s03"]),
        ("[rule.match]\necosystem = [\"pypi\"]\nversion = \">=0.7\"", &[]),
        ("[rule.match]\necosystem = [\"oci\"]\nversion = \"latest\"", &["s04"]),
        ("[rule.match]\nunpinned = true", &["s01", "s04"]),
        ("[rule.match]\nunpinned = false", &["s02", "s03", "s05", "s06", "s07", "s08", "s09"]),
        ("[rule.match]\ncommand = [\"npx\"]", &["s01", "s02", "s08"]),
        ("[rule.match]\ncommand = [\"/opt/corp/*\"]", &["s09"]),
        ("[rule.match]\ncommand_line = [\"docker run *--rm*\"]", &["s04"]),
        ("[rule.match]\ntransport = [\"sse\"]", &["s05"]),
        ("[rule.match]\nurl_scheme = [\"http\"]", &["s06", "s07"]),
        ("[rule.match]\nurl_host = [\"*.EXAMPLE.com\"]", &["s05"]),
        ("[rule.match]\nurl_path = [\"/mcp\"]", &["s06", "s07"]),
        ("[rule.match]\nplaintext_remote = true", &["s06"]),
        ("[rule.match]\nservice = [\"git*\"]", &["s01"]),
        ("[rule.match]\nclient = [\"cursor\"]", &["s02", "s06", "s07"]),
        ("[rule.match]\nscope = [\"project\", \"managed\"]", &["s03", "s09"]),
        ("[rule.match]\nliteral_credential = true", &["s01"]),
        ("[rule.match]\ncredential_provider = [\"github\"]", &["s01"]),
        ("[rule.match]\ncredential_kind = [\"bearer\"]", &[]),
        ("[rule.match]\ncredential_location = [\"env:GITHUB_*\"]\ncredential_kind = [\"github-pat\"]", &["s01"]),
        ("[rule.match]\ncredential_location = [\"env:GITHUB_*\"]\ncredential_kind = [\"aws-*\"]", &[]),
        ("[rule.match]\nauto_approved = true", &["s01", "s09"]),
        ("[rule.match]\nauto_approved_tool = [\"delete_*\"]", &["s01", "s09"]),
        ("[rule.match]\nauto_approved_tool = [\"read_*\"]", &["s09"]),
        ("[rule.match]\nlistening_nonloopback = true", &["s04"]),
        ("[rule.match]\nadvisory_severity = \"high\"", &["s03", "s08"]),
        ("[rule.match]\nadvisory_severity = \"critical\"", &["s08"]),
        ("[rule.match]\nmalicious = true", &["s08"]),
        (
            "[rule.match]\n[rule.unless]\necosystem = [\"npm\"]\nversion = \"*\"",
            &["s01", "s03", "s04", "s05", "s06", "s07", "s09"],
        ),
        ("[rule.match]\ncommand = [\"npx\"]\n[rule.unless]\npackage = [\"@modelcontextprotocol/*\"]", &["s08"]),
    ];
    for (body, want) in cases {
        assert_eq!(hits(body), *want, "rule body:\n{body}");
    }
}

#[test]
fn targets_narrow_who_a_rule_applies_to() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[rule.match]\n[rule.target]\nos = [\"macos\"]",
            &["s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "s09"],
        ),
        ("[rule.match]\n[rule.target]\nos = [\"linux\", \"windows\"]", &[]),
        ("[rule.match]\n[rule.target]\nuser = [\"ops\"]", &["s08"]),
        ("[rule.match]\n[rule.target]\nclient = [\"vscode\"]", &["s04"]),
        (
            "[rule.match]\n[rule.target]\nhostname = [\"DEV-LAPTOP-*\"]",
            &["s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "s09"],
        ),
        ("[rule.match]\n[rule.target]\nhostname = [\"build-*\"]", &[]),
        ("[rule.match]\nmalicious = true\n[rule.target]\ntags = [\"team:*\"]", &[]),
    ];
    for (body, want) in cases {
        assert_eq!(hits(body), *want, "rule body:\n{body}");
    }
    let tags = vec!["team:payments".to_string()];
    assert_eq!(hits_with("[rule.match]\nmalicious = true\n[rule.target]\ntags = [\"team:*\"]", &tags), ["s08"]);
}

#[test]
fn builtin_rules_mirror_todays_findings() {
    let cases: &[(&str, &[&str])] = &[
        ("MUSTER-SECRET-ENV", &["s01"]),
        ("MUSTER-SECRET-HEADER", &[]),
        ("MUSTER-PKG-UNPINNED", &["s01", "s04"]),
        ("MUSTER-PKG-VULNERABLE", &["s03", "s08"]),
        ("MUSTER-PKG-MALICIOUS", &["s08"]),
        ("MUSTER-REMOTE-PLAINTEXT", &["s06"]),
        ("MUSTER-REMOTE-SSE-DEPRECATED", &["s05"]),
        ("MUSTER-AUTO-APPROVE", &["s01", "s09"]),
        ("MUSTER-LISTEN-NONLOOPBACK", &["s04"]),
    ];
    for (id, want) in cases {
        assert_eq!(hits(&format!("builtin = \"{id}\"")), *want, "{id}");
    }
}

const POLICY: &str = r#"
version = 1
name = "acme"
published_at = 2027-01-10T00:00:00Z

[[rule]]
id = "block-malicious"
action = "block"
[rule.match]
malicious = true

[[rule]]
id = "no-sse"
action = "quarantine"
grace = "14d"
[rule.match]
transport = ["sse"]

[[rule]]
id = "github-no-delete"
action = "deny-tools"
tools = ["delete_repository", "delete_repository"]
grace = "1d"
since = 2027-01-01T00:00:00Z
[rule.match]
service = ["github"]

[[rule]]
id = "approve-everything"
action = "require-approval"
[rule.match]
auto_approved = true

[[exception]]
id = "crm-until-feb"
rules = ["no-sse"]
server = "legacy-*"
reason = "vendor ships Streamable HTTP in February"
approver = "ciso@acme.example"
expires = 2027-02-01T00:00:00Z

[[exception]]
id = "ops-expired"
rules = ["*"]
user = "ops"
reason = "incident response"
approver = "ciso@acme.example"
expires = 2027-01-01T00:00:00Z
"#;

#[test]
fn actions_grace_periods_and_exceptions() {
    let bundle = parse(POLICY).unwrap();
    let inv = support::laptop();
    let d = evaluate(&bundle, &Endpoint { inventory: &inv, agent_id: "", tags: &[] }, NOW);
    let by_id = |id: &str| d.servers.iter().find(|s| s.server_id == id).unwrap();

    // Deny-tools: since 2027-01-01 + 1 day is past, so due now; the tool list is deduplicated.
    let github = by_id("s01");
    let rules: Vec<&str> = github.violations.iter().map(|v| v.rule.as_str()).collect();
    assert_eq!(rules, ["approve-everything", "github-no-delete"], "sorted by rule id");
    assert_eq!(github.violations[1].tools, ["delete_repository"]);
    assert_eq!(github.violations[1].due, Due::Now);
    assert_eq!(github.action_now(), Some(Action::DenyTools));
    assert!(!github.allowed());

    // Quarantine with 14 days' grace from publication (2027-01-10): due 2027-01-24, but an
    // exception lifts it until February.
    let crm = by_id("s05");
    assert_eq!(crm.violations.len(), 1);
    assert_eq!(crm.violations[0].due, Due::At { unix: 1_800_748_800 });
    assert_eq!(crm.violations[0].exception.as_ref().map(|l| l.exception.as_str()), Some("crm-until-feb"));
    assert!(crm.allowed());
    assert_eq!(crm.action_now(), None);

    // The ops exception expired on 2027-01-01: the block stands.
    let evil = by_id("s08");
    assert_eq!(evil.action_now(), Some(Action::Block));
    assert!(evil.violations[0].exception.is_none());

    // The same policy after the exception's expiry and after the grace period: quarantine now.
    let later = evaluate(&bundle, &Endpoint { inventory: &inv, agent_id: "", tags: &[] }, 1_802_000_000);
    let crm = later.servers.iter().find(|s| s.server_id == "s05").unwrap();
    assert_eq!(crm.violations[0].due, Due::Now);
    assert!(crm.violations[0].exception.is_none());
    assert_eq!(crm.action_now(), Some(Action::Quarantine));

    // Servers no rule hits are allowed, and every server gets a decision.
    assert_eq!(d.servers.len(), 9);
    assert!(by_id("s02").allowed() && by_id("s02").violations.is_empty());
}

#[test]
fn exceptions_by_endpoint_match_the_hostname_or_the_agent_id() {
    let policy = |endpoint: &str| {
        parse(&format!(
            "version = 1\n[[rule]]\nid = \"r\"\naction = \"block\"\n[rule.match]\nmalicious = true\n\
             [[exception]]\nid = \"e\"\nrules = [\"r\"]\nendpoint = \"{endpoint}\"\nreason = \"lab machine\"\n\
             approver = \"sec\"\nexpires = 2030-01-01T00:00:00Z\n"
        ))
        .unwrap()
    };
    let inv = support::laptop();
    let lifted = |bundle: &muster_policy::Bundle| {
        let d = evaluate(bundle, &Endpoint { inventory: &inv, agent_id: "agent-1", tags: &[] }, NOW);
        d.servers.iter().find(|s| s.server_id == "s08").unwrap().allowed()
    };
    assert!(lifted(&policy("dev-laptop-*")));
    assert!(lifted(&policy("agent-1")));
    assert!(!lifted(&policy("build-*")));
}

#[test]
fn a_grace_period_in_an_unpublished_file_counts_from_now() {
    let bundle = parse(
        "version = 1\n[[rule]]\nid = \"r\"\naction = \"block\"\ngrace = \"2d\"\n[rule.match]\nmalicious = true\n",
    )
    .unwrap();
    let inv = support::laptop();
    let d = evaluate(&bundle, &Endpoint { inventory: &inv, agent_id: "", tags: &[] }, NOW);
    let v = &d.servers.iter().find(|s| s.server_id == "s08").unwrap().violations[0];
    assert_eq!(v.due, Due::At { unix: NOW + 2 * 86_400 });
}

/// FNV-1a, enough to pin bytes in a test.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// The control plane stores a digest of `shape_bytes` per server and trusts it until
/// `SHAPE_VERSION` changes: a change to what a shape holds must bump the version.
#[test]
fn shape_bytes_are_pinned_to_the_shape_version() {
    let laptop = support::laptop();
    let bytes: Vec<u8> = laptop.servers.iter().flat_map(muster_policy::shape_bytes).collect();
    assert_eq!(
        (muster_policy::SHAPE_VERSION, fnv1a(&bytes)),
        (1, 0x637f_1a94_8c18_b322),
        "what a server shape holds changed: bump SHAPE_VERSION (stored shape keys go stale) and pin the new digest"
    );
}
