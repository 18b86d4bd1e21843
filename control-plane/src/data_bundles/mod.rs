//! Signed data bundles: the service catalog and the advisory bundle agents analyse with,
//! published by an admin and pushed over `Policy.Watch` so agents get current data without an
//! upgrade (`docs/adr/0016-signed-data-bundles.md`). Shared by `muster-server data publish` and
//! `/api/v1/data-bundles`.
//!
//! [`publish`] checks each part is well-formed (the catalog is TOML of a known `version`, the
//! advisories a JSON array, the credential formats parsed and every key shape compiled by the
//! agent's own code, `muster_keyshapes`, so a part agents would refuse is refused here with its
//! line and column), writes the JSON document with the next version (Unix seconds of
//! publication, strictly above the last), stores it with its author, reason and digest, and tells
//! the [`DataBundleListener`] (the serving control plane). The agents check every part against
//! their own schema and refuse what they cannot read, keeping the data they had. [`signed`] is
//! the envelope the Watch streams send, signed by the same key and code as policies
//! (`Pki::sign_policy`) over the data bundle's own domain-separated message. Use-cases return an
//! [`AuditEvent`] and never write it; they never see HTTP.
//!
//! [`import_registry`] turns MCP Registry documents ([`registry`]) into the bundle's registry
//! part and publishes them in the same step, keeping the current bundle's other parts
//! (`docs/adr/0021-mcp-registry-import.md`); [`publish`] keeps the current registry part in turn.
//! [`refusals`] lists which agents refused which bundle and why (from their policy reports).

pub mod registry;

use std::path::Path;

use sha2::{Digest as _, Sha256};

use crate::audit::AuditEvent;
use crate::error::ActionError;
use crate::store::Store;
use crate::store::data_bundles::{DataBundleRecord, DataBundleSummary, DataRefusalRecord};

/// The document format written (the agent's `DATA_FORMAT`).
pub const DATA_FORMAT: u32 = 1;
/// Largest part accepted (bytes).
pub const MAX_PART_BYTES: usize = 8 * 1024 * 1024;
/// Longest reason kept with a bundle.
pub const MAX_REASON: usize = 500;
/// File names of the parts in a directory given to `data publish DIR`, as in `agent/data/`.
pub const SERVICES_FILE: &str = "services.toml";
pub const ADVISORIES_FILE: &str = "advisories.osv.json";
pub const CREDENTIALS_FILE: &str = "credentials.toml";
const PUBLISH_ATTEMPTS: usize = 5;

/// The data built into this control plane's release (the agent's `agent/data/`), for
/// `data publish --from-builtin`.
const BUILTIN_SERVICES: &str = include_str!("../../../agent/data/services.toml");
const BUILTIN_ADVISORIES: &str = include_str!("../../../agent/data/advisories.osv.json");
const BUILTIN_CREDENTIALS: &str = include_str!("../../../agent/data/credentials.toml");

/// The parts of a bundle; an absent part leaves the agents' built-in one in use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataParts {
    /// The service catalog (`services.toml`).
    pub services_toml: Option<String>,
    /// The advisory bundle (an OSV JSON array).
    pub advisories_osv_json: Option<String>,
    /// MCP Registry data, normalised ([`registry::RegistryData`] as JSON).
    pub registry_json: Option<String>,
    /// Credential formats (`credentials.toml`), merged by agents over their built-in ones
    /// (`docs/adr/0028-credential-formats-in-data-bundles.md`).
    pub credentials_toml: Option<String>,
}

impl DataParts {
    /// The data built into this release.
    pub fn builtin() -> DataParts {
        DataParts {
            services_toml: Some(BUILTIN_SERVICES.to_string()),
            advisories_osv_json: Some(BUILTIN_ADVISORIES.to_string()),
            registry_json: None,
            credentials_toml: Some(BUILTIN_CREDENTIALS.to_string()),
        }
    }

