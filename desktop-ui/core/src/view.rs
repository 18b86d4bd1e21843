//! What the window and the tray show, derived from the agent's `LocalStatus` by pure functions:
//! the tray's state and count, the notification candidates, and the JSON the window renders.
//! The UI holds no inventory logic of its own; this only rearranges what the agent sent.

use muster_proto::local::v1 as local;
use muster_proto::v1::{McpServer, Severity};
use serde::Serialize;

use crate::notify_policy::Candidate;

/// The tray icon's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrayState {
    /// No agent to ask (not running, or it refused).
    Offline,
    AllGood,
    /// Medium or low findings, problems reading a config, or reports not getting through.
    Attention,
    /// A high or critical finding, a pending policy action or a quarantine.
    ActionRequired,
}

impl TrayState {
    pub fn label(self) -> &'static str {
        match self {
            TrayState::Offline => "Muster agent not running",
            TrayState::AllGood => "All good",
            TrayState::Attention => "Needs attention",
            TrayState::ActionRequired => "Action required",
        }
    }
}

fn severity(f: &local::FindingView) -> Severity {
    f.finding.as_ref().map_or(Severity::Unspecified, |f| Severity::try_from(f.severity).unwrap_or_default())
}

/// What the tray's count is made of, so its menu line can name each part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrayCounts {
    /// Findings above info.
    pub findings: usize,
    /// Policy actions waiting for their deadline or for enforcement.
    pub pending: usize,
    /// Servers the policy blocked or quarantined (not the ones I disabled myself).
    pub by_policy: usize,
}

impl TrayCounts {
    pub fn total(&self) -> usize {
        self.findings + self.pending + self.by_policy
    }
}

/// The parts of the tray's count (see [`tray_state`]); all zero with no agent.
pub fn tray_counts(status: Option<&local::LocalStatus>) -> TrayCounts {
    let Some(s) = status else { return TrayCounts::default() };
    TrayCounts {
        findings: s.findings.iter().filter(|f| severity(f) > Severity::Info).count(),
        pending: s.pending_actions.len(),
        by_policy: s.quarantines.iter().filter(|q| q.origin != local::QuarantineOrigin::Developer as i32).count(),
    }
}

/// The tray's state and the count it shows (findings above info, plus pending actions and the
/// policy's quarantines; a server I disabled myself is not something to act on).
pub fn tray_state(status: Option<&local::LocalStatus>) -> (TrayState, usize) {
    let Some(s) = status else { return (TrayState::Offline, 0) };
    let counts = tray_counts(status);
    let (counted, by_policy, count) = (counts.findings, counts.by_policy, counts.total());
    let urgent = s.findings.iter().any(|f| severity(f) >= Severity::High);
    let retrying = s.agent.as_ref().is_some_and(|a| a.connection == local::ConnectionState::Retrying as i32);
    let state = if urgent || !s.pending_actions.is_empty() || by_policy > 0 {
        TrayState::ActionRequired
    } else if counted > 0 || !s.problems.is_empty() || retrying {
        TrayState::Attention
    } else {
        TrayState::AllGood
    };
    (state, count)
}

/// Notification candidates: every finding, urgent when high or critical.
pub fn candidates(status: &local::LocalStatus) -> Vec<Candidate> {
    status
        .findings
        .iter()
        .map(|f| {
            let servers = f.server_names.join(", ");
            let title = match severity(f) {
                Severity::Critical => format!("Critical: {}", f.title),
                _ => f.title.clone(),
            };
            let body = if servers.is_empty() {
                first_step(&f.remediation)
            } else {
                format!("{servers}: {}", first_step(&f.remediation))
            };
            Candidate { key: f.key.clone(), urgent: severity(f) >= Severity::High, title, body }
        })
        .collect()
}

fn first_step(remediation: &str) -> String {
    fix_steps(remediation).into_iter().next().unwrap_or_default()
}

