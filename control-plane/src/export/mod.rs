//! Exports of the inventory for other tools: CSV for spreadsheets, CycloneDX 1.6 JSON for SBOM
//! tooling, OCSF JSON lines of findings for SIEMs.
//!
//! Each format is a pure function from the plain structs below ([`ExportHost`], [`ExportServer`],
//! [`ExportFinding`]) to a writer, so it can be tested without a database and streamed host by
//! host. [`load_host`] is the one adapter from the store to those structs. The HTTP handlers that
//! serve them are `crate::http::exports`: this library knows nothing of HTTP.
//!
//! **Invariant:** the structs hold nothing the wire model does not: names, masked arguments and
//! URLs, credential fingerprints, never a secret value.

pub mod csv;
pub mod cyclonedx;
pub mod ocsf;

use std::collections::BTreeMap;

use muster_proto::WireWord;
use muster_proto::v1::{CredentialSource, Ecosystem, McpServer, Os, Scope, Severity, Transport};
use muster_proto::words::UNSPECIFIED;

use crate::store::exports::StoredFinding;
use crate::store::{HostInventory, Store, StoreError};
pub(crate) use crate::timefmt::rfc3339;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write csv")]
    Csv(#[from] ::csv::Error),
    #[error("cannot write json")]
    Json(#[from] serde_json::Error),
    #[error("cannot write export")]
    Io(#[from] std::io::Error),
}

/// One endpoint (laptop) with everything an export shows about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportHost {
    pub agent_id: String,
    pub hostname: String,
    pub os: ExportOs,
    pub os_version: String,
    pub arch: String,
    /// Unix seconds of the scan the stored state comes from.
    pub scanned_at: i64,
    pub servers: Vec<ExportServer>,
    /// Every finding on the host: about servers (see `server_ids`) and about clients or users.
    pub findings: Vec<ExportFinding>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExportOs {
    #[default]
    Unknown,
    Linux,
    Macos,
    Windows,
}

impl ExportOs {
    /// The proto table's word; "" when unknown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "",
            Self::Linux => Os::Linux.word(),
            Self::Macos => Os::Macos.word(),
            Self::Windows => Os::Windows.word(),
        }
    }
}

/// One MCP server as one client on the host runs or reaches it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportServer {
    pub id: String,
    pub name: String,
    pub client: String,
    pub user: String,
    /// "user", "project", "managed" or "".
    pub scope: &'static str,
    /// "stdio", "sse", "http", "ws" or "".
    pub transport: &'static str,
    pub config_path: String,
    pub project: String,
    /// Masked by the agent.
    pub command: String,
    /// Masked by the agent (userinfo and query values).
    pub url: String,
    pub package: Option<ExportPackage>,
    /// Enterprise service id from the catalog; empty when unknown.
    pub service: String,
    pub disabled: bool,
    pub credentials: Vec<ExportCredential>,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageEcosystem {
    Npm,
    Pypi,
    Oci,
    Local,
    Binary,
}

impl PackageEcosystem {
    /// The proto table's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Npm => Ecosystem::Npm.word(),
            Self::Pypi => Ecosystem::Pypi.word(),
            Self::Oci => Ecosystem::Oci.word(),
            Self::Local => Ecosystem::Local.word(),
            Self::Binary => Ecosystem::Binary.word(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPackage {
    pub ecosystem: PackageEcosystem,
    /// As the agent reported it: `@scope/name`, a PyPI project name, `registry/repo/name`, a path.
    pub name: String,
    /// A version, range, tag or `sha256:` digest as configured.
    pub version: Option<String>,
    /// An exact registry version (see ARCHITECTURE.md, "pinned").
    pub pinned: bool,
}

/// Where a server's credential is and what kind it is; never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportCredential {
    pub location: String,
    pub kind: String,
    pub provider: String,
    /// The secret is written in the configuration (rather than referenced).
    pub literal: bool,
    /// For a reference: where the secret is kept (`environment`, `secret_manager`, `prompt`,
    /// `file`), the `muster.v1.ReferenceKind` word; `unspecified` for a literal and for an agent
    /// too old to say.
    pub reference_kind: &'static str,
    /// Keyed fingerprint (empty for references).
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFinding {
    /// Stable across reports while the finding stays the same: see [`finding_uid`].
    pub uid: String,
    /// Catalog id, e.g. `MUSTER-SECRET-ENV`.
    pub finding_id: String,
    pub severity: Severity,
    pub owasp: String,
    pub message: String,
    /// Servers the finding is about (empty for findings about a client or user as a whole).
    pub server_ids: Vec<String>,
    pub client: String,
    pub user: String,
    /// From the findings catalog (empty for an id it does not know): what the finding is and how
    /// to fix it.
    pub title: String,
    pub remediation: String,
}

/// A stable id for one finding on one agent: SHA-256 over what identifies it, 128 bits in hex.
/// The same finding in the next report gets the same uid; webhooks use it to tell new findings.
pub fn finding_uid(agent_id: &str, finding: &StoredFinding) -> String {
    finding_uid_of(
        agent_id,
        &finding.server_id,
        &finding.finding_id,
        &finding.client,
        &finding.user,
        &finding.server_ids.join(","),
        &finding.message,
    )
}

pub use crate::ingest::finding_uid::finding_uid_of;

fn severity(value: i32) -> Severity {
    Severity::try_from(value).unwrap_or(Severity::Unspecified)
}

fn package(server: &McpServer) -> Option<ExportPackage> {
    let package = server.package.as_ref()?;
    let ecosystem = match Ecosystem::try_from(package.ecosystem).ok()? {
        Ecosystem::Npm => PackageEcosystem::Npm,
        Ecosystem::Pypi => PackageEcosystem::Pypi,
        Ecosystem::Oci => PackageEcosystem::Oci,
        Ecosystem::Local => PackageEcosystem::Local,
        Ecosystem::Binary => PackageEcosystem::Binary,
        Ecosystem::Unspecified => return None,
    };
    if package.name.is_empty() {
        return None;
    }
    Some(ExportPackage {
        ecosystem,
        name: package.name.clone(),
        version: package.version.clone().filter(|v| !v.is_empty()),
        pinned: package.pinned,
    })
}

/// The word of a stored enum number from the proto table; "" when unspecified or unknown.
fn word_or_empty<T: WireWord>(value: i32) -> &'static str {
    match T::word_of(value) {
        UNSPECIFIED => "",
        word => word,
    }
}

fn scope(value: i32) -> &'static str {
    word_or_empty::<Scope>(value)
}

