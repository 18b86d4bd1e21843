//! Current data without upgrades: the service catalog, the advisory bundle, MCP Registry data
//! (`docs/adr/0021-mcp-registry-import.md`) and the credential formats
//! (`docs/adr/0028-credential-formats-in-data-bundles.md`) the agent analyses with, as signed,
//! versioned data bundles the control plane pushes over the policy stream
//! (`docs/adr/0016-signed-data-bundles.md`).
//!
//! [`accept`] decides whether a bundle may replace the data in use: signed by the pinned key
//! (the same check as policies, `crate::signature::verify_signature`, over the data bundle's own
//! domain-separated message), newer than the bundle held, not older than the data built into
//! this agent (the floor), and every part it carries parses with the same loaders as the
//! built-in data. [`DataHolder`] keeps the accepted bundle in the state dir, loads it again at
//! start (checked again, so a file altered on disk or older than a newer agent's built-in data
//! is not used), keeps what was in use when a bundle is refused and records why. [`DataSet`] is
//! what a scan analyses with: a bundle's parts, else the built-in ones.
//!
//! A bundle's `credentials_toml` is compiled when the bundle is accepted (a pattern that does
//! not compile refuses the whole bundle) into rules merged over the built-in ones
//! ([`crate::secrets::rules`]); the holder puts the rules of the data in use in force for the
//! whole process, since the detector is called from everywhere without a data set.

use std::path::PathBuf;
use std::sync::Arc;

use muster_proto::prost::Message as _;
use muster_proto::v1::DataBundle;
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use crate::advisories::AdvisoryDb;
use crate::catalog::ServiceCatalog;
use crate::catalog::registry::RegistryIndex;
use crate::secrets::rules::{self, CredentialRules};
use crate::signature::{SignatureProblem, verify_signature};
use crate::state::{StateDir, write_atomic};

/// The version of the data built into this agent: the Unix time it was last changed. A bundle
/// must be newer to be used. Raise it (and [`BUILTIN_DATA_DIGEST`]) whenever
/// `agent/data/services.toml` or `agent/data/advisories.osv.json` changes; a unit test fails
/// until both are raised.
pub const BUILTIN_DATA_VERSION: u64 = 1_796_601_600;

/// SHA-256 of `services.toml` followed by `advisories.osv.json` as built in, hex: what
/// [`BUILTIN_DATA_VERSION`] stands for.
pub const BUILTIN_DATA_DIGEST: &str = "1dc44c00f006d788a55b7c473b7e9debfd8946dcac8b3b7c68655efc4c2f13bc";

/// The document format this code reads.
pub const DATA_FORMAT: u32 = 1;

/// The file in the state dir holding the last accepted bundle (protobuf, as received).
pub const BUNDLE_FILE: &str = "data-bundle.pb";

/// Why a data bundle was refused; the data in use stays.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataRefusal {
    #[error("no signing key is pinned yet (it arrives with the next certificate renewal)")]
    NoPinnedKey,
    #[error("data bundle {version} is unsigned")]
    Unsigned { version: u64 },
    #[error("data bundle {version} has a signature the pinned key does not verify")]
    BadSignature { version: u64 },
    #[error("data bundle {version} is not newer than the bundle {held} in use")]
    NotNewer { version: u64, held: u64 },
    #[error("data bundle {version} is older than the data built into this agent ({builtin})")]
    OlderThanBuiltIn { version: u64, builtin: u64 },
    #[error("data bundle {version} cannot be read: {message}")]
    Malformed { version: u64, message: String },
}

/// The document inside a bundle. Members this agent does not know are ignored, so a control
/// plane may add parts for newer agents; an absent part leaves the built-in one in use.
#[derive(Debug, Deserialize)]
struct DataDocument {
    format: u32,
    version: u64,
    #[serde(default)]
    services_toml: Option<String>,
    #[serde(default)]
    advisories_osv_json: Option<String>,
    #[serde(default)]
    registry_json: Option<String>,
    #[serde(default)]
    credentials_toml: Option<String>,
}

/// No registry data: what the built-in data holds.
static NO_REGISTRY: std::sync::LazyLock<RegistryIndex> = std::sync::LazyLock::new(RegistryIndex::default);

/// The data a scan analyses with.
#[derive(Debug)]
pub struct DataSet {
    version: u64,
    catalog: Option<ServiceCatalog>,
    advisories: Option<AdvisoryDb>,
    registry: Option<RegistryIndex>,
    credentials: Option<Arc<CredentialRules>>,
}

