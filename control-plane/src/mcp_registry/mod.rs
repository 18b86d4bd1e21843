//! The MCP Registry the control plane serves to clients whose only lever is a registry URL set
//! in their vendor's console (Amazon Q / Kiro, VS Code's and Copilot's registry-only mode): the
//! servers the fleet runs that the policy in force allows, in the MCP Registry `v0.1` format
//! (`server.json` entries in `{servers, metadata}` pages).
//!
//! [`Catalog::build`] is pure: fed every active endpoint's stored inventory and the decisions
//! `muster_policy::evaluate` makes on it, it keeps each server that can be written as a registry
//! entry (a local server launched from a pinned `npm`, `pypi` or `oci` package, or a remote
//! `http` / `sse` server) and that no endpoint has a `block` or `quarantine` against, due now or
//! after a grace period. An exception lifts a violation on its own endpoint only, so a server
//! some endpoint needs an exception for is not served fleet-wide. Without a published policy,
//! nothing is decided, so every expressible server is served. [`catalog`] is the use-case that
//! walks the store; [`Catalog::page`] cuts one page.
//!
//! Only the masked wire model is read, and only names of environment variables and headers are
//! served (marked `isSecret` where the agent found a credential there); a remote is served as
//! scheme, host, port and path, never its query or user info. This module neither writes nor
//! decides access (the route is public and rate-limited in `crate::http::mcp_registry_api`).

use std::collections::{BTreeMap, BTreeSet};

use muster_policy::{Action, Bundle, Decisions};
use muster_proto::v1::{Ecosystem, InventorySnapshot, McpServer, Transport};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::{Store, StoreError};

/// The namespace of every served name (`local.muster/<slug>`): the registry format needs a
/// reverse-DNS namespace, and these entries are the fleet's own, not a vendor's.
pub const NAMESPACE: &str = "local.muster";
/// The `server.json` schema the entries follow.
pub const SCHEMA: &str = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json";
/// The registry metadata key of `_meta`.
pub const OFFICIAL_META: &str = "io.modelcontextprotocol.registry/official";
/// Page size when `limit` is not given, and the largest accepted.
pub const DEFAULT_LIMIT: usize = 30;
pub const MAX_LIMIT: usize = 100;
/// Version of entries that have none of their own (remote servers).
const REMOTE_VERSION: &str = "0.0.0";

/// Why the registry could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored current version does not parse (a bug: publishing parses it).
    #[error("the published policy does not parse: {0}")]
    Policy(#[from] muster_policy::PolicyError),
    #[error("limit must be between 1 and {MAX_LIMIT}")]
    Limit,
    #[error("version: only `latest` is supported")]
    Version,
}

/// One `server.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerJson {
    #[serde(rename = "$schema")]
    pub schema: String,
    /// `local.muster/<slug>`.
    pub name: String,
    pub description: String,
    pub version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<RegistryPackage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remotes: Vec<RegistryRemote>,
}

/// A package a local server is launched from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryPackage {
    /// `npm`, `pypi` or `oci`.
    pub registry_type: String,
    /// The package name, or for `oci` the full image reference with its tag or digest.
    pub identifier: String,
    /// The pinned version (absent for `oci`, whose identifier carries it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `npx`, `uvx` or `docker`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_hint: Option<String>,
    pub transport: RegistryTransport,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environment_variables: Vec<NamedInput>,
}

/// `{ "type": "stdio" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RegistryTransport {
    #[serde(rename = "type")]
    pub kind: String,
}

/// A remote server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryRemote {
    /// `streamable-http` or `sse`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Scheme, host, port and path; never a query or user info.
    pub url: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<NamedInput>,
}

/// An environment variable or header a user supplies: its name only, never a value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamedInput {
    pub name: String,
    /// True where the agent found a credential in it.
    pub is_secret: bool,
}

/// One entry of a list, with the registry metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ServerResponse {
    pub server: ServerJson,
    #[serde(rename = "_meta")]
    pub meta: ResponseMeta,
}

/// `_meta` of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ResponseMeta {
    #[serde(rename = "io.modelcontextprotocol.registry/official")]
    pub official: OfficialMeta,
}

