//! Enrollment: tokens (random, shown once, stored hashed; limited uses; expiring; revocable) and
//! turning a valid token plus a CSR into an agent id, a signed certificate chain and the fleet key.
//! Also certificate renewal for an already authenticated agent.
//!
//! This module decides nothing about transport: the gRPC layer calls [`enroll`] for unauthenticated
//! clients and [`renew`] with the agent id it took from a verified certificate.

use std::time::Duration;

use muster_proto::v1::{EnrollRequest, EnrollResponse, RenewResponse};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorCode};
use crate::pki::{Pki, PkiError};
use crate::store::{NewAgent, NewToken, Store, StoreError};

pub mod admin;

const TOKEN_PREFIX: &str = "mst";

/// A token just created: the only time its secret exists outside the agent that uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub id: String,
    pub token: String,
    pub max_uses: u32,
    pub expires_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no random numbers available")]
    Random,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Hex SHA-256 of a token. Tokens carry 256 random bits, so a fast hash is enough: there is nothing
/// to brute-force.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a token usable `max_uses` times (0 = unlimited) until `now + ttl`.
pub async fn create_token(
    store: &dyn Store,
    max_uses: u32,
    ttl: Duration,
    now: i64,
) -> Result<IssuedToken, TokenError> {
    let expires_at = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
    create_token_expiring(store, max_uses, expires_at, now).await
}

/// Like [`create_token`] with an absolute expiry (tests create already-expired tokens with it).
pub async fn create_token_expiring(
    store: &dyn Store,
    max_uses: u32,
    expires_at: i64,
    now: i64,
) -> Result<IssuedToken, TokenError> {
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id).map_err(|_| TokenError::Random)?;
    getrandom::fill(&mut secret).map_err(|_| TokenError::Random)?;
    let id = hex::encode(id);
    let token = format!("{TOKEN_PREFIX}_{id}_{}", hex::encode(secret));
    store
        .create_token(&NewToken {
            id: id.clone(),
            token_hash: hash_token(&token),
            max_uses,
            expires_at,
            created_at: now,
        })
        .await?;
    Ok(IssuedToken { id, token, max_uses, expires_at })
}

fn pki_error(error: PkiError) -> ApiError {
    match error {
        PkiError::InvalidCsr(_) | PkiError::UnsupportedCsrKey => {
            ApiError::new(ErrorCode::InvalidArgument, error.to_string())
        }
        other => ApiError::internal(&other),
    }
}

/// Enrolls a new agent: checks and uses the token, signs the CSR for a fresh agent id.
pub async fn enroll(
    store: &dyn Store,
    pki: &Pki,
    request: EnrollRequest,
    now: i64,
) -> Result<EnrollResponse, ApiError> {
    if request.token.is_empty() || request.token.len() > 256 {
        return Err(ApiError::new(ErrorCode::Unauthenticated, "invalid enrollment token"));
    }
    let agent_id = uuid::Uuid::new_v4().hyphenated().to_string();
    let issued = pki.sign_agent_csr(&request.csr_der, &agent_id).map_err(pki_error)?;
    let hostname = request.host.as_ref().map(|host| host.hostname.clone()).unwrap_or_default();
    store
        .enroll_agent(
            &hash_token(&request.token),
            now,
            &NewAgent {
                id: agent_id.clone(),
                hostname,
                cert_serial: issued.serial.clone(),
                cert_not_after: issued.not_after_unix,
                agent_version: request.agent_version.clone(),
                enrolled_at: now,
            },
        )
        .await?;
    tracing::info!(agent_id = %agent_id, "agent enrolled");
    Ok(EnrollResponse {
        agent_id,
        certificate_chain_pem: issued.chain_pem,
        ca_certificate_pem: pki.ca_pem().to_string(),
        fleet_fingerprint_key: pki.fleet_key().to_vec(),
        not_after_unix: issued.not_after_unix,
        policy_public_key: pki.policy_public_key(),
    })
}

/// Issues a new certificate to an authenticated, active agent.
pub async fn renew(store: &dyn Store, pki: &Pki, agent_id: &str, csr_der: &[u8]) -> Result<RenewResponse, ApiError> {
    let issued = pki.sign_agent_csr(csr_der, agent_id).map_err(pki_error)?;
    store.renew_agent_cert(agent_id, &issued.serial, issued.not_after_unix).await?;
    tracing::info!(agent_id = %agent_id, serial = %issued.serial, "agent certificate renewed");
    Ok(RenewResponse {
        certificate_chain_pem: issued.chain_pem,
        not_after_unix: issued.not_after_unix,
        policy_public_key: pki.policy_public_key(),
    })
}
