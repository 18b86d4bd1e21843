//! BoltAI (macOS only): `~/.boltai/mcp.json`. The path is unconfirmed by any source; it is probed.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, add_all, parse_map_at};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx};
use muster_proto::v1::Scope;

pub struct BoltAi;

impl ClientSource for BoltAi {
    fn id(&self) -> &'static str {
        "boltai"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        if user.os == Os::Macos {
            add_all(out, &user.home, &[".boltai/mcp.json"], Scope::User, FileFormat::Json, "mcp");
        }
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