    /// The parts a stored bundle's document carries.
    pub fn of_document(document: &[u8]) -> Result<DataParts, ActionError> {
        let doc: serde_json::Value = serde_json::from_slice(document).map_err(ActionError::internal)?;
        let part = |name: &str| doc.get(name).and_then(serde_json::Value::as_str).map(str::to_string);
        Ok(DataParts {
            services_toml: part("services_toml"),
            advisories_osv_json: part("advisories_osv_json"),
            registry_json: part("registry_json"),
            credentials_toml: part("credentials_toml"),
        })
    }

    /// The parts found in `dir` ([`SERVICES_FILE`], [`ADVISORIES_FILE`], [`CREDENTIALS_FILE`]);
    /// at least one.
    pub fn from_dir(dir: &Path) -> Result<DataParts, ActionError> {
        let read = |name: &str| match std::fs::read_to_string(dir.join(name)) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ActionError::invalid(format!("cannot read {}: {e}", dir.join(name).display()))),
        };
        let parts = DataParts {
            services_toml: read(SERVICES_FILE)?,
            advisories_osv_json: read(ADVISORIES_FILE)?,
            registry_json: None,
            credentials_toml: read(CREDENTIALS_FILE)?,
        };
        if parts.names().is_empty() {
            return Err(ActionError::invalid(format!(
                "{} holds none of {SERVICES_FILE}, {ADVISORIES_FILE}, {CREDENTIALS_FILE}",
                dir.display()
            )));
        }
        Ok(parts)
    }

    fn names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.services_toml.is_some() {
            names.push("services");
        }
        if self.advisories_osv_json.is_some() {
            names.push("advisories");
        }
        if self.registry_json.is_some() {
            names.push("registry");
        }
        if self.credentials_toml.is_some() {
            names.push("credentials");
        }
        names
    }

    /// Every problem at once: empty when each part is well-formed.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.names().is_empty() {
            problems.push(
                "a data bundle needs a service catalog, an advisory bundle, registry data or credential formats"
                    .to_string(),
            );
        }
        if let Some(text) = &self.services_toml {
            if text.len() > MAX_PART_BYTES {
                problems.push(format!("services: at most {MAX_PART_BYTES} bytes"));
            } else {
                match text.parse::<toml::Table>() {
                    Ok(table) if table.get("version").and_then(toml::Value::as_integer) == Some(1) => {}
                    Ok(_) => problems.push("services: `version = 1` is missing".to_string()),
                    Err(e) => problems.push(format!("services: not TOML: {}", e.message())),
                }
            }
        }
        if let Some(text) = &self.advisories_osv_json {
            if text.len() > MAX_PART_BYTES {
                problems.push(format!("advisories: at most {MAX_PART_BYTES} bytes"));
            } else if let Err(e) = serde_json::from_str::<Vec<serde_json::Value>>(text) {
                problems.push(format!("advisories: not a JSON array of OSV records: {e}"));
            }
        }
        if let Some(text) = &self.registry_json {
            if text.len() > MAX_PART_BYTES {
                problems.push(format!("registry: at most {MAX_PART_BYTES} bytes"));
            } else {
                match serde_json::from_str::<registry::RegistryData>(text) {
                    Ok(data) if data.format == registry::REGISTRY_FORMAT => {}
                    Ok(data) => {
                        problems.push(format!("registry: format {} is not {}", data.format, registry::REGISTRY_FORMAT))
                    }
                    Err(e) => problems.push(format!("registry: not normalised registry data: {e}")),
                }
            }
        }
        if let Some(text) = &self.credentials_toml {
            if text.len() > MAX_PART_BYTES {
                problems.push(format!("credentials: at most {MAX_PART_BYTES} bytes"));
            } else if let Err(e) = muster_keyshapes::parse(text) {
                // The agent's own parser and regex compiler: what it would refuse, with the place.
                problems.push(format!("credentials: {e}"));
            }
        }
        problems
    }
}

