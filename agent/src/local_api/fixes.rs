//! One-click fixes the developer asks for over the local API (`DisableServer`, `UndoDisable`):
//! disabling one of their own servers in their own configuration file, and undoing that. The
//! edit is the policy quarantine's (`enforce::quarantine`: the client's own switch, else a
//! sidecar) written through the file-safety layer, under the journal key `disable:<server id>`
//! so the policy's reconcile never lifts it. Who may ask: the server must be one of the
//! caller's (the same rule as the status they see) and the caller's uid must own every file the
//! change writes (for a file yet to be created, its nearest existing directory), checked just
//! before writing.
//!
//! A small record per disable (`<state>/enforce/disabled-by-developer/<id>.json`) keeps what the
//! status shows (name, client, when, whose); the journal decides whether it is still in force,
//! so a `muster-agent restore` that undid it makes it vanish from the status too. This module
//! does not decide policy and never disables anything on its own.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use muster_proto::local::v1 as local;
use muster_proto::v1::McpServer;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::AgentView;
use super::caller::{Caller, owned_users};
use crate::enforce::files::ENFORCE_DIR;
use crate::enforce::quarantine::{self, Outcome, Quarantine};
use crate::enforce::{FileKeeper, FileSafetyError, TouchStatus};
use crate::platform::Layout;

mod pinning;
pub use pinning::DeveloperPin;

/// Why a fix was refused or failed. Messages name the caller's own files only.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    /// Also the answer for another user's server: the caller learns nothing of it.
    #[error("no server {server_id} of yours is known to this agent")]
    NotYours { server_id: String },
    #[error("{name} is already disabled in {path}")]
    AlreadyDisabled { name: String, path: String },
    #[error("you do not own {path}, so Muster will not change it for you")]
    NotOwner { path: PathBuf },
    #[error("{path} is not a file on this machine")]
    NoFile { path: String },
    #[error("cannot disable {name}: {why}")]
    CannotDisable { name: String, why: String },
    #[error("you did not disable server {server_id} with Muster (or it was already undone)")]
    NotDisabledByYou { server_id: String },
    #[error("cannot undo: {why}")]
    CannotUndo { why: String },
    #[error("cannot pin {name}: {why}")]
    CannotPin { name: String, why: String },
    #[error("{path} changed since the agent last scanned it; try again after the next scan")]
    ChangedSinceScan { path: String },
    #[error("you did not pin server {server_id} with Muster (or it was already undone)")]
    NotPinnedByYou { server_id: String },
    /// Logged by the server, never echoed in detail.
    #[error(transparent)]
    State(#[from] FileSafetyError),
    #[error("cannot {action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: io::Error },
}

/// What the status shows of one disable, as recorded when it was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeveloperDisable {
    pub server_id: String,
    pub server_name: String,
    pub client: String,
    /// As the inventory writes it (the machine's own path).
    pub config_path: String,
    /// Who asked (kernel-reported uid); only they see it and may undo it.
    pub uid: u32,
    pub since_unix: i64,
}

impl DeveloperDisable {
    fn key(&self) -> String {
        journal_key(&self.server_id)
    }

    /// As the local API shows it.
    pub fn to_message(&self) -> local::Quarantine {
        local::Quarantine {
            server_id: self.server_id.clone(),
            server_name: self.server_name.clone(),
            client: self.client.clone(),
            rule_id: String::new(),
            reason: "You disabled it from Muster.".to_string(),
            since_unix: self.since_unix,
            undo_allowed: true,
            origin: local::QuarantineOrigin::Developer as i32,
            config_path: self.config_path.clone(),
        }
    }
}

fn journal_key(server_id: &str) -> String {
    format!("disable:{server_id}")
}

/// The developer's fixes on this machine: the state dir holding the journal, and the layout
/// that maps the inventory's paths to files here.
#[derive(Debug)]
pub struct Fixes {
    state_dir: PathBuf,
    layout: Layout,
    in_force: watch::Sender<Arc<Vec<DeveloperDisable>>>,
    /// The developer's version pins in force, pushed anew after every change.
    pins_in_force: watch::Sender<Arc<Vec<DeveloperPin>>>,
}

impl Fixes {
    /// Reads the disables still in force from `state_dir`.
    pub fn open(state_dir: &Path, layout: Layout) -> Fixes {
        let fixes = Fixes {
            state_dir: state_dir.to_path_buf(),
            layout,
            in_force: watch::channel(Arc::default()).0,
            pins_in_force: watch::channel(Arc::default()).0,
        };
        fixes.refresh();
        fixes.refresh_pins();
        fixes
    }

