//! The agent's remediation policy: the signed bundle the control plane pushes over
//! `Policy.Watch`, checked (`verify`), kept in the state dir and in force until a newer one is
//! accepted, offline and across restarts.
//!
//! [`PolicyHolder`] owns the policy in force: it loads the last good bundle at start (checked
//! again against the pinned key, so a file edited on disk is not trusted), accepts a newer one
//! with one atomic write, and keeps the previous one (recording why) when a bundle is refused.
//! [`watch_policies`] is the client task: one mTLS stream with the agent's own identity,
//! re-opened with backoff, which also brings data bundles (`crate::data_bundle`). Evaluating the policy and acting on it are not here.

mod verify;

use std::sync::Arc;
use std::time::Duration;

use muster_proto::prost::Message as _;
use muster_proto::v1::PolicyBundle;
use muster_proto::v1::WatchRequest;
use muster_proto::v1::policy_client::PolicyClient;
use tokio::sync::watch;

pub use self::verify::{AcceptedPolicy, Refusal, accept};
use crate::state::{StateDir, write_atomic};

/// The file in the state dir holding the last accepted bundle (protobuf, as received).
pub const BUNDLE_FILE: &str = "policy-bundle.pb";

/// What the agent knows about policies right now.
#[derive(Debug, Clone, Default)]
pub struct PolicyStatus {
    /// The policy in force, if any.
    pub current: Option<Arc<AcceptedPolicy>>,
    /// Why the last bundle offered (or the stored one, at start) was refused; None when the
    /// last one was accepted.
    pub refusal: Option<String>,
}

impl PolicyStatus {
    /// The version in force, 0 without a policy.
    pub fn version(&self) -> u64 {
        self.current.as_ref().map_or(0, |p| p.version())
    }
}

/// Holds the policy in force and tells subscribers when it changes.
#[derive(Debug)]
pub struct PolicyHolder {
    state: StateDir,
    status: watch::Sender<PolicyStatus>,
}

impl PolicyHolder {
    /// Loads the stored bundle, checked against `key` (the pinned policy key, empty when none).
    /// A stored bundle that no longer verifies or parses is not used, and the refusal says why.
    pub fn load(state: StateDir, key: &[u8]) -> PolicyHolder {
        let path = state.path().join(BUNDLE_FILE);
        let status = match std::fs::read(&path) {
            Ok(bytes) => match PolicyBundle::decode(bytes.as_slice()) {
                Ok(envelope) => match accept(envelope, key, 0) {
                    Ok(policy) => PolicyStatus { current: Some(Arc::new(policy)), refusal: None },
                    Err(refusal) => {
                        tracing::warn!(path = %path.display(), reason = %refusal, "stored policy not used");
                        PolicyStatus { current: None, refusal: Some(format!("stored policy: {refusal}")) }
                    }
                },
                Err(error) => {
                    tracing::warn!(path = %path.display(), error = %error, "stored policy not used");
                    PolicyStatus { current: None, refusal: Some("stored policy: not a policy bundle".into()) }
                }
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => PolicyStatus::default(),
            Err(error) => {
                tracing::warn!(path = %path.display(), error = %error, "cannot read the stored policy");
                PolicyStatus { current: None, refusal: Some(format!("stored policy: cannot read: {error}")) }
            }
        };
        PolicyHolder { state, status: watch::Sender::new(status) }
    }

    pub fn subscribe(&self) -> watch::Receiver<PolicyStatus> {
        self.status.subscribe()
    }

    pub fn status(&self) -> PolicyStatus {
        self.status.borrow().clone()
    }

    /// Offers a bundle received from the control plane. Accepted: stored (atomically) and in
    /// force. Refused, or not storable: the previous policy stays, and the refusal is recorded.
    pub fn offer(&self, envelope: PolicyBundle, key: &[u8]) -> Result<u64, Refusal> {
        let held = self.status.borrow().version();
        let bytes = envelope.encode_to_vec();
        let accepted = accept(envelope, key, held);
        let accepted = match accepted {
            Ok(policy) => policy,
            Err(refusal) => {
                tracing::warn!(reason = %refusal, held, "policy bundle refused");
                self.status.send_modify(|s| s.refusal = Some(refusal.to_string()));
                return Err(refusal);
            }
        };
        let version = accepted.version();
        let path = self.state.path().join(BUNDLE_FILE);
        if let Err(error) = write_atomic(&path, &bytes) {
            // Not in force unless it survives a restart: otherwise a restart would silently go
            // back to the older policy.
            tracing::warn!(path = %path.display(), error = %error, version, "cannot store the policy");
            let refusal = Refusal::Malformed { version, message: format!("cannot be stored: {error}") };
            self.status.send_modify(|s| s.refusal = Some(refusal.to_string()));
            return Err(refusal);
        }
        tracing::info!(version, policy = accepted.bundle.name(), "policy in force");
        self.status.send_replace(PolicyStatus { current: Some(Arc::new(accepted)), refusal: None });
        Ok(version)
    }
}

/// The policy's decisions about this machine's servers, each item with the OS user whose server
/// it is (the local API serves a caller their own only).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyView {
    /// The policy version (0: none in force).
    pub version: u64,
    pub decisions: Vec<(String, muster_proto::local::v1::PolicyDecision)>,
    pub pending: Vec<(String, muster_proto::local::v1::PendingAction)>,
    pub quarantines: Vec<(String, muster_proto::local::v1::Quarantine)>,
    /// Who to ask about the policy (its `[contact]`), for every local user.
    pub contact: Option<muster_proto::local::v1::Contact>,
}

