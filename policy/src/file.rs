//! The policy file: TOML as people write it (`version = 1`, `[[rule]]`, `[[exception]]`),
//! parsed with spans so every problem names its line and column, validated as a whole (every
//! problem at once, not the first), and compiled into a [`Bundle`]. Also the canonical form:
//! the same document re-serialised with rules, exceptions and lists sorted, which is what a
//! bundle's bytes (and, later, its signature) are made of. Reads no file itself.

use std::collections::BTreeSet;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::value::Datetime;

use crate::builtin;
use crate::model::{
    Action, Bundle, Condition, Ecosystem, Exception, Os, Rule, Scope, Severity, Target, Transport, VersionRange, globs,
};
use crate::time::{datetime_to_unix, parse_duration};

/// The only file format version this crate reads.
pub const FORMAT_VERSION: u32 = 1;

/// One problem in a policy file, at a 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// A policy file that was refused: every problem found, in file order.
#[derive(Debug, thiserror::Error)]
#[error("policy refused with {} problem(s): {}", .diagnostics.len(), first(.diagnostics))]
pub struct PolicyError {
    pub diagnostics: Vec<Diagnostic>,
}

fn first(d: &[Diagnostic]) -> String {
    d.first().map(ToString::to_string).unwrap_or_default()
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    version: Spanned<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// Set by the control plane when it publishes; absent in a file being written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revision: Option<u64>,
    /// Set by the control plane when it publishes: grace periods without `since` count from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    published_at: Option<Spanned<Datetime>>,
    #[serde(default, rename = "rule", skip_serializing_if = "Vec::is_empty")]
    rules: Vec<Spanned<RawRule>>,
    #[serde(default, rename = "exception", skip_serializing_if = "Vec::is_empty")]
    exceptions: Vec<Spanned<RawException>>,
    /// Whether agents may ask remote servers how they authenticate (issue 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remote_auth: Option<Spanned<RawRemoteAuth>>,
    /// Who developers ask about the policy (shown by the tray app beside a blocked server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contact: Option<Spanned<RawContact>>,
}

/// `[contact]`: the organisation's contact for questions about the policy.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawContact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

/// `[remote_auth]`: the fleet's say on the agents' unauthenticated probe of remote servers.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRemoteAuth {
    /// `false`: no agent probes any remote server (default `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    probe: Option<bool>,
    /// Host globs (case-insensitive) agents never probe, e.g. `*.corp.example.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    skip_hosts: Globs,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub(crate) id: Spanned<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) title: Option<String>,
    pub(crate) action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tools: Option<Spanned<Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) grace: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) since: Option<Spanned<Datetime>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) builtin: Option<Spanned<String>>,
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub(crate) condition: Option<Spanned<RawCondition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) unless: Option<Spanned<RawCondition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) target: Option<Spanned<RawTarget>>,
}

type Globs = Option<Vec<Spanned<String>>>;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCondition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Globs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ecosystem: Option<Vec<Ecosystem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) package: Globs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) version: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) unpinned: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) command: Globs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) command_line: Globs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) transport: Option<Vec<Transport>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) url_scheme: Globs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) url_host: Globs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) url_path: Globs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) plaintext_remote: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) service: Globs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) client: Globs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scope: Option<Vec<Scope>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) literal_credential: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) credential_kind: Globs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) credential_provider: Globs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) credential_location: Globs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) auto_approved: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) auto_approved_tool: Globs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) listening_nonloopback: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) advisory_severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) malicious: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    os: Option<Vec<Os>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Globs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client: Globs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hostname: Globs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Globs,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawException {
    id: Spanned<String>,
    rules: Spanned<Vec<Spanned<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    server: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    server_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    endpoint: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<Spanned<String>>,
    reason: Spanned<String>,
    approver: Spanned<String>,
    expires: Spanned<Datetime>,
}

/// Turns byte offsets into line:column, and collects problems.
struct Problems<'t> {
    text: &'t str,
    out: Vec<(usize, String)>,
}

impl Problems<'_> {
    fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.out.push((span.start, message.into()));
    }

    fn finish(mut self) -> Vec<Diagnostic> {
        self.out.sort_by_key(|(offset, _)| *offset);
        let text = self.text;
        self.out.into_iter().map(|(offset, message)| locate(text, offset, message)).collect()
    }
}

fn locate(text: &str, offset: usize, message: String) -> Diagnostic {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Diagnostic { line, column, message }
}

