//! The developer's version pins (`PinVersion`, `UndoPin`): one of their own servers launched as
//! an unpinned package gets the exact version its client already runs (the scan's pin
//! candidate, `crate::pins`) written into its launch argument, in their own file, through the
//! file-safety layer under the journal key `pin:<server id>`. Refused when the file's content
//! differs from what the candidate was planned against (it changed since the scan), when the
//! package cache no longer gives the same version, or when the caller's uid does not own the
//! file. Undo is the disable's: the journal's touches of that key restored byte-identical, or
//! taken back out of a file edited elsewhere since. This module never pins on its own.

use std::fs;
use std::sync::Arc;

use muster_proto::local::v1 as local;
use serde::{Deserialize, Serialize};

use super::{FixError, Fixes, caller_server, owned_by};
use crate::enforce::TouchStatus;
use crate::enforce::files::{Change, FileSafetyError, Intent, Observed};
use crate::enforce::quarantine::{self, Outcome};
use crate::local_api::AgentView;
use crate::local_api::caller::Caller;

/// What the status shows of one pin, as recorded when it was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeveloperPin {
    pub server_id: String,
    pub server_name: String,
    pub client: String,
    /// As the inventory writes it (the machine's own path).
    pub config_path: String,
    pub package: String,
    pub version: String,
    /// Who asked (kernel-reported uid); only they see it and may undo it.
    pub uid: u32,
    pub since_unix: i64,
}

impl DeveloperPin {
    fn key(&self) -> String {
        pin_key(&self.server_id)
    }

    /// As the local API shows it.
    pub fn to_message(&self) -> local::VersionPin {
        local::VersionPin {
            server_id: self.server_id.clone(),
            server_name: self.server_name.clone(),
            client: self.client.clone(),
            package: self.package.clone(),
            version: self.version.clone(),
            since_unix: self.since_unix,
            config_path: self.config_path.clone(),
        }
    }
}

fn pin_key(server_id: &str) -> String {
    format!("pin:{server_id}")
}

impl Fixes {
    fn pin_records_dir(&self) -> std::path::PathBuf {
        self.state_dir.join(crate::enforce::files::ENFORCE_DIR).join("pinned-by-developer")
    }

    fn pin_record_path(&self, server_id: &str) -> std::path::PathBuf {
        let safe: String = server_id.chars().filter(char::is_ascii_alphanumeric).collect();
        self.pin_records_dir().join(format!("{safe}.json"))
    }

    /// The pins in force, pushed anew after every change.
    pub fn subscribe_pins(&self) -> tokio::sync::watch::Receiver<Arc<Vec<DeveloperPin>>> {
        self.pins_in_force.subscribe()
    }

    /// Re-reads the pin records and publishes those the journal still has in force.
    pub(super) fn refresh_pins(&self) {
        super::publish_if_changed(
            &self.pins_in_force,
            super::records_in_force(&self.state_dir, &self.pin_records_dir(), |p: &DeveloperPin| {
                (p.key(), p.since_unix, p.server_id.clone())
            }),
        );
    }

    /// Pins `server_id` for `caller` to the version of its pin candidate.
    pub fn pin(
        &self,
        view: &AgentView,
        caller: &Caller,
        server_id: &str,
        now_unix: i64,
    ) -> Result<DeveloperPin, FixError> {
        let server = caller_server(view, caller, server_id)?;
        let cannot = |why: String| FixError::CannotPin { name: server.name.clone(), why };
        if self.pins_in_force.borrow().iter().any(|p| p.server_id == server.id) {
            return Err(cannot("it is already pinned with Muster".into()));
        }
        let candidate = match view.pins.get(&server.id) {
            Some(Ok(c)) => c.clone(),
            Some(Err(why)) => return Err(cannot(why.to_string())),
            None => return Err(cannot("it is not launched as an unpinned npm or PyPI package".into())),
        };
        let path = self
            .layout
            .resolve(&server.config_path)
            .ok_or_else(|| FixError::NoFile { path: server.config_path.clone() })?;
        let changed = || FixError::ChangedSinceScan { path: server.config_path.clone() };
        let (observed, bytes) = Observed::read(&path)?;
        if path != candidate.config || observed.content() != Some(&candidate.content) {
            return Err(changed());
        }
        let text = String::from_utf8(bytes.unwrap_or_default()).map_err(|_| cannot("the file is not UTF-8".into()))?;
        // Planned again against the cache as it is now: a pin writes only what still holds.
        let plan = crate::pins::plan(&path, &text, &server.name, &server.project, &candidate.home)
            .map_err(|e| cannot(e.to_string()))?;
        if plan != candidate.plan {
            return Err(cannot("the package cache changed since the last scan; try again after the next scan".into()));
        }
        let new = crate::pins::rewrite(&path, &text, &plan).map_err(|e| cannot(e.to_string()))?;
        owned_by(&path, caller.uid)?;
        let keeper = self.keeper()?;
        let intent = Intent {
            key: pin_key(&server.id),
            decision: format!(
                "{} pinned to {} by its owner (uid {}) over the local API",
                plan.package, plan.version, caller.uid
            ),
        };
        match keeper.apply(&observed, Change::Write { bytes: new.as_bytes(), mode_if_created: 0o600 }, &intent) {
            Ok(Some(_)) => {}
            Ok(None) => return Err(cannot("the file already reads so".into())),
            Err(FileSafetyError::Changed { .. }) => return Err(changed()),
            Err(e) => return Err(e.into()),
        }
        let record = DeveloperPin {
            server_id: server.id.clone(),
            server_name: server.name.clone(),
            client: server.client.clone(),
            config_path: server.config_path.clone(),
            package: plan.package,
            version: plan.version,
            uid: caller.uid,
            since_unix: now_unix,
        };
        let dir = self.pin_records_dir();
        crate::state::create_private_dir(&dir).map_err(|source| FixError::Io {
            action: "create",
            path: dir,
            source,
        })?;
        let file = self.pin_record_path(&record.server_id);
        let bytes = serde_json::to_vec_pretty(&record).unwrap_or_default();
        crate::state::write_atomic(&file, &bytes).map_err(|source| FixError::Io {
            action: "write",
            path: file,
            source,
        })?;
        self.refresh_pins();
        Ok(record)
    }

    /// Undoes the caller's own pin of `server_id`.
    pub fn undo_pin(&self, caller: &Caller, server_id: &str) -> Result<(), FixError> {
        self.refresh_pins();
        let record = self
            .pins_in_force
            .borrow()
            .iter()
            .find(|p| p.server_id == server_id && p.uid == caller.uid)
            .cloned()
            .ok_or_else(|| FixError::NotPinnedByYou { server_id: server_id.to_string() })?;
        let keeper = self.keeper()?;
        for t in keeper.touches()?.iter().filter(|t| t.key == record.key() && t.status == TouchStatus::Applied) {
            owned_by(&t.real_path, caller.uid)?;
        }
        let result = match quarantine::undo_key(&keeper, &record.key())? {
            Outcome::Lifted(_) => {
                let _ = fs::remove_file(self.pin_record_path(server_id));
                Ok(())
            }
            Outcome::Failed(why) => Err(FixError::CannotUndo { why }),
            other => Err(FixError::CannotUndo { why: format!("unexpected outcome {other:?}") }),
        };
        self.refresh_pins();
        result
    }
}
