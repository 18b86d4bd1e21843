//! The storage of remediation policies, one supertrait of [`super::Store`] implemented by both
//! backends from the same portable SQL (`policies_sql.rs`): every version ever written, with
//! the text as written, the canonical bytes that are signed and pushed, who wrote it, when and
//! why, and whether it was published.
//!
//! What a version means (parsing, stamping, which number comes next, auditing) is the policies
//! use-case's (`crate::policies`); this module only keeps rows. Versions are never updated or
//! deleted: the current policy is the published version with the highest number.

use super::StoreError;

/// A version about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPolicyVersion {
    pub version: u64,
    pub name: String,
    pub source_text: String,
    pub canonical: Vec<u8>,
    /// SHA-256 of `canonical`, lower-case hex.
    pub digest: String,
    pub author: String,
    pub reason: String,
    pub created_at: i64,
    /// When it was published; None stores a draft.
    pub published_at: Option<i64>,
    /// For a rollback: the version whose text this one republishes.
    pub rollback_of: Option<u64>,
}

/// A stored version with its text and canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersionRecord {
    pub version: u64,
    pub name: String,
    pub source_text: String,
    pub canonical: Vec<u8>,
    pub digest: String,
    pub author: String,
    pub reason: String,
    pub created_at: i64,
    pub published_at: Option<i64>,
    pub rollback_of: Option<u64>,
}

/// A stored version without its text (history lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersionSummary {
    pub version: u64,
    pub name: String,
    pub digest: String,
    pub author: String,
    pub reason: String,
    pub created_at: i64,
    pub published_at: Option<i64>,
    pub rollback_of: Option<u64>,
}

/// The storage of policy versions. Every method is atomic.
#[async_trait::async_trait]
pub trait PolicyStore: Send + Sync {
    /// The highest version number stored, published or not (0 when none is).
    async fn last_policy_version(&self) -> Result<u64, StoreError>;
    /// Stores a version; false (and nothing stored) when its number is already taken, so
    /// concurrent publishers never overwrite each other.
    async fn insert_policy_version(&self, version: &NewPolicyVersion) -> Result<bool, StoreError>;
    async fn policy_version(&self, version: u64) -> Result<Option<PolicyVersionRecord>, StoreError>;
    /// The published version with the highest number.
    async fn current_policy(&self) -> Result<Option<PolicyVersionRecord>, StoreError>;
    /// Versions with a number below `before` (all when None), newest first, at most `limit`.
    async fn policy_history(&self, before: Option<u64>, limit: u32) -> Result<Vec<PolicyVersionSummary>, StoreError>;
}