/// The remediation as plain steps: one per sentence, and clauses joined by "then" split too.
pub fn fix_steps(remediation: &str) -> Vec<String> {
    let mut steps = Vec::new();
    for sentence in remediation.split_inclusive(". ").map(str::trim) {
        for part in sentence.split(", then ").flat_map(|p| p.split("; ")) {
            let part = part.trim().trim_end_matches('.').trim();
            if part.is_empty() {
                continue;
            }
            let mut chars = part.chars();
            let step: String = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
            steps.push(format!("{step}."));
        }
    }
    steps
}

#[derive(Debug, Serialize)]
pub struct UiStatus {
    pub state: TrayState,
    pub state_label: &'static str,
    pub count: usize,
    pub user: String,
    pub connection: &'static str,
    pub server: String,
    pub last_error: String,
    pub scanned_at_unix: i64,
    pub clients: Vec<UiClient>,
    pub findings: Vec<UiFinding>,
    pub problems: Vec<UiProblem>,
    /// Policy: empty until the agent enforces policies.
    pub pending_actions: Vec<UiPending>,
    pub quarantines: Vec<UiQuarantine>,
    /// Version pins I made, each undoable.
    pub pins: Vec<UiPin>,
    pub exception_requests: Vec<UiException>,
    pub contact: Option<UiContact>,
    /// Whether requesting an exception reaches anyone: the agent answers and is enrolled.
    pub exceptions_available: bool,
}

#[derive(Debug, Serialize)]
pub struct UiClient {
    pub client: String,
    pub servers: Vec<UiServer>,
}

#[derive(Debug, Serialize)]
pub struct UiServer {
    pub id: String,
    pub name: String,
    pub config_path: String,
    pub project: String,
    pub disabled: bool,
    /// The command (masked by the agent) or the URL (masked), whichever the server has.
    pub launch: String,
    pub service: String,
    pub findings: usize,
    pub worst: &'static str,
    /// Where the entry is in `config_path` (1-based), when the agent located it.
    pub line: Option<u32>,
    /// The version the client already runs, when the agent found it in my package cache and the
    /// launch is unpinned: the window offers "Pin to <version>".
    pub pin: Option<UiPinCandidate>,
}

#[derive(Debug, Serialize)]
pub struct UiPinCandidate {
    pub package: String,
    pub version: String,
    /// The launch argument as it will be written (`pkg@1.2.3`).
    pub pinned_spec: String,
}

/// A version pin I made (undo here).
#[derive(Debug, Serialize)]
pub struct UiPin {
    pub server_id: String,
    pub server_name: String,
    pub client: String,
    pub package: String,
    pub version: String,
    pub config_path: String,
    pub since_unix: i64,
}

#[derive(Debug, Serialize)]
pub struct UiFinding {
    pub key: String,
    pub id: String,
    pub severity: &'static str,
    pub title: String,
    /// Why it matters: what the agent found.
    pub why: String,
    pub steps: Vec<String>,
    pub server_names: Vec<String>,
    /// The servers' ids, in the order of `server_names` (for the exception form).
    pub server_ids: Vec<String>,
    pub config_paths: Vec<String>,
    pub owasp: String,
}

#[derive(Debug, Serialize)]
pub struct UiProblem {
    pub path: String,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct UiPending {
    pub server_id: String,
    pub reason: String,
    pub deadline_unix: i64,
}

#[derive(Debug, Serialize)]
pub struct UiQuarantine {
    pub server_id: String,
    /// `developer` (I disabled it: undo here) or `policy`.
    pub origin: &'static str,
    pub config_path: String,
    pub since_unix: i64,
    pub server_name: String,
    pub client: String,
    pub rule_id: String,
    pub reason: String,
    pub undo_allowed: bool,
}

#[derive(Debug, Serialize)]
pub struct UiException {
    pub id: String,
    pub server_id: String,
    /// The server's name when it is still one of mine (or blocked by the policy).
    pub server_name: String,
    pub rule_id: String,
    pub reason: String,
    pub status: &'static str,
    /// The analyst's note with the decision.
    pub answer: String,
    pub requested_at_unix: i64,
    pub expires_at_unix: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct UiContact {
    pub name: String,
    pub email: String,
    pub url: String,
}

pub fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Info => "info",
        Severity::Unspecified => "unknown",
    }
}

