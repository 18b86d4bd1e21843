//! Evaluation: a bundle, one endpoint's reported inventory and the time give, per server, the
//! rules it breaks, the action each asks for (due now or at a deadline) and the exception that
//! lifts it. A pure function of its inputs: rules and exceptions are applied in id order and
//! servers are visited in id order, so the answer never depends on the order they were written
//! or reported in.
//!
//! A rule's conditions (`match` and `unless`) see only a server's *shape* ([`shape_of`]: what it
//! runs or reaches, how, with which credentials and advisories, under which name and client);
//! targets and exceptions see the instance (id, user, name, client) and the endpoint. So servers
//! of one shape meet the same conditions, and [`FleetEvaluator`], which evaluates many endpoints
//! against one bundle (the control plane's dry run), decides each distinct shape's conditions
//! once. `evaluate` and `FleetEvaluator` run the same code; only the memo differs. A caller that
//! groups servers by shape itself (the control plane, by a digest of [`shape_bytes`] stored per
//! server) asks [`FleetEvaluator::conditions`] once per shape and
//! [`FleetEvaluator::evaluate_instances`] per endpoint.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use globset::Candidate;
use muster_proto::prost::Message as _;
use muster_proto::v1 as pb;
use serde::Serialize;

use crate::model::{
    Action, Bundle, Condition, Ecosystem, Exception, Os, Patterns, Rule, Scope, Severity, Target, Transport,
};

/// One endpoint as the policy sees it: the inventory it reported, plus what the agent knows of
/// itself (its id once enrolled, its tags).
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    pub inventory: &'a pb::InventorySnapshot,
    /// The agent id, empty before enrollment.
    pub agent_id: &'a str,
    /// Endpoint tags (set at install time), e.g. `team:payments`.
    pub tags: &'a [String],
}

/// The decisions for one endpoint, servers sorted by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decisions {
    pub policy: String,
    pub revision: u64,
    pub evaluated_at: i64,
    pub servers: Vec<ServerDecision>,
}

/// What the policy says about one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerDecision {
    pub server_id: String,
    pub name: String,
    pub client: String,
    pub user: String,
    /// Every rule the server breaks, sorted by rule id; empty when none does.
    pub violations: Vec<Violation>,
}

/// One rule a server breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub rule: String,
    pub title: String,
    /// The built-in rule it uses, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builtin: Option<String>,
    pub action: Action,
    /// For `deny-tools`: the tools denied, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    pub due: Due,
    /// The exception lifting this violation, while it has not expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<Lift>,
}

/// When a violation's action applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "when", rename_all = "kebab-case")]
pub enum Due {
    /// Now (no grace period, or it has run out).
    Now,
    /// At the end of the grace period (Unix seconds).
    At { unix: i64 },
}

/// The exception that lifts a violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lift {
    pub exception: String,
    pub reason: String,
    pub approver: String,
    pub expires: i64,
}

impl ServerDecision {
    /// True when the server breaks no rule, or every rule it breaks is lifted by an exception.
    pub fn allowed(&self) -> bool {
        self.violations.iter().all(|v| v.exception.is_some())
    }

    /// The violations whose action applies now: not excepted and past any grace period.
    pub fn due_now(&self) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(|v| v.exception.is_none() && v.due == Due::Now)
    }

    /// The strongest action due now, if any.
    pub fn action_now(&self) -> Option<Action> {
        self.due_now().map(|v| v.action).max()
    }
}

/// Facts about the endpoint that targets look at.
struct EndpointFacts<'a> {
    os: Option<Os>,
    hostname: Candidate<'a>,
    agent_id: &'a str,
    tags: Vec<Candidate<'a>>,
}

/// Text as glob patterns see it: `\` read as `/` on every OS (globset does so only on Windows;
/// doing it everywhere keeps a Windows agent and a Linux control plane in agreement).
fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\\') { Cow::Owned(s.replace('\\', "/")) } else { Cow::Borrowed(s) }
}

/// The texts of one server that globs look at, normalised once.
struct ServerTexts<'a> {
    name: Cow<'a, str>,
    client: Cow<'a, str>,
    service: Cow<'a, str>,
    command: Cow<'a, str>,
    program: String,
    command_line: String,
    package: Cow<'a, str>,
    scheme: Cow<'a, str>,
    host: Cow<'a, str>,
    path: Cow<'a, str>,
}