/// Parses, validates and compiles a policy file. Every problem is reported, each with its place.
pub fn parse(text: &str) -> Result<Bundle, PolicyError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| PolicyError {
        diagnostics: vec![locate(text, e.span().map_or(0, |s| s.start), e.message().trim().to_string())],
    })?;
    let mut problems = Problems { text, out: Vec::new() };
    let bundle = compile(raw, &mut problems);
    let diagnostics = problems.finish();
    match bundle {
        Some(b) if diagnostics.is_empty() => Ok(b),
        _ => Err(PolicyError { diagnostics }),
    }
}

/// Parses a policy file as [`parse`] does (same problems, same places in `text`) and stamps it
/// as published: `revision` and `published_at` (Unix seconds) replace whatever the file says.
/// The control plane publishes with this, so the canonical bytes it signs carry the revision
/// an agent compares against the one it already holds.
pub fn publish(text: &str, revision: u64, published_at: i64) -> Result<Bundle, PolicyError> {
    // The file must be valid as written: its problems are reported against its own text.
    parse(text)?;
    let mut raw: RawFile = toml::from_str(text).map_err(|e| PolicyError {
        diagnostics: vec![locate(text, e.span().map_or(0, |s| s.start), e.message().trim().to_string())],
    })?;
    let stamp = crate::time::format_unix(published_at);
    let at: Datetime = stamp.parse().map_err(|_| PolicyError {
        diagnostics: vec![Diagnostic { line: 1, column: 1, message: format!("cannot stamp publication time {stamp}") }],
    })?;
    raw.revision = Some(revision);
    raw.published_at = Some(Spanned::new(0..0, at));
    let mut problems = Problems { text, out: Vec::new() };
    let bundle = compile(raw, &mut problems);
    let diagnostics = problems.finish();
    match bundle {
        Some(b) if diagnostics.is_empty() => Ok(b),
        _ => Err(PolicyError { diagnostics }),
    }
}

fn compile(mut raw: RawFile, p: &mut Problems<'_>) -> Option<Bundle> {
    if *raw.version.get_ref() != FORMAT_VERSION {
        p.at(
            raw.version.span(),
            format!("unsupported policy version {} (this build reads version {FORMAT_VERSION})", raw.version.get_ref()),
        );
        return None;
    }
    let published_at = raw.published_at.as_ref().and_then(|d| unix(d, p));
    let mut rule_ids = BTreeSet::new();
    let mut rules = Vec::new();
    for r in &raw.rules {
        let id = r.get_ref().id.get_ref().clone();
        if !valid_id(&id) {
            p.at(r.get_ref().id.span(), format!("rule id {id:?} must be 1-64 letters, digits, '.', '_' or '-'"));
        } else if !rule_ids.insert(id.clone()) {
            p.at(r.get_ref().id.span(), format!("rule id {id:?} is used twice"));
        }
        if let Some(rule) = compile_rule(r, p) {
            rules.push(rule);
        }
    }
    let mut exception_ids = BTreeSet::new();
    let mut exceptions = Vec::new();
    for e in &raw.exceptions {
        let id = e.get_ref().id.get_ref().clone();
        if !valid_id(&id) {
            p.at(e.get_ref().id.span(), format!("exception id {id:?} must be 1-64 letters, digits, '.', '_' or '-'"));
        } else if !exception_ids.insert(id.clone()) {
            p.at(e.get_ref().id.span(), format!("exception id {id:?} is used twice"));
        }
        if let Some(ex) = compile_exception(e, &rule_ids, p) {
            exceptions.push(ex);
        }
    }
    let remote_auth = compile_remote_auth(raw.remote_auth.as_ref(), p);
    let contact = compile_contact(raw.contact.as_ref(), p);
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    exceptions.sort_by(|a, b| a.id.cmp(&b.id));
    canonicalise(&mut raw);
    // Serialising a document this crate just deserialised cannot fail (no maps with non-string
    // keys, no values TOML lacks); should it ever, the file is refused rather than half-signed.
    let canonical = match toml::to_string(&raw) {
        Ok(t) => t,
        Err(e) => {
            p.at(0..0, format!("cannot write the canonical form: {e}"));
            return None;
        }
    };
    Some(Bundle {
        name: raw.name.unwrap_or_default(),
        revision: raw.revision.unwrap_or(0),
        published_at,
        rules,
        exceptions,
        remote_auth: remote_auth?,
        contact: contact?,
        canonical,
    })
}

/// Longest value of a `[contact]` key, in characters.
const MAX_CONTACT: usize = 200;

