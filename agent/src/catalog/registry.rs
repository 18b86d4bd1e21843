//! MCP Registry data from a data bundle (`registry_json`, normalised by the control plane's
//! `data import-registry`; `docs/adr/0021-mcp-registry-import.md`): which canonical registry
//! name a discovered server has, which of its environment variables and headers the registry
//! marks `isSecret`, and whether the version it runs is deprecated or deleted there.
//!
//! A server is matched by its remote endpoint first (a registry remote's URL, `{variable}`
//! templates matching one path segment or host label each), then by its package (registry type
//! and identifier). Pure: no IO, no values. Deciding what a match means for credentials and
//! findings is the analysis's (`crate::analysis`).

use std::collections::{BTreeSet, HashMap};

use muster_proto::v1::{Ecosystem, Package, RemoteEndpoint};
use serde::Deserialize;

/// The normalised format this code reads.
pub const REGISTRY_FORMAT: u32 = 1;

/// Why registry data was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry data does not match its schema: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("registry data format {found} is not supported (expected {REGISTRY_FORMAT})")]
    Format { found: u32 },
    #[error("registry server {index}: {problem}")]
    Invalid { index: usize, problem: String },
}

#[derive(Debug, Deserialize)]
struct RegistryFile {
    format: u32,
    servers: Vec<RegistryServer>,
}