impl<'a> ServerTexts<'a> {
    fn of(s: &'a pb::McpServer) -> ServerTexts<'a> {
        let mut command_line = s.command.clone();
        for a in &s.args {
            command_line.push(' ');
            command_line.push_str(a);
        }
        let e = s.endpoint.as_ref();
        ServerTexts {
            name: text(&s.name),
            client: text(&s.client),
            service: text(&s.service),
            command: text(&s.command),
            program: program_name(&s.command),
            command_line: text(&command_line).into_owned(),
            package: text(s.package.as_ref().map_or("", |p| p.name.as_str())),
            scheme: text(e.map_or("", |e| e.scheme.as_str())),
            host: text(e.map_or("", |e| e.host.as_str())),
            path: text(e.map_or("", |e| e.path.as_str())),
        }
    }
}

/// Glob candidates of one server, built once and matched against every rule.
struct Candidates<'t> {
    name: Candidate<'t>,
    client: Candidate<'t>,
    service: Candidate<'t>,
    command: Candidate<'t>,
    program: Candidate<'t>,
    command_line: Candidate<'t>,
    package: Candidate<'t>,
    scheme: Candidate<'t>,
    host: Candidate<'t>,
    path: Candidate<'t>,
}

impl<'t> Candidates<'t> {
    fn of(t: &'t ServerTexts<'_>) -> Candidates<'t> {
        let c = |s: &'t str| Candidate::from_bytes(s.as_bytes());
        Candidates {
            name: c(&t.name),
            client: c(&t.client),
            service: c(&t.service),
            command: c(&t.command),
            program: c(&t.program),
            command_line: c(&t.command_line),
            package: c(&t.package),
            scheme: c(&t.scheme),
            host: c(&t.host),
            path: c(&t.path),
        }
    }
}

/// Facts about one server's shape that conditions look at, derived once from the wire model. The
/// only place that reads `muster.v1` enums, so a change in their spelling touches this one spot.
struct ServerFacts<'a, 't> {
    s: &'a pb::McpServer,
    c: Candidates<'t>,
    scope: Option<Scope>,
    transport: Option<Transport>,
    ecosystem: Option<Ecosystem>,
    plaintext_remote: bool,
    listening_nonloopback: bool,
    advisory: Option<Severity>,
    malicious: bool,
    /// The package version, parsed once in the package's ecosystem (None when not exact).
    version: Option<ParsedVersion>,
}

enum ParsedVersion {
    Npm(semver::Version),
    Pypi(pep440_rs::Version),
    Oci(String),
}

fn os_of(host: Option<&pb::Host>) -> Option<Os> {
    match host?.os() {
        pb::Os::Linux => Some(Os::Linux),
        pb::Os::Macos => Some(Os::Macos),
        pb::Os::Windows => Some(Os::Windows),
        _ => None,
    }
}

fn severity_of(s: pb::Severity) -> Option<Severity> {
    match s {
        pb::Severity::Info => Some(Severity::Info),
        pb::Severity::Low => Some(Severity::Low),
        pb::Severity::Medium => Some(Severity::Medium),
        pb::Severity::High => Some(Severity::High),
        pb::Severity::Critical => Some(Severity::Critical),
        _ => None,
    }
}

/// Advisory findings of the findings catalog (the agent matched the package against OSV data).
const ADVISORY_FINDINGS: [&str; 2] = ["MUSTER-PKG-VULNERABLE", "MUSTER-PKG-MALICIOUS"];

pub(crate) fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost") || h == "::1" || h.starts_with("127.")
}

