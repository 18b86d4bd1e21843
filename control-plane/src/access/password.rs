//! Local account passwords: argon2id with the `argon2` crate's default parameters (19 MiB,
//! 2 passes), stored as PHC strings. It does not decide who may log in; `login` does.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest accepted password.
pub const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("password is empty")]
    Empty,
    #[error("password is shorter than {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("cannot hash password: {0}")]
    Hash(String),
}

fn argon2id() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Refuses empty and short passwords.
pub fn check_policy(password: &str) -> Result<(), PasswordError> {
    match password.chars().count() {
        0 => Err(PasswordError::Empty),
        n if n < MIN_PASSWORD_CHARS => Err(PasswordError::TooShort),
        _ => Ok(()),
    }
}

/// Hashes a password (after [`check_policy`]) into an argon2id PHC string.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    check_policy(password)?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    argon2id()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches `phc`. A malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => argon2id().verify_password(password.as_bytes(), &hash).is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one verification, so an unknown username answers as slowly as a known one.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    // A hash of a random string nobody knows; the result is irrelevant, only the work is.
    let dummy = DUMMY.get_or_init(|| {
        let mut secret = [0u8; 18];
        let _ = getrandom::fill(&mut secret);
        hash_password(&hex::encode(secret)).unwrap_or_default()
    });
    let _ = verify_password(password, dummy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn empty_and_short_passwords_are_refused() {
        assert_eq!(hash_password(""), Err(PasswordError::Empty));
        assert_eq!(hash_password("short"), Err(PasswordError::TooShort));
    }
}
