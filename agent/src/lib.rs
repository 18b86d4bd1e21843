//! The Muster endpoint agent as a library: discovery of MCP configuration and processes
//! ([`discovery`]), credential and risk analysis ([`analysis`], [`secrets`], [`catalog`],
//! [`advisories`], [`findings`]), the OS and machine-image layer ([`platform`]), the wire
//! inventory ([`inventory`]) and renderings ([`output`]); and the daemon half: enrollment
//! ([`enroll`], with the key and certificate request from [`keypair`]), the state directory
//! ([`state`]), the durable outbox ([`outbox`]), reports and deltas ([`report`]), gRPC over mTLS
//! ([`grpc`]), config watching ([`watch`]) and the event loop that ties them together
//! ([`daemon`]).
//! Newer catalog and advisory data pushed by the control plane: [`data_bundle`].
//! The installed configuration file and the silent enrollment it triggers live in [`config`];
//! enforcing policy decisions on the machine (file safety, quarantine, the clients' own policy
//! files) in [`enforce`].
//! The `muster-agent` binary is a thin CLI over [`scan`], [`enroll::enroll`], [`config`] and [`daemon`].

#![forbid(unsafe_code)]

pub mod advisories;
pub mod analysis;
pub mod catalog;
pub mod config;
pub mod daemon;
pub mod data_bundle;
pub mod discovery;
pub mod enforce;
pub mod enroll;
pub mod exceptions;
pub mod findings;
pub mod grpc;
pub mod inventory;
pub mod keypair;
pub mod local_api;
pub mod outbox;
pub mod output;
pub mod pins;
pub mod platform;
pub mod policy;
pub mod remote_auth;
pub mod report;
pub mod secrets;
mod signature;
pub mod state;
pub mod watch;

use std::path::Path;

use platform::{EnvMap, Layout, UserCtx};

/// What `muster-agent scan` is asked to do.
#[derive(Clone, Debug)]
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
    /// Endpoint tags from the config file (checked there), reported in the inventory's `Host`.
    pub tags: Vec<String>,
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
    scan_watched(req).map(|(inv, _)| inv)
}

/// Runs one scan and returns the wire inventory and, by server id, each server's identity for
/// the client-policy writers (launch command or URL, with any part carrying a credential
/// withheld).
pub fn scan_for_enforcement(
    req: &ScanRequest,
) -> Result<(muster_proto::v1::InventorySnapshot, enforce::client_policy::Identities), ScanError> {
    scan_full(req).map(|(inv, _, ids)| (inv, ids))
}

/// Everything one scan produces for the daemon.
#[derive(Clone, Debug, Default)]
pub struct Scanned {
    /// The wire inventory (masked).
    pub inventory: muster_proto::v1::InventorySnapshot,
    /// What to watch for the next change.
    pub watch: watch::WatchSet,
    /// Each server's identity for the client-policy writers (see [`scan_for_enforcement`]).
    pub identities: enforce::client_policy::Identities,
    /// Where each server's entry is in its file, for the local API (found from the scan's own
    /// read by [`scan_placed_with`], the daemon's scanner; empty from [`scan_all`]).
    pub places: local_api::places::Places,
    /// Each unpinned server's version pin candidate, or why it has none (filled by the daemon's
    /// scanner with the places; empty from [`scan_all`]).
    pub pins: pins::Candidates,
}

/// Runs one scan and returns all it produces ([`Scanned`]).
pub fn scan_all(req: &ScanRequest) -> Result<Scanned, ScanError> {
    scan_full(req).map(|(inventory, watch, identities)| Scanned {
        inventory,
        watch,
        identities,
        places: Default::default(),
        pins: Default::default(),
    })
}

/// Runs one scan and returns the wire inventory and what to watch for the next change: every file
/// read and every file a client would read for the scanned users and the managed scope.
pub fn scan_watched(req: &ScanRequest) -> Result<(muster_proto::v1::InventorySnapshot, watch::WatchSet), ScanError> {
    scan_full(req).map(|(inv, watch, _)| (inv, watch))
}

/// Like [`scan_all`], analysing with `data` (a data bundle's catalog and advisories) instead of
/// the built-in data.
pub fn scan_all_with(req: &ScanRequest, data: &data_bundle::DataSet) -> Result<Scanned, ScanError> {
    scan_full_with(req, data, false).map(|(inventory, watch, identities, _)| Scanned {
        inventory,
        watch,
        identities,
        places: Default::default(),
        pins: Default::default(),
    })
}

/// [`scan_all_with`] that also finds where each server's entry is in its file
/// ([`Scanned::places`]), from the text the scan reads anyway: what the daemon serves on its
/// local API.
pub fn scan_placed_with(req: &ScanRequest, data: &data_bundle::DataSet) -> Result<Scanned, ScanError> {
    scan_full_with(req, data, true).map(|(inventory, watch, identities, places)| Scanned {
        inventory,
        watch,
        identities,
        places,
        pins: Default::default(),
    })
}

fn scan_full(
    req: &ScanRequest,
) -> Result<(muster_proto::v1::InventorySnapshot, watch::WatchSet, enforce::client_policy::Identities), ScanError> {
    scan_full_with(req, &data_bundle::DataSet::builtin(), false).map(|(inv, watch, ids, _)| (inv, watch, ids))
}

type ScanParts = (
    muster_proto::v1::InventorySnapshot,
    watch::WatchSet,
    enforce::client_policy::Identities,
    local_api::places::Places,
);

fn scan_full_with(req: &ScanRequest, data: &data_bundle::DataSet, locate: bool) -> Result<ScanParts, ScanError> {
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
        locate_entries: locate.then_some(local_api::places::locate_in_text as discovery::LocateEntries),
    };
    let found = discovery::scan(&opts);
    let key = match &req.fleet_key {
        Some(k) => k.clone(),
        None => secrets::fingerprint::FleetKey::generate()?,
    };
    let ctx = analysis::AnalysisContext {
        fleet_key: &key,
        catalog: data.catalog()?,
        advisories: data.advisories()?,
        findings: findings::catalog::FindingsCatalog::bundled().map_err(|e| ScanError::Data(e.to_string()))?,
        registry: data.registry(),
    };
    let analysis = analysis::analyse(&found, &ctx);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let identities =
        found.servers.iter().map(|s| (s.id.clone(), enforce::client_policy::Identity::of(&s.raw))).collect();
    let places = local_api::places::of_servers(&found.servers);
    Ok((inventory::build(&found, &analysis, &req.layout, &req.tags, now), watch_set(&opts, &found), identities, places))
}

fn watch_set(opts: &discovery::ScanOptions, found: &discovery::Discovery) -> watch::WatchSet {
    use discovery::clients::REGISTRY;
    let mut set = watch::WatchSet::default();
    let system_floor = opts.layout.root().unwrap_or(Path::new("/")).to_path_buf();
    let sys = opts.layout.system_ctx();
    for client in REGISTRY {
        let mut cands = Vec::new();
        client.managed_files(&sys, &mut cands);
        for c in cands {
            set.add_file(&c.path, &system_floor);
        }
    }
    for user in &opts.users {
        let env = match &opts.env_user {
            Some((name, env)) if *name == user.name => env.clone(),
            _ => EnvMap::new(),
        };
        let ctx = UserCtx::new(user, opts.layout.os(), env);
        for client in REGISTRY {
            let mut cands = Vec::new();
            client.user_files(&ctx, &mut cands);
            for c in cands {
                set.add_file(&c.path, &user.home);
            }
        }
    }
    for source in &found.sources {
        set.add_file(&source.host_path, &system_floor);
    }
    set
}
