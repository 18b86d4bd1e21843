//! The file-safety layer: the only way enforcement changes a file that is not Muster's own state.
//! Every change goes through [`FileKeeper::apply`], which
//! 1. re-reads the file and refuses ([`FileSafetyError::Changed`]) when its content is not what
//!    the caller [`Observed`] when it planned the change (the caller plans again);
//! 2. keeps the old bytes as a timestamped backup in the agent's state dir and records the touch
//!    (file, time, decision, backup, owner and mode) in the journal *before* writing;
//! 3. writes atomically (temp file in the same directory with the file's owner and mode, fsync,
//!    a last check that the file is unchanged, rename, fsync of the directory);
//! 4. marks the touch applied.
//!
//! [`FileKeeper::restore`] brings a file back byte-identical from the journal, also after a
//! restart; [`FileKeeper::open`] settles touches a dead process left half-done. What to write
//! (quarantine edits, client policies) is decided elsewhere; this layer never parses a file.

mod atomic;
mod faults;
mod journal;
#[cfg(test)]
mod tests;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

pub use journal::{FileState, Touch, TouchStatus};

use atomic::{Ownership, Stop};
use faults::Faults;
use journal::JournalDir;

/// Something the file-safety layer refused or could not do. Nothing was lost in any case: the
/// file holds its old content or (only after `Io` on the final directory fsync) the new one,
/// and the journal says which.
#[derive(Debug, thiserror::Error)]
pub enum FileSafetyError {
    #[error("{path} changed since the decision was planned; plan again")]
    Changed { path: PathBuf },
    #[error("{path} changed since Muster wrote it (touch {id}); nothing was restored, the backup is kept")]
    ChangedSinceWrite { path: PathBuf, id: u64 },
    #[error("{path} is outside {root}, where this run may write")]
    OutsideRoot { path: PathBuf, root: PathBuf },
    #[error("{path} is not a regular file")]
    NotRegular { path: PathBuf },
    #[error("{path} has {links} hard links; replacing it would split them")]
    HardLinked { path: PathBuf, links: u64 },
    #[error("{path} is {len} bytes, more than a config file Muster edits")]
    TooLarge { path: PathBuf, len: u64 },
    #[error("no touch {id} in the journal")]
    UnknownTouch { id: u64 },
    #[error("backup {path} does not hold the recorded bytes")]
    BackupCorrupt { path: PathBuf },
    #[error("journal {path} is unreadable: {message}")]
    Journal { path: PathBuf, message: String },
    #[error("cannot {action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: io::Error },
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> FileSafetyError + 'a {
    move |source| FileSafetyError::Io { action, path: path.to_path_buf(), source }
}

impl FileSafetyError {
    fn from_stop(stop: Stop, path: &Path) -> FileSafetyError {
        match stop {
            Stop::Changed => FileSafetyError::Changed { path: path.to_path_buf() },
            Stop::Io { action, path, source } => FileSafetyError::Io { action, path, source },
        }
    }
}

/// Length and SHA-256 of some content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub len: u64,
    pub sha256: String,
}

impl Fingerprint {
    pub fn of(bytes: &[u8]) -> Fingerprint {
        let digest = Sha256::digest(bytes);
        Fingerprint { len: bytes.len() as u64, sha256: digest.iter().map(|b| format!("{b:02x}")).collect() }
    }
}

/// The largest file Muster plans a change to (config files are kilobytes).
pub const MAX_FILE_LEN: u64 = 16 * 1024 * 1024;

/// What a file held when a change to it was planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    path: PathBuf,
    content: Option<Fingerprint>,
    modified: Option<SystemTime>,
}

