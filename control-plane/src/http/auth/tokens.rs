//! API tokens for automation: `mst_<id>_<secret>`, sent as `Authorization: Bearer`. Only the
//! SHA-256 of the whole token is stored; the token is shown once at creation. Each token carries
//! one role and an expiry, and can be revoked. Creation is shared by the CLI and the admin API.

use std::time::Duration;

use crate::store::{ApiTokenRecord, NewApiToken, Role, Store, StoreError};

pub const TOKEN_PREFIX: &str = "mst_";
/// Longest lifetime a token may be given.
pub const MAX_TTL: Duration = Duration::from_secs(366 * 24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum ApiTokenError {
    #[error("token lifetime must be between 1 minute and 366 days")]
    Ttl,
    #[error("no randomness available")]
    Random(#[from] getrandom::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A token just created: the only time its secret exists outside the caller's hands.
#[derive(Debug, Clone)]
pub struct IssuedApiToken {
    pub id: String,
    pub token: String,
    pub role: Role,
    pub expires_at: i64,
}

/// Creates and stores a token for `role` living `ttl`, on behalf of `created_by`.
pub async fn create_api_token(
    store: &dyn Store,
    name: &str,
    role: Role,
    ttl: Duration,
    created_by: &str,
    now: i64,
) -> Result<IssuedApiToken, ApiTokenError> {
    if ttl < Duration::from_secs(60) || ttl > MAX_TTL {
        return Err(ApiTokenError::Ttl);
    }
    let mut id = [0u8; 8];
    getrandom::fill(&mut id)?;
    let id = hex::encode(id);
    let token = format!("{TOKEN_PREFIX}{id}_{}", super::session::random_secret()?);
    let expires_at = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
    store
        .create_api_token(&NewApiToken {
            id: id.clone(),
            token_hash: super::session::hash_secret(&token),
            name: name.to_string(),
            role,
            created_by: created_by.to_string(),
            created_at: now,
            expires_at,
        })
        .await?;
    Ok(IssuedApiToken { id, token, role, expires_at })
}

/// The token in an `Authorization: Bearer` header value, if well formed.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && token.starts_with(TOKEN_PREFIX) && token.len() < 200).then_some(token)
}

/// Whether a stored token may be used at `now`.
pub fn usable(token: &ApiTokenRecord, now: i64) -> bool {
    token.revoked_at.is_none() && now < token.expires_at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_headers_are_parsed_strictly() {
        assert_eq!(bearer_token("Bearer mst_a_b"), Some("mst_a_b"));
        assert_eq!(bearer_token("bearer mst_a_b"), Some("mst_a_b"));
        assert_eq!(bearer_token("Basic mst_a_b"), None);
        assert_eq!(bearer_token("Bearer other"), None);
    }
}