/// Who must hear about a newly published bundle: the serving control plane pushes it to the
/// agents' open Watch streams. The CLI has none; a running server picks bundles published by
/// another process up by polling the store (`crate::state::follow_store`).
pub trait DataBundleListener: Send + Sync {
    fn data_bundle_published(&self, bundle: &DataBundleRecord);
}

/// For callers with nobody to tell (the CLI).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoListener;

impl DataBundleListener for NoListener {
    fn data_bundle_published(&self, _bundle: &DataBundleRecord) {}
}

/// The use-case: publishes `parts` as the next bundle, by `actor` for `reason`, at `now`; the
/// stored bundle and the audit event. Registry data is kept from the current bundle when `parts`
/// carry none (it is replaced by [`import_registry`] only). A refusal is audited by the caller
/// with [`refused`].
pub async fn publish(
    store: &dyn Store,
    listener: &dyn DataBundleListener,
    parts: &DataParts,
    actor: &str,
    reason: &str,
    now: i64,
) -> Result<(DataBundleRecord, AuditEvent), ActionError> {
    let mut parts = parts.clone();
    if parts.registry_json.is_none()
        && !parts.names().is_empty()
        && let Some(current) = store.current_data_bundle().await?
    {
        parts.registry_json = DataParts::of_document(&current.document)?.registry_json;
    }
    let record = store_next(store, listener, &parts, actor, reason, now).await?;
    let event = AuditEvent::new("data.publish", &format!("data/{}", record.version))
        .detail(&format!("parts {}, digest {}, reason {:?}", record.parts, record.digest, record.reason));
    Ok((record, event))
}

/// The use-case of `data import-registry`: `registry` (already parsed from `source`, a file name
/// or URL) replaces the registry part and is published as the next bundle in the same audited
/// step (`data.import-registry`), with the current bundle's catalog and advisories kept.
pub async fn import_registry(
    store: &dyn Store,
    listener: &dyn DataBundleListener,
    source: &str,
    registry: &registry::RegistryData,
    actor: &str,
    reason: &str,
    now: i64,
) -> Result<(DataBundleRecord, AuditEvent), ActionError> {
    let mut parts = match store.current_data_bundle().await? {
        Some(current) => DataParts::of_document(&current.document)?,
        None => DataParts::default(),
    };
    parts.registry_json = Some(serde_json::to_string(registry).map_err(ActionError::internal)?);
    let record = store_next(store, listener, &parts, actor, reason, now).await?;
    let count = |status: &str| registry.servers.iter().filter(|s| s.status == status).count();
    let event = AuditEvent::new("data.import-registry", &format!("data/{}", record.version)).detail(&format!(
        "source {source:?}, {} server version(s) ({} deprecated, {} deleted), parts {}, digest {}, reason {:?}",
        registry.servers.len(),
        count("deprecated"),
        count("deleted"),
        record.parts,
        record.digest,
        record.reason
    ));
    Ok((record, event))
}

/// The audit event of a refused registry import (nothing was stored).
pub fn import_refused(message: &str) -> AuditEvent {
    AuditEvent::new("data.import-registry", "data").detail(message)
}

/// Checks `parts` and stores them as the next version; tells `listener`.
async fn store_next(
    store: &dyn Store,
    listener: &dyn DataBundleListener,
    parts: &DataParts,
    actor: &str,
    reason: &str,
    now: i64,
) -> Result<DataBundleRecord, ActionError> {
    let reason = reason.trim();
    let mut problems = parts.problems();
    if reason.chars().count() > MAX_REASON {
        problems.push(format!("reason: at most {MAX_REASON} characters"));
    }
    if !problems.is_empty() {
        return Err(ActionError::invalid(format!("data bundle refused: {}", problems.join("; "))));
    }
    for _ in 0..PUBLISH_ATTEMPTS {
        let version = store.last_data_bundle_version().await?.saturating_add(1).max(u64::try_from(now).unwrap_or(0));
        let document = document(version, parts);
        let record = DataBundleRecord {
            version,
            digest: hex::encode(Sha256::digest(&document)),
            document,
            parts: parts.names().join(","),
            author: actor.to_string(),
            reason: reason.to_string(),
            created_at: now,
        };
        if store.insert_data_bundle(&record).await? {
            listener.data_bundle_published(&record);
            return Ok(record);
        }
    }
    Err(ActionError::internal(std::io::Error::other("data bundle versions kept being taken by concurrent publishes")))
}

