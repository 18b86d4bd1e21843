//! The service catalog: which enterprise service an MCP server reaches, the credential it is
//! expected to use and which legs of the lethal trifecta (private data, untrusted content,
//! external communication) it brings.
//!
//! The rows live in `agent/data/services.toml`, embedded at build time and parsed once. A
//! server is identified by [`lookup`] from its package (npm, PyPI, OCI image, binary), its
//! remote endpoint host, or its bare command; the endpoint wins because a bridge such as
//! `mcp-remote` reaches whatever URL it is given. Servers the catalog does not know get a
//! low-confidence [`guess`] from their name, environment variable names and URL host.
//!
//! This module only classifies. It does not decide severities, combine servers into a
//! trifecta, or read anything from disk or the network.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use muster_proto::v1::{Ecosystem, Package, RemoteEndpoint};
use serde::Deserialize;

use crate::discovery::package::program_name;

pub mod registry;

/// The schema version of `services.toml` this code understands.
pub const CATALOG_VERSION: u32 = 1;

pub(crate) const BUNDLED_TOML: &str = include_str!("../../data/services.toml");

static BUNDLED: LazyLock<Result<ServiceCatalog, CatalogError>> =
    LazyLock::new(|| ServiceCatalog::from_toml(BUNDLED_TOML));

/// Why a catalog text was rejected.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("service catalog does not match its schema: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("service catalog version {found} is not supported (expected {expected})")]
    Version { found: u32, expected: u32 },
    #[error("service catalog entry {entry:?}: {problem}")]
    InvalidEntry { entry: String, problem: String },
    #[error("matching key {key:?} belongs to both {first:?} and {second:?}")]
    DuplicateKey { key: String, first: String, second: String },
}

/// How a server is expected to authenticate to its service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// Delegated, interactive login (OAuth 2.x, device flow, a CLI's stored login).
    Oauth,
    /// A static app, bot or service key or token.
    ApiKey,
    /// A static token bound to one user.
    Pat,
    /// A database URI or host/user/password set.
    ConnectionString,
    /// No credential.
    None,
    /// A cloud provider's credential chain (profiles, ADC, kubeconfig).
    CloudCredentials,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Oauth => "oauth",
            AuthMode::ApiKey => "api-key",
            AuthMode::Pat => "pat",
            AuthMode::ConnectionString => "connection-string",
            AuthMode::None => "none",
            AuthMode::CloudCredentials => "cloud-credentials",
        }
    }
}

/// One leg of the lethal trifecta.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Leg {
    PrivateData,
    UntrustedContent,
    ExternalCommunication,
}

impl Leg {
    pub const ALL: [Leg; 3] = [Leg::PrivateData, Leg::UntrustedContent, Leg::ExternalCommunication];

    pub fn as_str(self) -> &'static str {
        match self {
            Leg::PrivateData => "private_data",
            Leg::UntrustedContent => "untrusted_content",
            Leg::ExternalCommunication => "external_communication",
        }
    }
}

/// What kind of service a server reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    SourceControl,
    Chat,
    Ticketing,
    Wiki,
    Docs,
    Database,
    Cloud,
    Iac,
    CiCd,
    Registry,
    Observability,
    IncidentManagement,
    Security,
    Identity,
    Payments,
    Crm,
    CustomerSupport,
    Email,
    Messaging,
    Files,
    Notes,
    Design,
    Browser,
    WebFetch,
    WebSearch,
    Filesystem,
    Shell,
    Memory,
    Utility,
    DeveloperTool,
    Proxy,
    Automation,
    Productivity,
    FeatureFlags,
    Maps,
    AiPlatform,
}

/// One known MCP server product and the service it reaches.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEntry {
    /// Stable, unique entry id (e.g. `github-official`).
    pub id: String,
    /// The primary service id (e.g. `github`, `postgres`, `aws`).
    pub service: String,
    /// Further services the same server reaches (e.g. `confluence` beside `jira`).
    #[serde(default)]
    pub also: Vec<String>,
    pub category: Category,
    pub auth: AuthMode,
    /// Unmaintained, archived or deprecated upstream.
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub npm: Vec<String>,
    #[serde(default)]
    pub pypi: Vec<String>,
    #[serde(default)]
    pub oci: Vec<String>,
    #[serde(default)]
    pub binaries: Vec<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Legs the server brings with its default tools.
    #[serde(default)]
    pub legs: Vec<Leg>,
    /// Legs it brings only with some tools, scopes or setups.
    #[serde(default)]
    pub maybe_legs: Vec<Leg>,
    /// One line on why these legs.
    pub reason: String,
    /// Where the row was checked (a reference row or another note).
    pub source: String,
}

impl ServiceEntry {
    /// The server brings `leg` with its default tools.
    pub fn brings(&self, leg: Leg) -> bool {
        self.legs.contains(&leg)
    }