impl<'a, 't> ServerFacts<'a, 't> {
    /// The facts of a server's shape (see [`shape_of`]).
    fn of(s: &'a pb::McpServer, texts: &'t ServerTexts<'_>, listening_nonloopback: bool) -> ServerFacts<'a, 't> {
        let scope = match s.scope() {
            pb::Scope::User => Some(Scope::User),
            pb::Scope::Project => Some(Scope::Project),
            pb::Scope::Managed => Some(Scope::Managed),
            _ => None,
        };
        let transport = match s.transport() {
            pb::Transport::Stdio => Some(Transport::Stdio),
            pb::Transport::Sse => Some(Transport::Sse),
            pb::Transport::Http => Some(Transport::Http),
            pb::Transport::Ws => Some(Transport::Ws),
            _ => None,
        };
        let ecosystem = s.package.as_ref().and_then(|p| match p.ecosystem() {
            pb::Ecosystem::Npm => Some(Ecosystem::Npm),
            pb::Ecosystem::Pypi => Some(Ecosystem::Pypi),
            pb::Ecosystem::Oci => Some(Ecosystem::Oci),
            pb::Ecosystem::Local => Some(Ecosystem::Local),
            pb::Ecosystem::Binary => Some(Ecosystem::Binary),
            _ => None,
        });
        let plaintext_remote = s.endpoint.as_ref().is_some_and(|e| {
            matches!(e.scheme.to_ascii_lowercase().as_str(), "http" | "ws") && !is_loopback_host(&e.host)
        });
        let mut advisory = None;
        let mut malicious = false;
        for f in s.findings.iter().filter(|f| ADVISORY_FINDINGS.contains(&f.id.as_str())) {
            advisory = advisory.max(severity_of(f.severity()));
            malicious |= f.id == "MUSTER-PKG-MALICIOUS";
        }
        ServerFacts {
            s,
            c: Candidates::of(texts),
            scope,
            transport,
            ecosystem,
            plaintext_remote,
            listening_nonloopback,
            advisory,
            malicious,
            version: parse_version(ecosystem, s.package.as_ref().and_then(|p| p.version.as_deref())),
        }
    }
}

/// Only a version that parses exactly can be in a range: an unpinned or unreadable version is in
/// none (`unpinned = true` is the condition for those).
fn parse_version(eco: Option<Ecosystem>, version: Option<&str>) -> Option<ParsedVersion> {
    let v = version?.trim();
    match eco? {
        Ecosystem::Npm => semver::Version::parse(v.trim_start_matches(['v', '='])).ok().map(ParsedVersion::Npm),
        Ecosystem::Pypi => v.trim_start_matches("==").parse::<pep440_rs::Version>().ok().map(ParsedVersion::Pypi),
        Ecosystem::Oci => Some(ParsedVersion::Oci(text(v).into_owned())),
        Ecosystem::Local | Ecosystem::Binary => None,
    }
}

/// `npx` for `/usr/local/bin/npx`, `C:\...\npx.cmd` or `NPX.EXE`.
fn program_name(command: &str) -> String {
    let base = command.rsplit(['/', '\\']).next().unwrap_or(command).to_ascii_lowercase();
    for ext in [".exe", ".cmd", ".bat", ".ps1"] {
        if let Some(stem) = base.strip_suffix(ext) {
            return stem.to_string();
        }
    }
    base
}

fn any(set: &Option<Patterns>, value: &Candidate<'_>) -> bool {
    set.as_ref().is_none_or(|g| g.is_match_candidate(value))
}

fn flag(want: Option<bool>, have: bool) -> bool {
    want.is_none_or(|w| w == have)
}

fn one_of<T: PartialEq>(list: &Option<Vec<T>>, value: Option<T>) -> bool {
    match (list, value) {
        (None, _) => true,
        (Some(l), Some(v)) => l.contains(&v),
        (Some(_), None) => false,
    }
}

