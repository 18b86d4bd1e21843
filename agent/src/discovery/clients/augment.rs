//! Augment (Auggie CLI and the IDE extensions since 2025-26): the `mcpServers` map in
//! `~/.augment/settings.json`, `<repo>/.augment/settings.json` and its git-ignored
//! `settings.local.json` overlay (also under `mcp.servers`, which one source gives). Older VS
//! Code extension builds kept an `augment.advanced` `mcpServers` *list* in VS Code's user
//! `settings.json`, which is read as well.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, read_list_into, read_map_into};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, UserCtx};

pub struct Augment;

impl ClientSource for Augment {
    fn id(&self) -> &'static str {
        "augment"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        out.push(Candidate::user(user.home.join(".augment/settings.json"), FileFormat::Jsonc, "settings"));
        for (product, dir) in user.vscode_user_dirs() {
            if product.starts_with("Code") || product.starts_with("vscode") {
                out.push(Candidate::user(dir.join("settings.json"), FileFormat::Jsonc, "vscode-settings"));
            }
        }
    }

    fn project_files(&self, project: &Path, _os: Os, out: &mut Vec<Candidate>) {
        for f in ["settings.json", "settings.local.json"] {
            out.push(Candidate::project(project.join(".augment").join(f), FileFormat::Jsonc, "settings"));
        }
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let mut parsed = Parsed::default();
        if file.kind == "vscode-settings" {
            let list = doc
                .get("augment.advanced")
                .and_then(|a| a.get("mcpServers"))
                .or_else(|| doc.get("augment.advanced.mcpServers"));
            read_list_into(&mut parsed, list, "augment.advanced.mcpServers", Dialect::default());
        } else {
            read_map_into(&mut parsed, doc.get("mcpServers"), "mcpServers", Dialect::default());
            // The key is uncertain (reference §8.9): one source gives `mcp.servers`, so that
            // shape (nested, or written as a flat dotted key) is read too.
            let alt = doc.get("mcp").and_then(|m| m.get("servers")).or_else(|| doc.get("mcp.servers"));
            read_map_into(&mut parsed, alt, "mcp.servers", Dialect::default());
        }
        parsed
    }
}
