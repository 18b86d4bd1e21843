//! The daemon's policy step: after every scan, and whenever a new policy is accepted, the policy
//! in force is evaluated on the scan and what is due is enforced ([`super::apply`]), then the
//! outcome is described twice: as the `PolicyReport` the next report carries to the control
//! plane (compliance), and as the per-user [`PolicyView`] the local API serves the tray.
//!
//! Every rule a server breaks becomes one action result: `excepted` (with the exception id)
//! while an exception lifts it, `pending` with its deadline during a grace period, `applied`
//! for a `notify` (the notice is the local state and the report), and for the enforced actions
//! the result of the writers: `applied`, `failed` (with the reason), `not in force` (written but
//! shadowed, with why) or `pending` (no writer, or enforcement turned off on this agent). A
//! weaker action of a server that a stronger one governs takes the stronger one's state.
//! Texts that reach the report (reasons, paths) pass the secret detector first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use muster_policy::{Action, Decisions, Due};
use muster_proto::local::v1 as local;
use muster_proto::v1::{PolicyActionResult, PolicyActionState, PolicyReport, PolicyServerState};

use super::apply::{ActionReport, ActionState, ApplyContext, apply_with_decisions};
use super::client_policy::{FsProbe, SHADOW_VARS, WriterOptions};
use super::files::{FileKeeper, FileSafetyError};
use crate::Scanned;
use crate::platform::{Layout, RELOCATING_VARS};
use crate::policy::{PolicyStatus, PolicyView};
use crate::secrets::scrub::scrub_text;

/// The longest reason text a report carries per action.
const MAX_DETAIL: usize = 500;

/// What one policy step produced.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// For the control plane (attached to the next report).
    pub report: PolicyReport,
    /// For the local API, by user.
    pub view: PolicyView,
    /// What was enforced, one line per server action (for the log).
    pub lines: Vec<ActionReport>,
}

/// Evaluates and enforces the policy in force for the daemon.
#[derive(Debug)]
pub struct Engine {
    layout: Layout,
    tags: Vec<String>,
    state_dir: PathBuf,
    /// `None`: enforcement is turned off; decisions are reported, nothing is written.
    keeper: Option<FileKeeper>,
    probe: FsProbe,
    writer_options: WriterOptions,
    /// The enrolled agent's id, for exceptions that name this endpoint (empty: none given).
    agent_id: String,
}

impl Engine {
    /// An engine writing through the journal in `state_dir` (confined to the image's root for
    /// an image layout), or only evaluating when `enforce` is false.
    pub fn new(layout: Layout, tags: Vec<String>, state_dir: &Path, enforce: bool) -> Result<Engine, FileSafetyError> {
        let keeper = if enforce {
            let keeper = FileKeeper::open(state_dir)?;
            Some(match layout.root() {
                Some(root) => keeper.confined_to(root)?,
                None => keeper,
            })
        } else {
            None
        };
        // The "not in force" checks look at the agent's own environment only on a live machine,
        // and only at the variables they name.
        let env = if layout.is_image() {
            Default::default()
        } else {
            std::env::vars()
                .filter(|(k, _)| SHADOW_VARS.contains(&k.as_str()) || RELOCATING_VARS.contains(&k.as_str()))
                .collect()
        };
        Ok(Engine {
            layout,
            tags,
            state_dir: state_dir.to_path_buf(),
            keeper,
            probe: FsProbe { env },
            writer_options: WriterOptions::default(),
            agent_id: String::new(),
        })
    }

    /// Turns on the optional client-policy levers (`[enforce]` in agent.toml).
    pub fn with_writer_options(mut self, options: WriterOptions) -> Engine {
        self.writer_options = options;
        self
    }

    /// The engine evaluating as endpoint `agent_id` (an exception naming this endpoint, such as
    /// an approved exception request, covers its servers).
    pub fn with_agent_id(mut self, agent_id: &str) -> Engine {
        self.agent_id = agent_id.to_string();
        self
    }

    /// Whether this engine writes (enforcement on).
    pub fn enforces(&self) -> bool {
        self.keeper.is_some()
    }

