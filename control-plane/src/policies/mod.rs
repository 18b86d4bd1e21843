//! Remediation policies on the control plane: the use-cases that write and read policy
//! versions, shared by `/api/v1/policies`, the dashboard and `muster-server policy apply`.
//!
//! [`publish`] parses the file with `muster_policy` (a refused file names every problem's
//! `line:column` and stores nothing), stamps the next version number and the publication time
//! into its canonical document, stores it with its author, reason and digest, and tells the
//! [`PolicyListener`] (the serving control plane, which pushes it to agents). [`rollback`]
//! publishes an old version's text again under a new number, so versions only grow and an agent
//! can refuse any bundle that is not newer than the one it holds. Use-cases return an
//! [`AuditEvent`] and never write it; they never see HTTP. Signing and the Watch stream live
//! elsewhere; the storage is `crate::store::policies`.

use sha2::{Digest as _, Sha256};

use crate::audit::AuditEvent;
use crate::error::ActionError;
use crate::store::Store;
use crate::store::policies::{NewPolicyVersion, PolicyVersionRecord, PolicyVersionSummary};

/// Longest reason kept with a version.
pub const MAX_REASON: usize = 500;
/// Largest policy file accepted (bytes).
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;
/// How often a publish retries when another one took its version number first.
const PUBLISH_ATTEMPTS: usize = 5;

/// Who must hear about a newly published version: the serving control plane pushes it to the
/// agents' open Watch streams. The CLI has no streams ([`NoListener`]); a running server notices
/// versions published by another process when its streams re-read the current version.
pub trait PolicyListener: Send + Sync {
    fn policy_published(&self, version: &PolicyVersionRecord);
}

/// For callers with nobody to tell (the CLI).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoListener;

impl PolicyListener for NoListener {
    fn policy_published(&self, _version: &PolicyVersionRecord) {}
}

/// The use-case: publishes `text` as the next version, by `actor` for `reason`; the stored
/// version and the audit event. A refusal is audited by the caller with [`publish_audit`].
pub async fn publish(
    store: &dyn Store,
    listener: &dyn PolicyListener,
    text: &str,
    actor: &str,
    reason: &str,
    now: i64,
) -> Result<(PolicyVersionRecord, AuditEvent), ActionError> {
    let reason = checked_reason(reason)?;
    let record = store_next(store, text, actor, reason, None, now).await?;
    listener.policy_published(&record);
    let event = publish_audit("policy.publish").target(record.version).detail(&detail(&record));
    Ok((record, event))
}

/// The use-case: publishes the text of `to_version` again as the next version (its history
/// kept: `rollback_of` names the version it came from).
pub async fn rollback(
    store: &dyn Store,
    listener: &dyn PolicyListener,
    to_version: u64,
    actor: &str,
    reason: &str,
    now: i64,
) -> Result<(PolicyVersionRecord, AuditEvent), ActionError> {
    let reason = checked_reason(reason)?;
    let Some(old) = store.policy_version(to_version).await? else {
        return Err(ActionError::not_found(format!("no policy version {to_version}")));
    };
    let record = store_next(store, &old.source_text, actor, reason, Some(to_version), now).await?;
    listener.policy_published(&record);
    let event = publish_audit("policy.rollback")
        .target(record.version)
        .detail(&format!("to version {to_version}, {}", detail(&record)));
    Ok((record, event))
}

/// The published version agents must hold, if any.
pub async fn current(store: &dyn Store) -> Result<Option<PolicyVersionRecord>, ActionError> {
    Ok(store.current_policy().await?)
}

/// One stored version, with its text.
pub async fn version(store: &dyn Store, version: u64) -> Result<PolicyVersionRecord, ActionError> {
    store.policy_version(version).await?.ok_or_else(|| ActionError::not_found(format!("no policy version {version}")))
}

/// Versions below `before` (all when None), newest first, at most `limit`.
pub async fn history(
    store: &dyn Store,
    before: Option<u64>,
    limit: u32,
) -> Result<Vec<PolicyVersionSummary>, ActionError> {
    Ok(store.policy_history(before, limit).await?)
}

