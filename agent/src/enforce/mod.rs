//! Enforcement on the laptop: making the AI clients obey policy decisions. Today this holds the
//! file-safety layer ([`files`]), the only way enforcement changes a file that is not Muster's
//! own state; the writers and quarantine build on it. It does not decide anything: decisions
//! come from `muster-policy`.

pub mod files;

pub use files::{Change, FileKeeper, FileSafetyError, FileState, Fingerprint, Intent, Observed, Touch, TouchStatus};
