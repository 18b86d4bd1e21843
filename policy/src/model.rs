//! The compiled policy: a [`Bundle`] of rules (conditions, targets, an action with an optional
//! grace period) and exceptions, with glob patterns and version ranges compiled once so that
//! evaluation does no parsing. Built only by [`crate::parse`]; holds its canonical bytes.

use std::ops::Range;
use std::str::FromStr;

use globset::{Candidate, GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

/// What a rule asks for, weakest first (the order is the one [`crate::ServerDecision::action_now`]
/// uses to pick the strongest action due).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Tell the user and the security team; change nothing.
    Notify,
    /// No tool of the server runs without asking: auto-approval lists are removed.
    RequireApproval,
    /// The named tools of the server are denied (`tools`).
    DenyTools,
    /// Disable the entry in the user's own configuration.
    Quarantine,
    /// Make the client itself refuse the server through its enterprise policy.
    Block,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Notify => "notify",
            Action::RequireApproval => "require-approval",
            Action::DenyTools => "deny-tools",
            Action::Quarantine => "quarantine",
            Action::Block => "block",
        }
    }
}

/// Package registry words of the policy language (`muster.v1.Ecosystem`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ecosystem {
    Npm,
    Pypi,
    Oci,
    Local,
    Binary,
}

/// Transport words (`muster.v1.Transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    Stdio,
    Sse,
    Http,
    Ws,
}

/// Scope words (`muster.v1.Scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    User,
    Project,
    Managed,
}

/// Operating system words (`muster.v1.Os`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Os {
    Linux,
    Macos,
    Windows,
}

/// Severity words, least first (`muster.v1.Severity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// A compiled policy, ready to evaluate. Equal policies (whatever the order of their rules,
/// exceptions and list items) have equal [`Bundle::canonical_bytes`].
#[derive(Debug, Clone)]
pub struct Bundle {
    pub(crate) name: String,
    pub(crate) revision: u64,
    pub(crate) published_at: Option<i64>,
    /// Sorted by id.
    pub(crate) rules: Vec<Rule>,
    /// Sorted by id.
    pub(crate) exceptions: Vec<Exception>,
    /// `[remote_auth]`: whether agents may probe remote servers' authentication.
    pub(crate) remote_auth: RemoteAuthProbing,
    /// `[contact]`: who developers ask about the policy.
    pub(crate) contact: Option<Contact>,
    pub(crate) canonical: String,
}

/// The organisation's contact for questions about the policy (`[contact]`); empty strings for
/// keys the file leaves out, at least one set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    pub name: String,
    pub email: String,
    pub url: String,
}

/// `[remote_auth]` compiled: the probe switched off for the whole fleet, or for some hosts.
#[derive(Debug, Clone)]
pub(crate) struct RemoteAuthProbing {
    pub(crate) probe: bool,
    pub(crate) skip_hosts: Option<Patterns>,
}

impl Default for RemoteAuthProbing {
    fn default() -> Self {
        Self { probe: true, skip_hosts: None }
    }
}

impl Bundle {
    /// Who developers ask about the policy (`[contact]`), if the file names anyone.
    pub fn contact(&self) -> Option<&Contact> {
        self.contact.as_ref()
    }

    /// The policy's name (`name = ...`), empty when unnamed.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the policy lets agents ask the remote server at `host` (without any credential)
    /// how it authenticates: `[remote_auth] probe = false` says no for every host,
    /// `skip_hosts` (case-insensitive globs) for the hosts it matches. Yes without a
    /// `[remote_auth]` table.
    pub fn allows_remote_auth_probe(&self, host: &str) -> bool {
        self.remote_auth.probe && !self.remote_auth.skip_hosts.as_ref().is_some_and(|h| h.is_match(host))
    }

    /// The published revision (`revision`, set by the control plane), 0 for an unpublished file.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// When the revision was published (Unix seconds), if it was.
    pub fn published_at(&self) -> Option<i64> {
        self.published_at
    }

    /// Rule ids, sorted.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }

    /// Each rule's id, title and action, sorted by id (for listings such as a dry run's).
    pub fn rule_summaries(&self) -> impl Iterator<Item = (&str, &str, Action)> {
        self.rules.iter().map(|r| (r.id.as_str(), r.title.as_str(), r.action))
    }

    /// Exception ids, sorted.
    pub fn exception_ids(&self) -> impl Iterator<Item = &str> {
        self.exceptions.iter().map(|e| e.id.as_str())
    }

