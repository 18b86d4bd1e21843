//! Dashboard accounts: the username rule, creating a local account (argon2id hash of its
//! password) for the admin API, the settings page and `muster-server user add`, resetting a local
//! password (`user passwd`) and removing an account (`user remove`, never the last admin), and the
//! account a single sign-on creates. It does not authenticate anyone (`crate::http::auth` does).

use super::password::{self, PasswordError};
use crate::audit::{self, AuditEvent};
use crate::error::ActionError;
use crate::store::{AccountSource, AuditEntry, AuditOutcome, RemoveUser, Role, Store, StoreError, UserRecord};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("username must be 1 to 64 characters of letters, digits, '.', '_', '-' or '@'")]
    InvalidUsername,
    #[error("user {0} already exists")]
    Exists(String),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// The use-case: creates a local account with an argon2id hash of `password` (computed off the
/// async workers) on behalf of `by`; the audit event to record.
pub async fn create_user(
    store: &dyn Store,
    by: &str,
    username: &str,
    role: Role,
    password: String,
    now: i64,
) -> Result<AuditEvent, ActionError> {
    if !valid_username(username) {
        return Err(ActionError::invalid(AccountError::InvalidUsername.to_string()));
    }
    // argon2id takes tens of milliseconds: off the async workers.
    let hash = hash_off_workers(password).await?;
    match add_hashed_user(store, username, role, hash, now).await {
        Ok(()) => Ok(AuditEvent::new("user.create", username).detail(&format!("role {role}, by {by}"))),
        Err(AccountError::Store(error)) => Err(ActionError::Store(error)),
        Err(error) => Err(ActionError::invalid(error.to_string())),
    }
}

/// argon2id of `password`, off the async workers; a password the rules refuse is bad input.
async fn hash_off_workers(password: String) -> Result<String, ActionError> {
    tokio::task::spawn_blocking(move || password::hash_password(&password))
        .await
        .map_err(ActionError::internal)?
        .map_err(|error| match error {
            PasswordError::Hash(_) => ActionError::internal(error),
            other => ActionError::invalid(other.to_string()),
        })
}

/// The use-case: sets a new password on the local account `username` on behalf of `by` and ends
/// the account's open sessions; the audit event to record. A single-sign-on account has no
/// password here and is refused.
pub async fn set_password(
    store: &dyn Store,
    by: &str,
    username: &str,
    password: String,
    now: i64,
) -> Result<AuditEvent, ActionError> {
    match store.user(username).await? {
        None => return Err(ActionError::not_found(format!("no user {username}"))),
        Some(user) if user.source != AccountSource::Local => {
            return Err(ActionError::invalid(format!(
                "user {username} signs in through single sign-on and has no password here"
            )));
        }
        Some(_) => {}
    }
    let hash = hash_off_workers(password).await?;
    if !store.set_password(username, &hash, now).await? {
        return Err(ActionError::not_found(format!("no user {username}")));
    }
    Ok(AuditEvent::new("user.passwd", username).detail(&format!("by {by}; open sessions ended")))
}

/// The use-case: removes the account `username` and its sessions on behalf of `by`; the audit
/// event to record. The last enabled admin cannot be removed.
pub async fn remove_user(store: &dyn Store, by: &str, username: &str) -> Result<AuditEvent, ActionError> {
    match store.remove_user(username).await? {
        RemoveUser::Removed => Ok(AuditEvent::new("user.remove", username).detail(&format!("by {by}"))),
        RemoveUser::NotFound => Err(ActionError::not_found(format!("no user {username}"))),
        RemoveUser::LastAdmin => Err(ActionError::invalid(format!(
            "user {username} is the last admin; add another admin first (muster-server user add NAME --role admin)"
        ))),
    }
}

/// Creates a local account and records its audit row (success or failure) as done by `actor`
/// from `local`: for quickstart and test fixtures, which have no caller to record it.
pub async fn add_local_user(
    store: &dyn Store,
    username: &str,
    role: Role,
    password: &str,
    actor: &str,
    now: i64,
) -> Result<(), AccountError> {
    if !valid_username(username) {
        return Err(AccountError::InvalidUsername);
    }
    let hash = password::hash_password(password)?;
    let result = add_hashed_user(store, username, role, hash, now).await;
    let entry = AuditEntry {
        at: now,
        actor: actor.to_string(),
        action: "user.create".to_string(),
        target: username.to_string(),
        source_addr: "local".to_string(),
        outcome: if result.is_ok() { AuditOutcome::Success } else { AuditOutcome::Failure },
        detail: match &result {
            Ok(()) => format!("role {role}"),
            Err(error) => error.to_string(),
        },
    };
    audit::record(store, &entry).await;
    result
}

/// The local, enabled account `username` if `password` is its password. Spends one argon2id
/// verification (off the async workers) whether or not the account exists, so an unknown name
/// answers as slowly as a known one.
pub async fn verify_password_login(
    store: &dyn Store,
    username: &str,
    password: String,
) -> Result<Option<UserRecord>, StoreError> {
    let user = store.user(username).await?;
    let verified = tokio::task::spawn_blocking(move || match user {
        Some(user) if user.source == AccountSource::Local && user.disabled_at.is_none() => {
            let ok = user.password_hash.as_deref().is_some_and(|hash| password::verify_password(&password, hash));
            ok.then_some(user)
        }
        _ => {
            password::verify_dummy(&password);
            None
        }
    })
    .await
    .ok()
    .flatten();
    Ok(verified)
}

/// Signs in a single-sign-on identity: creates or updates its account with the provider's role.
/// False when a local account has this name (it is never taken over).
pub async fn sign_in_oidc_user(store: &dyn Store, username: &str, role: Role, now: i64) -> Result<bool, StoreError> {
    store.upsert_oidc_user(username, role, now).await
}

/// Creates a local account from an argon2id PHC string; not audited.
pub async fn add_hashed_user(
    store: &dyn Store,
    username: &str,
    role: Role,
    password_hash: String,
    now: i64,
) -> Result<(), AccountError> {
    if !valid_username(username) {
        return Err(AccountError::InvalidUsername);
    }
    let created = store
        .create_user(&UserRecord {
            username: username.to_string(),
            role,
            source: AccountSource::Local,
            password_hash: Some(password_hash),
            created_at: now,
            disabled_at: None,
        })
        .await?;
    if created { Ok(()) } else { Err(AccountError::Exists(username.to_string())) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn usernames_are_plain() {
        assert!(super::valid_username("alice.smith@corp"));
        for bad in ["", "a b", "<script>", &"x".repeat(65)] {
            assert!(!super::valid_username(bad), "{bad}");
        }
    }
}
