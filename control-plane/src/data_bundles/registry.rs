//! MCP Registry import: reads `server.json` documents (one, an array of them, or a registry list
//! response `{"servers": [{"server": {...}, "_meta": {...}}], "metadata": {...}}`) and normalises
//! them into the registry part of a data bundle (`registry_json`), the form agents read
//! (`docs/adr/0021-mcp-registry-import.md`).
//!
//! Only what the agents use is kept: the canonical name, title and description, the packages
//! (registry type, identifier, version, environment variable names and their `isSecret`), the
//! remotes (type, URL, header names and their `isSecret`) and the status the official registry
//! keeps in `_meta` (active, deprecated, deleted). Values (defaults, header values, arguments)
//! are never carried. A malformed document is refused as a whole with the exact place of the
//! first problem: the document index and JSON path, and the line and column when the text is not
//! JSON at all. Fetching a URL, page by page, is [`fetch_registry`]; storing and publishing are the use-case's
//! (`super::import_registry`). This module does not serve `/v0.1/servers`
//! (`crate::mcp_registry` does) and does not widen what that endpoint shows.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The normalised format version agents read (`RegistryData::format`).
pub const REGISTRY_FORMAT: u32 = 1;
/// The `_meta` key the official registry keeps its status under.
pub const OFFICIAL_META: &str = "io.modelcontextprotocol.registry/official";
/// Largest document accepted, from a file or a URL (bytes).
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
/// How long fetching a URL may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_NAME: usize = 200;

/// The registry part of a data bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryData {
    pub format: u32,
    /// Sorted by name, then version; one entry per name and version.
    pub servers: Vec<RegistryServer>,
}

/// One version of one registry server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryServer {
    /// Canonical reverse-DNS name, e.g. `io.github.owner/server`.
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `active`, `deprecated` or `deleted`.
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status_message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<RegistryPackage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remotes: Vec<RegistryRemote>,
}

/// A package a server is installed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryPackage {
    /// `npm`, `pypi`, `oci`, `nuget`, `mcpb`, ... (lower-case).
    pub registry_type: String,
    pub identifier: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment_variables: Vec<RegistryVariable>,
}

/// A remote endpoint a server is reached at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryRemote {
    /// `streamable-http` or `sse`.
    #[serde(rename = "type")]
    pub transport: String,
    /// May hold `{variable}` templates.
    pub url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<RegistryVariable>,
}

/// An environment variable or header a server takes: its name and whether it holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryVariable {
    pub name: String,
    #[serde(default)]
    pub is_secret: bool,
}

/// Why an import was refused, with the place of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("{source_name}: not JSON at line {line}, column {column}: {message}")]
    Syntax { source_name: String, line: usize, column: usize, message: String },
    #[error("{source_name}: document {index} ({path}): {problem}")]
    Document { source_name: String, index: usize, path: String, problem: String },
    #[error("{source_name}: {problem}")]
    Input { source_name: String, problem: String },
}

/// Parses `text` (named `source_name` in errors) in any of the three shapes.
pub fn parse(source_name: &str, text: &[u8]) -> Result<RegistryData, RegistryError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(RegistryError::Input {
            source_name: source_name.to_string(),
            problem: format!("larger than {MAX_DOCUMENT_BYTES} bytes"),
        });
    }
    let value: Value = serde_json::from_slice(text).map_err(|e| RegistryError::Syntax {
        source_name: source_name.to_string(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    from_value(source_name, &value)
}

/// Like [`parse`], from a JSON value (the admin API's request body).
pub fn from_value(source_name: &str, value: &Value) -> Result<RegistryData, RegistryError> {
    // (path of the server object, the server object, the wrapper's `_meta`)
    let mut documents: Vec<(String, &Value, Option<&Value>)> = Vec::new();
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                documents.push((format!("$[{i}]"), item, None));
            }
        }
        Value::Object(map) if map.contains_key("servers") => {
            let Some(items) = map.get("servers").and_then(Value::as_array) else {
                return Err(RegistryError::Input {
                    source_name: source_name.to_string(),
                    problem: "$.servers: expected an array".into(),
                });
            };
            for (i, item) in items.iter().enumerate() {
                let path = format!("$.servers[{i}]");
                let bad = |problem: &str| RegistryError::Document {
                    source_name: source_name.to_string(),
                    index: i,
                    path: path.clone(),
                    problem: problem.to_string(),
                };
                let Some(wrapper) = item.as_object() else { return Err(bad("expected an object")) };
                match wrapper.get("server") {
                    Some(server) => documents.push((format!("{path}.server"), server, wrapper.get("_meta"))),
                    None => return Err(bad("expected a `server` member")),
                }
            }
        }
        Value::Object(_) => documents.push(("$".into(), value, None)),
        _ => {
            return Err(RegistryError::Input {
                source_name: source_name.to_string(),
                problem: "expected a server.json object, an array of them or a registry list response".into(),
            });
        }
    }
    let mut servers = BTreeMap::new();
    for (index, (path, server, meta)) in documents.into_iter().enumerate() {
        let normalised = normalise(server, meta, &path).map_err(|(path, problem)| RegistryError::Document {
            source_name: source_name.to_string(),
            index,
            path,
            problem,
        })?;
        // The same name and version twice (overlapping pages): the later one wins.
        servers.insert((normalised.name.clone(), normalised.version.clone()), normalised);
    }
    Ok(RegistryData { format: REGISTRY_FORMAT, servers: servers.into_values().collect() })
}

