//! What the policy previews read from the stored fleet (the dry run and the draft from
//! observation, `crate::policy_preview`), grouped as one supertrait of [`super::Store`] so both
//! backends implement it from the same portable SQL (`policy_inputs_sql.rs`).
//!
//! The dry run must decide exactly what the agents decide, so it is handed each endpoint's
//! servers as the agent sent them (the stored `muster.v1.McpServer` of every server, decoded)
//! beside the host the agent reported. Nothing here decides anything about a policy.

use muster_proto::v1::InventorySnapshot;

use super::StoreError;

/// One active endpoint rebuilt from what ingest stored: the agent id and an
/// `InventorySnapshot` holding the fields `muster_policy::evaluate` reads (host and servers as
/// the agent sent them). Users, sources, problems and host-wide findings are left empty; the
/// processes are empty too, since the control plane keeps only their count (so
/// `listening_nonloopback` never holds in a dry run: see ARCHITECTURE.md).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEndpoint {
    pub agent_id: String,
    pub snapshot: InventorySnapshot,
}

/// The storage of the policy previews.
#[async_trait::async_trait]
pub trait PolicyInputs: Send + Sync {
    /// Up to `limit` active endpoints with a stored host whose agent id sorts after `after`
    /// (empty: from the start), in agent id order, each with its servers in server id order.
    async fn policy_endpoints(&self, after: &str, limit: u32) -> Result<Vec<StoredEndpoint>, StoreError>;
}
