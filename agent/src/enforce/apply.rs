//! Enforcing policy decisions on this machine (`muster-agent policy apply`, and later the
//! daemon): from the decisions for a scanned inventory to the quarantines wanted, reconciled
//! with what the journal says is in force, and a report line per server action. `block` and the
//! tool-level actions go to the client-policy writers (`client_policy::write`), which report
//! each as applied, in force, not in force (a higher-precedence source shadows the file) or not
//! enforceable with that client's lever. Servers whose entry Muster moved to a sidecar are gone from the
//! scan, so their last inventory record is kept (`enforce/quarantined/<server id>.pb`) and
//! evaluated again, which is how lifting a rule or granting an exception restores them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use muster_policy::{Action, Bundle, Decisions, Endpoint};
use muster_proto::prost::Message;
use muster_proto::v1::{InventorySnapshot, McpServer};

use super::client_policy::write::{FileResult, WriterReport};
use super::client_policy::{self, Identities, Probe};
use super::files::{ENFORCE_DIR, FileKeeper, FileSafetyError};
use super::quarantine::{self, Outcome, Quarantine};
use crate::platform::Layout;

/// What happened to one server's action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionState {
    /// Written now.
    Applied,
    /// Already in force from an earlier run.
    InForce,
    /// The entry was already disabled; nothing written.
    AlreadyDisabled,
    /// Undone because no rule asks for it any more.
    Lifted,
    /// `--dry-run`: would be written (the files named).
    WouldApply(Vec<PathBuf>),
    /// Waiting for a writer this build does not have.
    Pending(&'static str),
    /// Written, but a source the client ranks higher shadows it (why).
    NotInForce(String),
    /// The client's lever cannot express it (why).
    NotEnforceable(String),
    /// Reported only.
    Reported,
    Failed(String),
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionReport {
    pub server_id: String,
    pub client: String,
    pub name: String,
    pub action: Option<Action>,
    pub rules: Vec<String>,
    pub state: ActionState,
}

/// Why `apply` could not run at all (single servers fail in their report line instead).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    File(#[from] FileSafetyError),
    #[error("cannot {action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
}

/// Remembered inventory records of quarantined servers, under `<state>/enforce/quarantined/`.
#[derive(Debug)]
struct Remembered {
    dir: PathBuf,
}

impl Remembered {
    fn new(state_dir: &Path) -> Remembered {
        Remembered { dir: state_dir.join(ENFORCE_DIR).join("quarantined") }
    }

    fn path(&self, server_id: &str) -> PathBuf {
        // Server ids are hex; anything else is refused as a name.
        let safe: String = server_id.chars().filter(char::is_ascii_alphanumeric).collect();
        self.dir.join(format!("{safe}.pb"))
    }

    fn load(&self) -> Vec<McpServer> {
        let Ok(items) = fs::read_dir(&self.dir) else { return Vec::new() };
        items
            .filter_map(Result::ok)
            .filter_map(|e| fs::read(e.path()).ok())
            .filter_map(|b| McpServer::decode(b.as_slice()).ok())
            .collect()
    }

    fn keep(&self, server: &McpServer) -> Result<(), ApplyError> {
        crate::state::create_private_dir(&self.dir).map_err(|source| ApplyError::Io {
            action: "create",
            path: self.dir.clone(),
            source,
        })?;
        let path = self.path(&server.id);
        crate::state::write_atomic(&path, &server.encode_to_vec()).map_err(|source| ApplyError::Io {
            action: "write",
            path,
            source,
        })
    }

    fn forget(&self, server_id: &str) {
        let _ = fs::remove_file(self.path(server_id));
    }
}

/// The inventory the policy is evaluated on: the scan plus the remembered records of
/// quarantined servers the scan no longer sees (their entries are in a sidecar).
fn with_remembered(inv: &InventorySnapshot, remembered: Vec<McpServer>) -> InventorySnapshot {
    let seen: BTreeSet<String> = inv.servers.iter().map(|s| s.id.clone()).collect();
    let mut out = inv.clone();
    out.servers.extend(remembered.into_iter().filter(|s| !seen.contains(&s.id)));
    out
}

/// What `apply` enforces on, besides the policy and the inventory.
pub struct ApplyContext<'a> {
    pub layout: &'a Layout,
    pub tags: &'a [String],
    pub now: i64,
    pub state_dir: &'a Path,
    /// `None` for a dry run (nothing is written; remembered records are still read).
    pub keeper: Option<&'a FileKeeper>,
    /// Each scanned server's identity (launch command or URL) for the client-policy writers.
    pub identities: &'a Identities,
    /// What the writers' "not in force" checks look at.
    pub probe: &'a dyn Probe,
    /// The optional client-policy levers turned on.
    pub writer_options: client_policy::WriterOptions,
}

