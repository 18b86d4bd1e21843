//! Roo Code (and its fork Zoo Code, which keeps the paths): the extension's `mcp_settings.json` in the
//! global storage of every VS Code family editor, and `<repo>/.roo/mcp.json`.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, add_all, parse_map_at};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx};
use muster_proto::v1::Scope;

pub struct RooCode;

impl ClientSource for RooCode {
    fn id(&self) -> &'static str {
        "roo-code"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        for (_, dir) in user.vscode_user_dirs() {
            add_all(
                out,
                &dir,
                &["globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json"],
                Scope::User,
                FileFormat::Json,
                "mcp",
            );
        }
    }

    fn project_files(&self, project: &Path, os: Os, out: &mut Vec<Candidate>) {
        let _ = os;
        add_all(out, project, &[".roo/mcp.json"], Scope::Project, FileFormat::Json, "mcp");
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        let _ = (sys, out);
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let _ = file;
        parse_map_at(doc, "mcpServers", Dialect::default())
    }
}