impl Observed {
    /// Reads `path` for planning: its bytes (`None` when there is no file) and what to compare
    /// against at write time.
    pub fn read(path: &Path) -> Result<(Observed, Option<Vec<u8>>), FileSafetyError> {
        // Never open a FIFO or device (a read would block or never end), nor a huge file.
        if let Ok(meta) = fs::metadata(path) {
            if !meta.is_file() {
                return Err(FileSafetyError::NotRegular { path: path.to_path_buf() });
            }
            if meta.len() > MAX_FILE_LEN {
                return Err(FileSafetyError::TooLarge { path: path.to_path_buf(), len: meta.len() });
            }
        }
        let bytes = read_optional(path)?;
        let modified = fs::metadata(path).and_then(|m| m.modified()).ok();
        let content = bytes.as_deref().map(Fingerprint::of);
        Ok((Observed { path: path.to_path_buf(), content, modified }, bytes))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn exists(&self) -> bool {
        self.content.is_some()
    }

    pub fn content(&self) -> Option<&Fingerprint> {
        self.content.as_ref()
    }

    /// The modification time seen at planning (informative: a change is detected by content,
    /// since an editor may rewrite identical bytes and a coarse clock may hide a real edit).
    pub fn modified(&self) -> Option<SystemTime> {
        self.modified
    }
}

/// The content a touch replaced and the content it wrote (`None`: no file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TouchBytes {
    pub replaced: Option<Vec<u8>>,
    pub written: Option<Vec<u8>>,
}

/// What to do to an observed file.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    /// Replace (or create) it with these bytes. An existing file keeps its owner and mode; a new
    /// one gets `mode_if_created` and, when the agent runs as root, its directory's owner.
    Write { bytes: &'a [u8], mode_if_created: u32 },
    /// Remove it.
    Remove,
}

/// Why a change is made, recorded in its journal entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    /// The state this change establishes, in the caller's terms (`quarantine:<server id>`).
    pub key: String,
    /// The decision behind it, for people (rule ids, server, action).
    pub decision: String,
}

/// The enforcement state under `<state dir>/enforce/`: journal, backups and the lock that
/// serialises Muster processes (daemon, `policy apply`, `restore`) touching files.
#[derive(Debug)]
pub struct FileKeeper {
    dir: JournalDir,
    confine: Option<PathBuf>,
    faults: Faults,
}

/// The directory under the state dir that holds enforcement state.
pub const ENFORCE_DIR: &str = "enforce";

impl FileKeeper {
    /// Opens (creating `0700`) the enforcement state in `state_dir` and settles touches a dead
    /// process left half-done.
    pub fn open(state_dir: &Path) -> Result<FileKeeper, FileSafetyError> {
        FileKeeper::open_with(state_dir, Faults::none())
    }

    fn open_with(state_dir: &Path, faults: Faults) -> Result<FileKeeper, FileSafetyError> {
        let dir = JournalDir { root: state_dir.join(ENFORCE_DIR) };
        dir.create().map_err(io_err("create", &dir.root))?;
        let keeper = FileKeeper { dir, confine: None, faults };
        let _lock = keeper.lock()?;
        keeper.recover()?;
        Ok(keeper)
    }

    /// Refuses every write whose real path (symbolic links resolved) is not under `root`.
    pub fn confined_to(mut self, root: &Path) -> Result<FileKeeper, FileSafetyError> {
        self.confine = Some(fs::canonicalize(root).map_err(io_err("resolve", root))?);
        Ok(self)
    }

    /// Every touch in the journal, by id.
    pub fn touches(&self) -> Result<Vec<Touch>, FileSafetyError> {
        let _lock = self.lock()?;
        self.entries()
    }

