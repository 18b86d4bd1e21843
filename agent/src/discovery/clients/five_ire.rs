//! 5ire: the legacy `mcp.json` in the app's data dir (servers keyed by `key`, toggled by `isActive`,
//! typed `local`/`remote`). Current versions keep servers in an embedded database we do not open.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, add_all, parse_map_at};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx};
use muster_proto::v1::Scope;

pub struct FiveIre;

impl ClientSource for FiveIre {
    fn id(&self) -> &'static str {
        "5ire"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        add_all(out, &user.app_data_dir("5ire"), &["mcp.json"], Scope::User, FileFormat::Json, "mcp");
    }

    fn project_files(&self, project: &Path, os: Os, out: &mut Vec<Candidate>) {
        let _ = (project, os, out);
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        let _ = (sys, out);
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let _ = file;
        parse_map_at(doc, "mcpServers", Dialect::default())
    }
}