/// Evaluates `bundle` on `inv` and enforces what is due now.
pub fn apply(
    bundle: &Bundle,
    inv: &InventorySnapshot,
    ctx: &ApplyContext<'_>,
) -> Result<Vec<ActionReport>, ApplyError> {
    apply_with_decisions(bundle, inv, ctx).map(|(_, reports)| reports)
}

/// [`apply`], also returning the decisions it enforced: those for the scan plus the remembered
/// records of servers whose quarantine is in force (what the daemon reports).
pub fn apply_with_decisions(
    bundle: &Bundle,
    inv: &InventorySnapshot,
    ctx: &ApplyContext<'_>,
) -> Result<(Decisions, Vec<ActionReport>), ApplyError> {
    let ApplyContext { layout, tags, now, state_dir, keeper, identities, probe, writer_options } = *ctx;
    let remembered = Remembered::new(state_dir);
    // A remembered record counts only while its quarantine is in force (a restored entry is
    // back in the scan; a deleted one is gone for good).
    let mut records = remembered.load();
    if let Some(keeper) = keeper {
        let active: BTreeSet<String> =
            keeper.touches()?.into_iter().filter(|t| t.status == super::TouchStatus::Applied).map(|t| t.key).collect();
        records.retain(|s| active.contains(&format!("quarantine:{}", s.id)));
    }
    let full = with_remembered(inv, records);
    let decisions = muster_policy::evaluate(bundle, &Endpoint { inventory: &full, agent_id: "", tags }, now);
    let servers: BTreeMap<&str, &McpServer> = full.servers.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut reports = Vec::new();
    let mut desired = Vec::new();
    let mut client_lines = Vec::new();
    for d in &decisions.servers {
        let Some(action) = d.action_now() else { continue };
        let rules: Vec<String> = d.due_now().filter(|v| v.action == action).map(|v| v.rule.clone()).collect();
        let mut line = ActionReport {
            server_id: d.server_id.clone(),
            client: d.client.clone(),
            name: d.name.clone(),
            action: Some(action),
            rules: rules.clone(),
            state: ActionState::Reported,
        };
        match action {
            Action::Notify => {}
            Action::Block | Action::DenyTools | Action::RequireApproval => {
                client_lines.push(line);
                continue;
            }
            Action::Quarantine => {
                let server = servers.get(d.server_id.as_str());
                match server.and_then(|s| layout.resolve(&s.config_path).map(|p| (s, p))) {
                    Some((s, config_path)) => {
                        desired.push((
                            (*s).clone(),
                            Quarantine {
                                server_id: s.id.clone(),
                                client: s.client.clone(),
                                name: s.name.clone(),
                                config_path,
                                project: s.project.clone(),
                                decision: format!("policy {} rule {}", decisions.policy, rules.join(",")),
                            },
                        ));
                        continue;
                    }
                    None => line.state = ActionState::Failed("the server's config file is not on this machine".into()),
                }
            }
        }
        reports.push(line);
    }
    // The client-policy writers: every server (the Codex allowlist names the allowed ones too).
    let policies = client_policy::servers(
        &decisions,
        full.servers.iter().map(|s| (s.id.as_str(), s.client.as_str(), s.name.as_str())),
        identities,
    );
    let writers = client_policy::write::enforce_all(layout, &policies, state_dir, keeper, probe, writer_options);
    for mut line in client_lines {
        if let Some(action) = line.action {
            line.state = client_policy_state(&writers, &line.client, &line.name, action);
        }
        reports.push(line);
    }
    for w in &writers {
        let enforces = w.outcomes.iter().any(|o| !matches!(o.result, client_policy::OutcomeResult::NotEnforceable(_)));
        if !enforces && matches!(w.file, FileResult::Written | FileResult::Removed) {
            reports.push(ActionReport {
                server_id: String::new(),
                client: w.writer.to_string(),
                name: w.path.as_deref().map(|p| layout.display(p)).unwrap_or_default(),
                action: Some(Action::Block),
                rules: Vec::new(),
                state: ActionState::Lifted,
            });
        }
    }
    let line_for = |q: &Quarantine, state: ActionState| ActionReport {
        server_id: q.server_id.clone(),
        client: q.client.clone(),
        name: q.name.clone(),
        action: Some(Action::Quarantine),
        rules: vec![q.decision.clone()],
        state,
    };
    let Some(keeper) = keeper else {
        for (_, q) in &desired {
            let state = match quarantine::plan(q) {
                Ok(edits) => {
                    let files: Vec<PathBuf> =
                        edits.iter().filter(|e| !is_unchanged(e)).map(|e| e.observed.path().to_path_buf()).collect();
                    if files.is_empty() { ActionState::AlreadyDisabled } else { ActionState::WouldApply(files) }
                }
                Err(e) => ActionState::Failed(e.to_string()),
            };
            reports.push(line_for(q, state));
        }
        return Ok((decisions, reports));
    };
    let wanted: Vec<Quarantine> = desired.iter().map(|(_, q)| q.clone()).collect();
    let outcomes = quarantine::reconcile(keeper, &wanted)?;
    for (key, outcome) in outcomes {
        let server_id = key.trim_start_matches("quarantine:").to_string();
        let found = desired.iter().find(|(_, q)| q.server_id == server_id);
        let state = match &outcome {
            Outcome::Applied(_) => ActionState::Applied,
            Outcome::InForce => ActionState::InForce,
            Outcome::AlreadyDisabled => ActionState::AlreadyDisabled,
            Outcome::Lifted(_) => ActionState::Lifted,
            Outcome::Failed(why) => ActionState::Failed(why.clone()),
        };
        match (found, &outcome) {
            (Some((server, _)), Outcome::Applied(_) | Outcome::InForce) => remembered.keep(server)?,
            (_, Outcome::Lifted(_)) => remembered.forget(&server_id),
            _ => {}
        }
        match found {
            Some((_, q)) => reports.push(line_for(q, state)),
            None => reports.push(ActionReport {
                server_id,
                client: String::new(),
                name: String::new(),
                action: None,
                rules: Vec::new(),
                state,
            }),
        }
    }
    Ok((decisions, reports))
}