    /// Changes the observed file, safely (see the module documentation). Returns the journal
    /// entry, or `None` when the file already is as asked (nothing written, nothing recorded).
    pub fn apply(
        &self,
        observed: &Observed,
        change: Change<'_>,
        intent: &Intent,
    ) -> Result<Option<Touch>, FileSafetyError> {
        let _lock = self.lock()?;
        let path = observed.path();
        let real = self.real_path(path)?;
        let current = read_optional(&real)?;
        if current.as_deref().map(Fingerprint::of) != observed.content {
            return Err(FileSafetyError::Changed { path: path.to_path_buf() });
        }
        let new_bytes = match change {
            Change::Write { bytes, .. } => Some(bytes),
            Change::Remove => None,
        };
        if current.as_deref() == new_bytes {
            return Ok(None);
        }
        let id = self.dir.next_id().map_err(io_err("list", &self.dir.root))?;
        let at = SystemTime::now();
        let before = match &current {
            None => FileState::Absent,
            Some(bytes) => {
                let meta = self.checked_meta(&real)?;
                let name = format!("{id:08}-{}", compact_stamp(at));
                self.dir.save_backup(&self.faults, &name, bytes).map_err(|s| FileSafetyError::from_stop(s, &real))?;
                state_of(bytes, meta, Some(name))
            }
        };
        let (after, own, created_dirs) = match change {
            Change::Remove => (FileState::Absent, None, Vec::new()),
            Change::Write { bytes, mode_if_created } => {
                let (own, created) = match &before {
                    FileState::Present { mode, uid, gid, .. } => {
                        (Ownership { mode: *mode, owner: owner_change(*uid, *gid) }, Vec::new())
                    }
                    FileState::Absent => new_file_ownership(&real, mode_if_created),
                };
                let (uid, gid) = own.owner.unwrap_or_else(process_owner);
                let fp = Fingerprint::of(bytes);
                // A copy of what Muster wrote, so a change can later be taken back out of a file
                // the developer edited since (see `written_and_replaced`).
                let name = format!("{id:08}-{}.after", compact_stamp(at));
                self.dir.save_backup(&self.faults, &name, bytes).map_err(|s| FileSafetyError::from_stop(s, &real))?;
                let after =
                    FileState::Present { len: fp.len, sha256: fp.sha256, mode: own.mode, uid, gid, backup: Some(name) };
                (after, Some(own), created)
            }
        };
        let mut touch = Touch {
            id,
            at: humantime::format_rfc3339_seconds(at).to_string(),
            path: path.to_path_buf(),
            real_path: real.clone(),
            key: intent.key.clone(),
            decision: intent.decision.clone(),
            before,
            after,
            created_dirs,
            status: TouchStatus::Pending,
            restored_at: None,
        };
        self.dir.save(&self.faults, &touch).map_err(|s| FileSafetyError::from_stop(s, &real))?;
        let written = self.write_state(&touch, &touch.before, new_bytes, own);
        match written {
            Ok(()) => {
                touch.status = TouchStatus::Applied;
                self.dir.save(&self.faults, &touch).map_err(|s| FileSafetyError::from_stop(s, &real))?;
                Ok(Some(touch))
            }
            Err(e) => {
                // Settle the entry now if we still can; otherwise the next open does.
                let _ = self.settle(&mut touch);
                Err(e)
            }
        }
    }

    /// Brings the file of touch `id` back to its content before that touch, byte-identical, with
    /// its recorded owner and mode (removing it, and directories the touch created, when it did
    /// not exist). Later touches of the same file are undone first, newest first. Refuses, and
    /// changes nothing, when the file no longer holds what Muster wrote. Returns the ids undone.
    pub fn restore(&self, id: u64) -> Result<Vec<u64>, FileSafetyError> {
        let _lock = self.lock()?;
        let entries = self.entries()?;
        let target = entries.iter().find(|t| t.id == id).ok_or(FileSafetyError::UnknownTouch { id })?;
        let mut chain: Vec<Touch> = entries
            .iter()
            .filter(|t| t.real_path == target.real_path && t.id >= id && t.status == TouchStatus::Applied)
            .cloned()
            .collect();
        chain.reverse();
        let mut undone = Vec::new();
        for touch in &mut chain {
            self.undo(touch)?;
            undone.push(touch.id);
        }
        Ok(undone)
    }

    /// Restores every applied touch, newest first, going on past refusals. Returns the ids
    /// undone and the errors of those refused.
    pub fn restore_all(&self) -> Result<(Vec<u64>, Vec<FileSafetyError>), FileSafetyError> {
        self.restore_where(|_| true)
    }