impl Condition {
    /// Cheap comparisons first, globs and version ranges last.
    fn matches(&self, f: &ServerFacts<'_, '_>) -> bool {
        let (s, c) = (f.s, &f.c);
        if !(one_of(&self.transports, f.transport)
            && one_of(&self.scopes, f.scope)
            && one_of(&self.ecosystems, f.ecosystem)
            && flag(self.plaintext_remote, f.plaintext_remote)
            && flag(self.listening_nonloopback, f.listening_nonloopback)
            && flag(self.malicious, f.malicious))
        {
            return false;
        }
        if let Some(min) = self.advisory_severity
            && f.advisory.is_none_or(|a| a < min)
        {
            return false;
        }
        if let Some(want) = self.unpinned {
            // Unpinned is about registry packages only (see ARCHITECTURE.md's `pinned`).
            let registry = matches!(f.ecosystem, Some(Ecosystem::Npm | Ecosystem::Pypi | Ecosystem::Oci));
            let unpinned = registry && s.package.as_ref().is_some_and(|p| !p.pinned);
            if want != unpinned {
                return false;
            }
        }
        let auto = s.auto_approve.as_ref();
        let auto_any = auto.is_some_and(|a| a.all || !a.tools.is_empty());
        if !flag(self.auto_approved, auto_any) {
            return false;
        }
        if let Some(tools) = &self.auto_approved_tool {
            let hit = auto.is_some_and(|a| a.all || a.tools.iter().any(|t| tools.is_match(text(t).as_ref())));
            if !hit {
                return false;
            }
        }
        if !(any(&self.name, &c.name) && any(&self.client, &c.client) && any(&self.service, &c.service)) {
            return false;
        }
        if self.package.is_some() || self.version.is_some() {
            if s.package.is_none() {
                return false;
            }
            if !any(&self.package, &c.package) {
                return false;
            }
            if let Some(range) = &self.version
                && !version_in(range, f.version.as_ref())
            {
                return false;
            }
        }
        if let Some(cmd) = &self.command
            && !(cmd.is_match_candidate(&c.command) || cmd.is_match_candidate(&c.program))
        {
            return false;
        }
        if !any(&self.command_line, &c.command_line) {
            return false;
        }
        if self.url_scheme.is_some() || self.url_host.is_some() || self.url_path.is_some() {
            if s.endpoint.is_none() {
                return false;
            }
            if !(any(&self.url_scheme, &c.scheme) && any(&self.url_host, &c.host) && any(&self.url_path, &c.path)) {
                return false;
            }
        }
        self.credentials_match(s)
    }

    /// Literal-credential conditions hold together for one credential.
    fn credentials_match(&self, s: &pb::McpServer) -> bool {
        let detailed =
            self.credential_kind.is_some() || self.credential_provider.is_some() || self.credential_location.is_some();
        if !detailed && self.literal_credential.is_none() {
            return true;
        }
        let mut literal = s.credentials.iter().filter(|c| c.source() == pb::CredentialSource::Literal);
        let hit = literal.any(|c| {
            let m = |set: &Option<Patterns>, v: &str| set.as_ref().is_none_or(|g| g.is_match(text(v).as_ref()));
            m(&self.credential_kind, &c.kind)
                && m(&self.credential_provider, &c.provider)
                && m(&self.credential_location, &c.location)
        });
        match self.literal_credential {
            Some(false) => !s.credentials.iter().any(|c| c.source() == pb::CredentialSource::Literal),
            _ => hit,
        }
    }
}

fn version_in(range: &crate::model::VersionRange, version: Option<&ParsedVersion>) -> bool {
    match (version, range) {
        (Some(ParsedVersion::Npm(v)), crate::model::VersionRange { npm: Some(alts), .. }) => {
            alts.iter().any(|r| r.matches(v))
        }
        (Some(ParsedVersion::Pypi(v)), crate::model::VersionRange { pypi: Some(spec), .. }) => spec.contains(v),
        (Some(ParsedVersion::Oci(v)), crate::model::VersionRange { oci: Some(g), .. }) => g.is_match(v),
        _ => false,
    }
}

impl Target {
    fn matches(&self, e: &EndpointFacts<'_>, f: &InstanceFacts<'_, '_>) -> bool {
        one_of(&self.os, e.os)
            && any(&self.clients, &f.client)
            && self.users.as_ref().is_none_or(|u| !f.s.user.is_empty() && u.is_match_candidate(&f.user))
            && any(&self.hostnames, &e.hostname)
            && self.tags.as_ref().is_none_or(|t| e.tags.iter().any(|tag| t.is_match_candidate(tag)))
    }
}

impl Exception {
    fn covers(&self, rule: &str, e: &EndpointFacts<'_>, f: &InstanceFacts<'_, '_>) -> bool {
        (self.rules.iter().any(|r| r == "*" || r == rule))
            && self.server.as_ref().is_none_or(|g| g.is_match_candidate(&f.name))
            && self.server_id.as_deref().is_none_or(|id| id == f.s.id)
            && self.user.as_ref().is_none_or(|g| !f.s.user.is_empty() && g.is_match_candidate(&f.user))
            && self.endpoint.as_ref().is_none_or(|g| {
                g.is_match_candidate(&e.hostname)
                    || (!e.agent_id.is_empty() && self.endpoint_text.as_deref() == Some(e.agent_id))
            })
    }
}