fn compile_contact(raw: Option<&Spanned<RawContact>>, p: &mut Problems<'_>) -> Option<Option<crate::model::Contact>> {
    let Some(raw) = raw else { return Some(None) };
    let span = raw.span();
    let c = raw.get_ref();
    let mut ok = true;
    let mut value = |key: &str, v: &Option<String>| -> String {
        let v = v.as_deref().unwrap_or_default().trim();
        if v.chars().count() > MAX_CONTACT || v.chars().any(char::is_control) {
            p.at(span.clone(), format!("contact {key} must be at most {MAX_CONTACT} characters on one line"));
            ok = false;
        }
        v.to_string()
    };
    let contact = crate::model::Contact {
        name: value("name", &c.name),
        email: value("email", &c.email),
        url: value("url", &c.url),
    };
    if contact.name.is_empty() && contact.email.is_empty() && contact.url.is_empty() {
        p.at(span, "`[contact]` needs a name, an email or a url".to_string());
        return None;
    }
    ok.then_some(Some(contact))
}

fn compile_remote_auth(
    raw: Option<&Spanned<RawRemoteAuth>>,
    p: &mut Problems<'_>,
) -> Option<crate::model::RemoteAuthProbing> {
    let Some(raw) = raw else { return Some(crate::model::RemoteAuthProbing::default()) };
    let span = raw.span();
    let raw = raw.get_ref();
    let skip_hosts = match &raw.skip_hosts {
        Some(list) if list.is_empty() => {
            p.at(span, "`skip_hosts = []` names no host: leave it out".to_string());
            return None;
        }
        list => glob_list("skip_hosts", list, &span, true, p).ok()?,
    };
    Some(crate::model::RemoteAuthProbing { probe: raw.probe.unwrap_or(true), skip_hosts })
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

fn unix(d: &Spanned<Datetime>, p: &mut Problems<'_>) -> Option<i64> {
    match datetime_to_unix(d.get_ref()) {
        Ok(t) => Some(t),
        Err(e) => {
            p.at(d.span(), e);
            None
        }
    }
}

fn compile_rule(r: &Spanned<RawRule>, p: &mut Problems<'_>) -> Option<Rule> {
    let span = r.span();
    let raw = r.get_ref();
    let mut ok = true;
    let tools: Vec<String> = raw.tools.as_ref().map(|t| t.get_ref().clone()).unwrap_or_default();
    match (raw.action, &raw.tools) {
        (Action::DenyTools, None) => {
            p.at(span.clone(), "action \"deny-tools\" needs `tools`, the tool names to deny");
            ok = false;
        }
        (Action::DenyTools, Some(t)) if t.get_ref().iter().any(|n| n.trim().is_empty()) || t.get_ref().is_empty() => {
            p.at(t.span(), "`tools` must name at least one tool, none empty");
            ok = false;
        }
        (a, Some(t)) if a != Action::DenyTools => {
            p.at(t.span(), "`tools` belongs to action \"deny-tools\" only");
            ok = false;
        }
        _ => {}
    }
    let grace = match &raw.grace {
        Some(g) => match parse_duration(g.get_ref()) {
            Ok(s) => Some(s),
            Err(e) => {
                p.at(g.span(), e);
                ok = false;
                None
            }
        },
        None => None,
    };
    let since = raw.since.as_ref().and_then(|d| {
        let t = unix(d, p);
        ok &= t.is_some();
        t
    });
    if since.is_some() && grace.is_none() {
        p.at(span.clone(), "`since` only matters with a `grace` period");
        ok = false;
    }
    let condition_raw: RawCondition = match (&raw.builtin, &raw.condition) {
        (Some(b), None) => match builtin::condition(b.get_ref()) {
            Some(c) => c,
            None => {
                p.at(
                    b.span(),
                    format!("unknown built-in rule {:?} (known: {})", b.get_ref(), builtin::ids().join(", ")),
                );
                return None;
            }
        },
        (None, Some(c)) => c.get_ref().clone(),
        (Some(b), Some(_)) => {
            p.at(b.span(), "a rule has either `builtin` or a `[rule.match]` table, not both");
            return None;
        }
        (None, None) => {
            p.at(span, "a rule needs a `[rule.match]` table (use `[rule.match]` with no keys to match every server) or `builtin`");
            return None;
        }
    };
    let cond_span = raw.condition.as_ref().map_or_else(|| span.clone(), |c| c.span());
    let condition = compile_condition(&condition_raw, cond_span.clone(), p);
    let unless = match &raw.unless {
        Some(u) => {
            if is_empty_condition(u.get_ref()) {
                p.at(u.span(), "`[rule.unless]` without conditions excludes every server: the rule could never match");
                ok = false;
            }
            compile_condition(u.get_ref(), u.span(), p).map(Some)
        }
        None => Some(None),
    };
    let target = match &raw.target {
        Some(t) => compile_target(t.get_ref(), t.span(), p),
        None => Some(Target::default()),
    };
    if let (Some(c), Some(t)) = (&condition, &target)
        && t.users.is_some()
        && c.scopes.as_deref() == Some(&[Scope::Managed])
    {
        p.at(cond_span, "scope \"managed\" servers belong to no OS user, so a `target.user` rule could never match");
        ok = false;
    }
    let (Some(condition), Some(unless), Some(target)) = (condition, unless, target) else { return None };
    ok.then(|| Rule {
        id: raw.id.get_ref().clone(),
        title: raw.title.clone().unwrap_or_default(),
        action: raw.action,
        tools: {
            let mut t = tools;
            t.sort();
            t.dedup();
            t
        },
        grace,
        since,
        builtin: raw.builtin.as_ref().map(|b| b.get_ref().clone()),
        condition,
        unless,
        target,
    })
}

fn is_empty_condition(c: &RawCondition) -> bool {
    // Through the canonical TOML: a condition with no key set serialises to nothing.
    toml::to_string(c).is_ok_and(|t| t.trim().is_empty())
}

/// Compiles one glob list; an empty list or a bad pattern is a problem at its place.
fn glob_list(
    field: &str,
    list: &Globs,
    table: &Range<usize>,
    case_insensitive: bool,
    p: &mut Problems<'_>,
) -> Result<Option<crate::model::Patterns>, ()> {
    let Some(list) = list else { return Ok(None) };
    if list.is_empty() {
        p.at(table.clone(), format!("`{field} = []` matches nothing: the rule could never match"));
        return Err(());
    }
    let items: Vec<(Range<usize>, &str)> = list.iter().map(|s| (s.span(), s.get_ref().as_str())).collect();
    globs(&items, case_insensitive).map(Some).map_err(|(span, e)| p.at(span, format!("`{field}`: {e}")))
}

fn enum_list<T: Copy + Ord>(
    field: &str,
    list: &Option<Vec<T>>,
    table: &Range<usize>,
    p: &mut Problems<'_>,
) -> Result<Option<Vec<T>>, ()> {
    match list {
        None => Ok(None),
        Some(l) if l.is_empty() => {
            p.at(table.clone(), format!("`{field} = []` matches nothing: the rule could never match"));
            Err(())
        }
        Some(l) => {
            let mut v = l.clone();
            v.sort();
            v.dedup();
            Ok(Some(v))
        }
    }
}

fn compile_condition(c: &RawCondition, span: Range<usize>, p: &mut Problems<'_>) -> Option<Condition> {
    let mut ok = true;
    let mut g = |field: &str, list: &Globs, ci: bool, p: &mut Problems<'_>| {
        glob_list(field, list, &span, ci, p).unwrap_or_else(|()| {
            ok = false;
            None
        })
    };
    let name = g("name", &c.name, false, p);
    let package = g("package", &c.package, false, p);
    let command = g("command", &c.command, false, p);
    let command_line = g("command_line", &c.command_line, false, p);
    let url_scheme = g("url_scheme", &c.url_scheme, true, p);
    let url_host = g("url_host", &c.url_host, true, p);
    let url_path = g("url_path", &c.url_path, false, p);
    let service = g("service", &c.service, false, p);
    let client = g("client", &c.client, false, p);
    let credential_kind = g("credential_kind", &c.credential_kind, false, p);
    let credential_provider = g("credential_provider", &c.credential_provider, false, p);
    let credential_location = g("credential_location", &c.credential_location, false, p);
    let auto_approved_tool = g("auto_approved_tool", &c.auto_approved_tool, false, p);
    let ecosystems = enum_list("ecosystem", &c.ecosystem, &span, p).unwrap_or_else(|()| {
        ok = false;
        None
    });
    let transports = enum_list("transport", &c.transport, &span, p).unwrap_or_else(|()| {
        ok = false;
        None
    });
    let scopes = enum_list("scope", &c.scope, &span, p).unwrap_or_else(|()| {
        ok = false;
        None
    });

    // Conditions that contradict each other: the rule could never match.
    let registry = |e: &Ecosystem| matches!(e, Ecosystem::Npm | Ecosystem::Pypi | Ecosystem::Oci);
    let version = match &c.version {
        None => None,
        Some(v) => match &ecosystems {
            None => {
                p.at(v.span(), "`version` needs `ecosystem` (npm, pypi or oci) to know how to read the range");
                ok = false;
                None
            }
            Some(ecos) if !ecos.iter().all(registry) => {
                p.at(
                    v.span(),
                    "local and binary servers have no version: with this `ecosystem` the rule could never match",
                );
                ok = false;
                None
            }
            Some(ecos) => match VersionRange::parse(v.get_ref(), ecos) {
                Ok(r) => Some(r),
                Err(e) => {
                    p.at(v.span(), e);
                    ok = false;
                    None
                }
            },
        },
    };
    if c.unpinned == Some(true) && ecosystems.as_ref().is_some_and(|e| !e.iter().any(registry)) {
        p.at(span.clone(), "`unpinned = true` applies to npm, pypi and oci packages only: with this `ecosystem` the rule could never match");
        ok = false;
    }
    let remote_only =
        c.url_scheme.is_some() || c.url_host.is_some() || c.url_path.is_some() || c.plaintext_remote == Some(true);
    if remote_only && transports.as_deref() == Some(&[Transport::Stdio]) {
        p.at(
            span.clone(),
            "stdio servers have no URL: URL conditions with `transport = [\"stdio\"]` could never match",
        );
        ok = false;
    }
    let package_only = c.package.is_some() || c.ecosystem.is_some() || c.version.is_some() || c.unpinned == Some(true);
    if package_only
        && c.command.is_none()
        && transports.as_ref().is_some_and(|t| t.iter().all(|t| *t != Transport::Stdio))
        && c.url_host.is_none()
    {
        // Remote servers reached through a local proxy (`npx mcp-remote URL`) are stdio.
        p.at(span.clone(), "remote transports launch no package: package conditions with only remote `transport` values could never match");
        ok = false;
    }
    if (c.credential_kind.is_some() || c.credential_provider.is_some() || c.credential_location.is_some())
        && c.literal_credential == Some(false)
    {
        p.at(span.clone(), "credential conditions look at literal credentials: with `literal_credential = false` the rule could never match");
        ok = false;
    }
    if c.auto_approved_tool.is_some() && c.auto_approved == Some(false) {
        p.at(span.clone(), "`auto_approved_tool` with `auto_approved = false` could never match");
        ok = false;
    }
    ok.then(|| Condition {
        name,
        ecosystems,
        package,
        version,
        unpinned: c.unpinned,
        command,
        command_line,
        transports,
        url_scheme,
        url_host,
        url_path,
        plaintext_remote: c.plaintext_remote,
        service,
        client,
        scopes,
        literal_credential: c.literal_credential,
        credential_kind,
        credential_provider,
        credential_location,
        auto_approved: c.auto_approved,
        auto_approved_tool,
        listening_nonloopback: c.listening_nonloopback,
        advisory_severity: c.advisory_severity,
        malicious: c.malicious,
    })
}