    /// Restores every applied touch `select` picks, newest first, going on past refusals.
    pub fn restore_where(
        &self,
        select: impl Fn(&Touch) -> bool,
    ) -> Result<(Vec<u64>, Vec<FileSafetyError>), FileSafetyError> {
        let _lock = self.lock()?;
        let mut undone = Vec::new();
        let mut refused = Vec::new();
        let mut blocked: Vec<PathBuf> = Vec::new();
        for mut touch in self.entries()?.into_iter().rev() {
            if touch.status != TouchStatus::Applied || !select(&touch) {
                continue;
            }
            // An older touch of a file whose newer touch was refused cannot be undone either.
            if blocked.contains(&touch.real_path) {
                refused.push(FileSafetyError::ChangedSinceWrite { path: touch.real_path.clone(), id: touch.id });
                continue;
            }
            match self.undo(&mut touch) {
                Ok(()) => undone.push(touch.id),
                Err(e) => {
                    blocked.push(touch.real_path.clone());
                    refused.push(e);
                }
            }
        }
        Ok((undone, refused))
    }

    /// The bytes a touch replaced and the bytes it wrote (`None` for an absent file), read from
    /// the backups and checked against the journal.
    pub fn written_and_replaced(&self, id: u64) -> Result<TouchBytes, FileSafetyError> {
        let _lock = self.lock()?;
        let touch = self.entries()?.into_iter().find(|t| t.id == id).ok_or(FileSafetyError::UnknownTouch { id })?;
        Ok(TouchBytes { replaced: self.backup_bytes(&touch.before)?, written: self.backup_bytes(&touch.after)? })
    }

    /// Records that touch `id` no longer describes its file: the developer edited the file after
    /// it, and touch `by` took Muster's change back out of the edited file. Restore skips it.
    pub fn supersede(&self, id: u64, by: u64) -> Result<(), FileSafetyError> {
        let _lock = self.lock()?;
        let mut touch = self.entries()?.into_iter().find(|t| t.id == id).ok_or(FileSafetyError::UnknownTouch { id })?;
        touch.status = TouchStatus::Superseded;
        touch.restored_at = Some(format!("{} by touch {by}", humantime::format_rfc3339_seconds(SystemTime::now())));
        self.dir.save(&self.faults, &touch).map_err(|s| FileSafetyError::from_stop(s, &touch.real_path))
    }

    fn backup_bytes(&self, state: &FileState) -> Result<Option<Vec<u8>>, FileSafetyError> {
        match state {
            FileState::Absent => Ok(None),
            FileState::Present { backup: Some(name), .. } => {
                let path = self.dir.backup_path(name);
                let bytes = fs::read(&path).map_err(io_err("read backup", &path))?;
                if !state.holds(Some(&Fingerprint::of(&bytes))) {
                    return Err(FileSafetyError::BackupCorrupt { path });
                }
                Ok(Some(bytes))
            }
            FileState::Present { backup: None, .. } => {
                Err(FileSafetyError::Journal { path: self.dir.root.clone(), message: "no backup recorded".into() })
            }
        }
    }

    fn undo(&self, touch: &mut Touch) -> Result<(), FileSafetyError> {
        let real = touch.real_path.clone();
        let current = read_optional(&real)?;
        if !touch.after.holds(current.as_deref().map(Fingerprint::of).as_ref()) {
            return Err(FileSafetyError::ChangedSinceWrite { path: real, id: touch.id });
        }
        let old = match &touch.before {
            FileState::Absent => None,
            FileState::Present { backup: Some(name), mode, uid, gid, .. } => {
                let path = self.dir.backup_path(name);
                let bytes = fs::read(&path).map_err(io_err("read backup", &path))?;
                if !touch.before.holds(Some(&Fingerprint::of(&bytes))) {
                    return Err(FileSafetyError::BackupCorrupt { path });
                }
                Some((bytes, Ownership { mode: *mode, owner: owner_change(*uid, *gid) }))
            }
            FileState::Present { backup: None, .. } => {
                return Err(FileSafetyError::Journal {
                    path: real,
                    message: format!("touch {} names no backup", touch.id),
                });
            }
        };
        touch.status = TouchStatus::Restoring;
        self.dir.save(&self.faults, touch).map_err(|s| FileSafetyError::from_stop(s, &real))?;
        let after = touch.after.clone();
        let result = match &old {
            Some((bytes, own)) => self.write_state(touch, &after, Some(bytes), Some(*own)),
            None => self.write_state(touch, &after, None, None),
        };
        if let Err(e) = result {
            let _ = self.settle(touch);
            return Err(e);
        }
        for dir in touch.created_dirs.iter().rev() {
            // Only when empty: anything else put there since is not ours to remove.
            if self.faults.point("remove created dir").is_ok() && fs::remove_dir(dir).is_ok() {
                let _ = atomic::sync_dir(&self.faults, atomic::parent_dir(dir));
            }
        }
        touch.status = TouchStatus::Restored;
        touch.restored_at = Some(humantime::format_rfc3339_seconds(SystemTime::now()).to_string());
        self.dir.save(&self.faults, touch).map_err(|s| FileSafetyError::from_stop(s, &real))
    }

