//! "Written but not in force": what a writer looks at to tell whether a higher-precedence source
//! shadows the file Muster wrote. A [`Probe`] answers questions about the machine (does a file
//! exist, what does it hold, is a variable set in the system-wide environment); [`FsProbe`]
//! answers them from the real filesystem under the layout's root, so tests use real files.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::platform::{EnvMap, Layout};

/// A source that makes what Muster wrote not in force, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Shadow {
    /// The shadowing source, as on the scanned machine (a path, a variable, a key).
    pub source: String,
    pub why: String,
}

/// Questions about the machine a writer's shadow check asks.
pub trait Probe {
    /// The file's bytes (a host path), if it can be read (at most 1 MiB).
    fn read(&self, host_path: &Path) -> Option<Vec<u8>>;
    /// Whether the path exists.
    fn exists(&self, host_path: &Path) -> bool;
    /// The value of a variable in the environment the clients are started with: the agent's
    /// own environment (for a live machine) and `/etc/environment`.
    fn system_env(&self, layout: &Layout, name: &str) -> Option<String>;
    /// The users of the machine and their homes (host paths).
    fn users(&self, layout: &Layout) -> Vec<crate::platform::UserHome>;
    /// A string value under an `HKLM` key of a Windows machine (the image's registry file, or
    /// the live registry); `Err` says why it could not be read.
    fn registry_value(&self, layout: &Layout, key: &str, name: &str) -> Result<Option<String>, String>;
}

/// The real filesystem (under the layout's root for an image) and the given environment.
#[derive(Clone, Debug, Default)]
pub struct FsProbe {
    /// The agent's own environment; empty for an image.
    pub env: EnvMap,
}

const MAX_PROBE_READ: u64 = 1 << 20;

impl Probe for FsProbe {
    fn read(&self, host_path: &Path) -> Option<Vec<u8>> {
        use std::io::Read;
        let f = std::fs::File::open(host_path).ok()?;
        if !f.metadata().ok()?.is_file() {
            return None;
        }
        let mut out = Vec::new();
        f.take(MAX_PROBE_READ).read_to_end(&mut out).ok()?;
        Some(out)
    }

    fn exists(&self, host_path: &Path) -> bool {
        host_path.symlink_metadata().is_ok()
    }

    fn system_env(&self, layout: &Layout, name: &str) -> Option<String> {
        if let Some(v) = self.env.get(name).filter(|v| !v.is_empty()) {
            return Some(v.clone());
        }
        let etc_env = layout.resolve("/etc/environment")?;
        let text = String::from_utf8(self.read(&etc_env)?).ok()?;
        environment_file_value(&text, name)
    }

    fn users(&self, layout: &Layout) -> Vec<crate::platform::UserHome> {
        if layout.is_image() { layout.image_users() } else { crate::platform::live_users(&self.env) }
    }

    fn registry_value(&self, layout: &Layout, key: &str, name: &str) -> Result<Option<String>, String> {
        let Some(reg) = crate::enforce::registry::for_layout(layout) else { return Ok(None) };
        reg.get(key, name).map_err(|e| e.to_string())
    }
}

/// The value `/etc/environment` (pam_env's `NAME=value` lines, optionally quoted) gives `name`.
pub fn environment_file_value(text: &str, name: &str) -> Option<String> {
    text.lines().rev().find_map(|line| {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (k, v) = line.split_once('=')?;
        if k.trim() != name {
            return None;
        }
        let v = v.trim().trim_matches('"').trim_matches('\'');
        (!v.is_empty()).then(|| v.to_string())
    })
}

/// macOS managed-preferences files for a domain: the machine-wide one and every user's.
pub fn managed_preferences(layout: &Layout, domain: &str, probe: &dyn Probe) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Some(dir) = layout.resolve("/Library/Managed Preferences") else { return out };
    let file = format!("{domain}.plist");
    let machine = dir.join(&file);
    if probe.exists(&machine) {
        out.push((layout.display(&machine), machine));
    }
    for user_dir in crate::platform::sorted_subdirs(&dir) {
        let p = user_dir.join(&file);
        if probe.exists(&p) {
            out.push((layout.display(&p), p));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_file_values_are_read_like_pam_env() {
        let text = "PATH=/usr/bin\nexport GEMINI_CLI_SYSTEM_SETTINGS_PATH=\"/tmp/x.json\"\n";
        assert_eq!(environment_file_value(text, "GEMINI_CLI_SYSTEM_SETTINGS_PATH").as_deref(), Some("/tmp/x.json"));
        assert_eq!(environment_file_value(text, "GEMINI"), None);
        assert_eq!(environment_file_value("X=\n", "X"), None);
    }
}
