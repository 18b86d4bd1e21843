//! One MCP server entry as a client file wrote it, and the tolerant normaliser that reads the
//! common shapes every client shares (`command`/`cmd`, `args`, `env`/`envs`/`environment`,
//! `url`/`serverUrl`/`httpUrl`/`uri`, `headers`, `type`/`transport`, the enable toggles and
//! auto-approve lists).
//!
//! Raw values stay in [`Secret`]s: this module never formats one. Client modules call
//! [`normalise_entry`] with their [`Dialect`] and adjust what is special to them.

use serde_json::{Map, Value};

use crate::secrets::Secret;
use muster_proto::v1::Transport;

/// A server entry before it becomes an inventory record.
#[derive(Clone, Debug, Default)]
pub struct RawServer {
    pub name: String,
    pub transport: Option<Transport>,
    pub command: Option<String>,
    pub args: Vec<Secret>,
    /// Environment variables and their raw values (`None` when the value is not a string, or
    /// when the entry only names the variable, as Codex `env_vars` and Goose `env_keys` do).
    pub env: Vec<(String, Option<Secret>)>,
    pub url: Option<Secret>,
    pub headers: Vec<(String, Secret)>,
    pub disabled: bool,
    pub auto_approve_all: bool,
    pub auto_approve_tools: Vec<String>,
    pub cwd: Option<String>,
    /// "extension:<id>", "plugin:<name>", "subagent:<name>", "docker-gateway", ...
    pub origin: Option<String>,
    /// Project directory (as written on the scanned machine) for per-project entries.
    pub project: Option<String>,
    /// Other credential-bearing fields: (location, value), e.g. ("field:apiKey", ...),
    /// ("field:oauth.clientSecret", ...).
    pub extra_secrets: Vec<(String, Secret)>,
    /// Names of variables the client injects by reference (`env_vars`, `env_keys`,
    /// `bearer_token_env_var`, `env_http_headers`, `bearerTokenEnvVar`, `api_key_env`).
    pub env_references: Vec<(String, String)>,
}

/// What a URL without a `type` means to a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlDefault {
    /// Streamable HTTP (most clients).
    Http,
    /// SSE (Cline, Gemini CLI's `url` key).
    Sse,
}

/// Per-client differences the shared normaliser needs to know.
#[derive(Clone, Copy, Debug)]
pub struct Dialect {
    pub url_default: UrlDefault,
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect { url_default: UrlDefault::Http }
    }
}

impl Dialect {
    pub const SSE_URLS: Dialect = Dialect { url_default: UrlDefault::Sse };
}

/// Maps every transport spelling in use to the canonical transport.
pub fn transport_from_str(s: &str) -> Option<Transport> {
    match s.trim().to_ascii_lowercase().replace(['-', '_'], "").as_str() {
        "stdio" | "local" | "command" | "process" => Some(Transport::Stdio),
        "sse" | "serversentevents" => Some(Transport::Sse),
        "http" | "streamablehttp" | "streamable" | "remote" | "https" => Some(Transport::Http),
        "ws" | "websocket" | "tcp" => Some(Transport::Ws),
        _ => None,
    }
}

/// Fields of an entry the normaliser reads as launch fields, env or headers: not searched again.
const LAUNCH_FIELDS: &[&str] = &[
    "command",
    "cmd",
    "args",
    "arguments",
    "env",
    "envs",
    "environment",
    "url",
    "serverUrl",
    "httpUrl",
    "uri",
    "headers",
    "http_headers",
    "requestInit",
    "requestOptions",
    "type",
    "transportType",
    "transport",
    "env_vars",
    "env_keys",
    "env_http_headers",
    "name",
    "description",
    "cwd",
    "working_directory",
    "workingDirectory",
    "autoApprove",
    "alwaysAllow",
    "auto_approve",
    "autoApproveTools",
    "tools",
    "disabledTools",
    "enabledTools",
    "includeTools",
    "excludeTools",
    "trust",
];

/// At most this many values are taken from an entry's nested blocks (a hostile file cannot make
/// the detector judge millions of strings), this many levels down.
const NESTED_VALUES_MAX: usize = 256;
const NESTED_DEPTH_MAX: usize = 8;