    /// The canonical document: the same TOML with rules, exceptions and every unordered list
    /// sorted and comments and layout dropped. Parsing these bytes gives an equal bundle; they
    /// are what a signature covers and what travels in `muster.v1.PolicyBundle.document`.
    pub fn canonical_bytes(&self) -> &[u8] {
        self.canonical.as_bytes()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) action: Action,
    pub(crate) tools: Vec<String>,
    pub(crate) grace: Option<i64>,
    pub(crate) since: Option<i64>,
    pub(crate) builtin: Option<String>,
    pub(crate) condition: Condition,
    pub(crate) unless: Option<Condition>,
    pub(crate) target: Target,
}

/// Every set field must hold (AND); a list holds when any item matches (OR).
#[derive(Debug, Clone, Default)]
pub(crate) struct Condition {
    pub(crate) name: Option<Patterns>,
    pub(crate) ecosystems: Option<Vec<Ecosystem>>,
    pub(crate) package: Option<Patterns>,
    pub(crate) version: Option<VersionRange>,
    pub(crate) unpinned: Option<bool>,
    pub(crate) command: Option<Patterns>,
    pub(crate) command_line: Option<Patterns>,
    pub(crate) transports: Option<Vec<Transport>>,
    pub(crate) url_scheme: Option<Patterns>,
    pub(crate) url_host: Option<Patterns>,
    pub(crate) url_path: Option<Patterns>,
    pub(crate) plaintext_remote: Option<bool>,
    pub(crate) service: Option<Patterns>,
    pub(crate) client: Option<Patterns>,
    pub(crate) scopes: Option<Vec<Scope>>,
    pub(crate) literal_credential: Option<bool>,
    pub(crate) credential_kind: Option<Patterns>,
    pub(crate) credential_provider: Option<Patterns>,
    pub(crate) credential_location: Option<Patterns>,
    pub(crate) auto_approved: Option<bool>,
    pub(crate) auto_approved_tool: Option<Patterns>,
    pub(crate) listening_nonloopback: Option<bool>,
    pub(crate) advisory_severity: Option<Severity>,
    pub(crate) malicious: Option<bool>,
}

/// Whom a rule applies to; every set field must hold.
#[derive(Debug, Clone, Default)]
pub(crate) struct Target {
    pub(crate) os: Option<Vec<Os>>,
    pub(crate) users: Option<Patterns>,
    pub(crate) clients: Option<Patterns>,
    pub(crate) hostnames: Option<Patterns>,
    pub(crate) tags: Option<Patterns>,
}

#[derive(Debug, Clone)]
pub(crate) struct Exception {
    pub(crate) id: String,
    /// Sorted rule ids, or `*`.
    pub(crate) rules: Vec<String>,
    pub(crate) server: Option<Patterns>,
    pub(crate) server_id: Option<String>,
    pub(crate) endpoint: Option<Patterns>,
    /// The `endpoint` text, also compared with the agent id.
    pub(crate) endpoint_text: Option<String>,
    pub(crate) user: Option<Patterns>,
    pub(crate) reason: String,
    pub(crate) approver: String,
    pub(crate) expires: i64,
}

/// A version range in each ecosystem the rule names.
#[derive(Debug, Clone)]
pub(crate) struct VersionRange {
    /// npm: alternatives (`||`), each a set of comparators.
    pub(crate) npm: Option<Vec<semver::VersionReq>>,
    pub(crate) pypi: Option<pep440_rs::VersionSpecifiers>,
    /// OCI: a digest (`sha256:...`, exact) or a tag glob.
    pub(crate) oci: Option<Patterns>,
}

impl VersionRange {
    pub(crate) fn parse(text: &str, ecosystems: &[Ecosystem]) -> Result<VersionRange, String> {
        let mut r = VersionRange { npm: None, pypi: None, oci: None };
        for e in ecosystems {
            match e {
                Ecosystem::Npm => r.npm = Some(parse_npm_range(text)?),
                Ecosystem::Pypi => {
                    r.pypi = Some(pep440_rs::VersionSpecifiers::from_str(text).map_err(|e| {
                        format!("{text:?} is not a PEP 440 version range: {}", first_line(&e.to_string()))
                    })?)
                }
                Ecosystem::Oci => {
                    let t = text.trim();
                    if t.is_empty() || t.contains(char::is_whitespace) {
                        return Err(format!("{text:?} is not an OCI tag pattern or digest"));
                    }
                    if let Some(hex) = t.strip_prefix("sha256:")
                        && (hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()))
                    {
                        return Err(format!("{text:?} is not a sha256 digest (64 hex digits)"));
                    }
                    r.oci = Some(globs(&[(0..0, t)], false).map_err(|(_, e)| e)?);
                }
                Ecosystem::Local | Ecosystem::Binary => {}
            }
        }
        Ok(r)
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s).trim_end_matches(':')
}

