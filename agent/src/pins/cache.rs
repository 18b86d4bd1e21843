//! Which exact version a user's local package cache holds for an unpinned launch: npm's npx
//! cache (`~/.npm/_npx/<hash>/`) and uv's installed tools (`~/.local/share/uv/tools/<name>/`)
//! and cached tool environments (`~/.cache/uv/environments-v2/...`). The layouts relied on,
//! with their sources, are in `docs/adr/0025-pin-the-version-the-cache-knows.md`.
//!
//! Only the default locations under the user's home are read: the user's environment
//! (`npm_config_cache`, `UV_CACHE_DIR`, `XDG_CACHE_HOME`, ...) is not known to a system agent,
//! so a relocated cache gives no candidate. Reads are bounded (small JSON files, directory
//! listings) and never follow a package name out of the cache (names are checked first). This
//! module decides nothing about what to write.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// What the cache says about one launch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Exactly one version for this request.
    Found(String),
    /// No entry for this request.
    Missing,
    /// Several versions for the same request: Muster refuses to guess (ADR 0025).
    Ambiguous(Vec<String>),
}

impl Lookup {
    fn from_versions(versions: BTreeSet<String>) -> Lookup {
        let mut list: Vec<String> = versions.into_iter().collect();
        match list.len() {
            0 => Lookup::Missing,
            1 => Lookup::Found(list.remove(0)),
            _ => Lookup::Ambiguous(list),
        }
    }
}

/// The largest cache metadata file read (a `package.json` is a few kilobytes).
const MAX_METADATA_LEN: u64 = 1024 * 1024;

/// Directory entries looked at per cache directory, so a huge cache cannot stall a scan.
const MAX_ENTRIES: usize = 4096;

fn read_json(path: &Path) -> Option<Value> {
    let meta = fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_METADATA_LEN {
        return None;
    }
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .take(MAX_ENTRIES)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

/// An npm package name (`name`, `@scope/name`) that is safe to join onto a path.
pub fn is_npm_name(name: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && p.len() <= 214
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    };
    match name.strip_prefix('@') {
        Some(scoped) => scoped.split_once('/').is_some_and(|(scope, n)| part(scope) && part(n)),
        None => part(name),
    }
}

/// A PyPI project name (PEP 508: letters, digits, `-`, `_`, `.`, starting and ending with a
/// letter or digit).
pub fn is_pypi_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// An exact npm version (`1.2.3`, `1.2.3-rc.1`).
fn is_exact_npm_version(v: &str) -> bool {
    crate::discovery::package::npm_spec(&format!("x@{v}")).pinned
        && !v.starts_with('v')
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b".-+".contains(&b))
}

/// An exact PEP 440 version as wheels spell it (`0.6.2`, `1.0.0rc1`, `2!1.0.post1`).
fn is_exact_pypi_version(v: &str) -> bool {
    !v.is_empty()
        && v.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b".!+_".contains(&b))
}

/// npx: the versions of `name` installed for the request `request` (the spec as launched,
/// `pkg` or `pkg@latest`) in `<home>/.npm/_npx/*/`. An entry is this request's when its
/// `package.json` lists exactly `[request]` under `_npx.packages` (npm 10's record of what was
/// asked for); an entry without that record (older npm) is when its `dependencies` name `name`
/// alone. The version is that of `node_modules/<name>/package.json`, what npx runs.
pub fn npx(home: &Path, request: &str, name: &str) -> Lookup {
    if !is_npm_name(name) {
        return Lookup::Missing;
    }
    let mut versions = BTreeSet::new();
    for entry in subdirs(&home.join(".npm").join("_npx")) {
        let Some(manifest) = read_json(&entry.join("package.json")) else { continue };
        let ours = match manifest.pointer("/_npx/packages").and_then(Value::as_array) {
            Some(packages) => packages.len() == 1 && packages[0].as_str() == Some(request),
            None => manifest
                .get("dependencies")
                .and_then(Value::as_object)
                .is_some_and(|deps| deps.len() == 1 && deps.contains_key(name)),
        };
        if !ours {
            continue;
        }
        let installed = entry.join("node_modules").join(name).join("package.json");
        let Some(installed) = read_json(&installed) else { continue };
        if installed.get("name").and_then(Value::as_str) != Some(name) {
            continue;
        }
        if let Some(v) = installed.get("version").and_then(Value::as_str).filter(|v| is_exact_npm_version(v)) {
            versions.insert(v.to_string());
        }
    }
    Lookup::from_versions(versions)
}

/// PEP 503 normalisation: lower case, runs of `-`, `_`, `.` as one `-`.
pub fn normalize_pypi(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The version of `name` installed in the virtual environment `venv`
/// (`lib/python*/site-packages/<name>-<version>.dist-info`, name compared normalised).
fn venv_version(venv: &Path, name: &str) -> Option<String> {
    let wanted = normalize_pypi(name);
    for lib in subdirs(&venv.join("lib")) {
        if !lib.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("python")) {
            continue;
        }
        for dist in subdirs(&lib.join("site-packages")) {
            let Some(stem) = dist.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".dist-info"))
            else {
                continue;
            };
            // Wheel names escape `-` in the project name as `_`, so the first `-` ends it.
            let Some((project, version)) = stem.split_once('-') else { continue };
            if normalize_pypi(project) == wanted && is_exact_pypi_version(version) {
                return Some(version.to_string());
            }
        }
    }
    None
}

