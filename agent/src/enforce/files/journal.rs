//! The journal of every file Muster touched: one JSON file per touch under
//! `<state>/enforce/journal/`, written atomically, each naming the file, when, why (the caller's
//! key and decision), what it held before (with the backup that holds those bytes, owner and
//! mode) and after, and how far the touch got. Restore and crash recovery work from it alone, so
//! they survive restarts. This module stores entries; it does not decide what to write.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::atomic::{self, Ownership};
use super::faults::Faults;

/// One file's content and metadata as the journal records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum FileState {
    /// No file at that path.
    Absent,
    /// A regular file.
    Present {
        len: u64,
        /// SHA-256 of the content, lowercase hex.
        sha256: String,
        /// Permission bits (0 off Unix).
        mode: u32,
        uid: u32,
        gid: u32,
        /// The backup holding these bytes (its file name under `enforce/backups/`): the bytes a
        /// touch replaced, and (`.after`) the bytes it wrote.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backup: Option<String>,
    },
}

impl FileState {
    /// Whether `content` (len, sha256) is what this state holds.
    pub(crate) fn holds(&self, content: Option<&super::Fingerprint>) -> bool {
        match (self, content) {
            (FileState::Absent, None) => true,
            (FileState::Present { len, sha256, .. }, Some(fp)) => *len == fp.len && *sha256 == fp.sha256,
            _ => false,
        }
    }
}

/// How far a touch got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TouchStatus {
    /// Recorded before the write; seen after a restart, recovery settles it.
    Pending,
    /// The file holds what Muster wrote.
    Applied,
    /// The write never reached the file (it failed or the process died first).
    NotApplied,
    /// Neither the old nor the new content is in the file after an interrupted write (someone
    /// else changed it meanwhile); the backup is kept, nothing is restored automatically.
    Interrupted,
    /// A restore was under way; recovery settles it.
    Restoring,
    /// The file was brought back to its content before this touch.
    Restored,
    /// The developer edited the file after this touch, and a later touch took Muster's change
    /// back out of it (`restored_at` says which); restore skips it.
    Superseded,
}

/// One file Muster touched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Touch {
    pub id: u64,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// The path as the caller named it.
    pub path: PathBuf,
    /// The file actually written (symbolic links resolved, so a link stays a link).
    pub real_path: PathBuf,
    /// What state this touch establishes, in the caller's terms (e.g. `quarantine:<server id>`);
    /// reconcilers compare it with what should be.
    pub key: String,
    /// Why, for people: the decision that caused it.
    pub decision: String,
    pub before: FileState,
    pub after: FileState,
    /// Directories this touch created (outermost first), removed again on restore when empty.
    #[serde(default)]
    pub created_dirs: Vec<PathBuf>,
    pub status: TouchStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_at: Option<String>,
}

/// The journal and backup directories under `<state>/enforce/`.
#[derive(Debug)]
pub(crate) struct JournalDir {
    pub root: PathBuf,
}

const JOURNAL: &str = "journal";
const BACKUPS: &str = "backups";
const PRIVATE: Ownership = Ownership { mode: 0o600, owner: None };

impl JournalDir {
    pub(crate) fn journal_dir(&self) -> PathBuf {
        self.root.join(JOURNAL)
    }

    pub(crate) fn backups_dir(&self) -> PathBuf {
        self.root.join(BACKUPS)
    }

    pub(crate) fn create(&self) -> io::Result<()> {
        for dir in [self.root.clone(), self.journal_dir(), self.backups_dir()] {
            crate::state::create_private_dir(&dir)?;
        }
        Ok(())
    }

    fn entry_path(&self, id: u64) -> PathBuf {
        self.journal_dir().join(format!("{id:08}.json"))
    }

    pub(crate) fn backup_path(&self, name: &str) -> PathBuf {
        self.backups_dir().join(name)
    }

    /// Every entry, by id. An unreadable entry is an error: restore must not guess.
    pub(crate) fn entries(&self) -> Result<Vec<Touch>, (PathBuf, String)> {
        let mut out = Vec::new();
        for id in self.ids(&self.journal_dir(), ".json").map_err(|e| (self.journal_dir(), e.to_string()))? {
            let path = self.entry_path(id);
            let text = fs::read(&path).map_err(|e| (path.clone(), e.to_string()))?;
            let touch: Touch = serde_json::from_slice(&text).map_err(|e| (path.clone(), e.to_string()))?;
            if touch.id != id {
                return Err((path, format!("holds touch {} under the name of {id}", touch.id)));
            }
            out.push(touch);
        }
        out.sort_by_key(|t| t.id);
        Ok(out)
    }

    /// The next free id (above every entry and backup, so a leftover backup is never reused).
    pub(crate) fn next_id(&self) -> io::Result<u64> {
        let a = self.ids(&self.journal_dir(), ".json")?.into_iter().max().unwrap_or(0);
        let b = self.ids(&self.backups_dir(), "")?.into_iter().max().unwrap_or(0);
        Ok(a.max(b) + 1)
    }

    /// Ids named by files in `dir`: `<digits><suffix>` or `<digits>-...`; temp files are skipped.
    fn ids(&self, dir: &Path, suffix: &str) -> io::Result<Vec<u64>> {
        let mut out = Vec::new();
        for item in fs::read_dir(dir)? {
            let name = item?.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                continue;
            }
            let digits: &str = name.split(['-', '.']).next().unwrap_or_default();
            if !suffix.is_empty() && !name.ends_with(suffix) {
                continue;
            }
            if let Ok(id) = digits.parse::<u64>() {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Writes (or rewrites) one entry atomically.
    pub(crate) fn save(&self, faults: &Faults, touch: &Touch) -> Result<(), atomic::Stop> {
        let path = self.entry_path(touch.id);
        let tmp = self.journal_dir().join(format!(".{:08}.json.tmp", touch.id));
        let bytes = serde_json::to_vec_pretty(touch).map_err(|e| atomic::Stop::Io {
            action: "encode journal entry",
            path: path.clone(),
            source: io::Error::other(e),
        })?;
        atomic::replace(faults, &path, &tmp, &bytes, PRIVATE, &mut || Ok(true))
    }

    /// Stores the bytes a touch replaces under `name`.
    pub(crate) fn save_backup(&self, faults: &Faults, name: &str, bytes: &[u8]) -> Result<(), atomic::Stop> {
        let path = self.backup_path(name);
        let tmp = self.backups_dir().join(format!(".{name}.tmp"));
        atomic::replace(faults, &path, &tmp, bytes, PRIVATE, &mut || Ok(true))
    }

    /// Removes temp files a dead process left, and backups no entry names.
    pub(crate) fn sweep(&self, entries: &[Touch]) -> io::Result<()> {
        let named: std::collections::HashSet<&str> = entries
            .iter()
            .flat_map(|t| [&t.before, &t.after])
            .filter_map(|s| match s {
                FileState::Present { backup: Some(b), .. } => Some(b.as_str()),
                _ => None,
            })
            .collect();
        for dir in [self.journal_dir(), self.backups_dir()] {
            for item in fs::read_dir(&dir)? {
                let item = item?;
                let name = item.file_name();
                let name = name.to_string_lossy();
                let stray_temp = name.starts_with('.') && name.ends_with(".tmp");
                let orphan_backup = dir == self.backups_dir() && !name.starts_with('.') && !named.contains(&*name);
                if stray_temp || orphan_backup {
                    fs::remove_file(item.path())?;
                }
            }
        }
        Ok(())
    }
}