/// One server action's state from the writers' reports: failed if a writer that enforces it
/// failed, not in force if one is shadowed, else applied / in force / would apply; not
/// enforceable when every writer says so; pending when no writer governs the client.
fn client_policy_state(writers: &[WriterReport], client: &str, name: &str, action: Action) -> ActionState {
    use client_policy::OutcomeResult;
    let word = action.as_str();
    let mut enforcing: Vec<&WriterReport> = Vec::new();
    let mut not = Vec::new();
    for w in writers {
        for o in w.outcomes.iter().filter(|o| o.client == client && o.server == name && o.action == word) {
            match &o.result {
                OutcomeResult::Written | OutcomeResult::AlreadyEnforced(_) => {
                    if !enforcing.iter().any(|e| e.writer == w.writer) {
                        enforcing.push(w);
                    }
                }
                OutcomeResult::NotEnforceable(why) => not.push(format!("{}: {why}", w.writer)),
            }
        }
    }
    if enforcing.is_empty() {
        for w in writers {
            let governs = client_policy::by_id(w.writer).is_some_and(|c| c.clients().contains(&client));
            if let (true, FileResult::Failed(why)) = (governs, &w.file) {
                return ActionState::Failed(format!("{}: {why}", w.writer));
            }
        }
        if not.is_empty() {
            return ActionState::NotEnforceable(not.join("; "));
        }
        return ActionState::Pending("no client-policy writer for this client");
    }
    if let Some((w, why)) = enforcing.iter().find_map(|w| match &w.file {
        FileResult::Failed(why) => Some((w.writer, why)),
        _ => None,
    }) {
        return ActionState::Failed(format!("{w}: {why}"));
    }
    let shadows: Vec<String> = enforcing
        .iter()
        .flat_map(|w| w.shadows.iter().map(move |s| format!("{}: {} ({})", w.writer, s.why, s.source)))
        .collect();
    if !shadows.is_empty() {
        return ActionState::NotInForce(shadows.join("; "));
    }
    let would: Vec<PathBuf> =
        enforcing.iter().filter(|w| w.file == FileResult::WouldChange).filter_map(|w| w.path.clone()).collect();
    if !would.is_empty() {
        return ActionState::WouldApply(would);
    }
    if enforcing.iter().any(|w| matches!(w.file, FileResult::Written | FileResult::Removed)) {
        ActionState::Applied
    } else {
        ActionState::InForce
    }
}

fn is_unchanged(edit: &quarantine::PlannedEdit) -> bool {
    edit.observed.content() == Some(&super::files::Fingerprint::of(&edit.bytes))
}

/// One report line as text.
pub fn render_line(r: &ActionReport) -> String {
    let action = r.action.map_or("quarantine", Action::as_str);
    let what = if r.name.is_empty() {
        format!("server {}", r.server_id)
    } else {
        format!("{} {:?} ({})", r.client, r.name, r.server_id)
    };
    let state = match &r.state {
        ActionState::Applied => "applied".to_string(),
        ActionState::InForce => "in force".to_string(),
        ActionState::AlreadyDisabled => "already disabled".to_string(),
        ActionState::Lifted => "lifted (restored)".to_string(),
        ActionState::WouldApply(files) => {
            let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            format!("would write {}", files.join(", "))
        }
        ActionState::Pending(why) => format!("pending: {why}"),
        ActionState::NotInForce(why) => format!("not in force: {why}"),
        ActionState::NotEnforceable(why) => format!("not enforceable: {why}"),
        ActionState::Reported => "reported".to_string(),
        ActionState::Failed(why) => format!("failed: {why}"),
    };
    format!("{action}\t{what}\t{state}")
}