type Problem = (String, String);

fn normalise(server: &Value, wrapper_meta: Option<&Value>, path: &str) -> Result<RegistryServer, Problem> {
    let object = server.as_object().ok_or_else(|| (path.to_string(), "expected an object".to_string()))?;
    let name = required_str(server, path, "name")?;
    if !valid_name(&name) {
        return Err((
            format!("{path}.name"),
            "expected a reverse-DNS name like `io.github.owner/server` (one `/`, at most 200 characters)".into(),
        ));
    }
    let packages = match object.get("packages") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, p)| package(p, &format!("{path}.packages[{i}]")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err((format!("{path}.packages"), "expected an array".into())),
    };
    let remotes = match object.get("remotes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, r)| remote(r, &format!("{path}.remotes[{i}]")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err((format!("{path}.remotes"), "expected an array".into())),
    };
    // The official registry's status: in the list response's wrapper, or (older responses) in the
    // server's own `_meta`. A document with none is active.
    let (meta, meta_path) = match wrapper_meta {
        Some(meta) => (Some(meta), format!("{}._meta", path.trim_end_matches(".server"))),
        None => (object.get("_meta"), format!("{path}._meta")),
    };
    let (status, status_message) = status(meta, &meta_path)?;
    Ok(RegistryServer {
        name,
        version: optional_str(server, path, "version")?,
        title: optional_str(server, path, "title")?,
        description: optional_str(server, path, "description")?,
        status,
        status_message,
        packages,
        remotes,
    })
}

fn package(value: &Value, path: &str) -> Result<RegistryPackage, Problem> {
    if !value.is_object() {
        return Err((path.to_string(), "expected an object".into()));
    }
    let registry_type = required_str(value, path, "registryType")?.to_ascii_lowercase();
    let identifier = required_str(value, path, "identifier")?;
    Ok(RegistryPackage {
        registry_type,
        identifier,
        version: optional_str(value, path, "version")?,
        environment_variables: variables(value, path, "environmentVariables")?,
    })
}

fn remote(value: &Value, path: &str) -> Result<RegistryRemote, Problem> {
    if !value.is_object() {
        return Err((path.to_string(), "expected an object".into()));
    }
    Ok(RegistryRemote {
        transport: required_str(value, path, "type")?,
        url: required_str(value, path, "url")?,
        headers: variables(value, path, "headers")?,
    })
}

fn variables(value: &Value, path: &str, member: &str) -> Result<Vec<RegistryVariable>, Problem> {
    let items = match value.get(member) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err((format!("{path}.{member}"), "expected an array".into())),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let here = format!("{path}.{member}[{i}]");
        if !item.is_object() {
            return Err((here, "expected an object".into()));
        }
        let is_secret = match item.get("isSecret") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err((format!("{here}.isSecret"), "expected true or false".into())),
        };
        out.push(RegistryVariable { name: required_str(item, &here, "name")?, is_secret });
    }
    Ok(out)
}

