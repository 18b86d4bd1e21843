//! Visual Studio 2022 17.14+ / 2026 (Windows only): `%USERPROFILE%\\.mcp.json` and the solution's
//! `.mcp.json`, both with a VS Code-style `servers` map; `.vs/mcp.json` is reported to be read too.
//! Solutions are looked for in Visual Studio's default location `%USERPROFILE%\\source\\repos`,
//! which is not one of the generic code roots.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, add_all, parse_map_at};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Layout, Os, SystemCtx, UserCtx, sorted_subdirs};
use muster_proto::v1::Scope;

pub struct VisualStudio;

impl ClientSource for VisualStudio {
    fn id(&self) -> &'static str {
        "visual-studio"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        if user.os == Os::Windows {
            add_all(out, &user.home, &[".mcp.json"], Scope::User, FileFormat::Jsonc, "mcp");
        }
    }

    fn project_files(&self, project: &Path, os: Os, out: &mut Vec<Candidate>) {
        if os == Os::Windows {
            add_all(out, project, &[".mcp.json", ".vs/mcp.json"], Scope::Project, FileFormat::Jsonc, "mcp");
        }
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        let _ = (sys, out);
    }

    fn recorded_projects(&self, user: &UserCtx, _layout: &Layout) -> Vec<PathBuf> {
        if user.os != Os::Windows {
            return Vec::new();
        }
        // One level: each solution gets its own folder there.
        sorted_subdirs(&user.home.join("source").join("repos"))
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let _ = file;
        parse_map_at(doc, "servers", Dialect::default())
    }
}
