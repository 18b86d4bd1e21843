//! Kilo Code: v7 (opencode-based) keeps servers under `mcp` in `~/.config/kilo/kilo.json(c)` and
//! `<repo>/kilo.json(c)`, in opencode's shape (`command` array, `environment`, `type:
//! local|remote`; a bare `{"enabled": false}` only switches off a server another layer defines,
//! so it is not a server of its own); the legacy VS Code extension used `mcpServers` in its
//! global storage `mcp_settings.json` and `<repo>/.kilocode/mcp.json`.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, parse_map_at, read_map_into};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, UserCtx};

pub struct KiloCode;

impl ClientSource for KiloCode {
    fn id(&self) -> &'static str {
        "kilo-code"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        let dir = user.xdg_config().join("kilo");
        out.push(Candidate::user(dir.join("kilo.json"), FileFormat::Jsonc, "v7"));
        out.push(Candidate::user(dir.join("kilo.jsonc"), FileFormat::Jsonc, "v7"));
        for (_, dir) in user.vscode_user_dirs() {
            out.push(Candidate::user(
                dir.join("globalStorage/kilocode.kilo-code/settings/mcp_settings.json"),
                FileFormat::Json,
                "legacy",
            ));
        }
    }

    fn project_files(&self, project: &Path, _os: Os, out: &mut Vec<Candidate>) {
        out.push(Candidate::project(project.join("kilo.json"), FileFormat::Jsonc, "v7"));
        out.push(Candidate::project(project.join("kilo.jsonc"), FileFormat::Jsonc, "v7"));
        out.push(Candidate::project(project.join(".kilocode/mcp.json"), FileFormat::Json, "legacy"));
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        match file.kind {
            "v7" => {
                let mut parsed = Parsed::default();
                let servers = doc.get("mcp").map(|v| match v {
                    Value::Object(map) => Value::Object(
                        map.iter()
                            .filter(|(_, e)| !e.as_object().is_some_and(|o| o.keys().all(|k| k == "enabled")))
                            .map(|(k, e)| (k.clone(), e.clone()))
                            .collect(),
                    ),
                    other => other.clone(),
                });
                read_map_into(&mut parsed, servers.as_ref(), "mcp", Dialect::default());
                parsed
            }
            _ => parse_map_at(doc, "mcpServers", Dialect::default()),
        }
    }
}