/// uvx / `uv tool run`: the version of `name` the launch of `command` runs. A tool installed
/// with `uv tool install` (`<home>/.local/share/uv/tools/<name>/`, with its `uv-receipt.toml`)
/// is what uvx runs when no version is asked for, so it decides alone. Otherwise each cached
/// tool environment (`<home>/.cache/uv/environments-v2/<interpreter>/<resolution>`, links
/// followed) that holds `name` and the `bin/<command>` entry point gives its version.
pub fn uv(home: &Path, name: &str, command: &str) -> Lookup {
    if !is_pypi_name(name) || !is_pypi_name(command) {
        return Lookup::Missing;
    }
    let tools = home.join(".local").join("share").join("uv").join("tools");
    for dir in [tools.join(name), tools.join(normalize_pypi(name))] {
        if dir.join("uv-receipt.toml").is_file()
            && let Some(v) = venv_version(&dir, name)
        {
            return Lookup::Found(v);
        }
    }
    let mut versions = BTreeSet::new();
    for interpreter in subdirs(&home.join(".cache").join("uv").join("environments-v2")) {
        for env in subdirs(&interpreter) {
            if !env.join("pyvenv.cfg").is_file() || !env.join("bin").join(command).exists() {
                continue;
            }
            if let Some(v) = venv_version(&env, name) {
                versions.insert(v);
            }
        }
    }
    Lookup::from_versions(versions)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn write(path: &Path, body: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, body).unwrap();
    }

    #[test]
    fn names_that_could_leave_the_cache_are_refused() {
        assert!(is_npm_name("@modelcontextprotocol/server-github"));
        assert!(is_npm_name("pkg"));
        assert!(!is_npm_name("../etc"));
        assert!(!is_npm_name("@a/../../b"));
        assert!(!is_npm_name(".."));
        assert!(is_pypi_name("mcp-server-time"));
        assert!(!is_pypi_name("../x"));
        assert_eq!(normalize_pypi("Mcp_Server..Time"), "mcp-server-time");
    }

    #[test]
    fn npx_entries_are_matched_by_request_and_old_entries_by_their_single_dependency() {
        let home = tempfile::tempdir().unwrap();
        let cache = home.path().join(".npm/_npx");
        write(&cache.join("aaaa/package.json"), r#"{"_npx":{"packages":["pkg"]},"dependencies":{"pkg":"^1.0.0"}}"#);
        write(&cache.join("aaaa/node_modules/pkg/package.json"), r#"{"name":"pkg","version":"1.4.0"}"#);
        // Another request for the same package (pinned) is not this one's.
        write(&cache.join("bbbb/package.json"), r#"{"_npx":{"packages":["pkg@1.0.0"]}}"#);
        write(&cache.join("bbbb/node_modules/pkg/package.json"), r#"{"name":"pkg","version":"1.0.0"}"#);
        assert_eq!(npx(home.path(), "pkg", "pkg"), Lookup::Found("1.4.0".into()));
        assert_eq!(npx(home.path(), "other", "other"), Lookup::Missing);
        // An older npm's entry for the same package with another version: ambiguous.
        write(&cache.join("cccc/package.json"), r#"{"dependencies":{"pkg":"*"}}"#);
        write(&cache.join("cccc/node_modules/pkg/package.json"), r#"{"name":"pkg","version":"1.3.9"}"#);
        assert_eq!(npx(home.path(), "pkg", "pkg"), Lookup::Ambiguous(vec!["1.3.9".into(), "1.4.0".into()]));
    }

    #[test]
    fn an_installed_uv_tool_decides_and_cached_environments_need_the_command() {
        let home = tempfile::tempdir().unwrap();
        let envs = home.path().join(".cache/uv/environments-v2");
        let site = "lib/python3.12/site-packages";
        write(&envs.join(format!("i1/r1/{site}/mcp_server_time-0.6.2.dist-info/METADATA")), "");
        write(&envs.join("i1/r1/pyvenv.cfg"), "");
        write(&envs.join("i1/r1/bin/mcp-server-time"), "");
        // An environment holding it only as a dependency of another tool does not count.
        write(&envs.join(format!("i1/r2/{site}/mcp_server_time-0.5.0.dist-info/METADATA")), "");
        write(&envs.join("i1/r2/pyvenv.cfg"), "");
        write(&envs.join("i1/r2/bin/other-tool"), "");
        assert_eq!(uv(home.path(), "mcp-server-time", "mcp-server-time"), Lookup::Found("0.6.2".into()));
        let tool = home.path().join(".local/share/uv/tools/mcp-server-time");
        write(&tool.join("uv-receipt.toml"), "[tool]\nrequirements = [{ name = \"mcp-server-time\" }]\n");
        write(&tool.join(format!("{site}/mcp_server_time-0.7.0.dist-info/METADATA")), "");
        assert_eq!(uv(home.path(), "mcp-server-time", "mcp-server-time"), Lookup::Found("0.7.0".into()));
    }
}