/// npm ranges in the `semver` crate's comparators: `||` separates alternatives, comparators
/// inside one may be separated by spaces (npm) or commas; a bare version means exactly that
/// version (npm), not Cargo's caret.
fn parse_npm_range(text: &str) -> Result<Vec<semver::VersionReq>, String> {
    let bad = |e: &dyn std::fmt::Display| format!("{text:?} is not an npm version range: {e}");
    let mut out = Vec::new();
    for alt in text.split("||") {
        let alt = alt.trim();
        if alt.is_empty() {
            return Err(bad(&"empty alternative"));
        }
        let mut comparators = Vec::new();
        let mut pending_op = String::new();
        for token in alt.split([' ', ',']).filter(|t| !t.is_empty()) {
            // `>= 1.2` is one comparator written with a space.
            if token.chars().all(|c| "<>=~^".contains(c)) {
                pending_op.push_str(token);
                continue;
            }
            let token = format!("{pending_op}{token}");
            pending_op.clear();
            let starts_with_op = token.starts_with(['<', '>', '=', '~', '^', '*']);
            let bare = token.trim_start_matches('v');
            if !starts_with_op && semver::Version::parse(bare).is_ok() {
                comparators.push(format!("={bare}"));
            } else {
                comparators.push(token);
            }
        }
        if !pending_op.is_empty() {
            return Err(bad(&format!("{pending_op:?} has no version")));
        }
        out.push(semver::VersionReq::parse(&comparators.join(", ")).map_err(|e| bad(&e))?);
    }
    Ok(out)
}

/// A list of glob patterns; it matches when any pattern does. Lists in policies are short, so
/// trying each compiled matcher in turn is faster than a `GlobSet`, which runs every one of its
/// strategies (and hashes the text) on each call.
#[derive(Debug, Clone)]
pub(crate) struct Patterns(Vec<GlobMatcher>);

impl Patterns {
    pub(crate) fn is_match_candidate(&self, c: &Candidate<'_>) -> bool {
        self.0.iter().any(|m| m.is_match_candidate(c))
    }

    pub(crate) fn is_match(&self, text: &str) -> bool {
        self.is_match_candidate(&Candidate::from_bytes(text.as_bytes()))
    }
}

/// Compiles glob patterns; on error, the failing pattern's span and why.
pub(crate) fn globs(
    items: &[(Range<usize>, &str)],
    case_insensitive: bool,
) -> Result<Patterns, (Range<usize>, String)> {
    let mut set = Vec::with_capacity(items.len());
    for (span, pattern) in items {
        if pattern.is_empty() {
            return Err((span.clone(), "an empty pattern matches nothing".to_string()));
        }
        let glob = GlobBuilder::new(pattern)
            .case_insensitive(case_insensitive)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|e| (span.clone(), format!("{pattern:?} is not a valid glob: {}", e.kind())))?;
        set.push(glob.compile_matcher());
    }
    Ok(Patterns(set))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn npm(range: &str, v: &str) -> bool {
        let v = semver::Version::parse(v).unwrap();
        parse_npm_range(range).unwrap().iter().any(|r| r.matches(&v))
    }

    #[test]
    fn npm_ranges_read_like_npm() {
        assert!(npm("1.2.3", "1.2.3"));
        assert!(!npm("1.2.3", "1.2.4"), "a bare version is exact in npm");
        assert!(npm(">=1.2.0 <2.0.0", "1.9.0"));
        assert!(!npm(">=1.2.0 <2.0.0", "2.0.0"));
        assert!(npm(">= 1.2.0, < 2", "1.5.0"));
        assert!(npm("<0.5.0 || >=2", "2.1.0"));
        assert!(npm("^0.6", "0.6.9"));
        assert!(npm("1.x", "1.4.0"));
        assert!(parse_npm_range(">=").is_err());
        assert!(parse_npm_range("not a range").is_err());
        assert!(parse_npm_range("1.0 ||").is_err());
    }

    #[test]
    fn oci_and_pypi_ranges() {
        assert!(VersionRange::parse(">=1.0,<2", &[Ecosystem::Pypi]).is_ok());
        assert!(VersionRange::parse("~~1", &[Ecosystem::Pypi]).is_err());
        assert!(VersionRange::parse("sha256:abc", &[Ecosystem::Oci]).is_err());
        assert!(VersionRange::parse("v1.*", &[Ecosystem::Oci]).is_ok());
    }
}
