//! What a report changed, for the activity feed: which fields of a changed server differ
//! ([`describe_change`]) and which findings appeared or were resolved ([`finding_events`]).
//! Pure functions over the stored and the reported `muster.v1` messages; nothing here touches
//! the database.
//!
//! **Names, never values.** A field change names the field, and the names added to or removed
//! from a list of names (environment variables, headers, credential locations). Before/after
//! values are given only where they are vocabulary that cannot hold a secret: enum words,
//! booleans, counts, a launcher from [`KNOWN_LAUNCHERS`] and a version made of digits and dots.
//! Everything else (arguments, URLs, paths, package and service names, providers, fingerprints)
//! is reported as "changed" without its values, although the agent already masked it: the feed
//! is read by many and kept for long, so it holds nothing a masking miss could have let through.
//! `docs/adr/0014-activity-changes-names-never-values.md` records the choice.

use std::collections::{BTreeMap, BTreeSet};

use muster_proto::v1::{AuthPosture, Credential, CredentialSource, Finding, McpServer, Scope, Transport};
use muster_proto::words::WireWord;
use serde::{Deserialize, Serialize};

/// One field of a server that differs between two reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldChange {
    /// Which field: `command`, `arguments`, `transport`, `scope`, `url`, `remote_endpoint`,
    /// `remote_auth`, `package`, `package_version`, `pinned`, `disabled`, `env_names`,
    /// `header_names`, `credentials`, `auto_approve`, `origin`, `working_directory`, `service`,
    /// `findings` (catalog ids), or `other` (something the agent reports that has no field of its
    /// own here).
    pub field: String,
    /// The old value, only where it is vocabulary (see the module documentation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The new value, under the same rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Names added (environment variables, headers, credential locations, auto-approved tools).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    /// Names removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// Names whose content changed (a credential location given another secret or source).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
}

impl FieldChange {
    fn new(field: &str) -> Self {
        Self { field: field.to_string(), ..Self::default() }
    }

    fn values(field: &str, before: impl Into<String>, after: impl Into<String>) -> Self {
        Self { field: field.to_string(), before: Some(before.into()), after: Some(after.into()), ..Self::default() }
    }

    /// One line for people: `command: npx → uvx`, `env names added: A; removed: B`.
    pub fn text(&self) -> String {
        let label = self.field.replace('_', " ");
        let mut parts = Vec::new();
        for (verb, names) in [("added", &self.added), ("removed", &self.removed), ("changed", &self.changed)] {
            if !names.is_empty() {
                parts.push(format!("{verb}: {}", names.join(", ")));
            }
        }
        match (&self.before, &self.after) {
            (Some(before), Some(after)) => parts.insert(0, format!("{before} → {after}")),
            _ if parts.is_empty() => parts.push("changed".to_string()),
            _ => {}
        }
        format!("{label} {}", parts.join("; "))
    }
}

/// Launchers whose name the feed may show: a secret can never equal one of these words.
pub const KNOWN_LAUNCHERS: &[&str] = &[
    "bash", "bun", "bunx", "cargo", "deno", "docker", "dotnet", "go", "java", "node", "npm", "npx", "php", "pipx",
    "pnpm", "podman", "python", "python3", "ruby", "sh", "uv", "uvx", "yarn",
];

/// The launcher a command runs, when it is one of [`KNOWN_LAUNCHERS`] (`/usr/bin/npx` → `npx`,
/// `C:\...\node.exe` → `node`).
fn launcher(command: &str) -> Option<&'static str> {
    let base = command.rsplit(['/', '\\']).next().unwrap_or(command);
    let base = base.strip_suffix(".exe").or_else(|| base.strip_suffix(".cmd")).unwrap_or(base);
    KNOWN_LAUNCHERS.iter().copied().find(|known| *known == base)
}

/// A version the feed may show: 1 to 4 dot-separated runs of at most 9 digits, optionally with
/// a leading `v` (`1.2.3`, `v20`). Anything else (a tag, a range, a digest) is not shown.
fn plain_version(version: &str) -> Option<&str> {
    let digits = version.strip_prefix('v').unwrap_or(version);
    let parts: Vec<&str> = digits.split('.').collect();
    let plain = (1..=4).contains(&parts.len())
        && parts.iter().all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()));
    plain.then_some(version)
}

fn scope_word(scope: i32) -> &'static str {
    Scope::word_of(scope)
}