/// Every string inside an entry's other fields — nested per-server settings blocks (Zed's
/// extension `settings`, a `config`/`options` object) and top-level strings under a secret-like
/// name — as `field:<path>` (`field:settings.api_key`, `field:accessToken`), for the detector to
/// judge with the path as the name. Launch fields, env and headers are read elsewhere.
pub fn nested_secrets(obj: &Map<String, Value>) -> Vec<(String, Secret)> {
    fn walk(path: &str, v: &Value, depth: usize, out: &mut Vec<(String, Secret)>) {
        if out.len() >= NESTED_VALUES_MAX || depth > NESTED_DEPTH_MAX {
            return;
        }
        match v {
            Value::String(text) if !text.is_empty() => out.push((format!("field:{path}"), Secret::new(text.as_str()))),
            Value::Object(map) => {
                for (k, child) in map {
                    walk(&format!("{path}.{k}"), child, depth + 1, out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(&format!("{path}.{i}"), child, depth + 1, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (key, v) in obj {
        // Indirections (`bearerTokenEnvVar`) name a variable and are read as references above.
        if LAUNCH_FIELDS.contains(&key.as_str()) || crate::secrets::reference::is_indirection_field(key) {
            continue;
        }
        match v {
            Value::Object(_) | Value::Array(_) => walk(key, v, 1, &mut out),
            Value::String(_) if crate::secrets::names::is_secret_like(key) => walk(key, v, 1, &mut out),
            _ => {}
        }
    }
    out
}

/// Whether a URL's path ends in `/sse` (query, fragment and a trailing `/` ignored): the
/// conventional endpoint of the legacy HTTP+SSE transport.
pub fn is_sse_path(url: &str) -> bool {
    let without_query = url.split(['?', '#']).next().unwrap_or(url);
    let Some(after_scheme) = without_query.split_once("://").map(|(_, rest)| rest) else { return false };
    let Some(path_start) = after_scheme.find('/') else { return false };
    let path = after_scheme[path_start..].trim_end_matches('/');
    path.len() >= 4 && path[path.len() - 4..].eq_ignore_ascii_case("/sse")
}

/// Why an entry could not be read; the rest of its file still is.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("server entry {name:?} is not an object")]
    NotAnObject { name: String },
    #[error("server entry {name:?}: field {field:?} has the wrong type (expected {expected})")]
    WrongType { name: String, field: &'static str, expected: &'static str },
    #[error("server entry {name:?} has neither a command nor a url")]
    NoLaunch { name: String },
}

/// Reads one entry in any of the common shapes. `name` is the map key or the entry's `name`.
pub fn normalise_entry(name: &str, value: &Value, dialect: Dialect) -> Result<RawServer, EntryError> {
    let obj = value.as_object().ok_or_else(|| EntryError::NotAnObject { name: name.to_string() })?;
    let wrong =
        |field: &'static str, expected: &'static str| EntryError::WrongType { name: name.to_string(), field, expected };
    let mut s = RawServer { name: name.to_string(), ..RawServer::default() };

    // Cline's CLI nests the launch fields under `transport: {type, command, args, url}`.
    let nested_transport = obj.get("transport").and_then(Value::as_object);
    let field = |k: &str| obj.get(k).or_else(|| nested_transport.and_then(|t| t.get(k)));

    // command: string, or an array (opencode/Kilo: program + args), or an object (very old Zed:
    // {path, args, env}).
    let mut command_args: Vec<Secret> = Vec::new();
    if let Some(cmd) = field("command").or_else(|| field("cmd")) {
        match cmd {
            Value::String(c) => s.command = Some(c.clone()),
            Value::Array(parts) => {
                let mut it = parts.iter();
                match it.next() {
                    Some(Value::String(c)) => s.command = Some(c.clone()),
                    Some(_) => return Err(wrong("command", "string or array of strings")),
                    None => {}
                }
                for p in it {
                    command_args.push(Secret::new(p.as_str().ok_or_else(|| wrong("command", "array of strings"))?));
                }
            }
            Value::Object(o) => {
                if let Some(Value::String(p)) = o.get("path") {
                    s.command = Some(p.clone());
                }
                if let Some(a) = o.get("args") {
                    command_args.extend(string_list(a).ok_or_else(|| wrong("command.args", "array of strings"))?);
                }
                if let Some(e) = o.get("env") {
                    read_env(e, &mut s.env).ok_or_else(|| wrong("command.env", "object"))?;
                }
            }
            Value::Null => {}
            _ => return Err(wrong("command", "string")),
        }
    }
    s.args = command_args;
    if let Some(a) = field("args") {
        s.args.extend(string_list(a).ok_or_else(|| wrong("args", "array of strings"))?);
    }

    for key in ["env", "envs", "environment"] {
        if let Some(e) = obj.get(key) {
            read_env(e, &mut s.env).ok_or_else(|| wrong("env", "object of strings"))?;
        }
    }

    // Remote endpoint: precedence httpUrl > url > serverUrl > uri (Gemini's documented order).
    let mut url_key = None;
    for key in ["httpUrl", "url", "serverUrl", "uri"] {
        if let Some(v) = field(key) {
            match v {
                Value::String(u) if !u.is_empty() => {
                    s.url = Some(Secret::new(u.as_str()));
                    url_key = Some(key);
                    break;
                }
                Value::String(_) | Value::Null => {}
                _ => return Err(wrong("url", "string")),
            }
        }
    }

    for key in ["headers", "http_headers"] {
        if let Some(h) = obj.get(key) {
            read_headers(h, &mut s.headers).ok_or_else(|| wrong("headers", "object of strings"))?;
        }
    }
    // Copilot for JetBrains: `requestInit.headers`; Continue YAML: `requestOptions.headers`.
    for key in ["requestInit", "requestOptions"] {
        if let Some(h) = obj.get(key).and_then(|r| r.get("headers")) {
            read_headers(h, &mut s.headers).ok_or_else(|| wrong("headers", "object of strings"))?;
        }
    }

    let type_str = ["type", "transportType"]
        .iter()
        .find_map(|k| field(k).and_then(Value::as_str))
        .or_else(|| obj.get("transport").and_then(Value::as_str));
    s.transport = match type_str.and_then(transport_from_str) {
        Some(t) => Some(t),
        None if url_key == Some("httpUrl") => Some(Transport::Http),
        None if s.url.is_some() && s.command.is_none() => Some(match dialect.url_default {
            UrlDefault::Http => Transport::Http,
            UrlDefault::Sse => Transport::Sse,
        }),
        None if s.command.is_some() => Some(Transport::Stdio),
        None => None,
    };
    // A stdio type with only a url (or the reverse) keeps what the fields say.
    if s.transport == Some(Transport::Stdio) && s.command.is_none() && s.url.is_some() {
        s.transport = Some(match dialect.url_default {
            UrlDefault::Http => Transport::Http,
            UrlDefault::Sse => Transport::Sse,
        });
    }
    // An endpoint at `/sse` is the legacy HTTP+SSE transport: a client told `http` (or nothing)
    // falls back to it (VS Code, mcp-remote) or fails. Only an explicit streamable spelling
    // says otherwise.
    let explicit_streamable = type_str.is_some_and(|t| {
        let t = t.to_ascii_lowercase().replace(['-', '_'], "");
        t.starts_with("streamable")
    });
    if s.transport == Some(Transport::Http)
        && !explicit_streamable
        && url_key != Some("httpUrl")
        && s.url.as_ref().is_some_and(|u| is_sse_path(u.expose()))
    {
        s.transport = Some(Transport::Sse);
    }

    // Toggles: `disabled: true`, `enabled: false`, `isActive: false`.
    if obj.get("disabled").and_then(Value::as_bool) == Some(true)
        || obj.get("enabled").and_then(Value::as_bool) == Some(false)
        || obj.get("isActive").and_then(Value::as_bool) == Some(false)
    {
        s.disabled = true;
    }

    // Auto-approval: lists of tools, `*`, booleans, Gemini's `trust`.
    for key in ["autoApprove", "alwaysAllow", "auto_approve", "autoApproveTools"] {
        match obj.get(key) {
            Some(Value::Bool(true)) => s.auto_approve_all = true,
            Some(Value::Array(tools)) => {
                for t in tools.iter().filter_map(Value::as_str) {
                    if t == "*" {
                        s.auto_approve_all = true;
                    } else {
                        s.auto_approve_tools.push(t.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    if obj.get("trust").and_then(Value::as_bool) == Some(true) {
        s.auto_approve_all = true;
    }
    if let Some(Value::String(p)) = obj.get("approvalPolicy")
        && (p.eq_ignore_ascii_case("never") || p.eq_ignore_ascii_case("auto"))
    {
        s.auto_approve_all = true;
    }

    for key in ["cwd", "working_directory", "workingDirectory"] {
        if let Some(Value::String(c)) = obj.get(key) {
            s.cwd = Some(c.clone());
        }
    }

    // Credential-bearing fields beyond env/headers/args/url.
    for key in ["apiKey", "api_key", "token", "bearer_token", "password"] {
        if let Some(Value::String(v)) = obj.get(key) {
            s.extra_secrets.push((format!("field:{key}"), Secret::new(v.as_str())));
        }
    }
    if let Some(o) = obj.get("oauth").and_then(Value::as_object) {
        for key in ["clientSecret", "client_secret", "CLIENT_SECRET"] {
            if let Some(Value::String(v)) = o.get(key) {
                s.extra_secrets.push((format!("field:oauth.{key}"), Secret::new(v.as_str())));
            }
        }
    }
    if let Some(o) = obj.get("auth").and_then(Value::as_object) {
        for key in ["CLIENT_SECRET", "clientSecret", "client_secret", "token"] {
            if let Some(Value::String(v)) = o.get(key) {
                s.extra_secrets.push((format!("field:auth.{key}"), Secret::new(v.as_str())));
            }
        }
    }
    if let Some(Value::String(v)) = obj.get("oauth_client_secret") {
        s.extra_secrets.push(("field:oauth_client_secret".into(), Secret::new(v.as_str())));
    }
    let taken: Vec<String> = s.extra_secrets.iter().map(|(l, _)| l.clone()).collect();
    s.extra_secrets.extend(nested_secrets(obj).into_iter().filter(|(l, _)| !taken.contains(l)));

    // Indirections: names of variables, never values.
    for key in ["env_vars", "env_keys"] {
        if let Some(Value::Array(names)) = obj.get(key) {
            for n in names.iter().filter_map(Value::as_str) {
                s.env_references.push((format!("env:{n}"), n.to_string()));
                if !s.env.iter().any(|(k, _)| k == n) {
                    s.env.push((n.to_string(), None));
                }
            }
        }
    }
    for key in ["bearer_token_env_var", "bearerTokenEnvVar", "api_key_env"] {
        if let Some(Value::String(n)) = obj.get(key) {
            s.env_references.push(("header:Authorization".into(), n.clone()));
        }
    }
    if let Some(Value::Object(m)) = obj.get("env_http_headers") {
        for (header, var) in m {
            if let Some(var) = var.as_str() {
                s.env_references.push((format!("header:{header}"), var.to_string()));
                if !s.headers.iter().any(|(h, _)| h == header) {
                    s.headers.push((header.clone(), Secret::default()));
                }
            }
        }
    }

    if s.command.is_none() && s.url.is_none() {
        return Err(EntryError::NoLaunch { name: name.to_string() });
    }
    Ok(s)
}

/// Reads a `{name: entry}` map of servers: each entry on its own, so a malformed one becomes an
/// error next to the others' results.
pub fn normalise_map(map: &Map<String, Value>, dialect: Dialect) -> Vec<Result<RawServer, EntryError>> {
    map.iter().map(|(name, v)| normalise_entry(name, v, dialect)).collect()
}

/// Reads a list of entries that carry their own `name` (Continue, Mistral Vibe, old Augment).
pub fn normalise_list(list: &[Value], dialect: Dialect) -> Vec<Result<RawServer, EntryError>> {
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let name = v.get("name").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| format!("#{i}"));
            normalise_entry(&name, v, dialect)
        })
        .collect()
}

fn string_list(v: &Value) -> Option<Vec<Secret>> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Some(Secret::new(s.as_str())),
                Value::Number(n) => Some(Secret::new(n.to_string())),
                Value::Bool(b) => Some(Secret::new(b.to_string())),
                _ => None,
            })
            .collect(),
        // A single string where a list belongs: clients split it on whitespace.
        Value::String(s) => Some(s.split_whitespace().map(Secret::new).collect()),
        Value::Null => Some(Vec::new()),
        _ => None,
    }
}

fn read_env(v: &Value, out: &mut Vec<(String, Option<Secret>)>) -> Option<()> {
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                let secret = match val {
                    Value::String(s) => Some(Secret::new(s.as_str())),
                    Value::Number(n) => Some(Secret::new(n.to_string())),
                    Value::Bool(b) => Some(Secret::new(b.to_string())),
                    _ => None,
                };
                out.push((k.clone(), secret));
            }
            Some(())
        }
        // `["KEY=value", ...]` lists appear in a few hand-written files.
        Value::Array(items) => {
            for i in items {
                let s = i.as_str()?;
                match s.split_once('=') {
                    Some((k, val)) => out.push((k.to_string(), Some(Secret::new(val)))),
                    None => out.push((s.to_string(), None)),
                }
            }
            Some(())
        }
        Value::Null => Some(()),
        _ => None,
    }
}

fn read_headers(v: &Value, out: &mut Vec<(String, Secret)>) -> Option<()> {
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                let s = match val {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => String::new(),
                };
                out.push((k.clone(), Secret::new(s)));
            }
            Some(())
        }
        Value::Array(items) => {
            // `[{name, value}]` or `["Name: value"]`.
            for i in items {
                if let Some(s) = i.as_str() {
                    let (k, val) = s.split_once(':').unwrap_or((s, ""));
                    out.push((k.trim().to_string(), Secret::new(val.trim())));
                } else {
                    let k = i.get("name").and_then(Value::as_str)?;
                    let val = i.get("value").and_then(Value::as_str).unwrap_or("");
                    out.push((k.to_string(), Secret::new(val)));
                }
            }
            Some(())
        }
        Value::Null => Some(()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stdio_entry_reads_command_args_env() {
        let s = normalise_entry(
            "gh",
            &json!({"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"], "env": {"GITHUB_TOKEN": "x"}}),
            Dialect::default(),
        )
        .expect("ok");
        assert_eq!(s.transport, Some(Transport::Stdio));
        assert_eq!(s.command.as_deref(), Some("npx"));
        assert_eq!(s.args.len(), 2);
        assert_eq!(s.env[0].0, "GITHUB_TOKEN");
    }

    #[test]
    fn url_without_type_follows_the_dialect() {
        let v = json!({"url": "https://x/v1"});
        assert_eq!(normalise_entry("a", &v, Dialect::default()).expect("ok").transport, Some(Transport::Http));
        assert_eq!(normalise_entry("a", &v, Dialect::SSE_URLS).expect("ok").transport, Some(Transport::Sse));
        let v = json!({"httpUrl": "https://x/mcp"});
        assert_eq!(normalise_entry("a", &v, Dialect::SSE_URLS).expect("ok").transport, Some(Transport::Http));
    }

    #[test]
    fn a_url_path_ending_in_sse_is_the_sse_transport() {
        for (v, want) in [
            (json!({"url": "https://mcp.example.com/sse"}), Transport::Sse),
            (json!({"url": "https://mcp.example.com/v1/SSE/?x=1"}), Transport::Sse),
            (json!({"type": "http", "url": "https://mcp.example.com/sse"}), Transport::Sse),
            (json!({"serverUrl": "http://localhost:8080/sse#top"}), Transport::Sse),
            (json!({"type": "streamable-http", "url": "https://mcp.example.com/sse"}), Transport::Http),
            (json!({"url": "https://mcp.example.com/mcp"}), Transport::Http),
            (json!({"url": "https://mcp.example.com/sse-v2"}), Transport::Http),
            (json!({"url": "https://sse.example.com/"}), Transport::Http),
        ] {
            assert_eq!(normalise_entry("a", &v, Dialect::default()).expect("ok").transport, Some(want), "{v}");
        }
    }

    #[test]
    fn every_transport_spelling_normalises() {
        for (s, t) in [
            ("stdio", Transport::Stdio),
            ("local", Transport::Stdio),
            ("http", Transport::Http),
            ("streamable-http", Transport::Http),
            ("streamableHttp", Transport::Http),
            ("streamable_http", Transport::Http),
            ("remote", Transport::Http),
            ("sse", Transport::Sse),
            ("ws", Transport::Ws),
        ] {
            assert_eq!(transport_from_str(s), Some(t), "{s}");
        }
        assert_eq!(transport_from_str("carrier-pigeon"), None);
    }

    #[test]
    fn opencode_array_command_and_toggles() {
        let s = normalise_entry(
            "x",
            &json!({"type": "local", "command": ["bunx", "pkg@1.0.0"], "enabled": false, "environment": {"A": "b"}}),
            Dialect::default(),
        )
        .expect("ok");
        assert_eq!(s.command.as_deref(), Some("bunx"));
        assert_eq!(s.args[0].expose(), "pkg@1.0.0");
        assert!(s.disabled);
        assert_eq!(s.env[0].0, "A");
    }

    #[test]
    fn malformed_entry_is_an_error_not_a_panic() {
        assert!(matches!(
            normalise_entry("bad", &json!({"command": "x", "args": {"no": 1}}), Dialect::default()),
            Err(EntryError::WrongType { field: "args", .. })
        ));
        assert!(matches!(
            normalise_entry("bad", &json!("str"), Dialect::default()),
            Err(EntryError::NotAnObject { .. })
        ));
        assert!(matches!(normalise_entry("bad", &json!({}), Dialect::default()), Err(EntryError::NoLaunch { .. })));
    }

    #[test]
    fn auto_approve_variants() {
        let s = normalise_entry("a", &json!({"command": "x", "alwaysAllow": ["*"]}), Dialect::default()).expect("ok");
        assert!(s.auto_approve_all);
        let s =
            normalise_entry("a", &json!({"command": "x", "autoApprove": ["read"]}), Dialect::default()).expect("ok");
        assert_eq!(s.auto_approve_tools, ["read"]);
        let s = normalise_entry("a", &json!({"command": "x", "trust": true}), Dialect::default()).expect("ok");
        assert!(s.auto_approve_all);
    }
}
