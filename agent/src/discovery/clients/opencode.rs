//! opencode: the `mcp` map of `opencode.json` / `opencode.jsonc` in `$XDG_CONFIG_HOME/opencode/`
//! (Windows: `~\.config\opencode\` and `%APPDATA%\opencode\`), in projects (also `.opencode/`),
//! and in the managed dirs (`/etc/opencode/`, `/Library/Application Support/opencode/`,
//! `%ProgramData%\opencode\`). Newer scopes: `~/.agents/mcp.json` and `<repo>/.agents/mcp.json`
//! (a bare name → server map) and `$XDG_DATA_HOME/opencode/mcp-local.json` (maps keyed by project
//! path). `command` is an array, `environment` the env map, `type` is `local` or `remote`. An
//! entry holding only `enabled` switches off a server another layer defines; it defines nothing
//! itself, so it is not reported as a server.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx};

pub struct Opencode;

const NAMES: &[&str] = &["opencode.json", "opencode.jsonc"];

impl ClientSource for Opencode {
    fn id(&self) -> &'static str {
        "opencode"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        let mut dirs = vec![user.xdg_config().join("opencode")];
        if user.os == Os::Windows {
            dirs.push(user.appdata().join("opencode"));
        }
        if let Some(d) = user.env_path("OPENCODE_CONFIG_DIR") {
            dirs.push(d);
        }
        for dir in dirs {
            for n in NAMES {
                out.push(Candidate::user(dir.join(n), FileFormat::Jsonc, "config"));
            }
        }
        if let Some(f) = user.env_path("OPENCODE_CONFIG") {
            out.push(Candidate::user(f, FileFormat::Jsonc, "config"));
        }
        out.push(Candidate::user(user.home.join(".agents/mcp.json"), FileFormat::Jsonc, "bare"));
        out.push(Candidate::user(user.xdg_data().join("opencode/mcp-local.json"), FileFormat::Jsonc, "local"));
    }

    fn project_files(&self, project: &Path, _os: Os, out: &mut Vec<Candidate>) {
        for n in NAMES {
            out.push(Candidate::project(project.join(n), FileFormat::Jsonc, "config"));
            out.push(Candidate::project(project.join(".opencode").join(n), FileFormat::Jsonc, "config"));
        }
        out.push(Candidate::project(project.join(".agents/mcp.json"), FileFormat::Jsonc, "bare"));
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        let dir = match sys.os {
            Os::Linux => sys.etc.as_ref().map(|d| d.join("opencode")),
            Os::Macos => sys.app_support.as_ref().map(|d| d.join("opencode")),
            Os::Windows => sys.program_data.as_ref().map(|d| d.join("opencode")),
        };
        if let Some(dir) = dir {
            for n in NAMES {
                out.push(Candidate::managed(dir.join(n), FileFormat::Jsonc, "config"));
            }
        }
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let mut parsed = Parsed::default();
        match file.kind {
            "bare" => {
                read_map_into(&mut parsed, Some(bare_map(doc)).filter(|v| !v.is_null()), "(root)", Dialect::default())
            }
            "local" => match doc {
                Value::Object(projects) => {
                    for (path, servers) in projects {
                        parsed.projects.push(path.clone());
                        let before = parsed.servers.len();
                        read_map_into(&mut parsed, Some(bare_map(servers)), "(project)", Dialect::default());
                        for s in &mut parsed.servers[before..] {
                            s.project = Some(path.clone());
                        }
                    }
                }
                Value::Null => {}
                _ => parsed.wrong_shape("(root)", "an object keyed by project path"),
            },
            _ => read_map_into(&mut parsed, doc.get("mcp"), "mcp", Dialect::default()),
        }
        parsed
    }
}

/// The server map of a file that should hold a bare `{name: server}` map. A hand-written file
/// sometimes keeps the `mcp` wrapper of `opencode.json`; the wrapper is unwrapped only when it
/// is not itself a server named `mcp` (a server has launch or toggle fields).
fn bare_map(doc: &Value) -> &Value {
    match doc.get("mcp") {
        Some(inner @ Value::Object(o))
            if !["type", "command", "url", "enabled", "environment"].iter().any(|k| o.contains_key(*k)) =>
        {
            inner
        }
        _ => doc,
    }
}

/// Reads a server map, skipping `{"enabled": false}` entries: those only switch off a server
/// that another layer defines.
fn read_map_into(parsed: &mut Parsed, value: Option<&Value>, key: &str, dialect: Dialect) {
    match value {
        Some(Value::Object(map)) => {
            let servers: serde_json::Map<String, Value> = map
                .iter()
                .filter(|(_, v)| !v.as_object().is_some_and(|o| o.keys().all(|k| k == "enabled")))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            super::read_map_into(parsed, Some(&Value::Object(servers)), key, dialect);
        }
        other => super::read_map_into(parsed, other, key, dialect),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn bare_map_unwraps_an_mcp_wrapper_but_not_a_server_named_mcp() {
        let wrapped = json!({"mcp": {"gh": {"type": "local", "command": ["gh-mcp"]}}});
        assert!(super::bare_map(&wrapped).get("gh").is_some());
        let named = json!({"mcp": {"type": "remote", "url": "https://x/mcp"}});
        assert!(super::bare_map(&named).get("mcp").is_some());
    }
}
