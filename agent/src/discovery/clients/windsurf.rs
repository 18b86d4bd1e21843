//! Windsurf (Cascade; "Devin Desktop" since 2026): `~/.codeium/windsurf/mcp_config.json`, the Next
//! channel's `windsurf-next`, and the JetBrains plugin's `~/.codeium/mcp_config.json`. Remote servers
//! use `serverUrl`. The project file `.windsurf/mcp_config.json` is unconfirmed and read as well.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, add_all, parse_map_at, with_origin};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx};
use muster_proto::v1::Scope;

pub struct Windsurf;

impl ClientSource for Windsurf {
    fn id(&self) -> &'static str {
        "windsurf"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        add_all(
            out,
            &user.home,
            &[".codeium/windsurf/mcp_config.json", ".codeium/windsurf-next/mcp_config.json"],
            Scope::User,
            FileFormat::Json,
            "mcp",
        );
        add_all(out, &user.home, &[".codeium/mcp_config.json"], Scope::User, FileFormat::Json, "jetbrains-plugin");
    }

    fn project_files(&self, project: &Path, os: Os, out: &mut Vec<Candidate>) {
        let _ = os;
        add_all(out, project, &[".windsurf/mcp_config.json"], Scope::Project, FileFormat::Json, "mcp");
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        let _ = (sys, out);
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let parsed = parse_map_at(doc, "mcpServers", Dialect::default());
        if file.kind == "jetbrains-plugin" { with_origin(parsed, "jetbrains-plugin".into()) } else { parsed }
    }
}
