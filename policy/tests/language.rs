//! The policy file format: what it refuses (with line and column), and the canonical form.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use muster_policy::parse;

/// The diagnostics of a refused file, as `line:column: message`.
fn refused(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

fn assert_refused(text: &str, expected: &[(&str, &str)]) {
    let got = refused(text);
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (g, (place, fragment)) in got.iter().zip(expected) {
        assert!(
            g.starts_with(&format!("{place}: ")) && g.contains(fragment),
            "expected {place} {fragment:?}, got {g:?}"
        );
    }
}

#[test]
fn syntax_errors_and_unknown_fields_name_their_place() {
    assert_refused("version = 1\n[[rule]\n", &[("2:8", "unclosed array table")]);
    assert_refused(
        "version = 1\n[[rule]]\nid = \"r\"\naction = \"block\"\ncolour = \"red\"\n[rule.match]\n",
        &[("5:1", "unknown field `colour`")],
    );
    assert_refused("version = 1\nauthor = \"me\"\n", &[("2:1", "unknown field `author`")]);
    assert_refused(
        "version = 1\n[[rule]]\nid = \"r\"\naction = \"block\"\n[rule.match]\ntransport = [\"smoke-signals\"]\n",
        &[("6:14", "unknown variant `smoke-signals`")],
    );
    assert_refused(
        "version = 1\n[[rule]]\nid = \"r\"\naction = \"delete\"\n[rule.match]\n",
        &[("4:10", "unknown variant `delete`")],
    );
    assert_refused("version = 2\n", &[("1:11", "unsupported policy version 2")]);
    assert_refused("name = \"x\"\n", &[("1:1", "missing field `version`")]);
}

#[test]
fn every_semantic_problem_is_reported_at_once_with_its_place() {
    let text = r#"version = 1

[[rule]]
id = "bad-range"
action = "block"
[rule.match]
ecosystem = ["npm"]
version = ">= banana"

[[rule]]
id = "bad-pep440"
action = "block"
[rule.match]
ecosystem = ["pypi"]
version = "=>1.0"

[[rule]]
id = "stdio-url"
action = "notify"
[rule.match]
transport = ["stdio"]
url_host = ["*.example.com"]

[[rule]]
id = "empty-list"
action = "notify"
[rule.match]
package = []

[[rule]]
id = "bad-glob"
action = "notify"
[rule.match]
package = ["[unclosed"]

[[rule]]
id = "bad-grace"
action = "notify"
grace = "two weeks"
[rule.match]

[[rule]]
id = "bad-range"
action = "deny-tools"
[rule.match]

[[exception]]
id = "e"
rules = ["nope"]
reason = ""
approver = "sec"
expires = 2027-01-01
"#;
    assert_refused(
        text,
        &[
            ("8:11", "not an npm version range"),
            ("15:11", "not a PEP 440 version range"),
            ("20:1", "stdio servers have no URL"),
            ("27:1", "`package = []` matches nothing"),
            ("34:12", "\"[unclosed\" is not a valid glob"),
            ("39:9", "not a duration"),
            ("42:1", "needs `tools`"),
            ("43:6", "rule id \"bad-range\" is used twice"),
            ("47:1", "at least one of `server`, `server_id`, `endpoint`, `user`"),
            ("49:10", "no rule has id \"nope\""),
            ("50:10", "`reason` must not be empty"),
            ("52:11", "needs a date, a time and an offset"),
        ],
    );
}

#[test]
fn rules_that_could_never_match_are_refused() {
    let never = [
        "[rule.match]\necosystem = [\"local\"]\nversion = \"1.0.0\"",
        "[rule.match]\nversion = \"1.0.0\"",
        "[rule.match]\necosystem = [\"binary\"]\nunpinned = true",
        "[rule.match]\ntransport = [\"http\", \"sse\"]\npackage = [\"x\"]",
        "[rule.match]\nliteral_credential = false\ncredential_kind = [\"github-pat\"]",
        "[rule.match]\nauto_approved = false\nauto_approved_tool = [\"x\"]",
        "[rule.match]\nscope = [\"managed\"]\n[rule.target]\nuser = [\"dev\"]",
        "[rule.match]\n[rule.unless]",
        "[rule.match]\n[rule.target]\nos = []",
        "[rule.match]\nname = [\"\"]",
    ];
    for body in never {
        let text = format!("version = 1\n[[rule]]\nid = \"r\"\naction = \"notify\"\n{body}\n");
        let got = refused(&text);
        assert_eq!(got.len(), 1, "{body}: {got:?}");
    }
    // A rule with neither `match` nor `builtin`, an unknown built-in, and both at once.
    assert!(refused("version = 1\n[[rule]]\nid = \"r\"\naction = \"notify\"\n")[0].contains("needs a `[rule.match]`"));
    assert!(
        refused("version = 1\n[[rule]]\nid = \"r\"\naction = \"notify\"\nbuiltin = \"NOPE\"\n")[0]
            .starts_with("5:11: unknown built-in")
    );
    assert!(
        refused(
            "version = 1\n[[rule]]\nid = \"r\"\naction = \"notify\"\nbuiltin = \"MUSTER-PKG-UNPINNED\"\n[rule.match]\n"
        )[0]
        .contains("not both")
    );
    assert!(
        refused("version = 1\n[[rule]]\nid = \"r\"\naction = \"notify\"\ntools = [\"x\"]\n[rule.match]\n")[0]
            .contains("deny-tools")
    );
}

#[test]
fn the_canonical_form_ignores_order_and_layout_and_parses_back_to_itself() {
    let a = r#"
# a comment
version = 1
name = "acme"
[[rule]]
id = "b"
action = "block"
[rule.match]
transport = ["ws", "sse"]
url_host = ["b.example", "a.example"]
[[rule]]
id = "a"
action = "deny-tools"
tools = ["z", "y"]
[rule.match]
service = ["github"]
[[exception]]
id = "e2"
rules = ["b", "a"]
user = "dev"
reason = "r"
approver = "p"
expires = 2027-01-01T00:00:00Z
[[exception]]
id = "e1"
rules = ["a"]
user = "ops"
reason = "r"
approver = "p"
expires = 2027-01-01T01:00:00+01:00
"#;
    let b = r#"version = 1
name = "acme"

[[exception]]
id = "e1"
rules = ["a"]
user = "ops"
reason = "r"
approver = "p"
expires = 2027-01-01T01:00:00+01:00

[[rule]]
id = "a"
action = "deny-tools"
tools = ["y", "z"]
  [rule.match]
  service = ["github"]

[[rule]]
id = "b"
action = "block"
  [rule.match]
  url_host = ["a.example", "b.example"]
  transport = ["sse", "ws"]

[[exception]]
id = "e2"
rules = ["a", "b"]
user = "dev"
reason = "r"
approver = "p"
expires = 2027-01-01T00:00:00Z
"#;
    let (a, b) = (parse(a).unwrap(), parse(b).unwrap());
    assert_eq!(a.canonical_bytes(), b.canonical_bytes());
    let again = parse(std::str::from_utf8(a.canonical_bytes()).unwrap()).unwrap();
    assert_eq!(again.canonical_bytes(), a.canonical_bytes());
    assert_eq!(a.rule_ids().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(a.exception_ids().collect::<Vec<_>>(), ["e1", "e2"]);
    // A real change changes the bytes.
    let c = parse(&std::str::from_utf8(a.canonical_bytes()).unwrap().replace("\"block\"", "\"quarantine\"")).unwrap();
    assert_ne!(c.canonical_bytes(), a.canonical_bytes());
}

#[test]
fn a_published_bundle_carries_its_revision() {
    let b = parse("version = 1\nrevision = 7\npublished_at = 2027-01-10T00:00:00Z\n").unwrap();
    assert_eq!(b.revision(), 7);
    assert_eq!(b.published_at(), Some(1_799_539_200));
    assert_eq!(parse("version = 1\n").unwrap().revision(), 0);
}

/// Issue 16: `[remote_auth]` turns the agents' unauthenticated probe off, for the fleet or per
/// host glob (case-insensitive); without it agents probe. Bad globs and an empty list are refused
/// with their place, and the canonical form sorts the hosts.
#[test]
fn remote_auth_probing_can_be_switched_off_globally_or_per_host() {
    let plain = parse("version = 1\n").unwrap();
    assert!(plain.allows_remote_auth_probe("mcp.example.com"));
    let off = parse("version = 1\n[remote_auth]\nprobe = false\n").unwrap();
    assert!(!off.allows_remote_auth_probe("mcp.example.com"));
    let some =
        parse("version = 1\n[remote_auth]\nskip_hosts = [\"mcp.partner.example\", \"*.corp.example.com\"]\n").unwrap();
    assert!(!some.allows_remote_auth_probe("wiki.CORP.example.com"));
    assert!(!some.allows_remote_auth_probe("mcp.partner.example"));
    assert!(some.allows_remote_auth_probe("mcp.example.com"));
    assert!(some.allows_remote_auth_probe("corp.example.com.evil.example"));
    assert!(
        String::from_utf8_lossy(some.canonical_bytes())
            .contains(r#"skip_hosts = ["*.corp.example.com", "mcp.partner.example"]"#),
        "{}",
        String::from_utf8_lossy(some.canonical_bytes())
    );
    assert_refused("version = 1\n[remote_auth]\nskip_hosts = [\"a[\"]\n", &[("3:15", "not a valid glob")]);
    assert_refused("version = 1\n[remote_auth]\nskip_hosts = []\n", &[("2:1", "names no host")]);
    assert_refused("version = 1\n[remote_auth]\nprobes = false\n", &[("3:1", "unknown field `probes`")]);
}

/// Issue 13: `[contact]` names who developers ask about the policy (the tray shows it beside a
/// blocked server); it is part of the signed canonical form, needs at least one key, and each
/// value is one line of at most 200 characters.
#[test]
fn a_contact_is_named_signed_and_checked() {
    assert!(parse("version = 1\n").unwrap().contact().is_none());
    let b = parse("version = 1\n[contact]\nname = \"Platform security\"\nemail = \"mcp@acme.example\"\n").unwrap();
    let c = b.contact().expect("a contact");
    assert_eq!((c.name.as_str(), c.email.as_str(), c.url.as_str()), ("Platform security", "mcp@acme.example", ""));
    assert!(String::from_utf8_lossy(b.canonical_bytes()).contains("email = \"mcp@acme.example\""));
    assert_refused("version = 1\n[contact]\n", &[("2:1", "needs a name, an email or a url")]);
    assert_refused("version = 1\n[contact]\nphone = \"1\"\n", &[("3:1", "unknown field `phone`")]);
    let long = format!("version = 1\n[contact]\nname = \"{}\"\n", "x".repeat(201));
    assert_refused(&long, &[("2:1", "at most 200 characters")]);
}
