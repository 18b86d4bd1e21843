//! Enforcement on the laptop: making the AI clients obey policy decisions. The file-safety layer
//! ([`files`]) is the only way enforcement changes a file that is not Muster's own state;
//! `client_policy` compiles decisions into each client's own enterprise policy file and
//! `quarantine` disables entries in the user's own files, both writing through it. It does not
//! decide anything: decisions come from `muster-policy`.

pub mod apply;
pub mod client_policy;
pub mod engine;
pub mod files;
pub mod quarantine;
pub mod registry;

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
