//! The stable id of one finding on one agent, from what identifies it: webhooks announce by it,
//! the OCSF export carries it, and a host-wide finding's decision subject is it (computed at
//! ingest by the read models). A pure function; it does not read the store.

use sha2::{Digest, Sha256};

/// SHA-256 over the finding's identifying columns (`server_ids` comma-joined, as stored), 128
/// bits in hex. The same finding in the next report gets the same uid.
pub fn finding_uid_of(
    agent_id: &str,
    server_id: &str,
    finding_id: &str,
    client: &str,
    user: &str,
    server_ids: &str,
    message: &str,
) -> String {
    let mut hash = Sha256::new();
    for part in [agent_id, server_id, finding_id, client, user, server_ids, message] {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    hex::encode(&hash.finalize()[..16])
}
