//! Cursor (IDE and `cursor-agent` CLI): `~/.cursor/mcp.json` and `<repo>/.cursor/mcp.json`, read as
//! JSONC. The `<Cursor user dir>/mcp.json` that some tools probe is unconfirmed, so it is read too.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, add_all, parse_map_at};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx};
use muster_proto::v1::Scope;

pub struct Cursor;

impl ClientSource for Cursor {
    fn id(&self) -> &'static str {
        "cursor"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        add_all(out, &user.home, &[".cursor/mcp.json"], Scope::User, FileFormat::Jsonc, "mcp");
        add_all(out, &user.vscode_user_dir("Cursor"), &["mcp.json"], Scope::User, FileFormat::Jsonc, "mcp");
    }

    fn project_files(&self, project: &Path, os: Os, out: &mut Vec<Candidate>) {
        let _ = os;
        add_all(out, project, &[".cursor/mcp.json"], Scope::Project, FileFormat::Jsonc, "mcp");
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        let _ = (sys, out);
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let _ = file;
        parse_map_at(doc, "mcpServers", Dialect::default())
    }
}
