//! VS Code and its own builds (Insiders, OSS, VSCodium, Positron, Void) and remote servers.
//!
//! - user: `<User>/mcp.json` and every profile's `<User>/profiles/<id>/mcp.json` (`servers` map,
//!   JSONC), the pre-1.102 `"mcp": {"servers"}` block in `<User>/settings.json`, and the remote
//!   server's `~/.vscode-server/data/User/mcp.json`;
//! - project: `.vscode/mcp.json`, `.vscode/settings.json`'s `mcp` block, and dev containers'
//!   `customizations.vscode.mcp.servers` (`.devcontainer/devcontainer.json`, `.devcontainer.json`);
//! - recorded projects: `workspaceStorage/*/workspace.json` of *every* VS Code family product
//!   (Cursor, Windsurf, Trae, Kiro included), which is where those editors remember folders: a
//!   `folder`, or a `workspace` naming a `.code-workspace` file whose `folders` are the projects.
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

/// The folders of a `.code-workspace` file (host paths): `{"folders": [{"path": "app"},
/// {"path": "/abs"}, {"uri": "file:///..."}]}`; relative paths are relative to the file. Remote
/// URIs (`vscode-remote://`) are not on this machine and are left out.
fn workspace_folders(file: &Path, layout: &Layout) -> Vec<PathBuf> {
    let Ok(data) = fsread::read_config(file) else { return Vec::new() };
    let Ok(doc) = formats::parse(&data.text, FileFormat::Jsonc) else { return Vec::new() };
    let Some(folders) = doc.value.get("folders").and_then(Value::as_array) else { return Vec::new() };
    let base = file.parent().unwrap_or(Path::new(""));
    folders
        .iter()
        .filter_map(|f| {
            if let Some(uri) = f.get("uri").and_then(Value::as_str) {
                return uri.starts_with("file://").then(|| layout.resolve(uri)).flatten();
            }
            let path = f.get("path").and_then(Value::as_str)?;
            let absolute = path.starts_with('/')
                || path.starts_with('\\')
                || path.get(1..3) == Some(":\\")
                || path.get(1..3) == Some(":/");
            if absolute { layout.resolve(path) } else { Some(lexical(&base.join(path.replace('\\', "/")))) }
        })
        .collect()
}

/// `a/b/../c` as `a/c`, without asking the file system (the folder may be a link elsewhere; the
/// project is named as the workspace file names it).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

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
                // `folder` for single-folder windows; `workspace` names a `.code-workspace` file
                // whose `folders` are the projects (paths relative to that file, or URIs).
                if let Some(folder) = doc.value.get("folder").and_then(Value::as_str)
                    && folder.starts_with("file://")
                    && let Some(p) = layout.resolve(folder)
                {
                    out.push(p);
                }
                if let Some(workspace) = doc.value.get("workspace").and_then(Value::as_str)
                    && workspace.starts_with("file://")
                    && let Some(file) = layout.resolve(workspace)
                {
                    out.extend(workspace_folders(&file, layout));
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
