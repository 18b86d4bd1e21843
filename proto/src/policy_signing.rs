//! The bytes a signed bundle's signature covers, shared by the control plane (which signs) and
//! the agent (which verifies), so both build exactly the same message. Two kinds of bundle are
//! signed with the control plane's one signing key: policies and data bundles
//! (`docs/adr/0016-signed-data-bundles.md`). No cryptography here: the signature itself is
//! Ed25519 (`ring`) on each side.
//!
//! Each message is domain-separated (a fixed label per kind, which no other Muster signature
//! starts with) and length-prefixed, so a signature over a policy can never be read as one over
//! a data bundle or anything else, and version, issue time and document cannot be shifted into
//! one another.

/// The label every signed policy message starts with.
pub const POLICY_SIGNING_DOMAIN: &[u8] = b"muster.v1.PolicyBundle/ed25519\0";

/// The label every signed data bundle message starts with.
pub const DATA_SIGNING_DOMAIN: &[u8] = b"muster.v1.DataBundle/ed25519\0";

/// `POLICY_SIGNING_DOMAIN || version (u64 BE) || issued_at_unix (i64 BE) || len(document) (u64 BE) || document`.
pub fn policy_signing_message(version: u64, issued_at_unix: i64, document: &[u8]) -> Vec<u8> {
    signing_message(POLICY_SIGNING_DOMAIN, version, issued_at_unix, document)
}

/// The same layout as [`policy_signing_message`] under [`DATA_SIGNING_DOMAIN`].
pub fn data_signing_message(version: u64, issued_at_unix: i64, document: &[u8]) -> Vec<u8> {
    signing_message(DATA_SIGNING_DOMAIN, version, issued_at_unix, document)
}

fn signing_message(domain: &[u8], version: u64, issued_at_unix: i64, document: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(domain.len() + 24 + document.len());
    message.extend_from_slice(domain);
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

    #[test]
    fn a_data_bundle_message_is_never_a_policy_message() {
        let data = data_signing_message(2, 100, b"{}");
        assert!(data.starts_with(DATA_SIGNING_DOMAIN));
        assert_ne!(data, policy_signing_message(2, 100, b"{}"));
        assert!(!DATA_SIGNING_DOMAIN.starts_with(POLICY_SIGNING_DOMAIN));
        assert!(!POLICY_SIGNING_DOMAIN.starts_with(DATA_SIGNING_DOMAIN));
    }
}