/// One version of one registry server. Members a newer control plane adds are ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct RegistryServer {
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub title: String,
    /// `active`, `deprecated` or `deleted`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub status_message: String,
    #[serde(default)]
    pub packages: Vec<RegistryPackage>,
    #[serde(default)]
    pub remotes: Vec<RegistryRemote>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RegistryPackage {
    pub registry_type: String,
    pub identifier: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub environment_variables: Vec<RegistryVariable>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RegistryRemote {
    #[serde(rename = "type")]
    pub transport: String,
    pub url: String,
    #[serde(default)]
    pub headers: Vec<RegistryVariable>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RegistryVariable {
    pub name: String,
    #[serde(default)]
    pub is_secret: bool,
}

/// What the registry says about one discovered server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryMatch {
    /// The canonical registry name (`io.github.owner/server`).
    pub name: String,
    /// Environment variables marked `isSecret` (any version of the matched package).
    pub secret_env: BTreeSet<String>,
    /// Headers marked `isSecret` (lower-case; any version of the matched remote).
    pub secret_headers: BTreeSet<String>,
    /// The running version's status when the registry marks it deprecated or deleted:
    /// (version, status, status message).
    pub retired: Option<(String, String, String)>,
}

/// Registry data indexed for matching; empty when a bundle carries none.
#[derive(Debug, Default)]
pub struct RegistryIndex {
    servers: Vec<RegistryServer>,
    /// (registry type, normalised identifier) -> indices into `servers`.
    by_package: HashMap<(String, String), Vec<usize>>,
}

impl RegistryIndex {
    /// Parses and checks the normalised registry part of a bundle.
    pub fn from_json(text: &str) -> Result<RegistryIndex, RegistryError> {
        let file: RegistryFile = serde_json::from_str(text)?;
        if file.format != REGISTRY_FORMAT {
            return Err(RegistryError::Format { found: file.format });
        }
        let mut by_package: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (index, server) in file.servers.iter().enumerate() {
            if server.name.split_once('/').is_none_or(|(a, b)| a.is_empty() || b.is_empty()) {
                return Err(RegistryError::Invalid {
                    index,
                    problem: format!("name {:?} is not canonical", server.name),
                });
            }
            for package in &server.packages {
                let key = (package.registry_type.to_ascii_lowercase(), identifier_key(package));
                by_package.entry(key).or_default().push(index);
            }
        }
        Ok(RegistryIndex { servers: file.servers, by_package })
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    pub fn servers(&self) -> &[RegistryServer] {
        &self.servers
    }

    /// What the registry says about a server with this package and endpoint (the agent's raw
    /// parse); `None` when it names neither.
    pub fn lookup(&self, package: Option<&Package>, endpoint: Option<&RemoteEndpoint>) -> Option<RegistryMatch> {
        if let Some(endpoint) = endpoint
            && let Some(found) = self.by_endpoint(endpoint)
        {
            return Some(found);
        }
        self.by_package(package?)
    }

    fn by_endpoint(&self, endpoint: &RemoteEndpoint) -> Option<RegistryMatch> {
        let url = endpoint_url(endpoint);
        let hits: Vec<&RegistryServer> = self
            .servers
            .iter()
            .filter(|s| s.remotes.iter().any(|r| template_matches(&normal_url(&r.url), &url)))
            .collect();
        let first = hits.first()?;
        let name = first.name.clone();
        let mut found = RegistryMatch { name: name.clone(), ..RegistryMatch::default() };
        for server in hits.iter().filter(|s| s.name == name) {
            for remote in server.remotes.iter().filter(|r| template_matches(&normal_url(&r.url), &url)) {
                found
                    .secret_headers
                    .extend(remote.headers.iter().filter(|h| h.is_secret).map(|h| h.name.to_ascii_lowercase()));
            }
        }
        Some(found)
    }

    fn by_package(&self, package: &Package) -> Option<RegistryMatch> {
        let registry_type = match package.ecosystem() {
            Ecosystem::Npm => "npm",
            Ecosystem::Pypi => "pypi",
            Ecosystem::Oci => "oci",
            _ => return None,
        };
        let key = (registry_type.to_string(), normal_identifier(registry_type, &package.name));
        let indices = self.by_package.get(&key)?;
        let first = indices.first().and_then(|&i| self.servers.get(i))?;
        let mut found = RegistryMatch { name: first.name.clone(), ..RegistryMatch::default() };
        for server in indices.iter().filter_map(|&i| self.servers.get(i)).filter(|s| s.name == first.name) {
            let packages = server
                .packages
                .iter()
                .filter(|p| p.registry_type.eq_ignore_ascii_case(registry_type) && identifier_key(p) == key.1);
            for p in packages {
                found.secret_env.extend(p.environment_variables.iter().filter(|v| v.is_secret).map(|v| v.name.clone()));
                let version = if p.version.is_empty() { &server.version } else { &p.version };
                let running = package.version.as_deref().map(|v| v.trim_start_matches('v'));
                let retired = matches!(server.status.as_str(), "deprecated" | "deleted");
                if retired && !version.is_empty() && running == Some(version.trim_start_matches('v')) {
                    found.retired = Some((version.clone(), server.status.clone(), server.status_message.clone()));
                }
            }
        }
        Some(found)
    }
}

/// The identifier a package is matched on: npm names as written, PyPI names normalised
/// (PEP 503), OCI references without tag, digest or the default registry.
fn identifier_key(package: &RegistryPackage) -> String {
    normal_identifier(&package.registry_type.to_ascii_lowercase(), &package.identifier)
}

fn normal_identifier(registry_type: &str, identifier: &str) -> String {
    match registry_type {
        "pypi" => identifier.to_ascii_lowercase().replace(['_', '.'], "-"),
        "oci" => {
            let without_digest = identifier.split('@').next().unwrap_or(identifier);
            let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
            let name = match without_digest[last_slash..].find(':') {
                Some(colon) => &without_digest[..last_slash + colon],
                None => without_digest,
            };
            let name = name.strip_prefix("docker.io/").unwrap_or(name);
            name.strip_prefix("library/").unwrap_or(name).to_ascii_lowercase()
        }
        _ => identifier.to_string(),
    }
}

/// `scheme://host[:port]/path` of an endpoint, lower-case host, no trailing slash.
fn endpoint_url(endpoint: &RemoteEndpoint) -> String {
    let port = endpoint.port.map(|p| format!(":{p}")).unwrap_or_default();
    normal_url(&format!("{}://{}{port}{}", endpoint.scheme, endpoint.host, endpoint.path))
}

/// Without query, fragment and trailing slash; scheme and host lower-case.
fn normal_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    format!("{}://{}{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), path.trim_end_matches('/'))
}

/// A registry URL with `{variable}` templates against a concrete URL: each template matches one
/// or more characters other than `/`, `.` (in the host) and `?`.
fn template_matches(template: &str, url: &str) -> bool {
    let Some(open) = template.find('{') else { return template == url };
    let Some(close) = template[open..].find('}').map(|c| open + c) else { return template == url };
    let (literal, rest) = (&template[..open], &template[close + 1..]);
    let Some(tail) = url.strip_prefix(literal) else { return false };
    let in_host = literal.split_once("://").is_some_and(|(_, after)| !after.contains('/'));
    let stop = |c: char| c == '/' || (in_host && c == '.');
    // Try every split of the variable's text (at least one character).
    let limit = tail.find(stop).unwrap_or(tail.len());
    (1..=limit).any(|end| template_matches(rest, &tail[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: &str = r#"{"format": 1, "servers": [
        {"name": "io.github.example-org/ledger-mcp", "version": "1.9.0", "status": "deprecated",
         "status_message": "upgrade to 2.x",
         "packages": [{"registry_type": "npm", "identifier": "@example-org/ledger-mcp", "version": "1.9.0",
                       "environment_variables": [{"name": "LEDGER_TOKEN", "is_secret": true}]}]},
        {"name": "io.github.example-org/ledger-mcp", "version": "2.1.0", "status": "active",
         "packages": [{"registry_type": "npm", "identifier": "@example-org/ledger-mcp", "version": "2.1.0",
                       "environment_variables": [{"name": "LEDGER_TOKEN", "is_secret": true},
                                                 {"name": "LEDGER_REGION"}]}]},
        {"name": "com.example.weather/forecast", "version": "0.4.2", "status": "active", "future_member": 1,
         "remotes": [{"type": "streamable-http", "url": "https://{tenant}.weather.example.com/mcp/",
                      "headers": [{"name": "X-Forecast-Key", "is_secret": true}]}]},
        {"name": "io.github.example-org/notes", "status": "active",
         "packages": [{"registry_type": "pypi", "identifier": "Example_Notes.MCP"},
                      {"registry_type": "oci", "identifier": "docker.io/example/notes-mcp:1.0.0"}]}
    ]}"#;

    fn npm(name: &str, version: Option<&str>) -> Package {
        Package {
            ecosystem: Ecosystem::Npm as i32,
            name: name.into(),
            version: version.map(str::to_string),
            pinned: version.is_some(),
        }
    }

    #[test]
    fn a_package_matches_by_identifier_with_its_secret_variables_and_retired_versions() {
        let index = RegistryIndex::from_json(DATA).unwrap();
        let old = index.lookup(Some(&npm("@example-org/ledger-mcp", Some("1.9.0"))), None).unwrap();
        assert_eq!(old.name, "io.github.example-org/ledger-mcp");
        assert_eq!(old.secret_env, BTreeSet::from(["LEDGER_TOKEN".to_string()]));
        assert_eq!(old.retired, Some(("1.9.0".into(), "deprecated".into(), "upgrade to 2.x".into())));
        let new = index.lookup(Some(&npm("@example-org/ledger-mcp", Some("2.1.0"))), None).unwrap();
        assert_eq!(new.retired, None);
        assert_eq!(index.lookup(Some(&npm("@example-org/ledger-mcp", None)), None).unwrap().retired, None);
        assert!(index.lookup(Some(&npm("@example-org/other", Some("1.9.0"))), None).is_none());
        let pypi = Package { ecosystem: Ecosystem::Pypi as i32, name: "example-notes-mcp".into(), ..npm("", None) };
        assert_eq!(index.lookup(Some(&pypi), None).unwrap().name, "io.github.example-org/notes");
        let oci = Package { ecosystem: Ecosystem::Oci as i32, name: "example/notes-mcp".into(), ..npm("", None) };
        assert_eq!(index.lookup(Some(&oci), None).unwrap().name, "io.github.example-org/notes");
    }

    #[test]
    fn a_remote_matches_by_url_template_with_its_secret_headers() {
        let index = RegistryIndex::from_json(DATA).unwrap();
        let endpoint = |host: &str, path: &str| RemoteEndpoint {
            scheme: "https".into(),
            host: host.into(),
            port: None,
            path: path.into(),
            auth: None,
        };
        let hit = index.lookup(None, Some(&endpoint("acme.weather.example.com", "/mcp"))).unwrap();
        assert_eq!(hit.name, "com.example.weather/forecast");
        assert_eq!(hit.secret_headers, BTreeSet::from(["x-forecast-key".to_string()]));
        assert!(index.lookup(None, Some(&endpoint("a.b.weather.example.com", "/mcp"))).is_none(), "one label");
        assert!(index.lookup(None, Some(&endpoint("acme.weather.example.com", "/other"))).is_none());
        assert!(index.lookup(None, Some(&endpoint("weather.example.com", "/mcp"))).is_none());
    }

    #[test]
    fn malformed_registry_data_is_refused() {
        assert!(matches!(
            RegistryIndex::from_json(r#"{"format": 2, "servers": []}"#),
            Err(RegistryError::Format { .. })
        ));
        assert!(RegistryIndex::from_json(r#"{"format": 1, "servers": [{"name": 3}]}"#).is_err());
        assert!(matches!(
            RegistryIndex::from_json(r#"{"format": 1, "servers": [{"name": "plain"}]}"#),
            Err(RegistryError::Invalid { index: 0, .. })
        ));
        assert!(RegistryIndex::from_json(r#"{"format": 1, "servers": []}"#).unwrap().is_empty());
    }
}