fn connection_word(c: i32) -> &'static str {
    match local::ConnectionState::try_from(c).unwrap_or_default() {
        local::ConnectionState::NotEnrolled => "not enrolled (local only)",
        local::ConnectionState::Connecting => "connecting",
        local::ConnectionState::Connected => "connected",
        local::ConnectionState::Retrying => "retrying",
        local::ConnectionState::Unspecified => "unknown",
    }
}

fn ui_server(s: &McpServer, places: &[local::EntryPlace], pins: &[local::PinCandidate]) -> UiServer {
    let worst = s.findings.iter().map(|f| Severity::try_from(f.severity).unwrap_or_default()).max();
    let launch = if s.url.is_empty() {
        std::iter::once(s.command.as_str()).chain(s.args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
    } else {
        s.url.clone()
    };
    UiServer {
        id: s.id.clone(),
        name: s.name.clone(),
        config_path: s.config_path.clone(),
        project: s.project.clone(),
        disabled: s.disabled,
        launch,
        service: s.service.clone(),
        findings: s.findings.len(),
        worst: worst.map_or("none", severity_word),
        line: places.iter().find(|p| p.server_id == s.id).map(|p| p.line),
        pin: pins.iter().find(|p| p.server_id == s.id).map(|p| UiPinCandidate {
            package: p.package.clone(),
            version: p.version.clone(),
            pinned_spec: p.pinned_spec.clone(),
        }),
    }
}

/// The window's model; `None` status means no agent answered.
pub fn ui_status(status: Option<&local::LocalStatus>) -> UiStatus {
    let (state, count) = tray_state(status);
    let empty = local::LocalStatus::default();
    let s = status.unwrap_or(&empty);
    let agent = s.agent.clone().unwrap_or_default();
    UiStatus {
        state,
        state_label: state.label(),
        count,
        user: s.caller.as_ref().map(|c| c.user.clone()).unwrap_or_default(),
        connection: if status.is_some() { connection_word(agent.connection) } else { "agent not running" },
        server: agent.server,
        last_error: agent.last_error,
        scanned_at_unix: agent.scanned_at_unix,
        clients: s
            .clients
            .iter()
            .map(|c| UiClient {
                client: c.client.clone(),
                servers: c.servers.iter().map(|srv| ui_server(srv, &c.places, &c.pin_candidates)).collect(),
            })
            .collect(),
        findings: s
            .findings
            .iter()
            .map(|f| {
                let fi = f.finding.clone().unwrap_or_default();
                UiFinding {
                    key: f.key.clone(),
                    id: fi.id,
                    severity: severity_word(severity(f)),
                    title: f.title.clone(),
                    why: fi.message,
                    steps: fix_steps(&f.remediation),
                    server_names: f.server_names.clone(),
                    server_ids: fi.server_ids.clone(),
                    config_paths: f.config_paths.clone(),
                    owasp: fi.owasp,
                }
            })
            .collect(),
        problems: s.problems.iter().map(|p| UiProblem { path: p.path.clone(), message: p.message.clone() }).collect(),
        pending_actions: s
            .pending_actions
            .iter()
            .map(|p| UiPending {
                server_id: p.server_id.clone(),
                reason: p.reason.clone(),
                deadline_unix: p.deadline_unix,
            })
            .collect(),
        quarantines: s
            .quarantines
            .iter()
            .map(|q| UiQuarantine {
                server_id: q.server_id.clone(),
                origin: match local::QuarantineOrigin::try_from(q.origin).unwrap_or_default() {
                    local::QuarantineOrigin::Developer => "developer",
                    local::QuarantineOrigin::Policy | local::QuarantineOrigin::Unspecified => "policy",
                },
                config_path: q.config_path.clone(),
                since_unix: q.since_unix,
                server_name: q.server_name.clone(),
                client: q.client.clone(),
                rule_id: q.rule_id.clone(),
                reason: q.reason.clone(),
                undo_allowed: q.undo_allowed,
            })
            .collect(),
        pins: s
            .pins
            .iter()
            .map(|p| UiPin {
                server_id: p.server_id.clone(),
                server_name: p.server_name.clone(),
                client: p.client.clone(),
                package: p.package.clone(),
                version: p.version.clone(),
                config_path: p.config_path.clone(),
                since_unix: p.since_unix,
            })
            .collect(),
        exception_requests: s
            .exception_requests
            .iter()
            .map(|e| UiException {
                id: e.id.clone(),
                server_id: e.server_id.clone(),
                server_name: s
                    .clients
                    .iter()
                    .flat_map(|c| &c.servers)
                    .find(|srv| srv.id == e.server_id)
                    .map(|srv| srv.name.clone())
                    .or_else(|| {
                        s.quarantines.iter().find(|q| q.server_id == e.server_id).map(|q| q.server_name.clone())
                    })
                    .unwrap_or_default(),
                rule_id: e.rule_id.clone(),
                reason: e.reason.clone(),
                answer: e.answer.clone(),
                requested_at_unix: e.requested_at_unix,
                expires_at_unix: e.expires_at_unix,
                status: match local::ExceptionStatus::try_from(e.status).unwrap_or_default() {
                    local::ExceptionStatus::Pending => "pending",
                    local::ExceptionStatus::Approved => "approved",
                    local::ExceptionStatus::Denied => "denied",
                    local::ExceptionStatus::Expired => "expired",
                    local::ExceptionStatus::Unspecified => "unknown",
                },
            })
            .collect(),
        contact: s
            .contact
            .as_ref()
            .filter(|c| !(c.name.is_empty() && c.email.is_empty() && c.url.is_empty()))
            .map(|c| UiContact { name: c.name.clone(), email: c.email.clone(), url: c.url.clone() }),
        exceptions_available: status.is_some()
            && !matches!(
                local::ConnectionState::try_from(agent.connection).unwrap_or_default(),
                local::ConnectionState::NotEnrolled | local::ConnectionState::Unspecified
            ),
    }
}

/// Whether `path` is a config file the agent named for one of the caller's servers (the window
/// may only open those).
pub fn is_known_config(status: Option<&local::LocalStatus>, path: &str) -> bool {
    status.is_some_and(|s| {
        s.clients.iter().flat_map(|c| &c.servers).any(|srv| srv.config_path == path)
            || s.quarantines.iter().any(|q| !q.config_path.is_empty() && q.config_path == path)
    })
}

/// One of my servers' client, config file and the entry's (line, column) when located.
pub type ServerPlace = (String, String, Option<(u32, u32)>);

/// Where one of the caller's servers is: its client, config file and the entry's place (line,
/// column) when the agent located it; `None` for a server the agent did not list as theirs.
pub fn server_place(status: Option<&local::LocalStatus>, server_id: &str) -> Option<ServerPlace> {
    let s = status?;
    s.clients.iter().find_map(|c| {
        let srv = c.servers.iter().find(|srv| srv.id == server_id)?;
        let place = c.places.iter().find(|p| p.server_id == server_id).map(|p| (p.line, p.column));
        Some((c.client.clone(), srv.config_path.clone(), place))
    })
}

/// Whether the agent listed `server_id` as one of the caller's servers.
pub fn is_my_server(status: Option<&local::LocalStatus>, server_id: &str) -> bool {
    status.is_some_and(|s| s.clients.iter().flat_map(|c| &c.servers).any(|srv| srv.id == server_id))
}

/// Whether the caller may ask for an exception about `server_id`: one of their servers, or one
/// the policy blocked or acts on (a blocked server is gone from its configuration).
pub fn is_askable(status: Option<&local::LocalStatus>, server_id: &str) -> bool {
    is_my_server(status, server_id)
        || status.is_some_and(|s| {
            s.quarantines.iter().any(|q| q.server_id == server_id)
                || s.decisions.iter().any(|d| d.server_id == server_id)
                || s.pending_actions.iter().any(|p| p.server_id == server_id)
        })
}

/// Whether `server_id` has a disable the caller made (the only kind undone from here).
pub fn is_pinnable(status: Option<&local::LocalStatus>, server_id: &str) -> bool {
    status.is_some_and(|s| s.clients.iter().flat_map(|c| &c.pin_candidates).any(|p| p.server_id == server_id))
}

/// Whether `server_id` has a version pin of mine to undo.
pub fn is_pin_undoable(status: Option<&local::LocalStatus>, server_id: &str) -> bool {
    status.is_some_and(|s| s.pins.iter().any(|p| p.server_id == server_id))
}

/// Whether `server_id` has a disable of mine to undo.
pub fn is_undoable(status: Option<&local::LocalStatus>, server_id: &str) -> bool {
    status.is_some_and(|s| {
        s.quarantines.iter().any(|q| {
            q.server_id == server_id && q.undo_allowed && q.origin == local::QuarantineOrigin::Developer as i32
        })
    })
}

/// A status with findings of every severity, for tests here and in the window crate.
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures {
    use super::*;
    use muster_proto::v1::Finding;

    pub fn sample() -> local::LocalStatus {
        let finding = |id: &str, sev: Severity, key: &str| {
            local::FindingView {
            finding: Some(Finding { id: id.into(), severity: sev as i32, message: format!("{id} found"), ..Default::default() }),
            title: format!("{id} title"),
            remediation: "Move the value out of the config: reference an environment variable, then rotate the credential because it has been stored in clear text.".into(),
            server_names: vec!["github".into()],
            config_paths: vec!["/home/dev/.cursor/mcp.json".into()],
            key: key.into(),
        }
        };
        local::LocalStatus {
            revision: 3,
            caller: Some(local::Caller { uid: 1000, user: "dev".into() }),
            agent: Some(local::AgentState {
                connection: local::ConnectionState::Connected as i32,
                ..Default::default()
            }),
            clients: vec![local::ClientServers {
                client: "cursor".into(),
                servers: vec![McpServer {
                    id: "s1".into(),
                    name: "github".into(),
                    config_path: "/home/dev/.cursor/mcp.json".into(),
                    command: "npx".into(),
                    args: vec!["-y".into(), "@modelcontextprotocol/server-github".into()],
                    ..Default::default()
                }],
                places: vec![local::EntryPlace { server_id: "s1".into(), line: 12, column: 5 }],
                pin_candidates: vec![local::PinCandidate {
                    server_id: "s1".into(),
                    ecosystem: muster_proto::v1::Ecosystem::Npm as i32,
                    package: "@modelcontextprotocol/server-github".into(),
                    version: "2025.4.8".into(),
                    pinned_spec: "@modelcontextprotocol/server-github@2025.4.8".into(),
                }],
            }],
            findings: vec![
                finding("MUSTER-SECRET-URL", Severity::High, "k1"),
                finding("MUSTER-PKG-UNPINNED", Severity::Low, "k2"),
            ],
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::sample;
    use super::*;

    #[test]
    fn tray_state_follows_the_worst_finding() {
        let mut s = sample();
        assert_eq!(tray_state(Some(&s)), (TrayState::ActionRequired, 2));
        s.findings.remove(0);
        assert_eq!(tray_state(Some(&s)), (TrayState::Attention, 1));
        s.findings.clear();
        assert_eq!(tray_state(Some(&s)), (TrayState::AllGood, 0));
        assert_eq!(tray_state(None), (TrayState::Offline, 0));
    }

    #[test]
    fn only_high_and_critical_findings_are_urgent() {
        let c = candidates(&sample());
        assert_eq!(c.iter().map(|c| (c.key.as_str(), c.urgent)).collect::<Vec<_>>(), [("k1", true), ("k2", false)]);
        assert!(c[0].body.starts_with("github: Move the value out of the config"), "{}", c[0].body);
    }

    #[test]
    fn remediation_becomes_plain_steps() {
        let steps = fix_steps(
            "Move the value out of the config: reference an environment variable, then rotate the credential because it has been stored in clear text. Restart the client.",
        );
        assert_eq!(
            steps,
            [
                "Move the value out of the config: reference an environment variable.",
                "Rotate the credential because it has been stored in clear text.",
                "Restart the client."
            ]
        );
    }

    #[test]
    fn only_the_callers_config_files_may_be_opened() {
        let s = sample();
        assert!(is_known_config(Some(&s), "/home/dev/.cursor/mcp.json"));
        assert!(!is_known_config(Some(&s), "/etc/shadow"));
        assert!(!is_known_config(None, "/home/dev/.cursor/mcp.json"));
        assert!(is_my_server(Some(&s), "s1"));
        assert!(!is_my_server(Some(&s), "s2"));
    }

    #[test]
    fn exceptions_can_be_asked_only_through_an_enrolled_agent() {
        let mut s = sample();
        assert!(ui_status(Some(&s)).exceptions_available);
        s.agent.as_mut().unwrap().connection = local::ConnectionState::NotEnrolled as i32;
        assert!(!ui_status(Some(&s)).exceptions_available);
        assert!(!ui_status(None).exceptions_available);
    }

    #[test]
    fn only_my_own_disables_are_undone_from_the_window() {
        let mut s = sample();
        let q = |origin: local::QuarantineOrigin| local::Quarantine {
            server_id: "s1".into(),
            undo_allowed: true,
            origin: origin as i32,
            config_path: "/home/dev/.cline/mcp.json".into(),
            ..Default::default()
        };
        s.quarantines = vec![q(local::QuarantineOrigin::Policy)];
        assert!(!is_undoable(Some(&s), "s1"), "a policy's quarantine is not undone by DisableServer's undo");
        assert_eq!(tray_state(Some(&s)), (TrayState::ActionRequired, 3), "the policy's quarantine counts");
        s.quarantines = vec![q(local::QuarantineOrigin::Developer)];
        assert_eq!(tray_state(Some(&s)), (TrayState::ActionRequired, 2), "my own disable is not counted");
        assert!(is_undoable(Some(&s), "s1"));
        assert!(!is_undoable(Some(&s), "s2"));
        assert!(is_known_config(Some(&s), "/home/dev/.cline/mcp.json"), "a disabled server's file can be opened");
        assert_eq!(ui_status(Some(&s)).quarantines[0].origin, "developer");
    }

    #[test]
    fn a_pin_is_offered_only_with_a_candidate_and_undone_only_when_mine() {
        let mut s = sample();
        assert!(is_pinnable(Some(&s), "s1"));
        assert!(!is_pinnable(Some(&s), "s2"));
        let ui = ui_status(Some(&s));
        let pin = ui.clients[0].servers[0].pin.as_ref().expect("a candidate");
        assert_eq!(pin.version, "2025.4.8");
        assert!(!is_pin_undoable(Some(&s), "s1"));
        s.clients[0].pin_candidates.clear();
        assert!(ui_status(Some(&s)).clients[0].servers[0].pin.is_none(), "no candidate, no button");
        s.pins = vec![local::VersionPin { server_id: "s1".into(), version: "2025.4.8".into(), ..Default::default() }];
        assert!(is_pin_undoable(Some(&s), "s1"));
        assert!(!is_pinnable(Some(&s), "s1"));
        assert_eq!(ui_status(Some(&s)).pins[0].version, "2025.4.8");
    }
}
