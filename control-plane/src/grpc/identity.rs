//! Who is calling: the agent id comes only from the verified client certificate's SAN URI, never
//! from a message field. Also the checks every authenticated RPC shares: the agent is known, not
//! revoked, and within its rate limit.
//!
//! Agent status is cached in memory ([`AgentStatusCache`]) so a report costs no extra database
//! read. The cache can only be stale towards "active" for a revocation written by another process
//! (the CLI); that is still refused at once, because every store write an agent can cause
//! (ingest, heartbeat, certificate renewal) checks the status in the same statement or
//! transaction. Opening a Policy stream, which writes nothing, always reads the database.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Instant;

use crate::error::{ApiError, ErrorCode};
use crate::state::ControlPlane;
use crate::store::{AgentStatus, StoreError};

/// The agent id in the client certificate rustls verified for this connection.
pub fn certificate_agent_id<T>(request: &tonic::Request<T>) -> Result<String, ApiError> {
    let certs = request
        .peer_certs()
        .filter(|certs| !certs.is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "client certificate required"))?;
    crate::pki::agent_id_from_certificate(&certs[0])
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "client certificate names no agent"))
}

/// Statuses of agents seen by this process. A revocation is final: once an agent is marked
/// revoked, a lookup that started before the revocation cannot mark it active again.
#[derive(Debug, Default)]
pub struct AgentStatusCache {
    statuses: RwLock<HashMap<String, AgentStatus>>,
}

impl AgentStatusCache {
    pub fn get(&self, agent_id: &str) -> Option<AgentStatus> {
        // A poisoned lock only means a panic elsewhere mid-insert; the map is still consistent.
        self.statuses.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(agent_id).copied()
    }

    /// Records a status read from the database; never overwrites a revocation.
    pub fn remember(&self, agent_id: &str, status: AgentStatus) {
        let mut statuses = self.statuses.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        match statuses.get_mut(agent_id) {
            Some(known) => {
                if status == AgentStatus::Revoked {
                    *known = AgentStatus::Revoked;
                }
            }
            None => {
                statuses.insert(agent_id.to_string(), status);
            }
        }
    }

    pub fn mark_revoked(&self, agent_id: &str) {
        self.remember(agent_id, AgentStatus::Revoked);
    }
}

/// Whether an authorisation may trust the cached status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// The call's own store write checks the status again (report, heartbeat, renew).
    Cached,
    /// The call writes nothing that would check it (opening a stream): read the database.
    Database,
}

/// Authenticates and authorises a call: returns the caller's agent id.
pub async fn authorize<T>(
    state: &ControlPlane,
    request: &tonic::Request<T>,
    freshness: Freshness,
) -> Result<String, ApiError> {
    let agent_id = certificate_agent_id(request)?;
    let cached = match freshness {
        Freshness::Cached => state.agents.get(&agent_id),
        Freshness::Database => None,
    };
    let status = match cached {
        Some(status) => status,
        None => match state.store.agent(&agent_id).await? {
            None => return Err(ApiError::new(ErrorCode::Unauthenticated, "unknown agent")),
            Some(agent) => {
                state.agents.remember(&agent_id, agent.status);
                agent.status
            }
        },
    };
    if status == AgentStatus::Revoked {
        tracing::info!(agent_id = %agent_id, "revoked agent refused");
        return Err(ApiError::new(ErrorCode::PermissionDenied, "agent revoked"));
    }
    if !state.rate.allow(&agent_id, Instant::now()) {
        return Err(ApiError::new(ErrorCode::ResourceExhausted, "rate limit exceeded"));
    }
    Ok(agent_id)
}

/// Notes what a store error says about the agent (a revocation by another process) and turns it
/// into the API error.
pub fn store_refusal(state: &ControlPlane, agent_id: &str, error: StoreError) -> ApiError {
    if matches!(error, StoreError::AgentRevoked(_)) {
        state.agents.mark_revoked(agent_id);
    }
    ApiError::from(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_is_never_overwritten_by_an_older_lookup() {
        let cache = AgentStatusCache::default();
        assert_eq!(cache.get("a"), None);
        cache.remember("a", AgentStatus::Active);
        assert_eq!(cache.get("a"), Some(AgentStatus::Active));
        cache.mark_revoked("a");
        // A lookup that read the database before the revocation arrives late.
        cache.remember("a", AgentStatus::Active);
        assert_eq!(cache.get("a"), Some(AgentStatus::Revoked));
        cache.mark_revoked("b");
        cache.remember("b", AgentStatus::Active);
        assert_eq!(cache.get("b"), Some(AgentStatus::Revoked));
    }
}
