//! Gemini CLI: `mcpServers` in `~/.gemini/settings.json`, `<repo>/.gemini/settings.json`, the
//! system files (`/etc/gemini-cli/`, `/Library/Application Support/GeminiCli/`,
//! `C:\ProgramData\gemini-cli\`: `settings.json` and `system-defaults.json`) and extension
//! manifests `~/.gemini/extensions/<name>/gemini-extension.json` (origin `extension:<name>`).
//! Gemini strips comments but rejects trailing commas; a bare `url` is SSE, `httpUrl` is
//! streamable HTTP; names in `mcp.excluded` are disabled; `trust: true` skips confirmations.
//! Qwen Code, a fork, shares this parser.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, parent_name, read_map_into, with_origin};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx, sorted_subdirs};

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
    read_map_into(&mut parsed, doc.get("mcpServers"), "mcpServers", Dialect::SSE_URLS);
    let excluded: Vec<&str> = doc
        .get("mcp")
        .and_then(|m| m.get("excluded"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for s in &mut parsed.servers {
        if excluded.contains(&s.name.as_str()) {
            s.disabled = true;
        }
    }
    if file.kind == "extension" {
        let name = doc.get("name").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| parent_name(file));
        return with_origin(parsed, format!("extension:{name}"));
    }
    parsed
}
