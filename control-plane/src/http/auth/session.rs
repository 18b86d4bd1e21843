//! Browser sessions: 256-bit random ids handed out in a cookie and stored only as SHA-256 hashes,
//! with an absolute expiry and an idle timeout; the CSRF token is derived from the id, so it is
//! bound to the session and cannot be computed from the database.
//!
//! Cookies are `HttpOnly; SameSite=Strict; Path=/`, plus `Secure` and the `__Host-` name prefix
//! when served over TLS. It does not check passwords or roles.

use axum::http::HeaderMap;
use sha2::{Digest as _, Sha256};

use crate::store::{SessionRecord, StoreError};

pub const SESSION_COOKIE: &str = "muster_session";
/// The pre-session CSRF cookie of the login form (double submit).
pub const LOGIN_CSRF_COOKIE: &str = "muster_login_csrf";
/// Binds a pending single-sign-on flow to the browser that started it.
pub const OIDC_FLOW_COOKIE: &str = "muster_oidc_flow";

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

/// The cookie's name as sent: `__Host-` prefixed under TLS.
pub fn cookie_name(base: &str, tls: bool) -> String {
    if tls { format!("__Host-{base}") } else { base.to_string() }
}

/// A `Set-Cookie` value, `SameSite=Strict`. `max_age` 0 deletes the cookie.
pub fn set_cookie(base: &str, value: &str, max_age_secs: u64, tls: bool) -> String {
    cookie(base, value, max_age_secs, tls, "Strict")
}

/// A `SameSite=Lax` cookie: only for the single-sign-on flow id, which must come back on the
/// provider's cross-site redirect and names nothing but a pending flow.
pub fn set_cookie_lax(base: &str, value: &str, max_age_secs: u64, tls: bool) -> String {
    cookie(base, value, max_age_secs, tls, "Lax")
}

fn cookie(base: &str, value: &str, max_age_secs: u64, tls: bool, same_site: &str) -> String {
    let secure = if tls { "; Secure" } else { "" };
    format!(
        "{}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age_secs}{secure}",
        cookie_name(base, tls)
    )
}

/// The value of cookie `base` (by its TLS-dependent name) in the request headers.
pub fn read_cookie(headers: &HeaderMap, base: &str, tls: bool) -> Option<String> {
    let name = cookie_name(base, tls);
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
        .filter(|value| !value.is_empty() && value.bytes().all(|b| b.is_ascii_hexdigit()))
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
pub async fn touch(store: &dyn crate::store::Store, session: &SessionRecord, now: i64) -> Result<(), StoreError> {
    if now - session.last_seen_at >= TOUCH_EVERY_SECS {
        store.touch_session(&session.id_hash, now).await?;
    }
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
    fn cookies_are_strict_http_only_and_host_prefixed_under_tls() {
        let tls = set_cookie(SESSION_COOKIE, "ab", 60, true);
        assert_eq!(tls, "__Host-muster_session=ab; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure");
        let plain = set_cookie(SESSION_COOKIE, "ab", 60, false);
        assert!(plain.starts_with("muster_session=ab;") && !plain.contains("Secure"));
        let mut headers = HeaderMap::new();
        headers.insert(http::header::COOKIE, "a=b; __Host-muster_session=00ff".parse().unwrap());
        assert_eq!(read_cookie(&headers, SESSION_COOKIE, true).as_deref(), Some("00ff"));
        assert_eq!(read_cookie(&headers, SESSION_COOKIE, false), None);
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_session_and_differ_from_its_hash() {
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_ne!(csrf_token("a"), hash_secret("a"));
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("abc", "ab"));
    }
}
