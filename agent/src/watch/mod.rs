//! Watching configuration files for changes: the only module that touches `notify`.
//!
//! A scan yields a [`WatchSet`]: the files that were read plus the files clients *would* read,
//! and the directories to watch for them (for a file whose directory does not exist yet, the
//! nearest existing ancestor, so creating `~/.cursor/mcp.json` is seen when `~/.cursor` appears).
//! Watches are non-recursive. Events are filtered to paths on the way to a watched file and
//! forwarded as `()` ticks on a channel; debouncing and rescanning are the daemon's business.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

/// What to watch after a scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchSet {
    /// Host paths of configuration files, existing or not.
    pub files: BTreeSet<PathBuf>,
    /// Existing directories to watch (non-recursively).
    pub dirs: BTreeSet<PathBuf>,
}

impl WatchSet {
    /// Adds a file and the directory that will tell us about it: its parent, or the nearest
    /// existing ancestor not above `floor` (a home directory or image root; never `/`).
    pub fn add_file(&mut self, file: &Path, floor: &Path) {
        self.files.insert(file.to_path_buf());
        let mut dir = file.parent();
        while let Some(d) = dir {
            if d.is_dir() {
                if d.starts_with(floor) && d.parent().is_some() {
                    self.dirs.insert(d.to_path_buf());
                }
                return;
            }
            if d == floor {
                return;
            }
            dir = d.parent();
        }
    }

    /// Whether an event about `path` can matter: it is a watched file or a directory on the way
    /// to one (created, removed or renamed).
    pub fn is_relevant(&self, path: &Path) -> bool {
        self.files.iter().any(|f| f == path || f.starts_with(path))
    }
}

/// Something that watches a [`WatchSet`]; replaced wholesale after every scan.
pub trait ConfigWatcher: Send {
    fn set(&mut self, set: &WatchSet);
}

/// A watcher that watches nothing (tests, `--once`).
#[derive(Debug, Default)]
pub struct NoWatcher;

impl ConfigWatcher for NoWatcher {
    fn set(&mut self, _set: &WatchSet) {}
}

/// The `notify` watcher could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the file watcher: {0}")]
pub struct WatchError(String);

/// Watches with the OS's native mechanism (inotify, FSEvents, ReadDirectoryChangesW).
pub struct NotifyWatcher {
    watcher: notify::RecommendedWatcher,
    watched: BTreeSet<PathBuf>,
    relevant: Arc<Mutex<WatchSet>>,
}

impl std::fmt::Debug for NotifyWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyWatcher").field("watched", &self.watched).finish_non_exhaustive()
    }
}

impl NotifyWatcher {
    /// Starts a watcher that sends `changed` (the changed path) for every relevant event.
    /// A full channel drops the event: one already queued triggers the same rescan.
    pub fn start(changed: mpsc::Sender<PathBuf>) -> Result<NotifyWatcher, WatchError> {
        let relevant = Arc::new(Mutex::new(WatchSet::default()));
        let filter = relevant.clone();
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let Ok(event) = res else { return };
            if matches!(event.kind, notify::EventKind::Access(_)) {
                return;
            }
            let Ok(set) = filter.lock() else { return };
            for path in event.paths.iter().filter(|p| set.is_relevant(p)) {
                let _ = changed.try_send(path.clone());
            }
        })
        .map_err(|e| WatchError(e.to_string()))?;
        Ok(NotifyWatcher { watcher, watched: BTreeSet::new(), relevant })
    }
}

impl ConfigWatcher for NotifyWatcher {
    fn set(&mut self, set: &WatchSet) {
        use notify::Watcher;
        if let Ok(mut relevant) = self.relevant.lock() {
            *relevant = set.clone();
        }
        for gone in self.watched.difference(&set.dirs).cloned().collect::<Vec<_>>() {
            let _ = self.watcher.unwatch(&gone);
            self.watched.remove(&gone);
        }
        for dir in set.dirs.difference(&self.watched).cloned().collect::<Vec<_>>() {
            match self.watcher.watch(&dir, notify::RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(dir);
                }
                // The periodic rescan still covers a directory we could not watch.
                Err(e) => {
                    tracing::debug!(path = %crate::secrets::scrub::scrub_text(&dir.to_string_lossy()), error = %crate::secrets::scrub::scrub_text(&e.to_string()), "cannot watch directory")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_directories_are_watched_through_their_nearest_existing_ancestor() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home/dev");
        std::fs::create_dir_all(home.join(".config")).unwrap();
        let mut set = WatchSet::default();
        set.add_file(&home.join(".cursor/mcp.json"), &home);
        set.add_file(&home.join(".config/zed/settings.json"), &home);
        set.add_file(&home.join(".config/x.json"), &home);
        assert_eq!(set.dirs, BTreeSet::from([home.clone(), home.join(".config")]));
        assert!(set.is_relevant(&home.join(".cursor")));
        assert!(set.is_relevant(&home.join(".cursor/mcp.json")));
        assert!(!set.is_relevant(&home.join(".bash_history")));
    }

    #[test]
    fn nothing_above_the_floor_is_watched() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home/ghost"); // does not exist
        let mut set = WatchSet::default();
        set.add_file(&home.join(".cursor/mcp.json"), &home);
        assert!(set.dirs.is_empty());
    }
}