impl DataSet {
    /// The built-in data only.
    pub fn builtin() -> DataSet {
        DataSet { version: BUILTIN_DATA_VERSION, catalog: None, advisories: None, registry: None, credentials: None }
    }

    /// The credential rules: the bundle's merged over the built-in ones, else the built-in ones.
    pub fn credential_rules(&self) -> Arc<CredentialRules> {
        self.credentials.clone().unwrap_or_else(CredentialRules::builtin)
    }

    /// The MCP Registry data: the bundle's, else none (the agent has no built-in registry data).
    pub fn registry(&self) -> &RegistryIndex {
        self.registry.as_ref().unwrap_or(&NO_REGISTRY)
    }

    /// The bundle version in use, or [`BUILTIN_DATA_VERSION`] for the built-in data.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The service catalog: the bundle's, else the built-in one.
    pub fn catalog(&self) -> Result<&ServiceCatalog, crate::ScanError> {
        match &self.catalog {
            Some(catalog) => Ok(catalog),
            None => crate::catalog::bundled().map_err(|e| crate::ScanError::Data(e.to_string())),
        }
    }

    /// The advisory bundle: the bundle's, else the built-in one.
    pub fn advisories(&self) -> Result<&AdvisoryDb, crate::ScanError> {
        match &self.advisories {
            Some(advisories) => Ok(advisories),
            None => AdvisoryDb::bundled().map_err(|e| crate::ScanError::Data(e.to_string())),
        }
    }
}

/// Checks `envelope` against the pinned `key` (empty when none is pinned) and the bundle
/// version `held` (0 when none), and parses every part it carries.
pub fn accept(envelope: &DataBundle, key: &[u8], held: u64) -> Result<DataSet, DataRefusal> {
    let version = envelope.version;
    let message = muster_proto::data_signing_message(version, envelope.issued_at_unix, &envelope.document);
    verify_signature(key, &message, &envelope.signature).map_err(|problem| match problem {
        SignatureProblem::NoPinnedKey => DataRefusal::NoPinnedKey,
        SignatureProblem::Unsigned => DataRefusal::Unsigned { version },
        SignatureProblem::Bad => DataRefusal::BadSignature { version },
    })?;
    if version <= held {
        return Err(DataRefusal::NotNewer { version, held });
    }
    if version < BUILTIN_DATA_VERSION {
        return Err(DataRefusal::OlderThanBuiltIn { version, builtin: BUILTIN_DATA_VERSION });
    }
    let malformed = |message: String| DataRefusal::Malformed { version, message };
    let document: DataDocument =
        serde_json::from_slice(&envelope.document).map_err(|e| malformed(format!("not a data document: {e}")))?;
    if document.format != DATA_FORMAT {
        return Err(malformed(format!(
            "document format {} is not supported (expected {DATA_FORMAT})",
            document.format
        )));
    }
    if document.version != version {
        return Err(malformed(format!("the document names version {}", document.version)));
    }
    let catalog = document
        .services_toml
        .as_deref()
        .map(ServiceCatalog::from_toml)
        .transpose()
        .map_err(|e| malformed(e.to_string()))?;
    let advisories = document
        .advisories_osv_json
        .as_deref()
        .map(AdvisoryDb::from_json)
        .transpose()
        .map_err(|e| malformed(e.to_string()))?;
    let registry = document
        .registry_json
        .as_deref()
        .map(RegistryIndex::from_json)
        .transpose()
        .map_err(|e| malformed(e.to_string()))?;
    // The error names a place, a provider slug and the regex parser's words, never a value
    // of a configuration: the text is the control plane's.
    let credentials = document
        .credentials_toml
        .as_deref()
        .map(CredentialRules::with_bundle)
        .transpose()
        .map_err(|e| malformed(e.to_string()))?
        .map(Arc::new);
    Ok(DataSet { version, catalog, advisories, registry, credentials })
}

/// What the agent analyses with right now.
#[derive(Debug, Clone)]
pub struct DataStatus {
    /// The data in use.
    pub current: Arc<DataSet>,
    /// The accepted bundle's version, 0 while only the built-in data is in use.
    pub bundle_version: u64,
    /// Why the last bundle offered (or the stored one, at start) was refused.
    pub refusal: Option<String>,
    /// The version of that refused bundle (0 when unknown or none was refused).
    pub refused_version: u64,
}

/// Longest refusal text a report carries.
pub const MAX_REPORTED_REFUSAL: usize = 500;

