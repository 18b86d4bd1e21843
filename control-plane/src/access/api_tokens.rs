//! API tokens for automation: `mst_<id>_<secret>`, sent as `Authorization: Bearer`. Only the
//! SHA-256 of the whole token is stored; the token is shown once at creation. Each token carries
//! one role and an expiry, and can be revoked. [`issue`] and [`revoke`] are the use-cases the
//! admin API, the settings page and `muster-server api-token` share; [`authenticate`] is what a
//! bearer header is checked with.

use std::time::Duration;

use crate::audit::AuditEvent;
use crate::error::ActionError;
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

/// Longest token name, in bytes.
pub const MAX_NAME_LEN: usize = 100;

/// A lifetime as given in a form or JSON (`30d`, `12h`).
pub fn parse_ttl(text: &str) -> Result<Duration, ActionError> {
    humantime::parse_duration(text.trim()).map_err(|_| ActionError::invalid("ttl: expected a duration such as 30d"))
}

/// The use-case: checks the name (1 to 100 characters after trimming) and the lifetime, then
/// creates a token for `role` on behalf of `by`; the token (shown once) and the audit event.
pub async fn issue(
    store: &dyn Store,
    by: &str,
    name: &str,
    role: Role,
    ttl: Duration,
    now: i64,
) -> Result<(IssuedApiToken, AuditEvent), ActionError> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(ActionError::invalid("name: 1 to 100 characters"));
    }
    let issued = create_api_token(store, name, role, ttl, by, now).await.map_err(|error| match error {
        ApiTokenError::Ttl => ActionError::invalid(error.to_string()),
        ApiTokenError::Store(error) => ActionError::Store(error),
        other => ActionError::internal(other),
    })?;
    let audit = AuditEvent::new("api_token.create", &issued.id).detail(&format!("role {role}, name {name}"));
    Ok((issued, audit))
}

/// The use-case: revokes an active token; the audit event.
pub async fn revoke(store: &dyn Store, id: &str, now: i64) -> Result<AuditEvent, ActionError> {
    if !store.revoke_api_token(id, now).await? {
        return Err(ActionError::not_found("no active API token with this id"));
    }
    Ok(AuditEvent::new("api_token.revoke", id))
}

/// The usable token behind a presented bearer `token`, recording its use; None when unknown,
/// expired or revoked.
pub async fn authenticate(store: &dyn Store, token: &str, now: i64) -> Result<Option<ApiTokenRecord>, StoreError> {
    let record = store.use_api_token(&super::sessions::hash_secret(token), now).await?;
    Ok(record.filter(|record| usable(record, now)))
}

/// Creates and stores a token without the name rule or an audit event (test fixtures; everything
/// else goes through [`issue`]) for `role` living `ttl`, on behalf of `created_by`.
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
    let token = format!("{TOKEN_PREFIX}{id}_{}", super::sessions::random_secret()?);
    let expires_at = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
    store
        .create_api_token(&NewApiToken {
            id: id.clone(),
            token_hash: super::sessions::hash_secret(&token),
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