    /// Evaluates the policy in `status` on `scanned` at `now` and enforces what is due.
    pub fn run(&self, status: &PolicyStatus, scanned: &Scanned, now: i64) -> Outcome {
        let refusal = status.refusal.as_deref().map(|r| cap(&scrub_text(r))).unwrap_or_default();
        let Some(policy) = status.current.as_ref() else {
            return Outcome {
                report: PolicyReport { evaluated_at_unix: now, refusal, ..PolicyReport::default() },
                ..Outcome::default()
            };
        };
        let version = policy.version();
        let ctx = ApplyContext {
            layout: &self.layout,
            tags: &self.tags,
            now,
            state_dir: &self.state_dir,
            keeper: self.keeper.as_ref(),
            identities: &scanned.identities,
            probe: &self.probe,
            writer_options: self.writer_options,
            agent_id: &self.agent_id,
        };
        let (decisions, lines, failure) = match apply_with_decisions(&policy.bundle, &scanned.inventory, &ctx) {
            Ok((decisions, lines)) => (decisions, lines, None),
            Err(e) => {
                // The journal itself failed: decisions still stand and are reported, every
                // enforced action as failed with why.
                tracing::error!(error = %e, "policy enforcement failed");
                let endpoint = muster_policy::Endpoint {
                    inventory: &scanned.inventory,
                    agent_id: &self.agent_id,
                    tags: &self.tags,
                };
                (muster_policy::evaluate(&policy.bundle, &endpoint, now), Vec::new(), Some(e.to_string()))
            }
        };
        for line in &lines {
            if !matches!(line.state, ActionState::Reported | ActionState::InForce) {
                tracing::info!(client = %line.client, server = %scrub_text(&line.name), line = %scrub_text(&super::apply::render_line(line)), "policy action");
            }
        }
        let results = ActionResults::new(&lines, failure, self.enforces());
        let report = PolicyReport {
            applied_version: version,
            acked_version: version,
            evaluated_at_unix: now,
            servers: server_states(&decisions, &results),
            refusal,
            ..PolicyReport::default()
        };
        let mut view = policy_view(&decisions, &results, &report, &scanned.inventory, now);
        view.contact = policy.bundle.contact().map(|c| local::Contact {
            name: c.name.clone(),
            email: c.email.clone(),
            url: c.url.clone(),
        });
        Outcome { report, view, lines }
    }
}

/// The enforcement results by (server id, action).
struct ActionResults<'a> {
    by_server: BTreeMap<(&'a str, Action), &'a ActionState>,
    failure: Option<String>,
    enforces: bool,
}

