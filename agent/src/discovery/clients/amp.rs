//! Amp (Sourcegraph): the flat dotted key `"amp.mcpServers"` (a literal dot, not nesting) in
//! `~/.config/amp/settings.json(c)` (Windows: `%APPDATA%\amp\settings.json`),
//! `<repo>/.amp/settings.json(c)`, and VS Code's user `settings.json` for the Amp extension.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, read_map_into};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, UserCtx};

pub struct Amp;

impl ClientSource for Amp {
    fn id(&self) -> &'static str {
        "amp"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        let dir = match user.os {
            Os::Windows => user.appdata().join("amp"),
            _ => user.xdg_config().join("amp"),
        };
        for f in ["settings.json", "settings.jsonc"] {
            out.push(Candidate::user(dir.join(f), FileFormat::Jsonc, "settings"));
        }
        for (product, dir) in user.vscode_user_dirs() {
            if product.starts_with("Code") || product.starts_with("vscode") {
                out.push(Candidate::user(dir.join("settings.json"), FileFormat::Jsonc, "settings"));
            }
        }
    }

    fn project_files(&self, project: &Path, _os: Os, out: &mut Vec<Candidate>) {
        for f in ["settings.json", "settings.jsonc"] {
            out.push(Candidate::project(project.join(".amp").join(f), FileFormat::Jsonc, "settings"));
        }
    }

    fn parse(&self, _file: &Candidate, doc: &Value) -> Parsed {
        let mut parsed = Parsed::default();
        let servers = doc.get("amp.mcpServers").or_else(|| doc.get("amp").and_then(|a| a.get("mcpServers")));
        read_map_into(&mut parsed, servers, "amp.mcpServers", Dialect::default());
        parsed
    }
}
