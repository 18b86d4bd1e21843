//! Finding a user's projects beyond what the clients record: a bounded walk of the usual code
//! roots (`~/src`, `~/code`, `~/projects`, `~/dev`, `~/git`, `~/repos`, `~/work`), at most
//! [`MAX_DEPTH`] levels deep, skipping dependency and build directories. A directory is a
//! project when it is a git work tree or holds any file or directory a client reads in projects.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::clients::REGISTRY;
use crate::platform::Os;

/// Code roots under a home directory.
pub const CODE_ROOTS: &[&str] = &["src", "code", "projects", "dev", "git", "repos", "work"];

/// How deep below a code root the walk goes.
pub const MAX_DEPTH: usize = 5;

/// Directories never descended into.
const SKIP: &[&str] = &[
    "node_modules",
    ".git",
    "target",
    "venv",
    ".venv",
    "env",
    ".env",
    "__pycache__",
    ".tox",
    ".mypy_cache",
    ".cache",
    ".gradle",
    ".idea",
    "dist",
    "build",
    "vendor",
    ".next",
    ".terraform",
    "Pods",
];

/// First path components of every project file any client reads (`.mcp.json`, `.cursor`, ...),
/// plus `.git`.
pub fn marker_names(os: Os) -> HashSet<String> {
    let mut names = HashSet::new();
    names.insert(".git".to_string());
    let base = Path::new("");
    for client in REGISTRY {
        let mut cands = Vec::new();
        client.project_files(base, os, &mut cands);
        for c in cands {
            if let Some(first) = c.path.components().next() {
                names.insert(first.as_os_str().to_string_lossy().into_owned());
            }
        }
    }
    names
}

/// Project directories under the code roots of `home`.
pub fn walk_code_roots(home: &Path, markers: &HashSet<String>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for root in CODE_ROOTS {
        walk(&home.join(root), MAX_DEPTH, markers, &mut out);
    }
    out
}

fn walk(dir: &Path, depth: usize, markers: &HashSet<String>, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut subdirs = Vec::new();
    let mut is_project = false;
    for entry in rd.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if markers.contains(&name) {
            is_project = true;
        }
        // file_type() does not follow symlinks: linked directories are not walked (no loops).
        // A client's own directory inside a project (`.warp`, `.cursor`, ...) is never a project
        // itself: walking into it would read `.warp/.mcp.json` as a Claude Code `.mcp.json`.
        if depth > 0
            && entry.file_type().is_ok_and(|t| t.is_dir())
            && !SKIP.contains(&name.as_str())
            && !markers.contains(&name)
        {
            subdirs.push(entry.path());
        }
    }
    if is_project {
        out.push(dir.to_path_buf());
    }
    subdirs.sort();
    for sub in subdirs {
        walk(&sub, depth - 1, markers, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_finds_projects_and_skips_dependency_dirs() {
        let home = tempfile::tempdir().expect("tempdir");
        let h = home.path();
        for d in ["src/app/.git", "src/app/node_modules/dep/.cursor", "code/a/b/c/d/.vscode", "code/a/b/c/d/e/f/.git"] {
            std::fs::create_dir_all(h.join(d)).expect("mkdir");
        }
        std::fs::write(h.join("src/app/.mcp.json"), "{}").expect("write");
        let found = walk_code_roots(h, &marker_names(Os::Linux));
        assert_eq!(found, vec![h.join("src/app"), h.join("code/a/b/c/d")]);
    }

    #[test]
    fn client_dir_holding_a_dot_mcp_json_is_not_a_project() {
        let home = tempfile::tempdir().expect("tempdir");
        let h = home.path();
        std::fs::create_dir_all(h.join("work/infra/.warp")).expect("mkdir");
        std::fs::write(h.join("work/infra/.warp/.mcp.json"), "{}").expect("write");
        let found = walk_code_roots(h, &marker_names(Os::Linux));
        assert_eq!(found, vec![h.join("work/infra")]);
    }
}
