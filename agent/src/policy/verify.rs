//! Whether a policy bundle from the control plane may replace the one the agent holds: signed
//! by the key pinned at enrollment (Ed25519 over `muster_proto::policy_signing_message`), newer
//! than the held version (no rollback by a replayed message), a document that parses and names
//! the envelope's version. Pure: no IO, no clock. [`verify_signature`] is also the data
//! bundles' signature check (`crate::data_bundle`).

use muster_proto::v1::PolicyBundle;

/// Why a bundle was refused; the previous policy stays in force.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no policy signing key is pinned yet (it arrives with the next certificate renewal)")]
    NoPinnedKey,
    #[error("policy version {version} is unsigned")]
    Unsigned { version: u64 },
    #[error("policy version {version} has a signature the pinned key does not verify")]
    BadSignature { version: u64 },
    #[error("policy version {version} is not newer than the version {held} in force")]
    NotNewer { version: u64, held: u64 },
    #[error("policy version {version} cannot be read: {message}")]
    Malformed { version: u64, message: String },
    #[error("policy version {version} carries a document of revision {revision}")]
    VersionMismatch { version: u64, revision: u64 },
}

/// A bundle that passed every check, with its compiled policy.
#[derive(Debug, Clone)]
pub struct AcceptedPolicy {
    pub envelope: PolicyBundle,
    pub bundle: muster_policy::Bundle,
}

impl AcceptedPolicy {
    pub fn version(&self) -> u64 {
        self.envelope.version
    }
}

/// Checks `envelope` against the pinned `key` (32 bytes; empty when none is pinned) and the
/// version `held` (0 when none).
pub fn accept(envelope: PolicyBundle, key: &[u8], held: u64) -> Result<AcceptedPolicy, Refusal> {
    let version = envelope.version;
    let message = muster_proto::policy_signing_message(version, envelope.issued_at_unix, &envelope.document);
    verify_signature(key, &message, &envelope.signature).map_err(|problem| match problem {
        SignatureProblem::NoPinnedKey => Refusal::NoPinnedKey,
        SignatureProblem::Unsigned => Refusal::Unsigned { version },
        SignatureProblem::Bad => Refusal::BadSignature { version },
    })?;
    if version <= held {
        return Err(Refusal::NotNewer { version, held });
    }
    let text = std::str::from_utf8(&envelope.document)
        .map_err(|_| Refusal::Malformed { version, message: "the document is not UTF-8".into() })?;
    let bundle = muster_policy::parse(text).map_err(|e| Refusal::Malformed { version, message: e.to_string() })?;
    if bundle.revision() != version {
        return Err(Refusal::VersionMismatch { version, revision: bundle.revision() });
    }
    Ok(AcceptedPolicy { envelope, bundle })
}

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

#[cfg(test)]
mod tests {
    use ring::signature::{Ed25519KeyPair, KeyPair as _};

    use super::*;

    const POLICY: &str = "version = 1\nname = \"acme\"\n[[rule]]\nid = \"no-sse\"\naction = \"notify\"\n[rule.match]\ntransport = [\"sse\"]\n";

    fn key() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    fn document(revision: u64) -> Vec<u8> {
        muster_policy::publish(POLICY, revision, 1_800_000_000).unwrap().canonical_bytes().to_vec()
    }

    fn signed(key: &Ed25519KeyPair, version: u64, document: Vec<u8>) -> PolicyBundle {
        let message = muster_proto::policy_signing_message(version, 1_800_000_000, &document);
        PolicyBundle {
            version,
            document,
            issued_at_unix: 1_800_000_000,
            signature: key.sign(&message).as_ref().to_vec(),
            data: None,
        }
    }

    #[test]
    fn a_signed_newer_bundle_is_accepted() {
        let key = key();
        let accepted = accept(signed(&key, 3, document(3)), key.public_key().as_ref(), 2).unwrap();
        assert_eq!((accepted.version(), accepted.bundle.name()), (3, "acme"));
    }

    #[test]
    fn an_unsigned_bundle_is_refused() {
        let key = key();
        let mut bundle = signed(&key, 1, document(1));
        bundle.signature.clear();
        assert_eq!(accept(bundle, key.public_key().as_ref(), 0).unwrap_err(), Refusal::Unsigned { version: 1 });
    }

    #[test]
    fn a_bundle_signed_by_another_key_or_altered_after_signing_is_refused() {
        let (pinned, other) = (key(), key());
        let foreign = signed(&other, 1, document(1));
        assert_eq!(accept(foreign, pinned.public_key().as_ref(), 0).unwrap_err(), Refusal::BadSignature { version: 1 });
        let mut altered = signed(&pinned, 1, document(1));
        altered.document = String::from_utf8(altered.document).unwrap().replace("notify", "block").into_bytes();
        assert_eq!(accept(altered, pinned.public_key().as_ref(), 0).unwrap_err(), Refusal::BadSignature { version: 1 });
        // The version is covered too: a signed version 1 relabelled as version 9 does not verify.
        let mut relabelled = signed(&pinned, 1, document(1));
        relabelled.version = 9;
        assert_eq!(
            accept(relabelled, pinned.public_key().as_ref(), 0).unwrap_err(),
            Refusal::BadSignature { version: 9 }
        );
    }

    #[test]
    fn a_replayed_older_or_equal_version_is_refused() {
        let key = key();
        let old = signed(&key, 2, document(2));
        assert_eq!(
            accept(old.clone(), key.public_key().as_ref(), 5).unwrap_err(),
            Refusal::NotNewer { version: 2, held: 5 }
        );
        assert_eq!(accept(old, key.public_key().as_ref(), 2).unwrap_err(), Refusal::NotNewer { version: 2, held: 2 });
    }

    #[test]
    fn a_malformed_or_mislabelled_document_is_refused() {
        let key = key();
        let broken = signed(&key, 4, b"version = 1\n[[rule]]\nid = \"x\"\naction = \"shout\"\n".to_vec());
        assert!(matches!(accept(broken, key.public_key().as_ref(), 0), Err(Refusal::Malformed { version: 4, .. })));
        let binary = signed(&key, 4, vec![0xff, 0xfe]);
        assert!(matches!(accept(binary, key.public_key().as_ref(), 0), Err(Refusal::Malformed { version: 4, .. })));
        let mislabelled = signed(&key, 4, document(3));
        assert_eq!(
            accept(mislabelled, key.public_key().as_ref(), 0).unwrap_err(),
            Refusal::VersionMismatch { version: 4, revision: 3 }
        );
    }

    #[test]
    fn nothing_is_accepted_without_a_pinned_key() {
        let key = key();
        assert_eq!(accept(signed(&key, 1, document(1)), &[], 0).unwrap_err(), Refusal::NoPinnedKey);
    }
}
