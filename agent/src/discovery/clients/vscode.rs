//! VS Code and its own builds (Insiders, OSS, VSCodium, Positron, Void) and remote servers.
//!
//! - user: `<User>/mcp.json` and every profile's `<User>/profiles/<id>/mcp.json` (`servers` map,
//!   JSONC), the pre-1.102 `"mcp": {"servers"}` block in `<User>/settings.json`, and the remote
//!   server's `~/.vscode-server/data/User/mcp.json`;
//! - project: `.vscode/mcp.json`, `.vscode/settings.json`'s `mcp` block, and dev containers'
//!   `customizations.vscode.mcp.servers` (`.devcontainer/devcontainer.json`, `.devcontainer.json`);
//! - recorded projects: `workspaceStorage/*/workspace.json` of *every* VS Code family product
//!   (Cursor, Windsurf, Trae, Kiro included), which is where those editors remember folders.
//!
//! Forks that are products of their own (Cursor, Windsurf, Trae, Kiro, Antigravity) have their own
//! client modules and are not reported as `vscode`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, read_map_into};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::{self, FileFormat};
use crate::discovery::fsread;
use crate::platform::{Layout, Os, UserCtx, sorted_subdirs};

pub struct VsCode;

/// Products whose `User` dir belongs to the `vscode` client id.
const VSCODE_BUILDS: &[&str] =
    &["Code", "Code - Insiders", "Code - OSS", "VSCodium", "VSCodium - Insiders", "Positron", "Void"];

impl ClientSource for VsCode {
    fn id(&self) -> &'static str {
        "vscode"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        for (product, dir) in user.vscode_user_dirs() {
            let ours = VSCODE_BUILDS.contains(&product.as_str()) || product.starts_with("vscode");
            if !ours {
                continue;
            }
            out.push(Candidate::user(dir.join("mcp.json"), FileFormat::Jsonc, "mcp"));
            out.push(Candidate::user(dir.join("settings.json"), FileFormat::Jsonc, "settings"));
            for profile in sorted_subdirs(&dir.join("profiles")) {
                out.push(Candidate::user(profile.join("mcp.json"), FileFormat::Jsonc, "mcp"));
                out.push(Candidate::user(profile.join("settings.json"), FileFormat::Jsonc, "settings"));
            }
        }
    }

    fn project_files(&self, project: &Path, _os: Os, out: &mut Vec<Candidate>) {
        out.push(Candidate::project(project.join(".vscode/mcp.json"), FileFormat::Jsonc, "mcp"));
        out.push(Candidate::project(project.join(".vscode/settings.json"), FileFormat::Jsonc, "settings"));
        out.push(Candidate::project(
            project.join(".devcontainer/devcontainer.json"),
            FileFormat::Jsonc,
            "devcontainer",
        ));
        out.push(Candidate::project(project.join(".devcontainer.json"), FileFormat::Jsonc, "devcontainer"));
    }

    fn recorded_projects(&self, user: &UserCtx, layout: &Layout) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> =
            crate::platform::VSCODE_FAMILY_PRODUCTS.iter().map(|p| user.vscode_user_dir(p)).collect();
        dirs.push(user.home.join(".vscode-server/data/User"));
        let mut out = Vec::new();
        for dir in dirs {
            for ws in sorted_subdirs(&dir.join("workspaceStorage")) {
                let Ok(data) = fsread::read_config(&ws.join("workspace.json")) else { continue };
                let Ok(doc) = formats::parse(&data.text, FileFormat::Jsonc) else { continue };
                // `folder` for single-folder windows; multi-root `workspace` files are skipped.
                if let Some(folder) = doc.value.get("folder").and_then(Value::as_str)
                    && folder.starts_with("file://")
                    && let Some(p) = layout.resolve(folder)
                {
                    out.push(p);
                }
            }
        }
        out
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let mut parsed = Parsed::default();
        match file.kind {
            "settings" => {
                // Written nested (`"mcp": {"servers"}`) or flat (`"mcp.servers"`).
                let servers = doc.get("mcp").and_then(|m| m.get("servers")).or_else(|| doc.get("mcp.servers"));
                read_map_into(&mut parsed, servers, "mcp.servers", Dialect::default());
            }
            "devcontainer" => {
                let servers = doc
                    .get("customizations")
                    .and_then(|c| c.get("vscode"))
                    .and_then(|v| v.get("mcp"))
                    .and_then(|m| m.get("servers"));
                read_map_into(&mut parsed, servers, "customizations.vscode.mcp.servers", Dialect::default());
                for s in &mut parsed.servers {
                    s.origin = Some("devcontainer".into());
                }
            }
            _ => read_map_into(&mut parsed, doc.get("servers"), "servers", Dialect::default()),
        }
        parsed
    }
}