/// The registry's own facts about an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OfficialMeta {
    /// Always `active`: what the policy does not allow is not listed at all.
    pub status: String,
    /// When the policy in force was published (RFC 3339); absent without a policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    pub is_latest: bool,
}

/// A page: `{servers, metadata: {nextCursor, count}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ServerList {
    pub servers: Vec<ServerResponse>,
    pub metadata: ListMetadata,
}

/// Paging facts of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListMetadata {
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Entries on this page.
    pub count: usize,
}

/// What identifies one registry entry: the package and pinned version, or the remote URL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Identity {
    Package { registry_type: &'static str, identifier: String, version: String },
    Remote { kind: &'static str, url: String },
}

impl Identity {
    /// The entry's identity, or None when the server cannot be written as a registry entry.
    fn of(server: &McpServer) -> Option<Self> {
        let transport = Transport::try_from(server.transport).unwrap_or(Transport::Unspecified);
        match transport {
            Transport::Stdio => {
                let package = server.package.as_ref()?;
                let version = package.version.clone().filter(|_| package.pinned)?;
                let registry_type = match Ecosystem::try_from(package.ecosystem).ok()? {
                    Ecosystem::Npm => "npm",
                    Ecosystem::Pypi => "pypi",
                    Ecosystem::Oci => "oci",
                    _ => return None,
                };
                Some(Identity::Package { registry_type, identifier: package.name.clone(), version })
            }
            Transport::Http | Transport::Sse => {
                let endpoint = server.endpoint.as_ref()?;
                if endpoint.host.is_empty() || !matches!(endpoint.scheme.as_str(), "http" | "https") {
                    return None;
                }
                let port = endpoint.port.map(|p| format!(":{p}")).unwrap_or_default();
                let path =
                    if endpoint.path.starts_with('/') { endpoint.path.clone() } else { format!("/{}", endpoint.path) };
                let url = format!("{}://{}{port}{path}", endpoint.scheme, endpoint.host);
                let kind = if transport == Transport::Sse { "sse" } else { "streamable-http" };
                Some(Identity::Remote { kind, url })
            }
            _ => None,
        }
    }

    /// The part of the name before slugging: the package name, or the remote host.
    fn base(&self) -> String {
        match self {
            Identity::Package { identifier, .. } => identifier.clone(),
            Identity::Remote { url, .. } => {
                url.split("://").nth(1).and_then(|rest| rest.split(['/', ':']).next()).unwrap_or("").to_string()
            }
        }
    }

    /// What `name` groups versions by: the package without its version, or the URL.
    fn series(&self) -> (u8, &str, &str) {
        match self {
            Identity::Package { registry_type, identifier, .. } => (0, registry_type, identifier),
            Identity::Remote { kind, url } => (1, kind, url),
        }
    }
}

/// What the fleet says about one identity.
#[derive(Debug, Default)]
struct Seen {
    /// Some endpoint has a block or quarantine against it that no exception lifts fleet-wide.
    refused: bool,
    services: BTreeSet<String>,
    env: BTreeMap<String, bool>,
    headers: BTreeMap<String, bool>,
    runtime_hint: Option<String>,
}

/// The served servers, sorted by name then version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    entries: Vec<ServerResponse>,
}

/// Feeds [`Catalog::build`]: every endpoint's inventory with the decisions on it.
#[derive(Debug, Default)]
pub struct CatalogBuilder {
    seen: BTreeMap<Identity, Seen>,
}