/// The audit event of a publish (`policy.publish`) or rollback (`policy.rollback`) before its
/// target is known; callers add the refusal's message when it fails.
pub fn publish_audit(action: &str) -> PolicyAudit {
    PolicyAudit { action: action.to_string() }
}

/// Builds a policy audit event (see [`publish_audit`]).
#[derive(Debug, Clone)]
pub struct PolicyAudit {
    action: String,
}

impl PolicyAudit {
    pub fn target(self, version: u64) -> AuditEvent {
        AuditEvent::new(&self.action, &format!("policy/{version}"))
    }

    /// The event of a refused attempt (no version was stored).
    pub fn refused(self, message: &str) -> AuditEvent {
        AuditEvent::new(&self.action, "policy").detail(message)
    }
}

fn detail(record: &PolicyVersionRecord) -> String {
    let name = if record.name.is_empty() { "(unnamed)" } else { &record.name };
    format!("policy {name}, digest {}, reason {:?}", &record.digest, record.reason)
}

fn checked_reason(reason: &str) -> Result<&str, ActionError> {
    let reason = reason.trim();
    if reason.chars().count() > MAX_REASON {
        return Err(ActionError::invalid(format!("reason: at most {MAX_REASON} characters")));
    }
    Ok(reason)
}

/// Everything wrong with a file, one `line:column: message` per line.
pub fn refusal_message(error: &muster_policy::PolicyError) -> String {
    let mut message = format!("policy refused ({} problem(s))", error.diagnostics.len());
    for diagnostic in &error.diagnostics {
        message.push('\n');
        message.push_str(&diagnostic.to_string());
    }
    message
}

/// Stamps `text` with the next free version number and stores it, published at `now`; retries
/// when a concurrent publish took the number first.
async fn store_next(
    store: &dyn Store,
    text: &str,
    actor: &str,
    reason: &str,
    rollback_of: Option<u64>,
    now: i64,
) -> Result<PolicyVersionRecord, ActionError> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(ActionError::invalid(format!("policy: at most {MAX_POLICY_BYTES} bytes")));
    }
    // Checked once before any number is taken, so a refused file reports its own places.
    muster_policy::parse(text).map_err(|error| ActionError::invalid(refusal_message(&error)))?;
    for _ in 0..PUBLISH_ATTEMPTS {
        let version = store.last_policy_version().await? + 1;
        let bundle = muster_policy::publish(text, version, now)
            .map_err(|error| ActionError::invalid(refusal_message(&error)))?;
        let canonical = bundle.canonical_bytes().to_vec();
        let new = NewPolicyVersion {
            version,
            name: bundle.name().to_string(),
            source_text: text.to_string(),
            digest: hex::encode(Sha256::digest(&canonical)),
            canonical,
            author: actor.to_string(),
            reason: reason.to_string(),
            created_at: now,
            published_at: Some(now),
            rollback_of,
        };
        if store.insert_policy_version(&new).await? {
            return Ok(PolicyVersionRecord {
                version: new.version,
                name: new.name,
                source_text: new.source_text,
                canonical: new.canonical,
                digest: new.digest,
                author: new.author,
                reason: new.reason,
                created_at: new.created_at,
                published_at: new.published_at,
                rollback_of: new.rollback_of,
            });
        }
    }
    Err(ActionError::internal(std::io::Error::other("policy version numbers kept being taken by concurrent publishes")))
}

/// A published version signed once for every stream that sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedPolicy {
    pub version: u64,
    pub bundle: muster_proto::v1::PolicyBundle,
}

/// The signed envelope of a stored version, as `Policy.Watch` sends it: its canonical document,
/// its publication time and an Ed25519 signature by the policy signing key over
/// `muster_proto::policy_signing_message`.
pub fn signed_bundle(pki: &crate::pki::Pki, record: &PolicyVersionRecord) -> muster_proto::v1::PolicyBundle {
    let issued_at_unix = record.published_at.unwrap_or(record.created_at);
    let message = muster_proto::policy_signing_message(record.version, issued_at_unix, &record.canonical);
    muster_proto::v1::PolicyBundle {
        version: record.version,
        document: record.canonical.clone(),
        issued_at_unix,
        signature: pki.sign_policy(&message),
        data: None,
    }
}