    /// The disables in force, pushed anew after every change.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Vec<DeveloperDisable>>> {
        self.in_force.subscribe()
    }

    /// Appends the caller's own disables to `status.quarantines` and pins to `status.pins`
    /// (a server pinned since the last scan loses its candidate at once).
    pub fn add_to(&self, status: &mut local::LocalStatus, caller: &Caller) {
        let list = self.in_force.borrow().clone();
        status.quarantines.extend(list.iter().filter(|d| d.uid == caller.uid).map(DeveloperDisable::to_message));
        let pins = self.pins_in_force.borrow().clone();
        let mine: Vec<&DeveloperPin> = pins.iter().filter(|p| p.uid == caller.uid).collect();
        status.pins.extend(mine.iter().map(|p| p.to_message()));
        for client in &mut status.clients {
            client.pin_candidates.retain(|c| !mine.iter().any(|p| p.server_id == c.server_id));
        }
    }

    fn records_dir(&self) -> PathBuf {
        self.state_dir.join(ENFORCE_DIR).join("disabled-by-developer")
    }

    fn record_path(&self, server_id: &str) -> PathBuf {
        // Server ids are hex; anything else is dropped from the file name.
        let safe: String = server_id.chars().filter(char::is_ascii_alphanumeric).collect();
        self.records_dir().join(format!("{safe}.json"))
    }

    fn keeper(&self) -> Result<FileKeeper, FixError> {
        let keeper = FileKeeper::open(&self.state_dir)?;
        Ok(match self.layout.root() {
            Some(root) => keeper.confined_to(root)?,
            None => keeper,
        })
    }

    /// Re-reads the records and publishes those the journal still has in force.
    fn refresh(&self) {
        publish_if_changed(
            &self.in_force,
            records_in_force(&self.state_dir, &self.records_dir(), |d: &DeveloperDisable| {
                (d.key(), d.since_unix, d.server_id.clone())
            }),
        );
    }

    /// Disables `server_id` for `caller`, who must own the server and every file written.
    pub fn disable(
        &self,
        view: &AgentView,
        caller: &Caller,
        server_id: &str,
        now_unix: i64,
    ) -> Result<DeveloperDisable, FixError> {
        let server = caller_server(view, caller, server_id)?;
        if server.disabled {
            return Err(FixError::AlreadyDisabled { name: server.name, path: server.config_path });
        }
        let path = self
            .layout
            .resolve(&server.config_path)
            .ok_or_else(|| FixError::NoFile { path: server.config_path.clone() })?;
        let q = Quarantine {
            server_id: server.id.clone(),
            client: server.client.clone(),
            name: server.name.clone(),
            config_path: path,
            project: server.project.clone(),
            decision: format!("disabled by its owner (uid {}) over the local API", caller.uid),
        };
        let cannot = |why: String| FixError::CannotDisable { name: server.name.clone(), why };
        let edits = quarantine::plan(&q).map_err(|e| cannot(e.to_string()))?;
        for edit in &edits {
            owned_by(edit.observed.path(), caller.uid)?;
        }
        let keeper = self.keeper()?;
        match quarantine::apply_keyed(&keeper, &q, &journal_key(&server.id)) {
            Outcome::Applied(_) => {}
            Outcome::AlreadyDisabled | Outcome::InForce => {
                return Err(FixError::AlreadyDisabled { name: server.name, path: server.config_path });
            }
            Outcome::Failed(why) => return Err(cannot(why)),
            Outcome::Lifted(_) => return Err(cannot("unexpected outcome".into())),
        }
        let record = DeveloperDisable {
            server_id: server.id,
            server_name: server.name,
            client: server.client,
            config_path: server.config_path,
            uid: caller.uid,
            since_unix: now_unix,
        };
        let dir = self.records_dir();
        crate::state::create_private_dir(&dir).map_err(|source| FixError::Io {
            action: "create",
            path: dir,
            source,
        })?;
        let file = self.record_path(&record.server_id);
        let bytes = serde_json::to_vec_pretty(&record).unwrap_or_default();
        crate::state::write_atomic(&file, &bytes).map_err(|source| FixError::Io {
            action: "write",
            path: file,
            source,
        })?;
        self.refresh();
        Ok(record)
    }

    /// Undoes the caller's own disable of `server_id`.
    pub fn undo(&self, caller: &Caller, server_id: &str) -> Result<(), FixError> {
        self.refresh();
        let record = self
            .in_force
            .borrow()
            .iter()
            .find(|d| d.server_id == server_id && d.uid == caller.uid)
            .cloned()
            .ok_or_else(|| FixError::NotDisabledByYou { server_id: server_id.to_string() })?;
        // The files are checked again: ownership may have changed since the disable.
        let keeper = self.keeper()?;
        for t in keeper.touches()?.iter().filter(|t| t.key == record.key() && t.status == TouchStatus::Applied) {
            owned_by(&t.real_path, caller.uid)?;
        }
        let outcome = quarantine::undo_key(&keeper, &record.key())?;
        let result = match outcome {
            Outcome::Lifted(_) => {
                let _ = fs::remove_file(self.record_path(server_id));
                Ok(())
            }
            Outcome::Failed(why) => Err(FixError::CannotUndo { why }),
            other => Err(FixError::CannotUndo { why: format!("unexpected outcome {other:?}") }),
        };
        self.refresh();
        result
    }
}