    /// The server brings `leg` by default or with some tools enabled.
    pub fn may_bring(&self, leg: Leg) -> bool {
        self.brings(leg) || self.maybe_legs.contains(&leg)
    }

    /// Every service id this server reaches, the primary first.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.service.as_str()).chain(self.also.iter().map(String::as_str))
    }
}

/// Signals that point at a service when the catalog has no row for a server.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuessHint {
    pub service: String,
    pub category: Category,
    pub auth: AuthMode,
    /// Exact environment variable names (compared ignoring ASCII case).
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub env_prefixes: Vec<String>,
    /// Words of a server name (lower-case).
    #[serde(default)]
    pub words: Vec<String>,
    /// A URL host equal to, or a subdomain of, one of these.
    #[serde(default)]
    pub host_suffixes: Vec<String>,
    #[serde(default)]
    pub legs: Vec<Leg>,
}

/// How sure a classification is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confidence {
    /// An exact catalog match on package, binary or endpoint host.
    High,
    /// Inferred from names only; the server may be something else entirely.
    Low,
}

/// Which signal a guess rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuessBasis {
    EnvVar(String),
    Host(String),
    NameWord(String),
    EnvPrefix(String),
}

/// A low-confidence classification of a server the catalog does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guess<'a> {
    pub service: &'a str,
    pub category: Category,
    pub auth: AuthMode,
    pub legs: &'a [Leg],
    pub basis: GuessBasis,
    /// Always [`Confidence::Low`].
    pub confidence: Confidence,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    version: u32,
    #[serde(default)]
    server: Vec<ServiceEntry>,
    #[serde(default)]
    hint: Vec<GuessHint>,
}

/// A parsed and indexed service catalog.
#[derive(Debug)]
pub struct ServiceCatalog {
    entries: Vec<ServiceEntry>,
    hints: Vec<GuessHint>,
    by_id: HashMap<String, usize>,
    by_npm: HashMap<String, usize>,
    by_pypi: HashMap<String, usize>,
    by_oci: HashMap<String, usize>,
    by_binary: HashMap<String, usize>,
    /// Exact `host` or `host:port` keys.
    by_host: HashMap<String, usize>,
    /// `*.suffix` patterns, stored as `.suffix`.
    host_wildcards: Vec<(String, usize)>,
}

impl ServiceCatalog {
    /// Parses and validates a catalog text; every matching key must belong to one entry.
    pub fn from_toml(text: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile = toml::from_str(text)?;
        if file.version != CATALOG_VERSION {
            return Err(CatalogError::Version { found: file.version, expected: CATALOG_VERSION });
        }
        let mut catalog = ServiceCatalog {
            entries: Vec::new(),
            hints: Vec::new(),
            by_id: HashMap::new(),
            by_npm: HashMap::new(),
            by_pypi: HashMap::new(),
            by_oci: HashMap::new(),
            by_binary: HashMap::new(),
            by_host: HashMap::new(),
            host_wildcards: Vec::new(),
        };
        for (index, entry) in file.server.iter().enumerate() {
            validate_entry(entry)?;
            insert_key(&mut catalog.by_id, &file.server, entry.id.clone(), index)?;
            for name in &entry.npm {
                insert_key(&mut catalog.by_npm, &file.server, name.clone(), index)?;
            }
            for name in &entry.pypi {
                insert_key(&mut catalog.by_pypi, &file.server, normalize_pypi(name), index)?;
            }
            for image in &entry.oci {
                insert_key(&mut catalog.by_oci, &file.server, normalize_oci(image), index)?;
            }
            for binary in &entry.binaries {
                insert_key(&mut catalog.by_binary, &file.server, binary.to_ascii_lowercase(), index)?;
            }
            for host in &entry.hosts {
                let host = host.to_ascii_lowercase();
                match host.strip_prefix('*') {
                    Some(suffix) => {
                        if let Some((_, other)) = catalog.host_wildcards.iter().find(|(s, _)| s == suffix) {
                            return Err(duplicate(&host, &file.server, *other, index));
                        }
                        catalog.host_wildcards.push((suffix.to_string(), index));
                    }
                    None => insert_key(&mut catalog.by_host, &file.server, host, index)?,
                }
            }
        }
        for hint in &file.hint {
            validate_hint(hint)?;
        }
        catalog.entries = file.server;
        catalog.hints = file.hint;
        Ok(catalog)
    }

    pub fn entries(&self) -> &[ServiceEntry] {
        &self.entries
    }

    pub fn hints(&self) -> &[GuessHint] {
        &self.hints
    }

    /// The entry with this id.
    pub fn get(&self, id: &str) -> Option<&ServiceEntry> {
        self.by_id.get(id).map(|&i| &self.entries[i])
    }