/// The policy's decisions for one endpoint at `now` (Unix seconds, from the caller's clock).
///
/// A grace period runs from the rule's `since`, else from the bundle's `published_at`, else
/// (an unpublished file, evaluated as a dry run) from `now`.
pub fn evaluate(bundle: &Bundle, endpoint: &Endpoint<'_>, now: i64) -> Decisions {
    decide(bundle, endpoint, now, None)
}

/// Shapes remembered by a [`FleetEvaluator`] before it starts afresh (bounds its memory; the
/// answers do not depend on it).
const MAX_SHAPES: usize = 1 << 18;

/// Evaluates many endpoints against one bundle, deciding the conditions of each distinct server
/// shape once: [`FleetEvaluator::evaluate`] gives exactly what [`evaluate`] gives, faster when
/// servers repeat across endpoints (a fleet runs the same few hundred packages and remotes).
#[derive(Debug)]
pub struct FleetEvaluator<'b> {
    bundle: &'b Bundle,
    /// Encoded shape (see [`shape_key`]) → indices of the rules whose conditions it meets.
    shapes: BTreeMap<Vec<u8>, Arc<[u32]>>,
}

impl<'b> FleetEvaluator<'b> {
    pub fn new(bundle: &'b Bundle) -> Self {
        FleetEvaluator { bundle, shapes: BTreeMap::new() }
    }

    /// The same decisions as `evaluate(bundle, endpoint, now)`.
    pub fn evaluate(&mut self, endpoint: &Endpoint<'_>, now: i64) -> Decisions {
        decide(self.bundle, endpoint, now, Some(&mut self.shapes))
    }

    /// Distinct shapes remembered now.
    pub fn shapes(&self) -> usize {
        self.shapes.len()
    }

    /// Decides which rules' conditions the shape of `server` meets (nothing of the instance is
    /// looked at), for [`FleetEvaluator::evaluate_instances`]. `listening_nonloopback`: whether a
    /// process serving the server listens beyond loopback on its endpoint.
    pub fn conditions(&self, server: &pb::McpServer, listening_nonloopback: bool) -> ShapeConditions {
        ShapeConditions(condition_hits(self.bundle, &shape_of(server), listening_nonloopback))
    }