fn transport(value: i32) -> &'static str {
    word_or_empty::<Transport>(value)
}

/// The export structs of one host from what the store holds: its inventory (host row and server
/// timestamps), the stored server messages and the stored findings. Pure.
pub fn host_from_parts(
    agent_id: &str,
    inventory: &HostInventory,
    servers: &[McpServer],
    findings: &[StoredFinding],
) -> ExportHost {
    let seen: BTreeMap<&str, (i64, i64)> =
        inventory.servers.iter().map(|s| (s.server_id.as_str(), (s.first_seen_at, s.last_seen_at))).collect();
    let (hostname, os, os_version, arch, scanned_at) = match &inventory.host {
        Some(h) => (h.hostname.clone(), h.os, h.os_version.clone(), h.arch.clone(), h.scanned_at),
        None => Default::default(),
    };
    ExportHost {
        agent_id: agent_id.to_string(),
        hostname,
        os: match Os::try_from(os) {
            Ok(Os::Linux) => ExportOs::Linux,
            Ok(Os::Macos) => ExportOs::Macos,
            Ok(Os::Windows) => ExportOs::Windows,
            _ => ExportOs::Unknown,
        },
        os_version,
        arch,
        scanned_at,
        servers: servers
            .iter()
            .map(|server| {
                let (first_seen_at, last_seen_at) = seen.get(server.id.as_str()).copied().unwrap_or_default();
                ExportServer {
                    id: server.id.clone(),
                    name: server.name.clone(),
                    client: server.client.clone(),
                    user: server.user.clone(),
                    scope: scope(server.scope),
                    transport: transport(server.transport),
                    config_path: server.config_path.clone(),
                    project: server.project.clone(),
                    command: server.command.clone(),
                    url: server.url.clone(),
                    package: package(server),
                    service: server.service.clone(),
                    disabled: server.disabled,
                    credentials: server
                        .credentials
                        .iter()
                        .map(|c| ExportCredential {
                            location: c.location.clone(),
                            kind: c.kind.clone(),
                            provider: c.provider.clone(),
                            literal: c.source == CredentialSource::Literal as i32,
                            reference_kind: muster_proto::v1::ReferenceKind::word_of(c.reference_kind),
                            fingerprint: c.fingerprint.clone(),
                        })
                        .collect(),
                    first_seen_at,
                    last_seen_at,
                }
            })
            .collect(),
        findings: findings
            .iter()
            .map(|f| ExportFinding {
                uid: finding_uid(agent_id, f),
                finding_id: f.finding_id.clone(),
                severity: severity(f.severity),
                owasp: f.owasp.clone(),
                message: f.message.clone(),
                server_ids: if f.server_ids.is_empty() && !f.server_id.is_empty() {
                    vec![f.server_id.clone()]
                } else {
                    f.server_ids.clone()
                },
                client: f.client.clone(),
                user: f.user.clone(),
                title: crate::finding_catalog::title(&f.finding_id).to_string(),
                remediation: crate::finding_catalog::remediation(&f.finding_id).to_string(),
            })
            .collect(),
    }
}

/// Loads one host's export structs; `None` when the agent has never reported.
pub async fn load_host(store: &dyn Store, agent_id: &str) -> Result<Option<ExportHost>, StoreError> {
    let inventory = store.host_inventory(agent_id).await?;
    if inventory.host.is_none() {
        return Ok(None);
    }
    let servers = store.server_details(agent_id).await?;
    let findings = store.agent_findings(agent_id).await?;
    Ok(Some(host_from_parts(agent_id, &inventory, &servers, &findings)))
}

/// The ids of every agent that could have reported, in enrollment order.
pub async fn fleet_agent_ids(store: &dyn Store) -> Result<Vec<String>, StoreError> {
    Ok(store.list_agents().await?.into_iter().map(|agent| agent.id).collect())
}
