//! Enforcing policy decisions on this machine (`muster-agent policy apply`, and later the
//! daemon): from the decisions for a scanned inventory to the quarantines wanted, reconciled
//! with what the journal says is in force, and a report line per server action. `block` waits
//! for the client-policy writers and is reported as pending; tool-level actions are reported as
//! not enforced by this build. Servers whose entry Muster moved to a sidecar are gone from the
//! scan, so their last inventory record is kept (`enforce/quarantined/<server id>.pb`) and
//! evaluated again, which is how lifting a rule or granting an exception restores them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use muster_policy::{Action, Bundle, Endpoint};
use muster_proto::prost::Message;
use muster_proto::v1::{InventorySnapshot, McpServer};

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

/// Evaluates `bundle` on `inv` and enforces what is due now. `keeper` is `None` for a dry run
/// (nothing is written; remembered records are still read from `state_dir`).
pub fn apply(
    bundle: &Bundle,
    inv: &InventorySnapshot,
    layout: &Layout,
    tags: &[String],
    now: i64,
    state_dir: &Path,
    keeper: Option<&FileKeeper>,
) -> Result<Vec<ActionReport>, ApplyError> {
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
            Action::DenyTools | Action::RequireApproval => {
                line.state = ActionState::Pending("tool-level actions are not enforced by this build")
            }
            Action::Block => line.state = ActionState::Pending("the client-policy writers are not in this build"),
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
        return Ok(reports);
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
    Ok(reports)
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
        ActionState::Reported => "reported".to_string(),
        ActionState::Failed(why) => format!("failed: {why}"),
    };
    format!("{action}\t{what}\t{state}")
}