fn status(meta: Option<&Value>, path: &str) -> Result<(String, String), Problem> {
    let Some(official) = meta.and_then(|m| m.get(OFFICIAL_META)) else { return Ok(("active".into(), String::new())) };
    let here = format!("{path}[\"{OFFICIAL_META}\"]");
    if !official.is_object() {
        return Err((here, "expected an object".into()));
    }
    let status = optional_str(official, &here, "status")?;
    let status = match status.as_str() {
        "" | "active" => "active",
        "deprecated" => "deprecated",
        "deleted" => "deleted",
        _ => return Err((format!("{here}.status"), "expected active, deprecated or deleted".into())),
    };
    Ok((status.to_string(), optional_str(official, &here, "statusMessage")?))
}

fn required_str(value: &Value, path: &str, member: &str) -> Result<String, Problem> {
    match value.get(member) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::String(_)) => Err((format!("{path}.{member}"), "must not be empty".into())),
        Some(_) => Err((format!("{path}.{member}"), "expected a string".into())),
        None => Err((format!("{path}.{member}"), "is missing".into())),
    }
}

fn optional_str(value: &Value, path: &str, member: &str) -> Result<String, Problem> {
    match value.get(member) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.trim().to_string()),
        Some(_) => Err((format!("{path}.{member}"), "expected a string".into())),
    }
}

fn valid_name(name: &str) -> bool {
    let Some((namespace, rest)) = name.split_once('/') else { return false };
    let ok = |s: &str, extra: &[char]| {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || extra.contains(&c))
    };
    name.len() <= MAX_NAME && ok(namespace, &[]) && ok(rest, &['_'])
}

/// serde_json appends " at line L column C"; the place is reported on its own.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Why a URL could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: only http and https URLs are fetched")]
    Scheme { url: String },
    #[error("{url}: cannot fetch: {message}")]
    Transport { url: String, message: String },
    #[error("{url}: answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge { url: String },
}

/// Most pages of a paginated list response followed by [`fetch_registry`].
pub const MAX_PAGES: usize = 200;

/// Why a registry URL could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Document(#[from] RegistryError),
    #[error("{url}: more than {MAX_PAGES} pages")]
    TooManyPages { url: String },
}

/// Fetches and normalises registry data from `url`, following a list response's
/// `metadata.nextCursor` (as `cursor=`) until the last page; each page is checked on its own
/// and named by its URL in a refusal.
pub async fn fetch_registry(url: &str) -> Result<RegistryData, ImportError> {
    let mut servers = BTreeMap::new();
    let mut page_url = url.to_string();
    for _ in 0..MAX_PAGES {
        let bytes = fetch(&page_url).await?;
        let page = parse(&page_url, &bytes)?;
        for server in page.servers {
            servers.insert((server.name.clone(), server.version.clone()), server);
        }
        let cursor = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.pointer("/metadata/nextCursor").and_then(Value::as_str).map(str::to_string))
            .filter(|c| !c.is_empty());
        match cursor {
            Some(cursor) => page_url = with_cursor(url, &cursor)?,
            None => return Ok(RegistryData { format: REGISTRY_FORMAT, servers: servers.into_values().collect() }),
        }
    }
    Err(ImportError::TooManyPages { url: url.to_string() })
}

/// `url` with its `cursor` query parameter set to `cursor`.
fn with_cursor(url: &str, cursor: &str) -> Result<String, FetchError> {
    let mut parsed =
        reqwest::Url::parse(url).map_err(|e| FetchError::Transport { url: url.to_string(), message: e.to_string() })?;
    let kept: Vec<(String, String)> =
        parsed.query_pairs().filter(|(k, _)| k != "cursor").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    parsed.query_pairs_mut().clear().extend_pairs(kept).append_pair("cursor", cursor);
    Ok(parsed.to_string())
}

/// Fetches a registry document from `url` (a `/v0.1/servers` page or a `server.json`), bounded
/// in time and size. Redirects are followed (at most the client's default); no credential is
/// sent.
pub async fn fetch(url: &str) -> Result<Vec<u8>, FetchError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(FetchError::Scheme { url: url.to_string() });
    }
    let transport = |e: reqwest::Error| FetchError::Transport { url: url.to_string(), message: e.to_string() };
    let client = reqwest::Client::builder().timeout(FETCH_TIMEOUT).build().map_err(transport)?;
    let mut response =
        client.get(url).header(http::header::ACCEPT, "application/json").send().await.map_err(transport)?;
    if !response.status().is_success() {
        return Err(FetchError::Status { url: url.to_string(), status: response.status().as_u16() });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(FetchError::TooLarge { url: url.to_string() });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests;
