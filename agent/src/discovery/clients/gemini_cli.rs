//! Gemini CLI: `mcpServers` in `~/.gemini/settings.json`, `<repo>/.gemini/settings.json`, the
//! system files (`/etc/gemini-cli/`, `/Library/Application Support/GeminiCli/`,
//! `C:\ProgramData\gemini-cli\`: `settings.json` and `system-defaults.json`) and extension
//! manifests `~/.gemini/extensions/<name>/gemini-extension.json` (origin `extension:<name>`).
//! Gemini strips comments but rejects trailing commas; a bare `url` is SSE, `httpUrl` is
//! streamable HTTP, `tcp` a WebSocket address; names in `mcp.excluded` (or missing from a
//! non-empty `mcp.allowed`) are disabled; `trust: true` skips confirmations.
//! Qwen Code, a fork, shares this parser.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, parent_name, with_origin};
use crate::discovery::entry::{Dialect, EntryError, RawServer, normalise_entry};
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx, sorted_subdirs};
use muster_proto::v1::Transport;

pub struct GeminiCli;

impl ClientSource for GeminiCli {
    fn id(&self) -> &'static str {
        "gemini-cli"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        let dir = user.home.join(".gemini");
        out.push(Candidate::user(dir.join("settings.json"), FileFormat::JsonComments, "settings"));
        for ext in sorted_subdirs(&dir.join("extensions")) {
            out.push(Candidate::user(ext.join("gemini-extension.json"), FileFormat::JsonComments, "extension"));
        }
    }

    fn project_files(&self, project: &Path, _os: Os, out: &mut Vec<Candidate>) {
        out.push(Candidate::project(project.join(".gemini/settings.json"), FileFormat::JsonComments, "settings"));
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        let dir = match sys.os {
            Os::Linux => sys.etc.as_ref().map(|d| d.join("gemini-cli")),
            Os::Macos => sys.app_support.as_ref().map(|d| d.join("GeminiCli")),
            Os::Windows => sys.program_data.as_ref().map(|d| d.join("gemini-cli")),
        };
        if let Some(dir) = dir {
            out.push(Candidate::managed(dir.join("settings.json"), FileFormat::JsonComments, "settings"));
            out.push(Candidate::managed(dir.join("system-defaults.json"), FileFormat::JsonComments, "settings"));
        }
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        parse_gemini_settings(file, doc)
    }
}

/// Gemini-schema settings and extension manifests (shared with Qwen Code).
pub fn parse_gemini_settings(file: &Candidate, doc: &Value) -> Parsed {
    let mut parsed = Parsed::default();
    match doc.get("mcpServers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => parsed.extend(map.iter().map(|(name, v)| gemini_entry(name, v)).collect()),
        Some(_) => parsed.wrong_shape("mcpServers", "an object of servers"),
    }
    let names = |key: &str| -> Option<Vec<&str>> {
        doc.get("mcp")
            .and_then(|m| m.get(key))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
    };
    let excluded = names("excluded").unwrap_or_default();
    // An empty allow list is read as no list rather than as "disable everything".
    let allowed = names("allowed").filter(|a| !a.is_empty());
    for s in &mut parsed.servers {
        let not_allowed = allowed.as_ref().is_some_and(|a| !a.contains(&s.name.as_str()));
        if excluded.contains(&s.name.as_str()) || not_allowed {
            s.disabled = true;
        }
    }
    if file.kind == "extension" {
        let name = doc.get("name").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| parent_name(file));
        return with_origin(parsed, format!("extension:{name}"));
    }
    parsed
}

/// One Gemini entry: the shared shapes, plus `tcp` (a WebSocket address) when nothing else
/// launches the server.
fn gemini_entry(name: &str, v: &Value) -> Result<RawServer, EntryError> {
    match normalise_entry(name, v, Dialect::SSE_URLS) {
        Err(EntryError::NoLaunch { .. }) if v.get("tcp").and_then(Value::as_str).is_some_and(|t| !t.is_empty()) => {
            let mut without_tcp = v.clone();
            let tcp = without_tcp.as_object_mut().and_then(|o| o.remove("tcp"));
            let addr = tcp.as_ref().and_then(Value::as_str).unwrap_or_default();
            // The address stands in as the url; the other fields (env, trust, ...) read as usual.
            if let Some(o) = without_tcp.as_object_mut() {
                o.insert("url".into(), Value::String(addr.to_string()));
            }
            let mut s = normalise_entry(name, &without_tcp, Dialect::SSE_URLS)?;
            s.transport = Some(Transport::Ws);
            Ok(s)
        }
        other => other,
    }
}
