//! Enrolled agents as an admin sees them: the revocation use-case shared by the API, the agents
//! page and `muster-server agents revoke`, and the status cache the gRPC service authorises with
//! ([`status`]). Enrollment and certificate renewal are `crate::enroll`; the gRPC checks are
//! `crate::grpc::identity`.

pub mod status;

use crate::audit::AuditEvent;
use crate::error::ActionError;
use crate::store::Store;

/// Who must hear about a revocation at once: the serving control plane (it marks the agent
/// revoked in its status cache and closes the agent's open streams). A command-line process has
/// nobody to tell: a running server refuses the agent's next call from the database.
pub trait RevocationListener: Send + Sync {
    fn agent_revoked(&self, agent_id: &str);
}

/// For processes that serve no agents (`muster-server agents revoke`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoListener;

impl RevocationListener for NoListener {
    fn agent_revoked(&self, _agent_id: &str) {}
}

/// Revokes an active agent: stored, then told to `listener`. False when no active agent has
/// this id. Not audited (test fixtures and the control plane's own handle call this).
pub async fn revoke_unaudited(
    store: &dyn Store,
    listener: &dyn RevocationListener,
    agent_id: &str,
    now: i64,
) -> Result<bool, crate::store::StoreError> {
    let revoked = store.revoke_agent(agent_id, now).await?;
    if revoked {
        listener.agent_revoked(agent_id);
        tracing::info!(agent_id = %agent_id, "agent revoked");
    }
    Ok(revoked)
}

/// The use-case: revokes an agent (its next request is refused; a serving control plane also
/// closes its streams); the audit event.
pub async fn revoke(
    store: &dyn Store,
    listener: &dyn RevocationListener,
    agent_id: &str,
    now: i64,
) -> Result<AuditEvent, ActionError> {
    if !revoke_unaudited(store, listener, agent_id, now).await? {
        return Err(ActionError::not_found("no active agent with this id"));
    }
    Ok(AuditEvent::new("agent.revoke", agent_id))
}