impl<'a> ActionResults<'a> {
    fn new(lines: &'a [ActionReport], failure: Option<String>, enforces: bool) -> ActionResults<'a> {
        let by_server = lines
            .iter()
            .filter_map(|l| Some(((l.server_id.as_str(), l.action?), &l.state)))
            .collect::<BTreeMap<_, _>>();
        ActionResults { by_server, failure, enforces }
    }

    /// The state of the enforced `action` on `server`, with its detail.
    fn state(&self, server: &str, action: Action) -> (PolicyActionState, String) {
        if action == Action::Notify {
            return (PolicyActionState::Applied, String::new());
        }
        if let Some(why) = &self.failure {
            return (PolicyActionState::Failed, format!("enforcement failed: {why}"));
        }
        if !self.enforces {
            return (PolicyActionState::Pending, "enforcement is turned off on this agent".to_string());
        }
        match self.by_server.get(&(server, action)) {
            None => (PolicyActionState::Pending, "not enforced yet".to_string()),
            Some(state) => match state {
                ActionState::Applied | ActionState::InForce | ActionState::AlreadyDisabled | ActionState::Reported => {
                    (PolicyActionState::Applied, String::new())
                }
                ActionState::Lifted => (PolicyActionState::Pending, "lifted".to_string()),
                ActionState::WouldApply(_) => {
                    (PolicyActionState::Pending, "enforcement is turned off on this agent".to_string())
                }
                ActionState::Pending(why) => (PolicyActionState::Pending, (*why).to_string()),
                ActionState::NotInForce(why) => (PolicyActionState::NotInForce, why.clone()),
                ActionState::NotEnforceable(why) => (PolicyActionState::Failed, format!("not enforceable: {why}")),
                ActionState::Failed(why) => (PolicyActionState::Failed, why.clone()),
            },
        }
    }
}

/// One state per rule broken, servers sorted by id, rules by id (as the decisions are).
fn server_states(decisions: &Decisions, results: &ActionResults<'_>) -> Vec<PolicyServerState> {
    let mut out = Vec::new();
    for d in &decisions.servers {
        if d.violations.is_empty() {
            continue;
        }
        let strongest = d.action_now();
        let actions = d
            .violations
            .iter()
            .map(|v| {
                let due_at_unix = match v.due {
                    Due::Now => 0,
                    Due::At { unix } => unix,
                };
                let (state, detail) = if let Some(lift) = &v.exception {
                    (PolicyActionState::Excepted, lift.exception.clone())
                } else if due_at_unix != 0 {
                    (PolicyActionState::Pending, "grace period".to_string())
                } else {
                    // A weaker action due now is governed by the strongest one (a blocked server
                    // runs no tools at all).
                    let governing = match strongest {
                        Some(s) if s > v.action && v.action != Action::Notify => s,
                        _ => v.action,
                    };
                    results.state(&d.server_id, governing)
                };
                PolicyActionResult {
                    rule_id: v.rule.clone(),
                    action: v.action.as_str().to_string(),
                    state: state as i32,
                    detail: cap(&scrub_text(&detail)),
                    due_at_unix,
                }
            })
            .collect();
        out.push(PolicyServerState { server_id: d.server_id.clone(), actions });
    }
    out
}

fn local_action(action: Action) -> local::PolicyAction {
    match action {
        Action::Notify => local::PolicyAction::Warn,
        Action::RequireApproval => local::PolicyAction::RequireApproval,
        Action::DenyTools => local::PolicyAction::DenyTools,
        Action::Quarantine => local::PolicyAction::Quarantine,
        Action::Block => local::PolicyAction::Block,
    }
}

/// The tray's view: per user, each rule broken, what is pending with its deadline, and what was
/// quarantined.
fn policy_view(
    decisions: &Decisions,
    results: &ActionResults<'_>,
    report: &PolicyReport,
    inventory: &muster_proto::v1::InventorySnapshot,
    now: i64,
) -> PolicyView {
    let mut view = PolicyView { version: report.applied_version, ..PolicyView::default() };
    let states: BTreeMap<(&str, &str), &PolicyActionResult> = report
        .servers
        .iter()
        .flat_map(|s| s.actions.iter().map(move |a| ((s.server_id.as_str(), a.rule_id.as_str()), a)))
        .collect();
    for d in &decisions.servers {
        for v in &d.violations {
            let reason = if v.title.is_empty() { v.rule.clone() } else { v.title.clone() };
            let result = states.get(&(d.server_id.as_str(), v.rule.as_str()));
            let state = result.map_or(PolicyActionState::Unspecified, |r| r.state());
            view.decisions.push((
                d.user.clone(),
                local::PolicyDecision {
                    server_id: d.server_id.clone(),
                    action: local_action(v.action) as i32,
                    rule_id: v.rule.clone(),
                    reason: match (state, result) {
                        (PolicyActionState::Excepted, Some(r)) => format!("{reason} (exception {})", r.detail),
                        (PolicyActionState::Failed | PolicyActionState::NotInForce, Some(r)) => {
                            format!("{reason} ({})", r.detail)
                        }
                        _ => reason.clone(),
                    },
                },
            ));
            if v.exception.is_none()
                && let Due::At { unix } = v.due
                && unix > now
            {
                view.pending.push((
                    d.user.clone(),
                    local::PendingAction {
                        server_id: d.server_id.clone(),
                        action: local_action(v.action) as i32,
                        rule_id: v.rule.clone(),
                        reason: reason.clone(),
                        deadline_unix: unix,
                    },
                ));
            }
        }
        if d.action_now() == Some(Action::Quarantine)
            && results.enforces
            && results.by_server.get(&(d.server_id.as_str(), Action::Quarantine)).is_some_and(|s| {
                matches!(s, ActionState::Applied | ActionState::InForce | ActionState::AlreadyDisabled)
            })
        {
            let rules: Vec<&str> =
                d.due_now().filter(|v| v.action == Action::Quarantine).map(|v| v.rule.as_str()).collect();
            // Why, in the rules' own words (their titles) for the developer, then which policy.
            let why: Vec<&str> = d
                .due_now()
                .filter(|v| v.action == Action::Quarantine)
                .map(|v| if v.title.is_empty() { v.rule.as_str() } else { v.title.as_str() })
                .collect();
            view.quarantines.push((
                d.user.clone(),
                local::Quarantine {
                    server_id: d.server_id.clone(),
                    server_name: d.name.clone(),
                    client: d.client.clone(),
                    rule_id: rules.join(","),
                    reason: format!("{} (policy {} version {})", why.join("; "), decisions.policy, decisions.revision),
                    since_unix: 0,
                    // Lifted by the policy (a rule change or an exception), not by the developer.
                    undo_allowed: false,
                    origin: local::QuarantineOrigin::Policy as i32,
                    // The file it was in, for "open the config file" (the inventory's masked path).
                    config_path: inventory
                        .servers
                        .iter()
                        .find(|s| s.id == d.server_id)
                        .map(|s| s.config_path.clone())
                        .unwrap_or_default(),
                },
            ));
        }
    }
    view
}

/// At most [`MAX_DETAIL`] characters, without control characters.
fn cap(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(MAX_DETAIL).collect()
}
