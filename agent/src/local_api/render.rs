//! `muster-agent status`: the caller's `LocalStatus` as JSON (stable names, enums as words, the
//! server objects of `scan --format json`) or as text for people. Reads only the message, so it
//! can print nothing the local API did not serve.

use muster_proto::local::v1 as local;
use serde::Serialize;

use crate::output::json::{FindingJson, ProblemJson, ServerJson, finding, problem_kind, server};

#[derive(Serialize)]
struct StatusJson<'a> {
    user: &'a str,
    uid: u32,
    agent: AgentJson<'a>,
    clients: Vec<ClientJson<'a>>,
    findings: Vec<FindingViewJson<'a>>,
    problems: Vec<ProblemJson<'a>>,
    /// Not rendered here yet (the tray shows them); always empty.
    decisions: [(); 0],
    pending_actions: [(); 0],
    quarantines: Vec<QuarantineJson<'a>>,
    /// Version pins the caller made (`muster-agent pin`), each undoable.
    pins: Vec<PinJson<'a>>,
    exception_requests: Vec<ExceptionJson<'a>>,
    /// Who to ask about the policy (its `[contact]`), when it names anyone.
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<ContactJson<'a>>,
}

#[derive(Serialize)]
struct ContactJson<'a> {
    name: &'a str,
    email: &'a str,
    url: &'a str,
}

#[derive(Serialize)]
struct PinJson<'a> {
    server_id: &'a str,
    server_name: &'a str,
    client: &'a str,
    package: &'a str,
    version: &'a str,
    since_unix: i64,
}

#[derive(Serialize)]
struct PinCandidateJson<'a> {
    server_id: &'a str,
    package: &'a str,
    version: &'a str,
    /// The launch argument `muster-agent pin` would write.
    pinned_spec: &'a str,
}

#[derive(Serialize)]
struct QuarantineJson<'a> {
    server_id: &'a str,
    server_name: &'a str,
    client: &'a str,
    rule_id: &'a str,
    reason: &'a str,
    /// `policy` or `developer`.
    origin: &'static str,
    undo_allowed: bool,
}

#[derive(Serialize)]
struct ExceptionJson<'a> {
    id: &'a str,
    server_id: &'a str,
    /// A rule id, or `*` for every rule.
    rule_id: &'a str,
    /// `pending`, `approved`, `denied` or `expired`.
    status: &'static str,
    reason: &'a str,
    answer: Option<&'a str>,
    requested_at_unix: i64,
    decided_at_unix: Option<i64>,
    expires_at_unix: Option<i64>,
}

#[derive(Serialize)]
struct AgentJson<'a> {
    version: &'a str,
    connection: &'static str,
    server: Option<&'a str>,
    last_acknowledged_unix: Option<i64>,
    last_error: Option<&'a str>,
    scanned_at_unix: i64,
    queued_reports: u32,
}

#[derive(Serialize)]
struct ClientJson<'a> {
    client: &'a str,
    servers: Vec<ServerJson<'a>>,
    /// Where the servers' entries are in their files (`EntryPlace`).
    places: Vec<PlaceJson<'a>>,
    /// Versions `muster-agent pin` would pin, from the caller's package cache.
    pin_candidates: Vec<PinCandidateJson<'a>>,
}

#[derive(Serialize)]
struct PlaceJson<'a> {
    server_id: &'a str,
    line: u32,
    column: u32,
}

#[derive(Serialize)]
struct FindingViewJson<'a> {
    #[serde(flatten)]
    finding: Option<FindingJson<'a>>,
    title: &'a str,
    remediation: &'a str,
    server_names: &'a [String],
    config_paths: &'a [String],
    key: &'a str,
}

/// The connection state as a word.
pub fn connection_word(state: i32) -> &'static str {
    match local::ConnectionState::try_from(state).unwrap_or_default() {
        local::ConnectionState::NotEnrolled => "not-enrolled",
        local::ConnectionState::Connecting => "connecting",
        local::ConnectionState::Connected => "connected",
        local::ConnectionState::Retrying => "retrying",
        local::ConnectionState::Unspecified => "unknown",
    }
}

