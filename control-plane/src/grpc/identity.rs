//! Who is calling: the agent id comes only from the verified client certificate's SAN URI, never
//! from a message field. Also the checks every authenticated RPC shares: the agent is known, not
//! revoked, and within its rate limit.

use std::time::Instant;

use crate::error::{ApiError, ErrorCode};
use crate::state::ControlPlane;
use crate::store::AgentStatus;

/// The agent id in the client certificate rustls verified for this connection.
pub fn certificate_agent_id<T>(request: &tonic::Request<T>) -> Result<String, ApiError> {
    let certs = request
        .peer_certs()
        .filter(|certs| !certs.is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "client certificate required"))?;
    crate::pki::agent_id_from_certificate(&certs[0])
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "client certificate names no agent"))
}

/// Authenticates and authorises a call: returns the caller's agent id.
pub async fn authorize<T>(state: &ControlPlane, request: &tonic::Request<T>) -> Result<String, ApiError> {
    let agent_id = certificate_agent_id(request)?;
    match state.store.agent(&agent_id).await? {
        None => return Err(ApiError::new(ErrorCode::Unauthenticated, "unknown agent")),
        Some(agent) if agent.status == AgentStatus::Revoked => {
            tracing::info!(agent_id = %agent_id, "revoked agent refused");
            return Err(ApiError::new(ErrorCode::PermissionDenied, "agent revoked"));
        }
        Some(_) => {}
    }
    if !state.rate.allow(&agent_id, Instant::now()) {
        return Err(ApiError::new(ErrorCode::ResourceExhausted, "rate limit exceeded"));
    }
    Ok(agent_id)
}
