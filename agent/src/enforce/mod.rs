//! Enforcement on the laptop: making the AI clients obey policy decisions. Today this holds the
//! file-safety layer ([`files`]), the only way enforcement changes a file that is not Muster's
//! own state; the writers and quarantine build on it. It does not decide anything: decisions
//! come from `muster-policy`.

pub mod apply;
pub mod files;
pub mod quarantine;

pub use files::{
    Change, FileKeeper, FileSafetyError, FileState, Fingerprint, Intent, Observed, Touch, TouchBytes, TouchStatus,
};

/// A scratch directory for tests, on tmpfs where there is one so journal fsyncs stay cheap.
#[cfg(test)]
pub(crate) fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().unwrap_or_else(|e| panic!("no temp dir: {e}"))
}