    /// Moves `touch.real_path` from `expected` to `bytes` (`None`: removed), atomically.
    fn write_state(
        &self,
        touch: &Touch,
        expected: &FileState,
        bytes: Option<&[u8]>,
        own: Option<Ownership>,
    ) -> Result<(), FileSafetyError> {
        let real = &touch.real_path;
        let mut still_expected = || -> io::Result<bool> {
            let now = read_optional_io(real)?;
            Ok(expected.holds(now.as_deref().map(Fingerprint::of).as_ref()))
        };
        let result = match (bytes, own) {
            (Some(bytes), Some(own)) => {
                for dir in &touch.created_dirs {
                    let dir_own = Ownership { mode: 0o755, owner: new_file_ownership(dir, 0o755).0.owner };
                    atomic::create_dir(&self.faults, dir, dir_own).map_err(|s| FileSafetyError::from_stop(s, real))?;
                }
                atomic::replace(&self.faults, real, &temp_path(real, touch.id), bytes, own, &mut still_expected)
            }
            _ => atomic::remove(&self.faults, real, &mut still_expected),
        };
        result.map_err(|s| FileSafetyError::from_stop(s, real))
    }

    /// Settles a touch whose write or restore stopped: looks at the file and records what it holds.
    fn settle(&self, touch: &mut Touch) -> Result<(), FileSafetyError> {
        let real = touch.real_path.clone();
        let tmp = temp_path(&real, touch.id);
        if fs::symlink_metadata(&tmp).is_ok() {
            self.faults.point("settle: remove temp").map_err(io_err("remove stale temp file", &tmp))?;
            fs::remove_file(&tmp).map_err(io_err("remove stale temp file", &tmp))?;
        }
        let now = read_optional(&real)?.as_deref().map(Fingerprint::of);
        let restoring = touch.status == TouchStatus::Restoring;
        touch.status = if touch.after.holds(now.as_ref()) {
            TouchStatus::Applied
        } else if touch.before.holds(now.as_ref()) {
            if restoring { TouchStatus::Restored } else { TouchStatus::NotApplied }
        } else {
            TouchStatus::Interrupted
        };
        if touch.status == TouchStatus::Restored && touch.restored_at.is_none() {
            touch.restored_at = Some(humantime::format_rfc3339_seconds(SystemTime::now()).to_string());
        }
        self.dir.save(&self.faults, touch).map_err(|s| FileSafetyError::from_stop(s, &real))
    }

    /// Settles every touch left pending or restoring, and sweeps temp files and orphan backups.
    fn recover(&self) -> Result<(), FileSafetyError> {
        let mut entries = self.entries()?;
        for touch in &mut entries {
            if matches!(touch.status, TouchStatus::Pending | TouchStatus::Restoring) {
                self.settle(touch)?;
            }
        }
        self.dir.sweep(&entries).map_err(io_err("sweep", &self.dir.root))
    }

    fn entries(&self) -> Result<Vec<Touch>, FileSafetyError> {
        self.dir.entries().map_err(|(path, message)| FileSafetyError::Journal { path, message })
    }

