//! What the policy previews read from the stored fleet (the dry run and the draft from
//! observation, `crate::policy_preview`), grouped as one supertrait of [`super::Store`] so both
//! backends implement it from the same portable SQL (`policy_inputs_sql.rs`).
//!
//! The dry run must decide exactly what the agents decide, so it is handed each endpoint's
//! servers as the agent sent them (the stored `muster.v1.McpServer` of every server, decoded)
//! beside the host the agent reported. Nothing here decides anything about a policy.
//!
//! For the dry run at fleet scale, each server row also holds a **shape key** ([`shape_key`]:
//! `muster_policy::SHAPE_VERSION` then 15 bytes of the SHA-256 of `muster_policy::shape_bytes`),
//! written by ingest with the row (migration `0014_server_shape_keys`). Servers with one key
//! meet the same rule conditions, so the dry run reads narrow rows ([`ShapedEndpoint`]) and
//! decodes one stored server per distinct key ([`PolicyInputs::policy_servers`]).

use muster_proto::v1::{InventorySnapshot, McpServer};
use sha2::Digest as _;

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

/// Length of a shape key.
pub const SHAPE_KEY_LEN: usize = 16;

/// The shape key stored with `server`: its shape's version, then a digest of its shape.
pub fn shape_key(server: &McpServer) -> Vec<u8> {
    let digest = sha2::Sha256::digest(muster_policy::shape_bytes(server));
    let mut key = Vec::with_capacity(SHAPE_KEY_LEN);
    key.push(muster_policy::SHAPE_VERSION);
    key.extend_from_slice(&digest[..SHAPE_KEY_LEN - 1]);
    key
}

/// A stored key, when it is of the current shape version (else the server is read on its own).
pub fn current_shape_key(stored: Option<&[u8]>) -> Option<[u8; SHAPE_KEY_LEN]> {
    let key: [u8; SHAPE_KEY_LEN] = stored?.try_into().ok()?;
    (key[0] == muster_policy::SHAPE_VERSION).then_some(key)
}

/// One stored server as the dry run reads it: the instance fields targets and exceptions look
/// at, and its shape key (None: absent or of another shape version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapedServer {
    pub server_id: String,
    pub name: String,
    pub client: String,
    pub user: String,
    pub shape_key: Option<[u8; SHAPE_KEY_LEN]>,
}

/// One active endpoint as the dry run reads it: the host (in `snapshot`, whose servers are left
/// empty) and its servers' narrow rows in server id order.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapedEndpoint {
    pub agent_id: String,
    pub snapshot: InventorySnapshot,
    pub servers: Vec<ShapedServer>,
}

/// One stored server read in full: its `muster.v1.McpServer` and the shape key stored with it
/// (written in the same transaction, so they agree).
#[derive(Debug, Clone, PartialEq)]
pub struct FullServer {
    pub agent_id: String,
    pub shape_key: Option<[u8; SHAPE_KEY_LEN]>,
    pub server: McpServer,
}

/// The storage of the policy previews.
#[async_trait::async_trait]
pub trait PolicyInputs: Send + Sync {
    /// Up to `limit` active endpoints with a stored host whose agent id sorts after `after`
    /// (empty: from the start), in agent id order, each with its servers in server id order.
    async fn policy_endpoints(&self, after: &str, limit: u32) -> Result<Vec<StoredEndpoint>, StoreError>;

    /// The same endpoints as [`PolicyInputs::policy_endpoints`], each server as a narrow row.
    async fn policy_shaped_endpoints(&self, after: &str, limit: u32) -> Result<Vec<ShapedEndpoint>, StoreError>;

    /// The named servers (agent id, server id) in full; servers no longer stored are left out.
    async fn policy_servers(&self, ids: &[(&str, &str)]) -> Result<Vec<FullServer>, StoreError>;
}