impl CatalogBuilder {
    /// Adds one endpoint (its decisions: None when no policy is published).
    pub fn add(&mut self, snapshot: &InventorySnapshot, decisions: Option<&Decisions>) {
        let refused: BTreeSet<&str> = decisions
            .map(|d| {
                d.servers
                    .iter()
                    .filter(|s| s.violations.iter().any(|v| matches!(v.action, Action::Block | Action::Quarantine)))
                    .map(|s| s.server_id.as_str())
                    .collect()
            })
            .unwrap_or_default();
        for server in &snapshot.servers {
            let Some(identity) = Identity::of(server) else { continue };
            let seen = self.seen.entry(identity).or_default();
            seen.refused |= refused.contains(server.id.as_str());
            if !server.service.is_empty() {
                seen.services.insert(server.service.clone());
            }
            let secret_at = |prefix: &str, name: &str| {
                server
                    .credentials
                    .iter()
                    .any(|c| c.location.strip_prefix(prefix).is_some_and(|n| n.eq_ignore_ascii_case(name)))
            };
            for name in &server.env_names {
                *seen.env.entry(name.clone()).or_default() |= secret_at("env:", name);
            }
            for name in &server.header_names {
                *seen.headers.entry(name.clone()).or_default() |= secret_at("header:", name);
            }
            if seen.runtime_hint.is_none() && matches!(server.command.as_str(), "npx" | "uvx" | "docker") {
                seen.runtime_hint = Some(server.command.clone());
            }
        }
    }

    /// The catalog: the identities no endpoint refuses, named and sorted.
    pub fn build(self, published_at: Option<i64>) -> Catalog {
        let published_at = published_at.map(crate::timefmt::rfc3339);
        // One name per series (package or URL), unique after slugging.
        let mut names: BTreeMap<(u8, String, String), String> = BTreeMap::new();
        let mut taken: BTreeSet<String> = BTreeSet::new();
        for identity in self.seen.iter().filter(|(_, s)| !s.refused).map(|(i, _)| i) {
            let (rank, kind, key) = identity.series();
            let series = (rank, kind.to_string(), key.to_string());
            if names.contains_key(&series) {
                continue;
            }
            let slug = slug(&identity.base());
            let mut name = format!("{NAMESPACE}/{slug}");
            let mut n = 2;
            while !taken.insert(name.clone()) {
                name = format!("{NAMESPACE}/{slug}-{n}");
                n += 1;
            }
            names.insert(series, name);
        }
        let mut entries: Vec<ServerResponse> = Vec::new();
        for (identity, seen) in self.seen.into_iter().filter(|(_, s)| !s.refused) {
            let (rank, kind, key) = identity.series();
            let Some(name) = names.get(&(rank, kind.to_string(), key.to_string())).cloned() else { continue };
            let inputs = |m: &BTreeMap<String, bool>| {
                m.iter().map(|(name, secret)| NamedInput { name: name.clone(), is_secret: *secret }).collect::<Vec<_>>()
            };
            let services: Vec<&str> = seen.services.iter().map(String::as_str).collect();
            let (version, packages, remotes, what) = match &identity {
                Identity::Package { registry_type, identifier, version } => {
                    let oci = *registry_type == "oci";
                    let reference = if !oci {
                        identifier.clone()
                    } else if version.contains(':') {
                        format!("{identifier}@{version}")
                    } else {
                        format!("{identifier}:{version}")
                    };
                    let package = RegistryPackage {
                        registry_type: registry_type.to_string(),
                        identifier: reference,
                        version: (!oci).then(|| version.clone()),
                        runtime_hint: seen.runtime_hint.clone(),
                        transport: RegistryTransport { kind: "stdio".into() },
                        environment_variables: inputs(&seen.env),
                    };
                    (version.clone(), vec![package], vec![], format!("{registry_type} package {identifier}"))
                }
                Identity::Remote { kind, url } => {
                    let remote =
                        RegistryRemote { kind: kind.to_string(), url: url.clone(), headers: inputs(&seen.headers) };
                    (REMOTE_VERSION.to_string(), vec![], vec![remote], format!("remote server {url}"))
                }
            };
            let description = if services.is_empty() {
                format!("{what}, run in the fleet and allowed by policy")
            } else {
                format!("{what} ({}), run in the fleet and allowed by policy", services.join(", "))
            };
            entries.push(ServerResponse {
                server: ServerJson { schema: SCHEMA.into(), name, description, version, packages, remotes },
                meta: ResponseMeta {
                    official: OfficialMeta {
                        status: "active".into(),
                        published_at: published_at.clone(),
                        is_latest: false,
                    },
                },
            });
        }
        entries.sort_by(|a, b| {
            (a.server.name.as_str(), version_order(&a.server.version))
                .cmp(&(b.server.name.as_str(), version_order(&b.server.version)))
        });
        // The last version of each name is its latest.
        for i in 0..entries.len() {
            let last = entries.get(i + 1).is_none_or(|next| next.server.name != entries[i].server.name);
            entries[i].meta.official.is_latest = last;
        }
        Catalog { entries }
    }
}