fn compile_target(t: &RawTarget, span: Range<usize>, p: &mut Problems<'_>) -> Option<Target> {
    let mut ok = true;
    let mut g = |field: &str, list: &Globs, ci: bool, p: &mut Problems<'_>| {
        glob_list(field, list, &span, ci, p).unwrap_or_else(|()| {
            ok = false;
            None
        })
    };
    let users = g("user", &t.user, false, p);
    let clients = g("client", &t.client, false, p);
    let hostnames = g("hostname", &t.hostname, true, p);
    let tags = g("tags", &t.tags, false, p);
    let os = enum_list("os", &t.os, &span, p).unwrap_or_else(|()| {
        ok = false;
        None
    });
    ok.then_some(Target { os, users, clients, hostnames, tags })
}

fn compile_exception(
    e: &Spanned<RawException>,
    rule_ids: &BTreeSet<String>,
    p: &mut Problems<'_>,
) -> Option<Exception> {
    let span = e.span();
    let raw = e.get_ref();
    let mut ok = true;
    if raw.rules.get_ref().is_empty() {
        p.at(raw.rules.span(), "`rules` must name at least one rule id, or \"*\" for every rule");
        ok = false;
    }
    for r in raw.rules.get_ref() {
        if r.get_ref() != "*" && !rule_ids.contains(r.get_ref()) {
            p.at(r.span(), format!("no rule has id {:?}", r.get_ref()));
            ok = false;
        }
    }
    if raw.server.is_none() && raw.server_id.is_none() && raw.endpoint.is_none() && raw.user.is_none() {
        p.at(
            span.clone(),
            "an exception names what it covers: at least one of `server`, `server_id`, `endpoint`, `user`",
        );
        ok = false;
    }
    for (field, v) in [("reason", &raw.reason), ("approver", &raw.approver)] {
        if v.get_ref().trim().is_empty() {
            p.at(v.span(), format!("`{field}` must not be empty"));
            ok = false;
        }
    }
    let mut one = |field: &str, v: &Option<Spanned<String>>, ci: bool, p: &mut Problems<'_>| match v {
        None => None,
        Some(s) => match globs(&[(s.span(), s.get_ref().as_str())], ci) {
            Ok(g) => Some(g),
            Err((span, msg)) => {
                p.at(span, format!("`{field}`: {msg}"));
                ok = false;
                None
            }
        },
    };
    let server = one("server", &raw.server, false, p);
    let endpoint = one("endpoint", &raw.endpoint, true, p);
    let user = one("user", &raw.user, false, p);
    let expires = unix(&raw.expires, p);
    let expires = expires?;
    let mut rules: Vec<String> = raw.rules.get_ref().iter().map(|r| r.get_ref().clone()).collect();
    rules.sort();
    rules.dedup();
    ok.then(|| Exception {
        id: raw.id.get_ref().clone(),
        rules,
        server,
        server_id: raw.server_id.clone(),
        endpoint,
        endpoint_text: raw.endpoint.as_ref().map(|s| s.get_ref().clone()),
        user,
        reason: raw.reason.get_ref().clone(),
        approver: raw.approver.get_ref().clone(),
        expires,
    })
}

