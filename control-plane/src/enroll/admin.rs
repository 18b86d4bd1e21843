//! Enrollment-token administration: the use-cases the admin API, the agents page and
//! `muster-server token` share (issue within the limits, revoke). They return an
//! [`AuditEvent`] and never see HTTP; enrolling with a token is [`super::enroll`].

use std::time::Duration;

use super::IssuedToken;
use crate::audit::AuditEvent;
use crate::error::ActionError;
use crate::store::Store;

/// Longest lifetime of an enrollment token.
pub const MAX_TTL: Duration = Duration::from_secs(90 * 24 * 3600);
/// Most agents one token may enroll (0 means unlimited).
pub const MAX_USES: u32 = 100_000;

/// A lifetime as given in a form or JSON (`24h`, `7d`).
pub fn parse_ttl(text: &str) -> Result<Duration, ActionError> {
    humantime::parse_duration(text.trim())
        .map_err(|_| ActionError::invalid("ttl: expected a duration such as 24h or 7d"))
}

/// The use-case: issues a token usable `max_uses` times (0 = unlimited) for `ttl` (1 minute to 90
/// days); the token (shown once) and the audit event.
pub async fn issue(
    store: &dyn Store,
    max_uses: u32,
    ttl: Duration,
    now: i64,
) -> Result<(IssuedToken, AuditEvent), ActionError> {
    if ttl < Duration::from_secs(60) || ttl > MAX_TTL {
        return Err(ActionError::invalid("ttl: between 1 minute and 90 days"));
    }
    if max_uses > MAX_USES {
        return Err(ActionError::invalid("max_uses: at most 100000 (0 for unlimited)"));
    }
    let issued = super::create_token(store, max_uses, ttl, now).await.map_err(|error| match error {
        super::TokenError::Store(error) => ActionError::Store(error),
        other => ActionError::internal(other),
    })?;
    let audit = AuditEvent::new("enrollment_token.create", &issued.id).detail(&format!(
        "max uses {}, expires {}",
        issued.max_uses,
        crate::export::rfc3339(issued.expires_at)
    ));
    Ok((issued, audit))
}

/// The use-case: revokes an active token; the audit event.
pub async fn revoke(store: &dyn Store, id: &str, now: i64) -> Result<AuditEvent, ActionError> {
    if !store.revoke_token(id, now).await? {
        return Err(ActionError::not_found("no active enrollment token with this id"));
    }
    Ok(AuditEvent::new("enrollment_token.revoke", id))
}
