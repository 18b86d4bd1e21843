//! The scan request the agent's image tests share: a `--root` image read as Linux, no process
//! scan, and a fixed fleet key so fingerprints compare between runs.

use std::path::Path;

use muster_agent::ScanRequest;
use muster_agent::platform::{Layout, Os};
use muster_agent::secrets::fingerprint::FleetKey;

/// Scan the Linux image at `root` as `muster-agent scan --root` does, processes left out.
pub fn image_request(root: &Path) -> ScanRequest {
    ScanRequest {
        layout: Layout::image(root.to_path_buf(), Os::Linux),
        env: Default::default(),
        processes: false,
        fleet_key: Some(FleetKey::from_bytes([0x5a; 32])),
        project: None,
        tags: Vec::new(),
    }
}
