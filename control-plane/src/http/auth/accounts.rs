//! Local account management shared by the CLI and quickstart: username rules, argon2id hashing
//! and the audit entry. It does not authenticate anyone (`login` does).

use super::password::{self, PasswordError};
use crate::http::audit;
use crate::store::{AccountSource, AuditEntry, AuditOutcome, Role, Store, StoreError, UserRecord};

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

/// Creates a local account with an argon2id hash of `password`, audited as done by `actor`
/// (the CLI and quickstart; HTTP handlers are audited by the audit middleware).
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