fn opt(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// Pretty JSON of a status.
pub fn json(status: &local::LocalStatus) -> String {
    let agent = status.agent.clone().unwrap_or_default();
    let caller = status.caller.clone().unwrap_or_default();
    let view = StatusJson {
        user: &caller.user,
        uid: caller.uid,
        agent: AgentJson {
            version: &agent.agent_version,
            connection: connection_word(agent.connection),
            server: opt(&agent.server),
            last_acknowledged_unix: agent.last_acknowledged_unix,
            last_error: opt(&agent.last_error),
            scanned_at_unix: agent.scanned_at_unix,
            queued_reports: agent.queued_reports,
        },
        clients: status
            .clients
            .iter()
            .map(|c| ClientJson {
                client: &c.client,
                servers: c.servers.iter().map(server).collect(),
                places: c
                    .places
                    .iter()
                    .map(|p| PlaceJson { server_id: &p.server_id, line: p.line, column: p.column })
                    .collect(),
                pin_candidates: c
                    .pin_candidates
                    .iter()
                    .map(|p| PinCandidateJson {
                        server_id: &p.server_id,
                        package: &p.package,
                        version: &p.version,
                        pinned_spec: &p.pinned_spec,
                    })
                    .collect(),
            })
            .collect(),
        findings: status
            .findings
            .iter()
            .map(|f| FindingViewJson {
                finding: f.finding.as_ref().map(finding),
                title: &f.title,
                remediation: &f.remediation,
                server_names: &f.server_names,
                config_paths: &f.config_paths,
                key: &f.key,
            })
            .collect(),
        problems: status
            .problems
            .iter()
            .map(|p| ProblemJson {
                path: &p.path,
                client: &p.client,
                user: opt(&p.user),
                kind: problem_kind(p.kind),
                message: &p.message,
                line: p.line,
                column: p.column,
            })
            .collect(),
        decisions: [],
        pending_actions: [],
        quarantines: status
            .quarantines
            .iter()
            .map(|q| QuarantineJson {
                server_id: &q.server_id,
                server_name: &q.server_name,
                client: &q.client,
                rule_id: &q.rule_id,
                reason: &q.reason,
                origin: match local::QuarantineOrigin::try_from(q.origin).unwrap_or_default() {
                    local::QuarantineOrigin::Developer => "developer",
                    local::QuarantineOrigin::Policy => "policy",
                    local::QuarantineOrigin::Unspecified => "unknown",
                },
                undo_allowed: q.undo_allowed,
            })
            .collect(),
        pins: status
            .pins
            .iter()
            .map(|p| PinJson {
                server_id: &p.server_id,
                server_name: &p.server_name,
                client: &p.client,
                package: &p.package,
                version: &p.version,
                since_unix: p.since_unix,
            })
            .collect(),
        exception_requests: status
            .exception_requests
            .iter()
            .map(|r| ExceptionJson {
                id: &r.id,
                server_id: &r.server_id,
                rule_id: &r.rule_id,
                status: match local::ExceptionStatus::try_from(r.status).unwrap_or_default() {
                    local::ExceptionStatus::Pending => "pending",
                    local::ExceptionStatus::Approved => "approved",
                    local::ExceptionStatus::Denied => "denied",
                    local::ExceptionStatus::Expired => "expired",
                    local::ExceptionStatus::Unspecified => "unknown",
                },
                reason: &r.reason,
                answer: opt(&r.answer),
                requested_at_unix: r.requested_at_unix,
                decided_at_unix: r.decided_at_unix,
                expires_at_unix: r.expires_at_unix,
            })
            .collect(),
        contact: status.contact.as_ref().map(|c| ContactJson { name: &c.name, email: &c.email, url: &c.url }),
    };
    // Plain structs of strings, numbers and bools: serialising cannot fail.
    serde_json::to_string_pretty(&view).unwrap_or_else(|_| "{}".to_string())
}

/// Text for people: the connection, then servers per client, then findings with their fix.
pub fn text(status: &local::LocalStatus) -> String {
    use std::fmt::Write;
    let agent = status.agent.clone().unwrap_or_default();
    let caller = status.caller.clone().unwrap_or_default();
    let mut out = String::new();
    let who = if caller.user.is_empty() { format!("uid {}", caller.uid) } else { caller.user.clone() };
    let _ = writeln!(out, "Muster agent {} for {who}: {}", agent.agent_version, connection_word(agent.connection));
    if !agent.server.is_empty() {
        let _ = writeln!(out, "  control plane: {}", agent.server);
    }
    if !agent.last_error.is_empty() {
        let _ = writeln!(out, "  last error: {}", agent.last_error);
    }
    let servers: usize = status.clients.iter().map(|c| c.servers.len()).sum();
    let _ = writeln!(out, "\n{servers} MCP server(s), {} finding(s)", status.findings.len());
    for c in &status.clients {
        let _ = writeln!(out, "  {}", c.client);
        for s in &c.servers {
            let off = if s.disabled { " (disabled)" } else { "" };
            // `path:line`, as compilers print it, so terminals and editors can jump there.
            let line = c.places.iter().find(|p| p.server_id == s.id).map(|p| format!(":{}", p.line));
            let _ = writeln!(out, "    {}{off}  {}{}", s.name, s.config_path, line.unwrap_or_default());
            if let Some(p) = c.pin_candidates.iter().find(|p| p.server_id == s.id) {
                let _ = writeln!(out, "      runs {} {}: `muster-agent pin {}` pins it", p.package, p.version, s.id);
            }
        }
    }
    for f in &status.findings {
        let Some(finding) = &f.finding else { continue };
        let severity = crate::output::json::severity(finding.severity);
        let _ = writeln!(out, "\n[{severity}] {} ({})", f.title, finding.id);
        let _ = writeln!(out, "  {}", finding.message);
        if !f.server_names.is_empty() {
            let _ = writeln!(out, "  servers: {}", f.server_names.join(", "));
        }
        let _ = writeln!(out, "  fix: {}", f.remediation);
    }
    for p in &status.problems {
        let _ = writeln!(out, "\nproblem: {} ({})", p.message, p.path);
    }
    out
}
