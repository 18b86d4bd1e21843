//! GitHub Copilot for JetBrains IDEs (shared by all of them), Eclipse and Xcode: one `mcp.json` per
//! host IDE with a `servers` map; PATs are often literal in `requestInit.headers`.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, add_all, parse_map_at, with_origin};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx};
use muster_proto::v1::Scope;

pub struct CopilotJetbrains;

impl ClientSource for CopilotJetbrains {
    fn id(&self) -> &'static str {
        "copilot-jetbrains"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        match user.os {
            Os::Windows => {
                add_all(
                    out,
                    &user.localappdata(),
                    &["github-copilot/intellij/mcp.json"],
                    Scope::User,
                    FileFormat::Json,
                    "intellij",
                );
                add_all(
                    out,
                    &user.appdata(),
                    &["github-copilot/eclipse/mcp.json"],
                    Scope::User,
                    FileFormat::Json,
                    "eclipse",
                );
            }
            Os::Linux | Os::Macos => {
                let dir = user.home.join(".config/github-copilot");
                add_all(out, &dir, &["intellij/mcp.json"], Scope::User, FileFormat::Json, "intellij");
                add_all(out, &dir, &["eclipse/mcp.json"], Scope::User, FileFormat::Json, "eclipse");
                if user.os == Os::Macos {
                    add_all(out, &dir, &["xcode/mcp.json"], Scope::User, FileFormat::Json, "xcode");
                }
            }
        }
    }

    fn project_files(&self, project: &Path, os: Os, out: &mut Vec<Candidate>) {
        let _ = (project, os, out);
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        let _ = (sys, out);
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let parsed = parse_map_at(doc, "servers", Dialect::default());
        match file.kind {
            "intellij" => parsed,
            other => with_origin(parsed, other.to_string()),
        }
    }
}
