//! What the daemon does with `[control_plane]` before its first scan: enroll silently if it is not
//! enrolled yet, trying each configured address in order, and delete the token file once enrolled
//! so the secret does not outlive its use.
//!
//! An unreachable control plane (every address) is retried with capped exponential backoff until
//! the daemon is stopped: laptops boot before their network is up. A refusal (used or expired
//! token, wrong CA) is final and returned, so the service manager shows it instead of retrying a
//! token that will never work. This module never logs the token.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use muster_proto::v1::Host;
use zeroize::Zeroizing;

use super::{ControlPlaneConfig, EnrollmentSecret};
use crate::enroll::{EnrollError, EnrollParams, enroll};
use crate::state::{Identity, StateDir, StateError};

/// Why the first start could not enroll.
#[derive(Debug, thiserror::Error)]
pub enum FirstStartError {
    #[error(
        "not enrolled and the config gives no enroll_token or enroll_token_file (or run `muster-agent enroll` once)"
    )]
    NoToken,
    #[error("cannot read the enrollment token file {path}: {source}")]
    TokenFile { path: PathBuf, source: std::io::Error },
    #[error("the enrollment token file {path} is empty")]
    EmptyTokenFile { path: PathBuf },
    #[error("enrolling with {server}: {source}")]
    Enroll { server: String, source: EnrollError },
    #[error(transparent)]
    State(#[from] StateError),
}

/// How enrollment on first start ended.
#[derive(Debug)]
pub enum FirstStart {
    /// Enrolled before; nothing was sent.
    AlreadyEnrolled,
    /// Enrolled now.
    Enrolled(Box<Identity>),
    /// Stopped while waiting for an unreachable control plane.
    Stopped,
}

/// Backoff between rounds over all addresses when none is reachable.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { first: Duration::from_secs(2), max: Duration::from_secs(120) }
    }
}

/// Enrolls from the config unless already enrolled; see the module doc.
pub async fn ensure_enrolled(
    cp: &ControlPlaneConfig,
    state: &StateDir,
    host: Host,
    backoff: Backoff,
    shutdown: impl Future<Output = ()>,
) -> Result<FirstStart, FirstStartError> {
    if state.load_identity()?.is_some() {
        // Left behind when a removal failed last time (or the file was put back): enrolled
        // agents never need it, so it goes now.
        if let Some(EnrollmentSecret::File(path)) = &cp.enrollment {
            remove_token_file(path);
        }
        return Ok(FirstStart::AlreadyEnrolled);
    }
    let token = match &cp.enrollment {
        None => return Err(FirstStartError::NoToken),
        Some(EnrollmentSecret::Inline(token)) => token.clone(),
        Some(EnrollmentSecret::File(path)) => read_token_file(path)?,
    };
    tokio::pin!(shutdown);
    let mut wait = backoff.first;
    loop {
        for server in &cp.addresses {
            let params = EnrollParams {
                server: server.clone(),
                token: token.clone(),
                ca_fingerprint: cp.ca_fingerprint,
                host: host.clone(),
            };
            match enroll(&params, state).await {
                Ok(identity) => {
                    tracing::info!(agent_id = %identity.agent_id, server = %server, "enrolled from the config file");
                    match &cp.enrollment {
                        Some(EnrollmentSecret::File(path)) => remove_token_file(path),
                        _ => tracing::warn!(
                            "enrolled; the config file still holds the used enroll_token: remove it, or use \
                             enroll_token_file (deleted after enrollment)"
                        ),
                    }
                    return Ok(FirstStart::Enrolled(Box::new(identity)));
                }
                Err(EnrollError::Unreachable { message, .. }) => {
                    tracing::warn!(server = %server, error = %message, "control plane unreachable");
                }
                Err(source) => return Err(FirstStartError::Enroll { server: server.clone(), source }),
            }
        }
        tracing::info!(retry_in = ?wait, "no control plane reachable; will retry enrollment");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = &mut shutdown => return Ok(FirstStart::Stopped),
        }
        wait = (wait * 2).min(backoff.max);
    }
}

fn read_token_file(path: &Path) -> Result<Zeroizing<String>, FirstStartError> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|source| FirstStartError::TokenFile { path: path.to_path_buf(), source })?,
    );
    let token = Zeroizing::new(text.trim().to_string());
    if token.is_empty() {
        return Err(FirstStartError::EmptyTokenFile { path: path.to_path_buf() });
    }
    Ok(token)
}

fn remove_token_file(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!(path = %path.display(), "deleted the enrollment token file"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot delete the enrollment token file"),
    }
}