    /// The catalog entry for a server, by endpoint host first (a bridge reaches its URL), then
    /// package, then the program name of a bare command. A bridge whose URL is unknown
    /// resolves to the bridge's own entry.
    pub fn lookup(
        &self,
        package: Option<&Package>,
        endpoint: Option<&RemoteEndpoint>,
        command: Option<&str>,
    ) -> Option<&ServiceEntry> {
        let index = endpoint
            .and_then(|e| self.index_by_endpoint(e))
            .or_else(|| package.and_then(|p| self.index_by_package(p)))
            .or_else(|| command.and_then(|c| self.by_binary.get(&program_name(c)).copied()))?;
        self.entries.get(index)
    }

    fn index_by_endpoint(&self, endpoint: &RemoteEndpoint) -> Option<usize> {
        let host = normalize_host(&endpoint.host);
        if host.is_empty() {
            return None;
        }
        if let Some(port) = endpoint.port
            && let Some(&i) = self.by_host.get(&format!("{host}:{port}"))
        {
            return Some(i);
        }
        if let Some(&i) = self.by_host.get(&host) {
            return Some(i);
        }
        // The most specific pattern wins (`*.eu.example.com` over `*.example.com`).
        self.host_wildcards
            .iter()
            .filter(|(suffix, _)| host.ends_with(suffix.as_str()))
            .max_by_key(|(suffix, _)| suffix.len())
            .map(|(_, i)| *i)
    }

    fn index_by_package(&self, package: &Package) -> Option<usize> {
        match package.ecosystem() {
            Ecosystem::Npm => self.by_npm.get(&package.name).copied(),
            Ecosystem::Pypi => self.by_pypi.get(&normalize_pypi(&package.name)).copied(),
            Ecosystem::Oci => self.by_oci.get(&normalize_oci(&package.name)).copied(),
            // A local path such as `/opt/homebrew/bin/github-mcp-server` is still that binary.
            Ecosystem::Binary | Ecosystem::Local => self.by_binary.get(&program_name(&package.name)).copied(),
            Ecosystem::Unspecified => None,
        }
    }

    /// A low-confidence guess for a server the catalog does not know. Signals are tried from
    /// strongest to weakest: an exact env var name, a URL host under a known domain, a word of
    /// the server name, then an env var prefix. Within one signal, hints in file order win.
    pub fn guess(&self, name: &str, env_names: &[impl AsRef<str>], url_host: Option<&str>) -> Option<Guess<'_>> {
        let env_upper: Vec<String> = env_names.iter().map(|e| e.as_ref().to_ascii_uppercase()).collect();
        for hint in &self.hints {
            if let Some(env) = env_upper.iter().find(|e| hint.env.iter().any(|h| h.eq_ignore_ascii_case(e))) {
                return Some(make_guess(hint, GuessBasis::EnvVar(env.clone())));
            }
        }
        if let Some(host) = url_host.map(normalize_host).filter(|h| !h.is_empty()) {
            for hint in &self.hints {
                if hint.host_suffixes.iter().any(|s| host == *s || host.ends_with(&format!(".{s}"))) {
                    return Some(make_guess(hint, GuessBasis::Host(host)));
                }
            }
        }
        let lowered = name.to_ascii_lowercase();
        let words: Vec<&str> = lowered.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
        for hint in &self.hints {
            if let Some(word) = hint.words.iter().find(|w| words.contains(&w.as_str())) {
                return Some(make_guess(hint, GuessBasis::NameWord(word.clone())));
            }
        }
        // Run-together names (`mygithubserver`): only long words, to keep `pg` or `fs` from
        // matching inside unrelated names.
        for hint in &self.hints {
            if let Some(word) = hint.words.iter().find(|w| w.len() >= 5 && lowered.contains(w.as_str())) {
                return Some(make_guess(hint, GuessBasis::NameWord(word.clone())));
            }
        }
        for hint in &self.hints {
            for prefix in &hint.env_prefixes {
                if let Some(env) = env_upper.iter().find(|e| e.starts_with(&prefix.to_ascii_uppercase())) {
                    return Some(make_guess(hint, GuessBasis::EnvPrefix(env.clone())));
                }
            }
        }
        None
    }
}

fn make_guess(hint: &GuessHint, basis: GuessBasis) -> Guess<'_> {
    Guess {
        service: hint.service.as_str(),
        category: hint.category,
        auth: hint.auth,
        legs: &hint.legs,
        basis,
        confidence: Confidence::Low,
    }
}

/// The catalog shipped inside the agent, parsed on first use.
pub fn bundled() -> Result<&'static ServiceCatalog, &'static CatalogError> {
    BUNDLED.as_ref()
}