/// Shortest and longest wait before the stream is opened again.
const RECONNECT_MIN: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(60);

/// Keeps one `Policy.Watch` stream open as the enrolled agent (identity and pinned key re-read
/// from the state dir at each attempt, so a renewed certificate or a key pinned by a renewal is
/// used), offering every bundle to `holder`, until `shutdown` resolves.
/// With `data`, the stream also asks for data bundles and offers each to it.
pub async fn watch_policies(
    holder: Arc<PolicyHolder>,
    data: Option<Arc<crate::data_bundle::DataHolder>>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let session = |progress: crate::report::StreamProgress| {
        let (holder, data) = (holder.clone(), data.clone());
        async move {
            let identity = match holder.state.load_identity() {
                Ok(Some(identity)) => identity,
                Ok(None) => return Err("not enrolled".to_string()),
                Err(error) => return Err(error.to_string()),
            };
            let key = identity.policy_public_key().unwrap_or_default();
            let addr = crate::grpc::ServerAddr::parse(&identity.server).map_err(|e| e.to_string())?;
            let tls = crate::grpc::mtls_client_config(&identity).map_err(|e| e.to_string())?;
            let channel = crate::grpc::channel(&addr, tls).map_err(|e| e.to_string())?;
            let known_version = holder.status().version();
            let request = WatchRequest {
                known_version,
                data_bundles: data.is_some(),
                known_data_version: data.as_ref().map_or(0, |d| d.status().bundle_version),
            };
            let mut stream = PolicyClient::new(channel)
                .watch(request)
                .await
                .map_err(|s| format!("{}: {}", s.code(), s.message()))?
                .into_inner();
            tracing::debug!(known_version, "policy stream open");
            loop {
                match stream.message().await {
                    Ok(Some(mut envelope)) => {
                        progress.received();
                        // A message carries a policy, a data bundle, or both.
                        if let (Some(bundle), Some(data)) = (envelope.data.take(), &data) {
                            let _ = data.offer(&bundle, &key);
                        }
                        if envelope.version != 0 {
                            let _ = holder.offer(envelope, &key);
                        }
                    }
                    Ok(None) => return Err("the control plane closed the policy stream".to_string()),
                    Err(s) => return Err(format!("{}: {}", s.code(), s.message())),
                }
            }
        }
    };
    crate::report::keep_stream_open("policy", (RECONNECT_MIN, RECONNECT_MAX), false, shutdown, session).await;
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

    fn signed(key: &Ed25519KeyPair, version: u64) -> PolicyBundle {
        let document = muster_policy::publish(POLICY, version, 1_800_000_000).unwrap().canonical_bytes().to_vec();
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
    fn an_accepted_bundle_survives_a_restart_and_a_refused_one_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let key = key();
        let public = key.public_key().as_ref().to_vec();
        let holder = PolicyHolder::load(state.clone(), &public);
        assert_eq!(holder.status().version(), 0);
        assert_eq!(holder.offer(signed(&key, 2), &public), Ok(2));

        let mut forged = signed(&key, 3);
        forged.signature[0] ^= 1;
        assert_eq!(holder.offer(forged, &public), Err(Refusal::BadSignature { version: 3 }));
        assert_eq!(holder.offer(signed(&key, 1), &public), Err(Refusal::NotNewer { version: 1, held: 2 }));
        let status = holder.status();
        assert_eq!(status.version(), 2, "the previous policy stays in force");
        assert!(status.refusal.unwrap().contains("not newer"));

        let restarted = PolicyHolder::load(state.clone(), &public);
        assert_eq!(restarted.status().version(), 2, "kept across restarts");
        assert_eq!(
            restarted.offer(signed(&key, 2), &public),
            Err(Refusal::NotNewer { version: 2, held: 2 }),
            "a replay of the stored version after a restart is refused"
        );

        // A stored bundle altered on disk, or checked against another key, is not used.
        let other = self::key();
        let with_other_key = PolicyHolder::load(state.clone(), other.public_key().as_ref());
        assert_eq!(with_other_key.status().version(), 0);
        std::fs::write(dir.path().join(BUNDLE_FILE), b"garbage").unwrap();
        let corrupt = PolicyHolder::load(state, &public);
        assert_eq!(corrupt.status().version(), 0);
        assert!(corrupt.status().refusal.is_some());
    }
}