/// Orders versions by their numeric parts first (`1.10.0` after `1.9.2`), then as text.
fn version_order(version: &str) -> (Vec<u64>, &str) {
    let numbers =
        version.trim_start_matches('v').split(['.', '-', '+']).map_while(|part| part.parse::<u64>().ok()).collect();
    (numbers, version)
}

/// A name part the registry accepts (`[a-zA-Z0-9._-]`, not empty).
fn slug(base: &str) -> String {
    let mut out = String::new();
    for c in base.trim_start_matches('@').chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() { "server".to_string() } else { out }
}

impl Catalog {
    /// All entries, sorted by name then version.
    pub fn entries(&self) -> &[ServerResponse] {
        &self.entries
    }

    /// One page: entries after `cursor` (the `nextCursor` of the previous page), at most `limit`
    /// (default [`DEFAULT_LIMIT`]), only the latest version of each name when `latest_only`,
    /// only names or descriptions containing `search` (case-insensitive) when given.
    pub fn page(
        &self,
        cursor: Option<&str>,
        limit: Option<usize>,
        latest_only: bool,
        search: Option<&str>,
    ) -> Result<ServerList, RegistryError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(RegistryError::Limit);
        }
        let search = search.map(str::to_lowercase);
        let mut matching = self
            .entries
            .iter()
            .filter(|e| !latest_only || e.meta.official.is_latest)
            .filter(|e| {
                search.as_deref().is_none_or(|s| {
                    e.server.name.to_lowercase().contains(s) || e.server.description.to_lowercase().contains(s)
                })
            })
            .filter(|e| cursor.is_none_or(|c| cursor_of(e).as_str() > c))
            .peekable();
        let mut servers = Vec::new();
        while servers.len() < limit {
            match matching.next() {
                Some(entry) => servers.push(entry.clone()),
                None => break,
            }
        }
        let next_cursor = match (matching.peek(), servers.last()) {
            (Some(_), Some(last)) => Some(cursor_of(last)),
            _ => None,
        };
        Ok(ServerList { metadata: ListMetadata { next_cursor, count: servers.len() }, servers })
    }

    /// The latest version of `name`.
    pub fn latest(&self, name: &str) -> Option<&ServerResponse> {
        self.entries.iter().find(|e| e.server.name == name && e.meta.official.is_latest)
    }

    /// The entry `name` at `version`.
    pub fn version(&self, name: &str, version: &str) -> Option<&ServerResponse> {
        self.entries.iter().find(|e| e.server.name == name && e.server.version == version)
    }
}

/// The cursor after `entry`: its position in the catalog's order, as text that sorts the same
/// way (the name, a separator below every name character, the version's sort key).
fn cursor_of(entry: &ServerResponse) -> String {
    let (numbers, text) = version_order(&entry.server.version);
    let numbers: Vec<String> = numbers.iter().map(|n| format!("{n:020}")).collect();
    format!("{}\u{1}{}\u{1}{text}", entry.server.name, numbers.join("."))
}

/// The use-case: the catalog under the policy in force at `now`, from every active endpoint.
pub async fn catalog(store: &dyn Store, now: i64) -> Result<Catalog, RegistryError> {
    let current = store.current_policy().await?;
    let bundle: Option<Bundle> =
        current.as_ref().map(|record| muster_policy::parse(&record.source_text)).transpose()?;
    let mut builder = CatalogBuilder::default();
    crate::policy_preview::for_each_endpoint(store, |agent_id, snapshot| {
        let decisions = bundle.as_ref().map(|b| crate::policy_preview::dry_run::decide(b, agent_id, snapshot, now));
        builder.add(snapshot, decisions.as_ref());
    })
    .await?;
    Ok(builder.build(current.and_then(|r| r.published_at)))
}

#[cfg(test)]
mod tests;