/// Sorts everything whose order carries no meaning, so equal policies have equal bytes.
fn canonicalise(raw: &mut RawFile) {
    raw.rules.sort_by(|a, b| a.get_ref().id.get_ref().cmp(b.get_ref().id.get_ref()));
    raw.exceptions.sort_by(|a, b| a.get_ref().id.get_ref().cmp(b.get_ref().id.get_ref()));
    for r in &mut raw.rules {
        let r = r.get_mut();
        if let Some(t) = r.tools.as_mut() {
            t.get_mut().sort();
            t.get_mut().dedup();
        }
        for c in [r.condition.as_mut(), r.unless.as_mut()].into_iter().flatten() {
            canonical_condition(c.get_mut());
        }
        if let Some(t) = r.target.as_mut() {
            let t = t.get_mut();
            sort_enum(&mut t.os);
            for g in [&mut t.user, &mut t.client, &mut t.hostname, &mut t.tags] {
                sort_globs(g);
            }
        }
    }
    if let Some(r) = raw.remote_auth.as_mut() {
        sort_globs(&mut r.get_mut().skip_hosts);
    }
    for e in &mut raw.exceptions {
        let rules = e.get_mut().rules.get_mut();
        rules.sort_by(|a, b| a.get_ref().cmp(b.get_ref()));
        rules.dedup_by(|a, b| a.get_ref() == b.get_ref());
    }
}