    /// The decisions for an endpoint whose servers are given as instances, each with the
    /// conditions of its shape (from [`FleetEvaluator::conditions`] on a server of that shape):
    /// what `evaluate` decides on the endpoint with those servers, for a caller that groups
    /// servers by shape itself (the control plane's stored shape keys) and so decodes each shape
    /// once. The endpoint's servers and processes are not looked at, only its host and tags.
    pub fn evaluate_instances(
        &self,
        endpoint: &Endpoint<'_>,
        servers: &[(ServerInstance<'_>, &ShapeConditions)],
        now: i64,
    ) -> Decisions {
        let mut servers: Vec<&(ServerInstance<'_>, &ShapeConditions)> = servers.iter().collect();
        servers.sort_by(|a, b| (a.0.id, a.0.name, a.0.client).cmp(&(b.0.id, b.0.name, b.0.client)));
        decide_instances(self.bundle, endpoint, now, servers.into_iter().map(|(s, c)| (*s, Arc::clone(&c.0))))
    }
}

/// Which rules' conditions one server shape meets (see [`FleetEvaluator::conditions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeConditions(Arc<[u32]>);

/// One server as targets and exceptions see it: which server it is and whose, not what it runs
/// (that is its shape's, [`ShapeConditions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerInstance<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub client: &'a str,
    /// The OS account, empty for a machine-wide server.
    pub user: &'a str,
}

impl<'a> ServerInstance<'a> {
    pub fn of(server: &'a pb::McpServer) -> Self {
        ServerInstance { id: &server.id, name: &server.name, client: &server.client, user: &server.user }
    }
}

/// Bumped whenever [`shape_of`] (and so [`shape_bytes`]) changes, so keys stored by an earlier
/// version are known to be stale (`shape_bytes_are_pinned_to_the_shape_version` keeps it honest).
pub const SHAPE_VERSION: u8 = 1;

/// The canonical bytes of a server's shape: two servers with equal bytes meet the same rule
/// conditions under every bundle (when no process serving either listens beyond loopback). The
/// control plane stores a digest of them per server to decide each distinct shape once.
pub fn shape_bytes(server: &pb::McpServer) -> Vec<u8> {
    shape_of(server).encode_to_vec()
}

/// What a server's rule conditions may look at, and nothing else: the server with its instance
/// fields (id, user, config path, project, working directory, origin), the names of variables
/// and headers, the masked URL (conditions read the parsed endpoint) and everything of its
/// credentials and findings but kind, provider, location, source and advisory severity left
/// out. Conditions are evaluated on this, never on the server itself, so two servers of one
/// shape meet the same conditions by construction.
fn shape_of(s: &pb::McpServer) -> pb::McpServer {
    pb::McpServer {
        name: s.name.clone(),
        client: s.client.clone(),
        scope: s.scope,
        transport: s.transport,
        command: s.command.clone(),
        args: s.args.clone(),
        package: s.package.clone(),
        endpoint: s.endpoint.clone(),
        auto_approve: s.auto_approve.clone(),
        service: s.service.clone(),
        credentials: s
            .credentials
            .iter()
            .map(|c| pb::Credential {
                location: c.location.clone(),
                kind: c.kind.clone(),
                source: c.source,
                provider: c.provider.clone(),
                ..pb::Credential::default()
            })
            .collect(),
        findings: s
            .findings
            .iter()
            .filter(|f| ADVISORY_FINDINGS.contains(&f.id.as_str()))
            .map(|f| pb::Finding { id: f.id.clone(), severity: f.severity, ..pb::Finding::default() })
            .collect(),
        ..pb::McpServer::default()
    }
}

/// The memo key of a shape: the facts conditions see that are not in the server (whether a
/// process serving it listens beyond loopback), then the shape's protobuf encoding.
/// None only if encoding failed (it cannot into a `Vec`), and then the shape is not remembered.
fn shape_key(shape: &pb::McpServer, listening_nonloopback: bool) -> Option<Vec<u8>> {
    let mut key = Vec::with_capacity(1 + shape.encoded_len());
    key.push(u8::from(listening_nonloopback));
    shape.encode(&mut key).ok().map(|()| key)
}

/// Indices (in id order) of the rules whose `match` holds and whose `unless` does not.
fn condition_hits(bundle: &Bundle, shape: &pb::McpServer, listening_nonloopback: bool) -> Arc<[u32]> {
    let texts = ServerTexts::of(shape);
    let facts = ServerFacts::of(shape, &texts, listening_nonloopback);
    (0u32..)
        .zip(&bundle.rules)
        .filter(|(_, r)| r.condition.matches(&facts) && !r.unless.as_ref().is_some_and(|u| u.matches(&facts)))
        .map(|(i, _)| i)
        .collect()
}

/// [`condition_hits`] through the memo of a [`FleetEvaluator`].
fn remembered(
    shapes: &mut BTreeMap<Vec<u8>, Arc<[u32]>>,
    bundle: &Bundle,
    shape: &pb::McpServer,
    listening_nonloopback: bool,
) -> Arc<[u32]> {
    let Some(key) = shape_key(shape, listening_nonloopback) else {
        return condition_hits(bundle, shape, listening_nonloopback);
    };
    if let Some(hits) = shapes.get(&key) {
        return Arc::clone(hits);
    }
    let hits = condition_hits(bundle, shape, listening_nonloopback);
    if shapes.len() >= MAX_SHAPES {
        shapes.clear();
    }
    shapes.insert(key, Arc::clone(&hits));
    hits
}

/// Facts about one server instance that targets and exceptions look at.
struct InstanceFacts<'a, 't> {
    s: ServerInstance<'a>,
    name: Candidate<'t>,
    client: Candidate<'t>,
    user: Candidate<'t>,
}

fn decide(
    bundle: &Bundle,
    endpoint: &Endpoint<'_>,
    now: i64,
    mut memo: Option<&mut BTreeMap<Vec<u8>, Arc<[u32]>>>,
) -> Decisions {
    let inv = endpoint.inventory;
    // Servers a process serving them listens beyond loopback for.
    let mut exposed: BTreeMap<&str, bool> = BTreeMap::new();
    for p in &inv.processes {
        if p.listeners.iter().any(|l| !is_loopback_host(&l.address)) {
            for id in &p.server_ids {
                exposed.insert(id.as_str(), true);
            }
        }
    }
    let mut servers: Vec<&pb::McpServer> = inv.servers.iter().collect();
    servers
        .sort_by(|a, b| (&a.id, &a.name, &a.client, &a.config_path).cmp(&(&b.id, &b.name, &b.client, &b.config_path)));
    let servers = servers.into_iter().map(|s| {
        let listening = exposed.get(s.id.as_str()).copied().unwrap_or(false);
        let shape = shape_of(s);
        let hits = match memo.as_deref_mut() {
            Some(shapes) => remembered(shapes, bundle, &shape, listening),
            None => condition_hits(bundle, &shape, listening),
        };
        (ServerInstance::of(s), hits)
    });
    decide_instances(bundle, endpoint, now, servers)
}

/// Targets and exceptions for servers in decision order, each with its shape's condition hits.
fn decide_instances<'s>(
    bundle: &Bundle,
    endpoint: &Endpoint<'_>,
    now: i64,
    servers: impl Iterator<Item = (ServerInstance<'s>, Arc<[u32]>)>,
) -> Decisions {
    let inv = endpoint.inventory;
    let hostname = text(inv.host.as_ref().map_or("", |h| h.hostname.as_str()));
    let tags: Vec<Cow<'_, str>> = endpoint.tags.iter().map(|t| text(t)).collect();
    let ep = EndpointFacts {
        os: os_of(inv.host.as_ref()),
        hostname: Candidate::from_bytes(hostname.as_bytes()),
        agent_id: endpoint.agent_id,
        tags: tags.iter().map(|t| Candidate::from_bytes(t.as_bytes())).collect(),
    };
    let decisions = servers
        .map(|(s, hits)| {
            let (name, client, user) = (text(s.name), text(s.client), text(s.user));
            let facts = InstanceFacts {
                s,
                name: Candidate::from_bytes(name.as_bytes()),
                client: Candidate::from_bytes(client.as_bytes()),
                user: Candidate::from_bytes(user.as_bytes()),
            };
            let violations = hits
                .iter()
                .filter_map(|&i| bundle.rules.get(i as usize))
                .filter(|r| r.target.matches(&ep, &facts))
                .map(|r| violation(bundle, r, &ep, &facts, now))
                .collect();
            ServerDecision {
                server_id: s.id.to_string(),
                name: s.name.to_string(),
                client: s.client.to_string(),
                user: s.user.to_string(),
                violations,
            }
        })
        .collect();
    Decisions { policy: bundle.name.clone(), revision: bundle.revision, evaluated_at: now, servers: decisions }
}

fn violation(bundle: &Bundle, r: &Rule, ep: &EndpointFacts<'_>, f: &InstanceFacts<'_, '_>, now: i64) -> Violation {
    let due = match r.grace {
        None => Due::Now,
        Some(grace) => {
            let start = r.since.or(bundle.published_at).unwrap_or(now);
            let deadline = start.saturating_add(grace);
            if now >= deadline { Due::Now } else { Due::At { unix: deadline } }
        }
    };
    // Of the exceptions covering this violation and not expired, the one lasting longest (then
    // the smallest id): the same answer whatever order they were written in.
    let exception = bundle
        .exceptions
        .iter()
        .filter(|x| now < x.expires && x.covers(&r.id, ep, f))
        .max_by(|a, b| a.expires.cmp(&b.expires).then_with(|| b.id.cmp(&a.id)))
        .map(|x| Lift {
            exception: x.id.clone(),
            reason: x.reason.clone(),
            approver: x.approver.clone(),
            expires: x.expires,
        });
    Violation {
        rule: r.id.clone(),
        title: r.title.clone(),
        builtin: r.builtin.clone(),
        action: r.action,
        tools: r.tools.clone(),
        due,
        exception,
    }
}