    fn lock(&self) -> Result<File, FileSafetyError> {
        let path = self.dir.root.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err("open lock file", &path))?;
        file.lock().map_err(io_err("lock", &path))?;
        Ok(file)
    }

    /// The file a write to `path` really changes (links resolved), checked against the confinement.
    fn real_path(&self, path: &Path) -> Result<PathBuf, FileSafetyError> {
        let real = match fs::canonicalize(path) {
            Ok(p) => p,
            Err(_) => {
                // Not there (yet): resolve the nearest existing ancestor.
                let mut missing = Vec::new();
                let mut cur = path;
                loop {
                    let name = cur.file_name().ok_or_else(|| FileSafetyError::NotRegular { path: path.into() })?;
                    missing.push(name.to_os_string());
                    cur = atomic::parent_dir(cur);
                    if let Ok(base) = fs::canonicalize(cur) {
                        break missing.iter().rev().fold(base, |p, n| p.join(n));
                    }
                }
            }
        };
        if let Some(root) = &self.confine
            && !real.starts_with(root)
        {
            return Err(FileSafetyError::OutsideRoot { path: path.to_path_buf(), root: root.clone() });
        }
        Ok(real)
    }

    fn checked_meta(&self, real: &Path) -> Result<fs::Metadata, FileSafetyError> {
        let meta = fs::metadata(real).map_err(io_err("stat", real))?;
        if !meta.is_file() {
            return Err(FileSafetyError::NotRegular { path: real.to_path_buf() });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if meta.nlink() > 1 {
                return Err(FileSafetyError::HardLinked { path: real.to_path_buf(), links: meta.nlink() });
            }
        }
        Ok(meta)
    }
}

/// The temp file a touch writes through, beside the target (recovery knows its name).
fn temp_path(real: &Path, id: u64) -> PathBuf {
    let name = real.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    atomic::parent_dir(real).join(format!(".{name}.muster-{id}.tmp"))
}

fn read_optional_io(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, FileSafetyError> {
    read_optional_io(path).map_err(io_err("read", path))
}

fn state_of(bytes: &[u8], meta: fs::Metadata, backup: Option<String>) -> FileState {
    let fp = Fingerprint::of(bytes);
    #[cfg(unix)]
    let (mode, uid, gid) = {
        use std::os::unix::fs::MetadataExt;
        (meta.mode() & 0o7777, meta.uid(), meta.gid())
    };
    #[cfg(not(unix))]
    let (mode, uid, gid) = {
        let _ = meta;
        (0, 0, 0)
    };
    FileState::Present { len: fp.len, sha256: fp.sha256, mode, uid, gid, backup }
}

/// The uid and gid a file created by this process gets.
fn process_owner() -> (u32, u32) {
    #[cfg(unix)]
    {
        (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw())
    }
    #[cfg(not(unix))]
    {
        (0, 0)
    }
}

/// A `chown` is needed only where the wanted owner differs from the writing process.
fn owner_change(uid: u32, gid: u32) -> Option<(u32, u32)> {
    if (uid, gid) == process_owner() { None } else { Some((uid, gid)) }
}

/// Owner and mode for a file (or directory) Muster creates at `path`, and the directories it
/// must create first: as root, the owner of the nearest existing directory (a sidecar in a
/// user's home belongs to that user); otherwise the process's own.
fn new_file_ownership(path: &Path, mode: u32) -> (Ownership, Vec<PathBuf>) {
    let mut missing = Vec::new();
    let mut dir = atomic::parent_dir(path);
    while !dir.exists() {
        missing.push(dir.to_path_buf());
        match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => dir = p,
            _ => break,
        }
    }
    missing.reverse();
    let mut owner = None;
    #[cfg(unix)]
    if crate::state::running_as_root() {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = fs::metadata(dir) {
            owner = owner_change(meta.uid(), meta.gid());
        }
    }
    (Ownership { mode, owner }, missing)
}

/// `20261207T100000Z`: a timestamp usable in a file name on every OS.
fn compact_stamp(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string().replace(['-', ':'], "")
}
