//! The atomic write: a temp file beside the target, written, given the target's owner and mode,
//! fsynced, checked once more against what the caller expects to replace, renamed over the
//! target, and the directory fsynced. A reader, or a crash at any step, sees the old content or
//! the new one, never a mix. This module knows nothing of journals or decisions.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::faults::Faults;

/// Owner and mode a written file must end up with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ownership {
    /// Permission bits (`0o7777` at most); ignored off Unix.
    pub mode: u32,
    /// `chown` to these when set (only what differs from the writing process is asked for).
    pub owner: Option<(u32, u32)>,
}

/// Why a write stopped before the target changed (or, for `SyncDir`, just after).
#[derive(Debug)]
pub(crate) enum Stop {
    /// The target no longer holds what the caller planned to replace.
    Changed,
    /// A system call failed.
    Io { action: &'static str, path: PathBuf, source: io::Error },
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Stop + 'a {
    move |source| Stop::Io { action, path: path.to_path_buf(), source }
}

/// The directory holding `path` (`.` for a bare name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Replaces `target` with `bytes` through the temp file `tmp` (in the same directory).
/// `still_expected` is asked right before the rename whether the target still holds what the
/// caller planned to replace; when it says no, the temp file is removed and nothing changes.
pub(crate) fn replace(
    faults: &Faults,
    target: &Path,
    tmp: &Path,
    bytes: &[u8],
    own: Ownership,
    still_expected: &mut dyn FnMut() -> io::Result<bool>,
) -> Result<(), Stop> {
    remove_stale(faults, tmp)?;
    let result = write_temp(faults, tmp, bytes, own).and_then(|()| {
        if !still_expected().map_err(io_err("re-read", target))? {
            return Err(Stop::Changed);
        }
        faults.point("rename").map_err(io_err("rename into", target))?;
        fs::rename(tmp, target).map_err(io_err("rename into", target))
    });
    if let Err(stop) = result {
        // Best effort: a dead process leaves the temp file for recovery to remove.
        let _ = faults.point("remove temp").and_then(|()| fs::remove_file(tmp));
        return Err(stop);
    }
    sync_dir(faults, parent_dir(target))
}

/// Removes `target` once `still_expected` confirms it holds what the caller planned to remove.
pub(crate) fn remove(
    faults: &Faults,
    target: &Path,
    still_expected: &mut dyn FnMut() -> io::Result<bool>,
) -> Result<(), Stop> {
    if !still_expected().map_err(io_err("re-read", target))? {
        return Err(Stop::Changed);
    }
    faults.point("remove").map_err(io_err("remove", target))?;
    fs::remove_file(target).map_err(io_err("remove", target))?;
    sync_dir(faults, parent_dir(target))
}

/// Creates `dir` (one level) with `mode` and `own`'s owner.
pub(crate) fn create_dir(faults: &Faults, dir: &Path, own: Ownership) -> Result<(), Stop> {
    faults.point("create dir").map_err(io_err("create directory", dir))?;
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(io_err("create directory", dir)(e)),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Some((uid, gid)) = own.owner {
            faults.point("chown dir").map_err(io_err("chown", dir))?;
            std::os::unix::fs::chown(dir, Some(uid), Some(gid)).map_err(io_err("chown", dir))?;
        }
        faults.point("chmod dir").map_err(io_err("chmod", dir))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(own.mode)).map_err(io_err("chmod", dir))?;
    }
    #[cfg(not(unix))]
    let _ = own;
    sync_dir(faults, parent_dir(dir))
}

/// Makes the directory entries of `dir` (renames, unlinks) durable.
pub(crate) fn sync_dir(faults: &Faults, dir: &Path) -> Result<(), Stop> {
    faults.point("fsync dir").map_err(io_err("fsync directory", dir))?;
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err("fsync directory", dir))?;
    Ok(())
}

fn remove_stale(faults: &Faults, tmp: &Path) -> Result<(), Stop> {
    if fs::symlink_metadata(tmp).is_ok() {
        faults.point("remove stale temp").map_err(io_err("remove stale temp file", tmp))?;
        fs::remove_file(tmp).map_err(io_err("remove stale temp file", tmp))?;
    }
    Ok(())
}

fn write_temp(faults: &Faults, tmp: &Path, bytes: &[u8], own: Ownership) -> Result<(), Stop> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    faults.point("create temp").map_err(io_err("create temp file", tmp))?;
    let mut file = opts.open(tmp).map_err(io_err("create temp file", tmp))?;
    faults.write_all(&mut file, bytes, "write temp").map_err(io_err("write temp file", tmp))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Some((uid, gid)) = own.owner {
            faults.point("chown temp").map_err(io_err("chown temp file", tmp))?;
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid)).map_err(io_err("chown temp file", tmp))?;
        }
        // After chown, which clears set-id bits.
        faults.point("chmod temp").map_err(io_err("chmod temp file", tmp))?;
        file.set_permissions(fs::Permissions::from_mode(own.mode)).map_err(io_err("chmod temp file", tmp))?;
    }
    #[cfg(not(unix))]
    let _ = own;
    faults.point("fsync temp").map_err(io_err("fsync temp file", tmp))?;
    file.sync_all().map_err(io_err("fsync temp file", tmp))
}
