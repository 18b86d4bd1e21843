//! Trae (and its China build Trae CN): `<Trae user dir>/mcp.json` and `<repo>/.trae/mcp.json`.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, add_all, parse_map_at};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx};
use muster_proto::v1::Scope;

pub struct Trae;

impl ClientSource for Trae {
    fn id(&self) -> &'static str {
        "trae"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        for product in ["Trae", "Trae CN"] {
            add_all(out, &user.vscode_user_dir(product), &["mcp.json"], Scope::User, FileFormat::Json, "mcp");
        }
    }

    fn project_files(&self, project: &Path, os: Os, out: &mut Vec<Candidate>) {
        let _ = os;
        add_all(out, project, &[".trae/mcp.json"], Scope::Project, FileFormat::Json, "mcp");
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        let _ = (sys, out);
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let _ = file;
        parse_map_at(doc, "mcpServers", Dialect::default())
    }
}