/// A refusal as a policy report carries it to the control plane: the agent's own words with
/// anything secret-shaped masked, cut to [`MAX_REPORTED_REFUSAL`] characters.
pub fn report_text(refusal: &str) -> String {
    let scrubbed = crate::secrets::scrub::scrub_text(refusal);
    match scrubbed.char_indices().nth(MAX_REPORTED_REFUSAL) {
        None => scrubbed.into_owned(),
        Some((end, _)) => format!("{}…", &scrubbed[..end]),
    }
}

/// Holds the data in use and tells the daemon when it changes.
#[derive(Debug)]
pub struct DataHolder {
    state: StateDir,
    status: watch::Sender<DataStatus>,
    /// Where to say that the data changed (the daemon's change channel: it rescans).
    changed: Option<mpsc::Sender<PathBuf>>,
}

impl DataHolder {
    /// Loads the stored bundle, checked against `key` like a new one; the built-in data when
    /// there is none or it is refused (the refusal says why).
    pub fn load(state: StateDir, key: &[u8], changed: Option<mpsc::Sender<PathBuf>>) -> DataHolder {
        let path = state.path().join(BUNDLE_FILE);
        let builtin = |refusal: Option<String>, refused_version: u64| DataStatus {
            current: Arc::new(DataSet::builtin()),
            bundle_version: 0,
            refusal,
            refused_version,
        };
        let status = match std::fs::read(&path) {
            Ok(bytes) => match DataBundle::decode(bytes.as_slice()) {
                Ok(envelope) => match accept(&envelope, key, 0) {
                    Ok(data) => DataStatus {
                        bundle_version: data.version(),
                        current: Arc::new(data),
                        refusal: None,
                        refused_version: 0,
                    },
                    Err(refusal) => {
                        tracing::warn!(path = %path.display(), reason = %refusal, "stored data bundle not used");
                        builtin(Some(format!("stored data bundle: {refusal}")), envelope.version)
                    }
                },
                Err(error) => {
                    tracing::warn!(path = %path.display(), error = %error, "stored data bundle not used");
                    builtin(Some("stored data bundle: not a data bundle".into()), 0)
                }
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => builtin(None, 0),
            Err(error) => {
                tracing::warn!(path = %path.display(), error = %error, "cannot read the stored data bundle");
                builtin(Some(format!("stored data bundle: cannot read: {error}")), 0)
            }
        };
        rules::install(status.current.credential_rules());
        DataHolder { state, status: watch::Sender::new(status), changed }
    }

    pub fn status(&self) -> DataStatus {
        self.status.borrow().clone()
    }

    /// Sees every change of the status (the daemon reports it with each policy report).
    pub fn subscribe(&self) -> watch::Receiver<DataStatus> {
        self.status.subscribe()
    }

    /// The data a scan should use now.
    pub fn current(&self) -> Arc<DataSet> {
        self.status.borrow().current.clone()
    }

    /// Offers a bundle from the control plane. Accepted: stored (atomically), in use, and the
    /// daemon told. Refused or not storable: the data in use stays, the refusal is recorded and
    /// the daemon told too, so its next report carries the refusal to the control plane.
    pub fn offer(&self, envelope: &DataBundle, key: &[u8]) -> Result<u64, DataRefusal> {
        let held = self.status.borrow().bundle_version;
        let refuse = |refusal: DataRefusal| {
            tracing::warn!(reason = %refusal, held, "data bundle refused");
            self.status.send_modify(|s| {
                s.refusal = Some(refusal.to_string());
                s.refused_version = envelope.version;
            });
            self.tell_daemon();
            Err(refusal)
        };
        let data = match accept(envelope, key, held) {
            Ok(data) => data,
            Err(refusal) => return refuse(refusal),
        };
        let version = data.version();
        let path = self.state.path().join(BUNDLE_FILE);
        if let Err(error) = write_atomic(&path, &envelope.encode_to_vec()) {
            // Not in use unless it survives a restart, as for policies.
            return refuse(DataRefusal::Malformed { version, message: format!("cannot be stored: {error}") });
        }
        tracing::info!(version, "data bundle in use");
        let data = Arc::new(data);
        // Rules first: a scan the daemon starts on hearing of the new data already sees them.
        rules::install(data.credential_rules());
        // The last refusal (version and reason) stays on record: the control plane shows which
        // agents refused which bundle, also after they accepted a later one.
        self.status.send_modify(|s| {
            s.current = data;
            s.bundle_version = version;
        });
        self.tell_daemon();
        Ok(version)
    }

    fn tell_daemon(&self) {
        if let Some(changed) = &self.changed {
            // A full channel already holds a rescan request; the next scan reads the new status.
            let _ = changed.try_send(self.state.path().join(BUNDLE_FILE));
        }
    }
}

#[cfg(test)]
mod tests;