/// The caller's server `server_id` from the published inventory.
fn caller_server(view: &AgentView, caller: &Caller, server_id: &str) -> Result<McpServer, FixError> {
    let not_yours = || FixError::NotYours { server_id: server_id.to_string() };
    let snapshot = view.snapshot.as_deref().ok_or_else(not_yours)?;
    let users = owned_users(snapshot, caller);
    snapshot.servers.iter().find(|s| s.id == server_id && users.contains(&s.user)).cloned().ok_or_else(not_yours)
}

/// Refuses unless `uid` owns `path` (followed through links, as the write is), or, for a file
/// yet to be created, its nearest existing directory.
fn owned_by(path: &Path, uid: u32) -> Result<(), FixError> {
    let mut at = path;
    loop {
        match fs::metadata(at) {
            Ok(meta) if meta.uid() == uid => return Ok(()),
            Ok(_) => return Err(FixError::NotOwner { path: at.to_path_buf() }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => match at.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => at = parent,
                _ => return Err(FixError::NotOwner { path: path.to_path_buf() }),
            },
            Err(source) => return Err(FixError::Io { action: "inspect", path: at.to_path_buf(), source }),
        }
    }
}

/// The records (JSON files) in `dir` whose change the file journal still has applied, oldest
/// first; `facts` gives a record's journal key, when it was made and its server id.
fn records_in_force<T: serde::de::DeserializeOwned>(
    state_dir: &Path,
    dir: &Path,
    facts: impl Fn(&T) -> (String, i64, String),
) -> Vec<T> {
    let applied: Vec<String> = FileKeeper::open(state_dir)
        .and_then(|k| k.touches())
        .map(|touches| touches.into_iter().filter(|t| t.status == TouchStatus::Applied).map(|t| t.key).collect())
        .unwrap_or_default();
    let mut list: Vec<(i64, String, T)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice::<T>(&b).ok())
        .filter_map(|record| {
            let (key, since, server) = facts(&record);
            applied.contains(&key).then_some((since, server, record))
        })
        .collect();
    list.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    list.into_iter().map(|(_, _, record)| record).collect()
}

