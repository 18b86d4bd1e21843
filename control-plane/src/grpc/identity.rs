//! Who is calling: the agent id comes only from the verified client certificate's SAN URI, never
//! from a message field. Also the checks every authenticated RPC shares: the agent is known, not
//! revoked, calls with its current certificate, and is within its rate limit.
//!
//! Agent status is cached in memory ([`crate::agents::status::AgentStatusCache`]) so a report costs no extra database
//! read. The cache can only be stale towards "active" for a revocation written by another process
//! (the CLI); that is still refused at once, because every store write an agent can cause
//! (ingest, heartbeat, certificate renewal) checks the status in the same statement or
//! transaction. Opening a Policy stream, which writes nothing, always reads the database.
//!
//! Certificates: after a renewal the agent's previous certificate is accepted until the agent
//! first calls with the new one (the renewal is then confirmed and recorded); from then on only
//! the current certificate is, so a stolen superseded certificate stops working instead of
//! reporting until its own expiry. The cache holds the accepted serials; a serial it does not
//! know is looked up in the database before it is refused, and renewals clear the cached serials.

use std::time::Instant;

use crate::agents::status::{AcceptedCertificates, CertificateUse};
use crate::error::{ApiError, ErrorCode};
use crate::state::ControlPlane;
use crate::store::{AgentStatus, StoreError};

/// The verified client certificate of this connection: the agent it names and its serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerCertificate {
    pub agent_id: String,
    /// Lower-case hex, as stored (`crate::pki::certificate_serial`).
    pub serial: String,
}

/// The agent id in the client certificate rustls verified for this connection.
pub fn certificate_agent_id<T>(request: &tonic::Request<T>) -> Result<String, ApiError> {
    caller_certificate(request).map(|caller| caller.agent_id)
}

/// The agent id and serial of the client certificate rustls verified for this connection.
pub fn caller_certificate<T>(request: &tonic::Request<T>) -> Result<CallerCertificate, ApiError> {
    let certs = request
        .peer_certs()
        .filter(|certs| !certs.is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "client certificate required"))?;
    let agent_id = crate::pki::agent_id_from_certificate(&certs[0])
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "client certificate names no agent"))?;
    let serial = crate::pki::certificate_serial(&certs[0])
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "client certificate cannot be read"))?;
    Ok(CallerCertificate { agent_id, serial })
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
    authorize_certificate(state, request, freshness).await.map(|caller| caller.agent_id)
}

/// Like [`authorize`], returning the caller's certificate too.
pub async fn authorize_certificate<T>(
    state: &ControlPlane,
    request: &tonic::Request<T>,
    freshness: Freshness,
) -> Result<CallerCertificate, ApiError> {
    let caller = caller_certificate(request)?;
    let agent_id = caller.agent_id.as_str();
    let cached = match freshness {
        Freshness::Cached => state.agents.get(agent_id).zip(state.agents.certificates(agent_id)),
        Freshness::Database => None,
    };
    // The cache answers for the current certificate and a pending renewal's previous one;
    // anything else (a first use after renewal, an unknown serial) is decided on the database.
    let (status, certificate_use) = match cached {
        Some((status, certificates))
            if matches!(certificates.judge(&caller.serial), CertificateUse::Current | CertificateUse::Previous) =>
        {
            (status, certificates.judge(&caller.serial))
        }
        _ => match state.store.agent(agent_id).await? {
            None => return Err(ApiError::new(ErrorCode::Unauthenticated, "unknown agent")),
            Some(agent) => {
                let certificates =
                    AcceptedCertificates { current: agent.cert_serial, previous: agent.previous_cert_serial };
                let certificate_use = certificates.judge(&caller.serial);
                state.agents.remember_agent(agent_id, agent.status, certificates);
                // A revocation this process learnt of earlier stays final.
                (state.agents.get(agent_id).unwrap_or(agent.status), certificate_use)
            }
        },
    };
    if status == AgentStatus::Revoked {
        tracing::info!(agent_id = %agent_id, "revoked agent refused");
        return Err(ApiError::new(ErrorCode::PermissionDenied, "agent revoked"));
    }
    match certificate_use {
        CertificateUse::Current | CertificateUse::Previous => {}
        CertificateUse::FirstUseAfterRenewal => {
            if state.store.confirm_agent_cert(agent_id, &caller.serial).await? {
                tracing::info!(agent_id = %agent_id, serial = %caller.serial, "renewed certificate in use, previous one retired");
            }
            state.agents.remember_agent(
                agent_id,
                status,
                AcceptedCertificates { current: caller.serial.clone(), previous: None },
            );
        }
        CertificateUse::Superseded => {
            tracing::warn!(agent_id = %agent_id, serial = %caller.serial, "superseded client certificate refused");
            return Err(ApiError::new(ErrorCode::PermissionDenied, "client certificate superseded by a renewal"));
        }
    }
    if !state.rate.allow(agent_id, Instant::now()) {
        return Err(ApiError::new(ErrorCode::ResourceExhausted, "rate limit exceeded"));
    }
    Ok(caller)
}

/// Notes what a store error says about the agent (a revocation by another process) and turns it
/// into the API error.
pub fn store_refusal(state: &ControlPlane, agent_id: &str, error: StoreError) -> ApiError {
    if matches!(error, StoreError::AgentRevoked(_)) {
        state.agents.mark_revoked(agent_id);
    }
    ApiError::from(error)
}
