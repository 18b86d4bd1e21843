//! The bytes a policy bundle's signature covers, shared by the control plane (which signs) and
//! the agent (which verifies), so both build exactly the same message. No cryptography here:
//! the signature itself is Ed25519 (`ring`) on each side.
//!
//! The message is domain-separated (a fixed label no other Muster signature starts with) and
//! length-prefixed, so a signature over a policy can never be read as one over anything else,
//! and version, issue time and document cannot be shifted into one another.

/// The label every signed policy message starts with.
pub const POLICY_SIGNING_DOMAIN: &[u8] = b"muster.v1.PolicyBundle/ed25519\0";

/// `domain || version (u64 BE) || issued_at_unix (i64 BE) || len(document) (u64 BE) || document`.
pub fn policy_signing_message(version: u64, issued_at_unix: i64, document: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(POLICY_SIGNING_DOMAIN.len() + 24 + document.len());
    message.extend_from_slice(POLICY_SIGNING_DOMAIN);
    message.extend_from_slice(&version.to_be_bytes());
    message.extend_from_slice(&issued_at_unix.to_be_bytes());
    message.extend_from_slice(&(document.len() as u64).to_be_bytes());
    message.extend_from_slice(document);
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_changes_the_message() {
        let base = policy_signing_message(2, 100, b"version = 1\n");
        assert!(base.starts_with(POLICY_SIGNING_DOMAIN));
        assert_ne!(base, policy_signing_message(3, 100, b"version = 1\n"));
        assert_ne!(base, policy_signing_message(2, 101, b"version = 1\n"));
        assert_ne!(base, policy_signing_message(2, 100, b"version = 1\n\n"));
    }
}
