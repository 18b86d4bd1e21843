//! Browser sessions: 256-bit random ids stored only as SHA-256 hashes, with an absolute expiry
//! and an idle timeout; the CSRF token is derived from the id, so it is bound to the session and
//! cannot be computed from the database. Starting, checking and ending a session are here; the
//! cookie that carries the id is `crate::http::auth::cookies`. It does not check passwords or
//! roles.

use sha2::{Digest as _, Sha256};

use crate::store::{NewSession, SessionRecord, Store, StoreError};

/// How often a session's last-seen time is written (idle timeout granularity).
const TOUCH_EVERY_SECS: i64 = 60;

/// A new random secret: 32 bytes, hex.
pub fn random_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// The stored form of a session id or API token.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The CSRF token of the session with id `session_id`.
pub fn csrf_token(session_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"muster-csrf\0");
    hasher.update(session_id.as_bytes());
    hex::encode(hasher.finalize())
}

/// Constant-time string comparison (CSRF tokens, OIDC state).
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a presented session is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Valid,
    Expired,
    Idle,
    Revoked,
    AccountDisabled,
}

/// Judges a stored session at `now` with idle timeout `idle_secs`.
pub fn judge(session: &SessionRecord, now: i64, idle_secs: i64) -> SessionState {
    if session.revoked_at.is_some() {
        SessionState::Revoked
    } else if session.user_disabled {
        SessionState::AccountDisabled
    } else if now >= session.expires_at {
        SessionState::Expired
    } else if now - session.last_seen_at >= idle_secs {
        SessionState::Idle
    } else {
        SessionState::Valid
    }
}

/// Records use of a valid session, at most once a minute.
pub async fn touch(store: &dyn Store, session: &SessionRecord, now: i64) -> Result<(), StoreError> {
    if now - session.last_seen_at >= TOUCH_EVERY_SECS {
        store.touch_session(&session.id_hash, now).await?;
    }
    Ok(())
}

/// The valid session behind a presented id (recording its use), or None when unknown, expired,
/// idle, revoked or its account disabled.
pub async fn resume(
    store: &dyn Store,
    session_id: &str,
    now: i64,
    idle_secs: i64,
) -> Result<Option<SessionRecord>, StoreError> {
    let record = store.session(&hash_secret(session_id)).await?;
    match record.filter(|record| judge(record, now, idle_secs) == SessionState::Valid) {
        Some(record) => {
            touch(store, &record, now).await?;
            Ok(Some(record))
        }
        None => Ok(None),
    }
}

/// Starts a session for `username` living `ttl_secs`: the new session id (for the cookie only).
pub async fn start(
    store: &dyn Store,
    username: &str,
    source_addr: &str,
    ttl_secs: u64,
    now: i64,
) -> Result<String, crate::error::ActionError> {
    let session_id = random_secret().map_err(crate::error::ActionError::internal)?;
    store
        .create_session(&NewSession {
            id_hash: hash_secret(&session_id),
            username: username.to_string(),
            created_at: now,
            expires_at: now.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX)),
            source_addr: source_addr.to_string(),
        })
        .await?;
    Ok(session_id)
}

/// Ends the session with this id hash (sign-out).
pub async fn end(store: &dyn Store, id_hash: &str, now: i64) -> Result<(), StoreError> {
    store.revoke_session(id_hash, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Role;

    fn session() -> SessionRecord {
        SessionRecord {
            id_hash: "h".into(),
            username: "alice".into(),
            role: Role::Viewer,
            user_disabled: false,
            created_at: 0,
            expires_at: 1000,
            last_seen_at: 100,
            revoked_at: None,
        }
    }

    #[test]
    fn sessions_end_by_expiry_idleness_revocation_and_disabling() {
        assert_eq!(judge(&session(), 200, 300), SessionState::Valid);
        assert_eq!(judge(&session(), 400, 300), SessionState::Idle);
        assert_eq!(judge(&session(), 1000, 5000), SessionState::Expired);
        assert_eq!(judge(&SessionRecord { revoked_at: Some(150), ..session() }, 200, 300), SessionState::Revoked);
        assert_eq!(judge(&SessionRecord { user_disabled: true, ..session() }, 200, 300), SessionState::AccountDisabled);
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_session_and_differ_from_its_hash() {
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_ne!(csrf_token("a"), hash_secret("a"));
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("abc", "ab"));
    }
}