fn transport_word(transport: i32) -> &'static str {
    Transport::word_of(transport)
}

fn source_word(source: i32) -> &'static str {
    CredentialSource::word_of(source)
}

/// Names added to and removed from a list of names, each sorted and without repeats.
fn name_diff(before: &[String], after: &[String]) -> (Vec<String>, Vec<String>) {
    let before: BTreeSet<&String> = before.iter().collect();
    let after: BTreeSet<&String> = after.iter().collect();
    (
        after.difference(&before).map(|s| s.to_string()).collect(),
        before.difference(&after).map(|s| s.to_string()).collect(),
    )
}

fn push_names(out: &mut Vec<FieldChange>, field: &str, before: &[String], after: &[String]) {
    let (added, removed) = name_diff(before, after);
    if !added.is_empty() || !removed.is_empty() {
        out.push(FieldChange { added, removed, ..FieldChange::new(field) });
    }
}

fn credential_key(credential: &Credential) -> (&str, i32, &str, &str, &str) {
    (&credential.kind, credential.source, &credential.fingerprint, &credential.provider, &credential.reference)
}

fn credentials_change(before: &[Credential], after: &[Credential]) -> Option<FieldChange> {
    let old: BTreeMap<&str, &Credential> = before.iter().map(|c| (c.location.as_str(), c)).collect();
    let new: BTreeMap<&str, &Credential> = after.iter().map(|c| (c.location.as_str(), c)).collect();
    let mut change = FieldChange::new("credentials");
    for (location, credential) in &new {
        match old.get(location) {
            None => change.added.push(location.to_string()),
            Some(previous) if credential_key(previous) != credential_key(credential) => {
                change.changed.push(location.to_string());
            }
            Some(_) => {}
        }
    }
    change.removed = old.keys().filter(|l| !new.contains_key(*l)).map(|l| l.to_string()).collect();
    // One location whose source changed says how (a literal moved to a reference, or back).
    if let [location] = change.changed.as_slice()
        && let (Some(previous), Some(now)) = (old.get(location.as_str()), new.get(location.as_str()))
        && previous.source != now.source
    {
        change.before = Some(source_word(previous.source).to_string());
        change.after = Some(source_word(now.source).to_string());
    }
    (!change.added.is_empty() || !change.removed.is_empty() || !change.changed.is_empty()).then_some(change)
}