fn canonical_condition(c: &mut RawCondition) {
    sort_enum(&mut c.ecosystem);
    sort_enum(&mut c.transport);
    sort_enum(&mut c.scope);
    for g in [
        &mut c.name,
        &mut c.package,
        &mut c.command,
        &mut c.command_line,
        &mut c.url_scheme,
        &mut c.url_host,
        &mut c.url_path,
        &mut c.service,
        &mut c.client,
        &mut c.credential_kind,
        &mut c.credential_provider,
        &mut c.credential_location,
        &mut c.auto_approved_tool,
    ] {
        sort_globs(g);
    }
}

fn sort_enum<T: Ord>(v: &mut Option<Vec<T>>) {
    if let Some(v) = v {
        v.sort();
        v.dedup();
    }
}

fn sort_globs(v: &mut Globs) {
    if let Some(v) = v {
        v.sort_by(|a, b| a.get_ref().cmp(b.get_ref()));
        v.dedup_by(|a, b| a.get_ref() == b.get_ref());
    }
}

/// Parses a built-in rule's `[match]` table (the built-in catalog is written in the same
/// language). `None` when the catalog text is broken, which a unit test rules out.
pub(crate) fn parse_builtin_condition(text: &str) -> Option<RawCondition> {
    toml::from_str(text).ok()
}
