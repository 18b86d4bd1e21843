//! The storage of signed data bundles, one supertrait of [`super::Store`] implemented by both
//! backends from the same portable SQL (`data_bundles_sql.rs`, migration `0018_data_bundles`):
//! every bundle ever published, with the document that is signed and pushed, who published it,
//! when and why.
//!
//! What a bundle holds, which version comes next and auditing are the use-case's
//! (`crate::data_bundles`); this module only keeps rows. Bundles are never updated or deleted:
//! the current one is the highest version.

use super::StoreError;

/// A stored bundle (or one about to be stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataBundleRecord {
    pub version: u64,
    /// The JSON document, as signed.
    pub document: Vec<u8>,
    /// SHA-256 of `document`, lower-case hex.
    pub digest: String,
    /// The parts the document carries, comma-separated.
    pub parts: String,
    pub author: String,
    pub reason: String,
    pub created_at: i64,
}

/// A stored bundle without its document (history lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataBundleSummary {
    pub version: u64,
    pub digest: String,
    pub parts: String,
    pub author: String,
    pub reason: String,
    pub created_at: i64,
}

/// What one agent last reported about data bundles, when it refused one (from its policy
/// report, migration `0019_data_bundle_status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRefusalRecord {
    pub agent_id: String,
    pub hostname: String,
    /// The bundle version it analyses with (its built-in data's version when it holds none).
    pub data_version: u64,
    /// The last bundle version it refused.
    pub refused_version: u64,
    /// The agent's own reason (scrubbed and capped by the agent and by ingest).
    pub reason: String,
    pub reported_at: i64,
}

/// The storage of data bundles. Every method is atomic.
#[async_trait::async_trait]
pub trait DataBundleStore: Send + Sync {
    /// The highest version stored (0 when none is).
    async fn last_data_bundle_version(&self) -> Result<u64, StoreError>;
    /// Stores a bundle; false (and nothing stored) when its version is already taken.
    async fn insert_data_bundle(&self, bundle: &DataBundleRecord) -> Result<bool, StoreError>;
    /// The bundle with the highest version.
    async fn current_data_bundle(&self) -> Result<Option<DataBundleRecord>, StoreError>;
    /// The newest `limit` bundles, newest first.
    async fn data_bundle_history(&self, limit: u32) -> Result<Vec<DataBundleSummary>, StoreError>;
    /// The agents whose last report names a refused bundle, newest refused version first.
    async fn data_bundle_refusals(&self, limit: u32) -> Result<Vec<DataRefusalRecord>, StoreError>;
}
