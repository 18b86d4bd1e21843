//! The Muster endpoint agent as a library: discovery of MCP configuration and processes
//! ([`discovery`]), the service catalog ([`catalog`]), known advisories ([`advisories`]), the
//! findings catalog ([`findings`]), the OS and machine-image layer ([`platform`]), secret handling
//! ([`secrets`]), the wire inventory ([`inventory`]) and renderings ([`output`]).
//! The `muster-agent` binary is a thin CLI over [`scan`].

#![forbid(unsafe_code)]

pub mod advisories;
pub mod analysis;
pub mod catalog;
pub mod discovery;
pub mod findings;
pub mod inventory;
pub mod output;
pub mod platform;
pub mod secrets;

use platform::{EnvMap, Layout};

/// What `muster-agent scan` is asked to do.
#[derive(Clone)]
pub struct ScanRequest {
    pub layout: Layout,
    /// The agent's own environment (only its relocating variables are used).
    pub env: EnvMap,
    pub processes: bool,
    /// Key for credential fingerprints: the fleet's once enrolled, else a local one. `None`
    /// uses a fresh random key (fingerprints then only compare within this scan).
    pub fleet_key: Option<secrets::fingerprint::FleetKey>,
    /// Scan only this directory (a host path) as a project: no users, managed files or
    /// processes. Config paths are then the real paths under it.
    pub project: Option<std::path::PathBuf>,
}

/// Why a scan could not run at all (problems with single files are never errors).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("bundled data set is invalid: {0}")]
    Data(String),
    #[error(transparent)]
    FleetKey(#[from] secrets::fingerprint::FleetKeyError),
}

/// Runs one scan and returns the wire inventory.
pub fn scan(req: &ScanRequest) -> Result<muster_proto::v1::InventorySnapshot, ScanError> {
    let (users, env_user) = if req.project.is_some() {
        (Vec::new(), None)
    } else if req.layout.is_image() {
        (req.layout.image_users(), None)
    } else {
        let users = platform::live_users(&req.env);
        let me = req.env.get("USER").or_else(|| req.env.get("USERNAME")).cloned();
        (users, me.map(|m| (m, req.env.clone())))
    };
    let opts = discovery::ScanOptions {
        layout: req.layout.clone(),
        users,
        env_user,
        processes: req.processes && !req.layout.is_image() && req.project.is_none(),
        project_only: req.project.clone(),
    };
    let found = discovery::scan(&opts);
    let key = match &req.fleet_key {
        Some(k) => k.clone(),
        None => secrets::fingerprint::FleetKey::generate()?,
    };
    let ctx = analysis::AnalysisContext {
        fleet_key: &key,
        catalog: catalog::bundled().map_err(|e| ScanError::Data(e.to_string()))?,
        advisories: advisories::AdvisoryDb::bundled().map_err(|e| ScanError::Data(e.to_string()))?,
        findings: findings::catalog::FindingsCatalog::bundled().map_err(|e| ScanError::Data(e.to_string()))?,
    };
    let analysis = analysis::analyse(&found, &ctx);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    Ok(inventory::build(&found, &analysis, &req.layout, now))
}