/// [`ServiceCatalog::lookup`] on the bundled catalog (`None` if it failed to parse, which a
/// unit test rules out).
pub fn lookup(
    package: Option<&Package>,
    endpoint: Option<&RemoteEndpoint>,
    command: Option<&str>,
) -> Option<&'static ServiceEntry> {
    bundled().ok()?.lookup(package, endpoint, command)
}

/// [`ServiceCatalog::guess`] on the bundled catalog.
pub fn guess(name: &str, env_names: &[impl AsRef<str>], url_host: Option<&str>) -> Option<Guess<'static>> {
    bundled().ok()?.guess(name, env_names, url_host)
}

/// PEP 503 name normalisation: lower-case, runs of `-`, `_`, `.` become one `-`.
pub fn normalize_pypi(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator {
                out.push('-');
            }
            in_separator = true;
        } else {
            out.push(c.to_ascii_lowercase());
            in_separator = false;
        }
    }
    out
}

/// An image name without tag, digest, Docker Hub registry prefix or `library/`.
pub fn normalize_oci(image: &str) -> String {
    let lower = image.trim().to_ascii_lowercase();
    let without_digest = lower.split('@').next().unwrap_or(&lower);
    let last_slash = without_digest.rfind('/').map(|i| i + 1).unwrap_or(0);
    let without_tag = match without_digest[last_slash..].rfind(':') {
        Some(i) => &without_digest[..last_slash + i],
        None => without_digest,
    };
    let mut name = without_tag;
    for registry in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] {
        if let Some(rest) = name.strip_prefix(registry) {
            name = rest;
        }
    }
    name.strip_prefix("library/").unwrap_or(name).to_string()
}

fn normalize_host(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn insert_key(
    map: &mut HashMap<String, usize>,
    entries: &[ServiceEntry],
    key: String,
    index: usize,
) -> Result<(), CatalogError> {
    if let Some(&other) = map.get(&key) {
        return Err(duplicate(&key, entries, other, index));
    }
    map.insert(key, index);
    Ok(())
}

fn duplicate(key: &str, entries: &[ServiceEntry], first: usize, second: usize) -> CatalogError {
    CatalogError::DuplicateKey {
        key: key.to_string(),
        first: entries[first].id.clone(),
        second: entries[second].id.clone(),
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn validate_entry(entry: &ServiceEntry) -> Result<(), CatalogError> {
    let invalid = |problem: &str| CatalogError::InvalidEntry { entry: entry.id.clone(), problem: problem.to_string() };
    if !is_slug(&entry.id) {
        return Err(invalid("id must be a lower-case slug"));
    }
    if !entry.services().all(is_slug) {
        return Err(invalid("service ids must be lower-case slugs"));
    }
    if entry.reason.trim().is_empty() || entry.reason.contains('\n') {
        return Err(invalid("reason must be one non-empty line"));
    }
    if entry.source.trim().is_empty() {
        return Err(invalid("source must name where the row was checked"));
    }
    let keys = entry.npm.len() + entry.pypi.len() + entry.oci.len() + entry.binaries.len() + entry.hosts.len();
    if keys == 0 {
        return Err(invalid("no npm, pypi, oci, binaries or hosts key to match on"));
    }
    let all_keys = entry.npm.iter().chain(&entry.pypi).chain(&entry.oci).chain(&entry.binaries).chain(&entry.hosts);
    if all_keys.clone().any(|k| k.trim().is_empty() || k.chars().any(char::is_whitespace)) {
        return Err(invalid("matching keys must be non-empty and contain no whitespace"));
    }
    if entry.hosts.iter().any(|h| h.contains('/') || (h.contains('*') && !h.starts_with("*."))) {
        return Err(invalid("hosts are `host`, `host:port` or `*.domain`, without scheme or path"));
    }
    let mut seen = HashSet::new();
    if !entry.legs.iter().chain(&entry.maybe_legs).all(|leg| seen.insert(*leg)) {
        return Err(invalid("a leg is listed twice (legs and maybe_legs must not overlap)"));
    }
    Ok(())
}

fn validate_hint(hint: &GuessHint) -> Result<(), CatalogError> {
    let invalid =
        |problem: &str| CatalogError::InvalidEntry { entry: format!("hint:{}", hint.service), problem: problem.into() };
    if !is_slug(&hint.service) {
        return Err(invalid("service id must be a lower-case slug"));
    }
    if hint.env.is_empty() && hint.env_prefixes.is_empty() && hint.words.is_empty() && hint.host_suffixes.is_empty() {
        return Err(invalid("a hint needs at least one signal"));
    }
    if hint.words.iter().any(|w| w.is_empty() || !w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())) {
        return Err(invalid("name words are lower-case alphanumeric"));
    }
    let mut seen = HashSet::new();
    if !hint.legs.iter().all(|leg| seen.insert(*leg)) {
        return Err(invalid("a leg is listed twice"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