/// The fields of one server that differ between the stored `before` and the reported `after`
/// (the same server id, so name, client, user, config path and project are equal). Findings are
/// named by catalog id (`findings` added / removed; the events of [`finding_events`] say more).
/// When only something without a field of its own differs (a remote auth probe's time, say),
/// the answer is one `other` change.
pub fn describe_change(before: &McpServer, after: &McpServer) -> Vec<FieldChange> {
    let mut out = Vec::new();
    if before.command != after.command {
        out.push(match (launcher(&before.command), launcher(&after.command)) {
            (Some(old), Some(new)) => FieldChange::values("command", old, new),
            _ => FieldChange::new("command"),
        });
    }
    if before.args != after.args {
        let mut change = FieldChange::new("arguments");
        if before.args.len() != after.args.len() {
            change.before = Some(format!("{} arguments", before.args.len()));
            change.after = Some(format!("{} arguments", after.args.len()));
        }
        out.push(change);
    }
    if before.transport != after.transport {
        out.push(FieldChange::values("transport", transport_word(before.transport), transport_word(after.transport)));
    }
    if before.scope != after.scope {
        out.push(FieldChange::values("scope", scope_word(before.scope), scope_word(after.scope)));
    }
    if before.url != after.url {
        out.push(FieldChange::new("url"));
    }
    let (old_endpoint, new_endpoint) = (before.endpoint.as_ref(), after.endpoint.as_ref());
    let place = |e: Option<&muster_proto::v1::RemoteEndpoint>| {
        e.map(|e| (e.scheme.clone(), e.host.clone(), e.port, e.path.clone()))
    };
    if place(old_endpoint) != place(new_endpoint) {
        out.push(FieldChange::new("remote_endpoint"));
    }
    let posture = |e: Option<&muster_proto::v1::RemoteEndpoint>| {
        e.and_then(|e| e.auth.as_ref()).map_or(muster_proto::words::UNSPECIFIED, |a| AuthPosture::word_of(a.posture))
    };
    if posture(old_endpoint) != posture(new_endpoint) {
        out.push(FieldChange::values("remote_auth", posture(old_endpoint), posture(new_endpoint)));
    }
    let (old_package, new_package) = (before.package.as_ref(), after.package.as_ref());
    let identity = |p: Option<&muster_proto::v1::Package>| p.map(|p| (p.ecosystem, p.name.clone()));
    if identity(old_package) != identity(new_package) {
        out.push(FieldChange::new("package"));
    } else if let (Some(old), Some(new)) = (old_package, new_package) {
        if old.version != new.version {
            fn shown(version: &Option<String>) -> Option<&str> {
                version.as_deref().map_or(Some("none"), plain_version)
            }
            out.push(match (shown(&old.version), shown(&new.version)) {
                (Some(a), Some(b)) => FieldChange::values("package_version", a, b),
                _ => FieldChange::new("package_version"),
            });
        }
        if old.pinned != new.pinned {
            out.push(FieldChange::values("pinned", old.pinned.to_string(), new.pinned.to_string()));
        }
    }
    if before.disabled != after.disabled {
        let word = |disabled: bool| if disabled { "disabled" } else { "enabled" };
        out.push(FieldChange::values("disabled", word(before.disabled), word(after.disabled)));
    }
    push_names(&mut out, "env_names", &before.env_names, &after.env_names);
    push_names(&mut out, "header_names", &before.header_names, &after.header_names);
    if let Some(change) = credentials_change(&before.credentials, &after.credentials) {
        out.push(change);
    }
    let (old_auto, new_auto) =
        (before.auto_approve.clone().unwrap_or_default(), after.auto_approve.clone().unwrap_or_default());
    if old_auto != new_auto {
        let (added, removed) = name_diff(&old_auto.tools, &new_auto.tools);
        let mut change = FieldChange { added, removed, ..FieldChange::new("auto_approve") };
        if old_auto.all != new_auto.all {
            let word = |all: bool| if all { "all tools" } else { "listed tools" };
            change.before = Some(word(old_auto.all).to_string());
            change.after = Some(word(new_auto.all).to_string());
        }
        out.push(change);
    }
    if before.origin != after.origin {
        out.push(FieldChange::new("origin"));
    }
    if before.cwd != after.cwd {
        out.push(FieldChange::new("working_directory"));
    }
    if before.service != after.service || before.service_guessed != after.service_guessed {
        out.push(FieldChange::new("service"));
    }
    let finding_ids = |s: &McpServer| s.findings.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
    let (old_ids, new_ids) = (finding_ids(before), finding_ids(after));
    push_names(&mut out, "findings", &old_ids, &new_ids);
    if out.is_empty() && before != after {
        // Something without a field of its own (a probe's time), or a finding's wording.
        let same_ids = old_ids == new_ids;
        out.push(if same_ids && before.findings != after.findings {
            FieldChange {
                changed: new_ids.into_iter().collect::<BTreeSet<_>>().into_iter().collect(),
                ..FieldChange::new("findings")
            }
        } else {
            FieldChange::new("other")
        });
    }
    out
}

/// Whether a finding appeared or was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingChange {
    Appeared,
    Resolved,
}

/// A finding that appeared or was resolved, with the server it is about (`""` for a host-wide
/// finding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingEvent<'a> {
    pub server_id: &'a str,
    pub finding: &'a Finding,
    pub change: FindingChange,
}