/// The audit event of a refused publish (nothing was stored).
pub fn refused(message: &str) -> AuditEvent {
    AuditEvent::new("data.publish", "data").detail(message)
}

/// The bundle agents must hold, if any.
pub async fn current(store: &dyn Store) -> Result<Option<DataBundleRecord>, ActionError> {
    Ok(store.current_data_bundle().await?)
}

/// The newest `limit` bundles, newest first.
pub async fn history(store: &dyn Store, limit: u32) -> Result<Vec<DataBundleSummary>, ActionError> {
    Ok(store.data_bundle_history(limit).await?)
}

/// Most agents' refusals listed with the history.
pub const MAX_REFUSALS: u32 = 1000;

/// What agents reported about the bundles they refused (their last refusal each), newest
/// refused version first: which agents refused which version and why.
pub async fn refusals(store: &dyn Store) -> Result<Vec<DataRefusalRecord>, ActionError> {
    Ok(store.data_bundle_refusals(MAX_REFUSALS).await?)
}

/// The JSON document agents read: `format`, `version` and the parts present.
fn document(version: u64, parts: &DataParts) -> Vec<u8> {
    let mut doc = serde_json::Map::new();
    doc.insert("format".into(), DATA_FORMAT.into());
    doc.insert("version".into(), version.into());
    if let Some(text) = &parts.services_toml {
        doc.insert("services_toml".into(), text.as_str().into());
    }
    if let Some(text) = &parts.advisories_osv_json {
        doc.insert("advisories_osv_json".into(), text.as_str().into());
    }
    if let Some(text) = &parts.registry_json {
        doc.insert("registry_json".into(), text.as_str().into());
    }
    if let Some(text) = &parts.credentials_toml {
        doc.insert("credentials_toml".into(), text.as_str().into());
    }
    serde_json::Value::Object(doc).to_string().into_bytes()
}

/// The signed envelope of a stored bundle, as `Policy.Watch` sends it: an Ed25519 signature by
/// the policy signing key over `muster_proto::data_signing_message`.
pub fn signed(pki: &crate::pki::Pki, record: &DataBundleRecord) -> muster_proto::v1::DataBundle {
    let message = muster_proto::data_signing_message(record.version, record.created_at, &record.document);
    muster_proto::v1::DataBundle {
        version: record.version,
        document: record.document.clone(),
        issued_at_unix: record.created_at,
        signature: pki.sign_policy(&message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_parts_are_well_formed_and_broken_ones_are_named() {
        assert!(DataParts::builtin().problems().is_empty(), "{:?}", DataParts::builtin().problems());
        let broken = DataParts {
            services_toml: Some("version = 2\n".into()),
            advisories_osv_json: Some("{\"id\": \"x\"}".into()),
            registry_json: Some("{\"format\": 1}".into()),
            credentials_toml: Some("version = 1\n[[key]]\nprovider = \"x\"\nnote = 3\n".into()),
        };
        let problems = broken.problems();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].starts_with("services:") && problems[1].starts_with("advisories:"));
        assert!(problems[2].starts_with("registry:"), "{problems:?}");
        assert!(problems[3].starts_with("credentials: credential formats: line 4, column 8:"), "{problems:?}");
        assert!(!DataParts::default().problems().is_empty(), "an empty bundle is refused");
    }

    #[test]
    fn the_document_carries_the_version_and_only_the_parts_given() {
        let parts = DataParts { services_toml: Some("version = 1\n".into()), ..DataParts::default() };
        let doc: serde_json::Value = serde_json::from_slice(&document(7, &parts)).unwrap();
        assert_eq!(doc, serde_json::json!({"format": 1, "version": 7, "services_toml": "version = 1\n"}));
    }
}
