//! The one signature check of everything the control plane signs for agents: policy bundles
//! (`crate::policy`) and data bundles (`crate::data_bundle`). Pure: no IO.

/// What is wrong with a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureProblem {
    NoPinnedKey,
    Unsigned,
    Bad,
}

/// The one signature check of everything the control plane signs (policies and data bundles):
/// Ed25519 by the pinned `key` (32 bytes; empty when none is pinned) over `message`, which the
/// caller builds with its kind's domain-separated `muster_proto::*_signing_message`.
pub(crate) fn verify_signature(key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), SignatureProblem> {
    if key.is_empty() {
        return Err(SignatureProblem::NoPinnedKey);
    }
    if signature.is_empty() {
        return Err(SignatureProblem::Unsigned);
    }
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key)
        .verify(message, signature)
        .map_err(|_| SignatureProblem::Bad)
}