/// The findings that appeared and were resolved between `before` and `after`, each a list of
/// (server id, finding) of the servers and host-wide findings the report rewrote.
///
/// A finding keeps its identity while it says the same kind of thing about the same place, the
/// way decisions identify it: a server's finding by server and catalog id (its message may
/// change: another secret in the same server is not a new finding), or, where a server has
/// several of one catalog id (package advisories), also by message; a host-wide finding by
/// everything it says, so a trifecta another server joins is a new finding.
pub fn finding_events<'a>(
    before: &[(&'a str, &'a Finding)],
    after: &[(&'a str, &'a Finding)],
) -> Vec<FindingEvent<'a>> {
    type Key<'k> = (&'k str, &'k str);
    fn grouped<'a>(items: &[(&'a str, &'a Finding)]) -> BTreeMap<Key<'a>, Vec<&'a Finding>> {
        let mut groups: BTreeMap<Key<'a>, Vec<&'a Finding>> = BTreeMap::new();
        for (server_id, finding) in items {
            groups.entry((server_id, finding.id.as_str())).or_default().push(finding);
        }
        groups
    }
    let identity = |f: &Finding| (f.message.clone(), f.client.clone(), f.user.clone(), f.server_ids.clone());
    let (old, new) = (grouped(before), grouped(after));
    let mut events = Vec::new();
    let keys: BTreeSet<&Key<'a>> = old.keys().chain(new.keys()).collect();
    for key in keys {
        let (server_id, _) = *key;
        let (was, is) = (old.get(key).map_or(&[][..], Vec::as_slice), new.get(key).map_or(&[][..], Vec::as_slice));
        if !server_id.is_empty() && was.len() == 1 && is.len() == 1 {
            continue;
        }
        let was_ids: BTreeSet<_> = was.iter().map(|f| identity(f)).collect();
        let is_ids: BTreeSet<_> = is.iter().map(|f| identity(f)).collect();
        for finding in is.iter().filter(|f| !was_ids.contains(&identity(f))) {
            events.push(FindingEvent { server_id, finding, change: FindingChange::Appeared });
        }
        for finding in was.iter().filter(|f| !is_ids.contains(&identity(f))) {
            events.push(FindingEvent { server_id, finding, change: FindingChange::Resolved });
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use muster_proto::v1::{AutoApprove, Package, Severity};

    use super::*;

    fn server() -> McpServer {
        McpServer {
            id: "s".into(),
            name: "github".into(),
            command: "npx".into(),
            args: vec!["-y".into(), "@modelcontextprotocol/server-github".into()],
            env_names: vec!["GITHUB_TOKEN".into()],
            package: Some(Package {
                ecosystem: 1,
                name: "@modelcontextprotocol/server-github".into(),
                version: Some("1.0.0".into()),
                pinned: true,
            }),
            credentials: vec![Credential {
                location: "env:GITHUB_TOKEN".into(),
                kind: "github-pat".into(),
                source: CredentialSource::Literal as i32,
                fingerprint: "aa".into(),
                provider: "github".into(),
                reference: String::new(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn texts(before: &McpServer, after: &McpServer) -> Vec<String> {
        describe_change(before, after).iter().map(FieldChange::text).collect()
    }

    #[test]
    fn a_launcher_swap_names_both_launchers_and_other_commands_only_the_field() {
        let after = McpServer { command: "/usr/local/bin/uvx".into(), ..server() };
        assert_eq!(texts(&server(), &after), ["command npx → uvx"]);
        let after = McpServer { command: "/opt/tools/run-github".into(), ..server() };
        assert_eq!(texts(&server(), &after), ["command changed"]);
    }

    #[test]
    fn env_and_header_names_added_and_removed_are_listed_by_name() {
        let after =
            McpServer { env_names: vec!["GH_HOST".into()], header_names: vec!["Authorization".into()], ..server() };
        assert_eq!(
            texts(&server(), &after),
            ["env names added: GH_HOST; removed: GITHUB_TOKEN", "header names added: Authorization"]
        );
    }

    #[test]
    fn credentials_say_where_a_secret_was_added_removed_or_replaced_never_which() {
        let mut after = server();
        after.credentials[0].fingerprint = "bb".into();
        after.credentials.push(Credential { location: "header:X-Key".into(), ..after.credentials[0].clone() });
        assert_eq!(texts(&server(), &after), ["credentials added: header:X-Key; changed: env:GITHUB_TOKEN"]);
        let mut moved = server();
        moved.credentials[0].source = CredentialSource::Reference as i32;
        moved.credentials[0].fingerprint = String::new();
        assert_eq!(texts(&server(), &moved), ["credentials literal → reference; changed: env:GITHUB_TOKEN"]);
    }

    #[test]
    fn plain_versions_are_shown_and_anything_else_is_only_named() {
        let mut after = server();
        after.package.as_mut().unwrap().version = Some("1.2.0".into());
        assert_eq!(texts(&server(), &after), ["package version 1.0.0 → 1.2.0"]);
        after.package.as_mut().unwrap().version = Some("1.2.0-ghp_secretish".into());
        after.package.as_mut().unwrap().pinned = false;
        assert_eq!(texts(&server(), &after), ["package version changed", "pinned true → false"]);
    }

    #[test]
    fn enums_booleans_counts_and_auto_approve_tools() {
        let after = McpServer {
            transport: Transport::Http as i32,
            disabled: true,
            args: vec!["-y".into()],
            auto_approve: Some(AutoApprove { all: false, tools: vec!["create_issue".into()] }),
            ..server()
        };
        assert_eq!(
            texts(&server(), &after),
            [
                "arguments 2 arguments → 1 arguments",
                "transport unspecified → http",
                "disabled enabled → disabled",
                "auto approve added: create_issue"
            ]
        );
    }

    #[test]
    fn a_difference_without_a_field_of_its_own_is_other_and_findings_are_named_by_id() {
        let mut after = server();
        after.findings.push(Finding { id: "MUSTER-SECRET-ENV".into(), ..Default::default() });
        assert_eq!(texts(&server(), &after), ["findings added: MUSTER-SECRET-ENV"]);
        let mut reworded = after.clone();
        reworded.findings[0].message = "another secret too".into();
        assert_eq!(texts(&after, &reworded), ["findings changed: MUSTER-SECRET-ENV"]);
        after.findings.clear();
        after.endpoint = Some(muster_proto::v1::RemoteEndpoint::default());
        assert_eq!(texts(&server(), &after), ["remote endpoint changed"]);
        let mut probed = after.clone();
        probed.endpoint.as_mut().unwrap().auth =
            Some(muster_proto::v1::RemoteAuth { probed_at: 5, ..Default::default() });
        assert_eq!(texts(&after, &probed), ["other changed"]);
    }

    fn finding(id: &str, message: &str) -> Finding {
        Finding { id: id.into(), message: message.into(), severity: Severity::High as i32, ..Default::default() }
    }

    #[test]
    fn findings_keep_their_identity_like_decisions_do() {
        let secret = finding("MUSTER-SECRET-ENV", "literal secret in GITHUB_TOKEN");
        let secret_two = finding("MUSTER-SECRET-ENV", "literal secrets in GITHUB_TOKEN and GH_PAT");
        let (a1, a2) = (finding("MUSTER-PKG-VULNERABLE", "GHSA-1"), finding("MUSTER-PKG-VULNERABLE", "GHSA-2"));
        let trifecta = finding("MUSTER-TRIFECTA", "cursor: a, b");
        let trifecta_wider = finding("MUSTER-TRIFECTA", "cursor: a, b, c");
        let before = [("s", &secret), ("s", &a1), ("", &trifecta)];
        let after = [("s", &secret_two), ("s", &a1), ("s", &a2), ("", &trifecta_wider)];
        let events: Vec<(&str, &str, FindingChange)> = finding_events(&before, &after)
            .iter()
            .map(|e| (e.server_id, e.finding.message.as_str(), e.change))
            .collect();
        assert_eq!(
            events,
            [
                ("", "cursor: a, b, c", FindingChange::Appeared),
                ("", "cursor: a, b", FindingChange::Resolved),
                ("s", "GHSA-2", FindingChange::Appeared),
            ]
        );
        let gone = finding_events(&before, &[]);
        assert_eq!(gone.iter().filter(|e| e.change == FindingChange::Resolved).count(), 3);
    }

    /// Secrets of several families, as a masking miss would let them through.
    const PLANTED: &[&str] = &[
        "ghp_R8xk2LmQ9vT4wZ1yN6pB3cD7fH0jK5sA2eG9",
        "AKIAQ7XN3LJ5PRW2TY6K",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtdXN0ZXIifQ.c2lnbmF0dXJlLXBsYW50ZWQ",
        "sk_live_51Hq8ZtD3wYxR7uQ2pLm9Vb0Kc",
        "9f2c1e7a5b3d8e0f4a6c2b9d1e7f3a5c",
        "npx",
    ];

    /// Every string a server carries besides its names, each as a setter: one per field of the
    /// `muster.v1` server message and the messages inside it.
    /// Puts a planted value into one field of a server.
    type Plant = fn(&mut McpServer, &str);

    fn value_fields() -> Vec<(&'static str, Plant)> {
        use muster_proto::v1::{RemoteAuth, RemoteEndpoint};
        fn endpoint(s: &mut McpServer) -> &mut RemoteEndpoint {
            s.endpoint.get_or_insert_with(RemoteEndpoint::default)
        }
        fn auth(s: &mut McpServer) -> &mut RemoteAuth {
            endpoint(s).auth.get_or_insert_with(RemoteAuth::default)
        }
        fn package(s: &mut McpServer) -> &mut Package {
            s.package.get_or_insert_with(Package::default)
        }
        vec![
            ("command", |s, v| s.command = format!("/opt/{v}/bin/server")),
            ("command whole", |s, v| s.command = v.into()),
            ("args", |s, v| s.args.push(format!("--token={v}"))),
            ("url", |s, v| s.url = format!("https://{v}@mcp.example.com/?key={v}")),
            ("package name", |s, v| package(s).name = v.into()),
            ("package version", |s, v| package(s).version = Some(v.into())),
            ("package version suffix", |s, v| package(s).version = Some(format!("1.0.0-{v}"))),
            ("endpoint scheme", |s, v| endpoint(s).scheme = v.into()),
            ("endpoint host", |s, v| endpoint(s).host = format!("{v}.example.com")),
            ("endpoint path", |s, v| endpoint(s).path = format!("/{v}")),
            ("auth reason", |s, v| auth(s).reason = v.into()),
            ("auth missing", |s, v| auth(s).missing.push(v.into())),
            ("auth discovery", |s, v| auth(s).discovery = v.into()),
            ("auth server", |s, v| auth(s).authorization_server = v.into()),
            ("origin", |s, v| s.origin = format!("extension:{v}")),
            ("cwd", |s, v| s.cwd = format!("/home/dev/{v}")),
            ("service", |s, v| s.service = v.into()),
            ("credential kind", |s, v| s.credentials[0].kind = v.into()),
            ("credential fingerprint", |s, v| s.credentials[0].fingerprint = v.into()),
            ("credential provider", |s, v| s.credentials[0].provider = v.into()),
            ("credential reference", |s, v| s.credentials[0].reference = v.into()),
            ("finding message", |s, v| {
                s.findings.push(Finding { id: "MUSTER-SECRET-ARG".into(), message: v.into(), ..Default::default() })
            }),
            ("finding owasp", |s, v| {
                s.findings.push(Finding { id: "MUSTER-SECRET-ARG".into(), owasp: v.into(), ..Default::default() })
            }),
            ("finding client", |s, v| {
                s.findings.push(Finding { id: "MUSTER-SECRET-ARG".into(), client: v.into(), ..Default::default() })
            }),
            ("finding user", |s, v| {
                s.findings.push(Finding { id: "MUSTER-SECRET-ARG".into(), user: v.into(), ..Default::default() })
            }),
        ]
    }

    /// Every 12-character window of `secret` (the whole of a shorter one).
    fn windows(secret: &str) -> Vec<&str> {
        if secret.len() <= 12 { vec![secret] } else { (0..=secret.len() - 12).map(|i| &secret[i..i + 12]).collect() }
    }

    #[test]
    fn a_changed_event_never_holds_a_planted_secret_in_any_field() {
        let mut checked = 0;
        for (field, set) in value_fields() {
            for secret in PLANTED.iter().filter(|s| s.len() > 3) {
                for (plant_before, plant_after) in [(true, false), (false, true), (true, true)] {
                    let (mut before, mut after) = (server(), server());
                    if plant_before {
                        set(&mut before, secret);
                    }
                    if plant_after {
                        // Both planted: a different secret of the same shape after.
                        let other = secret.chars().rev().collect::<String>();
                        set(&mut after, if plant_before { &other } else { secret });
                    }
                    let changes = describe_change(&before, &after);
                    assert!(!changes.is_empty() || before == after, "{field}: a change must be an event");
                    let mut out = serde_json::to_string(&changes).unwrap();
                    out.extend(changes.iter().map(FieldChange::text));
                    for planted in [secret.to_string(), secret.chars().rev().collect()] {
                        for window in windows(&planted) {
                            assert!(!out.contains(window), "{field}: `{window}` of a planted secret in {out}");
                        }
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, value_fields().len() * 5 * 3);
    }

    #[test]
    fn the_secret_search_finds_a_value_when_a_field_shows_it() {
        // The check above would catch a field shown by value: a known launcher is shown.
        let (before, after) = (server(), McpServer { command: PLANTED[5].replace("npx", "uvx"), ..server() });
        let out: String = describe_change(&before, &after).iter().map(FieldChange::text).collect();
        assert!(out.contains("uvx"), "{out}");
    }
}
