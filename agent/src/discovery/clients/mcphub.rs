//! mcphub.nvim (Neovim): `~/.config/mcphub/servers.json` and `<repo>/.mcphub/servers.json`, JSON5
//! when lua-json5 is present. Servers sit under `mcpServers` and/or VS Code's `servers` (whose
//! entry wins when a name is under both); `nativeMCPServers` are Lua plugins running inside
//! Neovim and only carry toggles, so they are not reported. The workspace `.vscode/mcp.json` and `.cursor/mcp.json`
//! that mcphub also reads are reported under their own clients.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, read_map_into};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, UserCtx};

pub struct Mcphub;

impl ClientSource for Mcphub {
    fn id(&self) -> &'static str {
        "mcphub"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        out.push(Candidate::user(user.home.join(".config/mcphub/servers.json"), FileFormat::Json5, "servers"));
    }

    fn project_files(&self, project: &Path, _os: Os, out: &mut Vec<Candidate>) {
        out.push(Candidate::project(project.join(".mcphub/servers.json"), FileFormat::Json5, "servers"));
    }

    fn parse(&self, _file: &Candidate, doc: &Value) -> Parsed {
        // Both keys are read; a name under VS Code's `servers` wins over the same name under
        // `mcpServers`, so each server is reported once.
        let mut parsed = Parsed::default();
        read_map_into(&mut parsed, doc.get("servers"), "servers", Dialect::default());
        let mut legacy = Parsed::default();
        read_map_into(&mut legacy, doc.get("mcpServers"), "mcpServers", Dialect::default());
        let taken: Vec<String> = parsed.servers.iter().map(|s| s.name.clone()).collect();
        parsed.servers.extend(legacy.servers.into_iter().filter(|s| !taken.contains(&s.name)));
        parsed.entry_errors.extend(legacy.entry_errors);
        parsed
    }
}