/// Publishes `list` to the local API's watchers unless it is what they have.
fn publish_if_changed<T: PartialEq>(sender: &watch::Sender<Arc<Vec<T>>>, list: Vec<T>) {
    sender.send_if_modified(|old| {
        if **old == list {
            return false;
        }
        *old = Arc::new(list);
        true
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use muster_proto::v1::{InventorySnapshot, OsUser};

    use super::*;

    const ORIGINAL: &str = "{\n  \"mcpServers\": {\n    \"github\": {\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"@modelcontextprotocol/server-github\"]\n    },\n    \"time\": {\n      \"command\": \"uvx\",\n      \"args\": [\"mcp-server-time\"]\n    }\n  }\n}\n";

    fn me() -> Caller {
        let uid = rustix::process::geteuid().as_raw();
        Caller { uid, account: Some("dev".into()) }
    }

    fn view(config: &Path, uid: u32) -> AgentView {
        let snapshot = InventorySnapshot {
            users: vec![
                OsUser { name: "dev".into(), uid: Some(uid), home: "/home/dev".into() },
                OsUser { name: "other".into(), uid: Some(uid + 1), home: "/home/other".into() },
            ],
            servers: vec![
                McpServer {
                    id: "a1".into(),
                    name: "github".into(),
                    client: "cline".into(),
                    user: "dev".into(),
                    config_path: config.to_string_lossy().into_owned(),
                    ..Default::default()
                },
                McpServer {
                    id: "b2".into(),
                    name: "time".into(),
                    client: "cline".into(),
                    user: "other".into(),
                    config_path: config.to_string_lossy().into_owned(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        AgentView {
            revision: 1,
            snapshot: Some(Arc::new(snapshot)),
            connection: Default::default(),
            policy: Default::default(),
            places: Default::default(),
            pins: Default::default(),
        }
    }

    fn setup() -> (tempfile::TempDir, PathBuf, Fixes) {
        let dir = crate::enforce::scratch_dir();
        let config = dir.path().join("cline_mcp_settings.json");
        fs::write(&config, ORIGINAL).unwrap();
        let fixes = Fixes::open(&dir.path().join("state"), Layout::live());
        (dir, config, fixes)
    }

    #[test]
    fn disable_then_undo_gives_the_file_back_byte_identical() {
        let (_dir, config, fixes) = setup();
        let caller = me();
        let v = view(&config, caller.uid);
        let rx = fixes.subscribe();
        let record = fixes.disable(&v, &caller, "a1", 100).expect("disable");
        assert_eq!(record.server_name, "github");
        let disabled = fs::read_to_string(&config).unwrap();
        assert!(disabled.contains("\"disabled\": true"), "{disabled}");
        assert_eq!(rx.borrow().len(), 1, "published");

        let mut status = local::LocalStatus::default();
        fixes.add_to(&mut status, &caller);
        assert_eq!(status.quarantines.len(), 1);
        assert!(status.quarantines[0].undo_allowed);
        assert_eq!(status.quarantines[0].origin, local::QuarantineOrigin::Developer as i32);
        let mut others = local::LocalStatus::default();
        fixes.add_to(&mut others, &Caller { uid: caller.uid + 1, account: None });
        assert!(others.quarantines.is_empty(), "another user sees nothing of it");

        // A restart reads it back from the state dir.
        let again = Fixes::open(&fixes.state_dir, Layout::live());
        assert_eq!(again.subscribe().borrow().len(), 1);

        fixes.undo(&caller, "a1").expect("undo");
        assert_eq!(fs::read_to_string(&config).unwrap(), ORIGINAL);
        assert!(rx.borrow().is_empty());
        assert!(matches!(fixes.undo(&caller, "a1"), Err(FixError::NotDisabledByYou { .. })));
    }

    #[test]
    fn another_users_server_is_refused_as_unknown_and_nothing_is_written() {
        let (_dir, config, fixes) = setup();
        let caller = me();
        let v = view(&config, caller.uid);
        assert!(matches!(fixes.disable(&v, &caller, "b2", 1), Err(FixError::NotYours { .. })));
        assert!(matches!(fixes.disable(&v, &caller, "zz", 1), Err(FixError::NotYours { .. })));
        assert_eq!(fs::read_to_string(&config).unwrap(), ORIGINAL);
    }

    #[test]
    fn a_file_the_caller_does_not_own_is_refused() {
        let (_dir, config, fixes) = setup();
        let caller = me();
        // The same user, as the inventory knows it, under a uid that does not own the file.
        let other = Caller { uid: caller.uid + 7, account: None };
        let v = view(&config, other.uid);
        let refused = fixes.disable(&v, &other, "a1", 1);
        assert!(matches!(refused, Err(FixError::NotOwner { .. })), "{refused:?}");
        assert_eq!(fs::read_to_string(&config).unwrap(), ORIGINAL);
    }

    #[test]
    fn an_edit_on_the_same_lines_is_never_overwritten_by_undo() {
        let (_dir, config, fixes) = setup();
        let caller = me();
        let v = view(&config, caller.uid);
        fixes.disable(&v, &caller, "a1", 1).expect("disable");
        let edited = fs::read_to_string(&config).unwrap().replace("\"disabled\": true", "\"disabled\": false");
        fs::write(&config, &edited).unwrap();
        let refused = fixes.undo(&caller, "a1");
        assert!(matches!(refused, Err(FixError::CannotUndo { .. })), "{refused:?}");
        assert_eq!(fs::read_to_string(&config).unwrap(), edited, "the developer's edit is kept");
    }

    #[test]
    fn an_edit_elsewhere_survives_the_undo() {
        let (_dir, config, fixes) = setup();
        let caller = me();
        let v = view(&config, caller.uid);
        fixes.disable(&v, &caller, "a1", 1).expect("disable");
        let edited = fs::read_to_string(&config).unwrap().replace("mcp-server-time", "mcp-server-time@1.2");
        fs::write(&config, &edited).unwrap();
        fixes.undo(&caller, "a1").expect("undo");
        assert_eq!(fs::read_to_string(&config).unwrap(), ORIGINAL.replace("mcp-server-time", "mcp-server-time@1.2"));
    }
}
