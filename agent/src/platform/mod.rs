//! Everything that differs between Linux, macOS and Windows, and between scanning this machine
//! and scanning a machine image (`--root DIR --os OS`).
//!
//! A [`Layout`] maps the scanned machine's paths to paths on the host that runs the agent, and
//! back ("as on the scanned machine") for reporting. Client modules never build OS-specific paths
//! themselves: they ask a [`UserCtx`] or [`SystemCtx`] for `home`, `appdata`, `app_support`, the
//! VS Code family user dirs, and so on. [`host_facts`] (`host.rs`) says what machine it is:
//! hostname, OS version, architecture, machine id. This module does not read configuration
//! files.

mod host;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

pub use host::{HostFacts, host_facts};

/// Operating system family of the scanned machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Os {
    Linux,
    Macos,
    Windows,
}

impl Os {
    /// The OS this agent was built for.
    pub fn current() -> Os {
        if cfg!(target_os = "macos") {
            Os::Macos
        } else if cfg!(windows) {
            Os::Windows
        } else {
            Os::Linux
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Os::Linux => "linux",
            Os::Macos => "macos",
            Os::Windows => "windows",
        }
    }
}

impl std::str::FromStr for Os {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "linux" => Ok(Os::Linux),
            "macos" | "darwin" | "mac" => Ok(Os::Macos),
            "windows" | "win" => Ok(Os::Windows),
            other => Err(format!("unknown os {other:?} (expected linux, macos or windows)")),
        }
    }
}

/// Products of the VS Code family: each keeps a `User` dir of its own under the same
/// OS-specific parent. Extensions (Cline, Roo, Kilo) keep data in every one of them.
pub const VSCODE_FAMILY_PRODUCTS: &[&str] = &[
    "Code",
    "Code - Insiders",
    "Code - OSS",
    "VSCodium",
    "VSCodium - Insiders",
    "Cursor",
    "Windsurf",
    "Windsurf - Next",
    "Trae",
    "Trae CN",
    "Kiro",
    "Positron",
    "Void",
    "Antigravity",
];

/// How the scan sees the filesystem: the live machine, or an image rooted at a directory.
#[derive(Clone, Debug)]
pub struct Layout {
    os: Os,
    root: Option<PathBuf>,
}

impl Layout {
    /// Scan this machine as it is.
    pub fn live() -> Layout {
        Layout { os: Os::current(), root: None }
    }

    /// Scan a machine image: `root` stands for that machine's filesystem root.
    pub fn image(root: PathBuf, os: Os) -> Layout {
        Layout { os, root: Some(root) }
    }

    pub fn os(&self) -> Os {
        self.os
    }

    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    pub fn is_image(&self) -> bool {
        self.root.is_some()
    }

    /// Host path of an absolute path written the scanned machine's way (`/home/dev/src`,
    /// `C:\Users\dev\src`, `C:/Users/dev`, `file:///c%3A/Users/dev`). Relative paths give `None`.
    pub fn resolve(&self, machine_path: &str) -> Option<PathBuf> {
        let p = machine_path.trim();
        let p = if let Some(rest) = p.strip_prefix("file://") { percent_decode(rest) } else { p.to_string() };
        let normalised = p.replace('\\', "/");
        // Windows drive letters, also in the `/c:/Users` form used by file URIs.
        let without_drive = {
            let s = normalised.trim_start_matches('/');
            let b = s.as_bytes();
            if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() { Some(s[2..].to_string()) } else { None }
        };
        match &self.root {
            None => {
                if self.os == Os::Windows {
                    Some(PathBuf::from(p))
                } else if normalised.starts_with('/') {
                    Some(PathBuf::from(normalised))
                } else {
                    None
                }
            }
            Some(root) => {
                let rel = match without_drive {
                    Some(rest) => rest,
                    None if normalised.starts_with('/') => normalised.clone(),
                    None => return None,
                };
                let mut out = root.clone();
                for comp in rel.split('/') {
                    match comp {
                        "" | "." => {}
                        ".." => {
                            // Never climb out of the image root.
                            if out != *root {
                                out.pop();
                            }
                        }
                        c => out.push(c),
                    }
                }
                Some(out)
            }
        }
    }

    /// A host path written as it is on the scanned machine, for reports.
    pub fn display(&self, host_path: &Path) -> String {
        let Some(root) = &self.root else {
            return host_path.to_string_lossy().into_owned();
        };
        let Ok(rel) = host_path.strip_prefix(root) else {
            return host_path.to_string_lossy().into_owned();
        };
        let parts: Vec<String> = rel
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        match self.os {
            Os::Windows => format!("C:\\{}", parts.join("\\")),
            _ => format!("/{}", parts.join("/")),
        }
    }

    /// Host path of a fixed machine path such as `/etc` or `C:\ProgramData`.
    fn system(&self, machine_path: &str) -> PathBuf {
        self.resolve(machine_path).unwrap_or_else(|| PathBuf::from(machine_path))
    }

    /// System-wide directories that hold managed (enterprise) configuration.
    pub fn system_ctx(&self) -> SystemCtx {
        let (etc, app_support, program_files, program_data) = match self.os {
            Os::Linux => (Some(self.system("/etc")), None, None, None),
            Os::Macos => (Some(self.system("/etc")), Some(self.system("/Library/Application Support")), None, None),
            Os::Windows => (None, None, Some(self.system("C:\\Program Files")), Some(self.system("C:\\ProgramData"))),
        };
        SystemCtx { os: self.os, etc, app_support, program_files, program_data }
    }

    /// The OS users whose homes an image holds. Homes are `DIR/home/<user>` (plus `DIR/root`)
    /// on Linux and `DIR/Users/<user>` on macOS and Windows.
    pub fn image_users(&self) -> Vec<UserHome> {
        let Some(root) = &self.root else { return Vec::new() };
        let mut users = Vec::new();
        let (parent, skip): (PathBuf, &[&str]) = match self.os {
            Os::Linux => (root.join("home"), &[]),
            Os::Macos => (root.join("Users"), &["Shared", "Guest"]),
            Os::Windows => (root.join("Users"), &["Public", "Default", "Default User", "All Users", "defaultuser0"]),
        };
        for dir in sorted_subdirs(&parent) {
            let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                continue;
            };
            if skip.contains(&name.as_str()) || name.starts_with('.') {
                continue;
            }
            users.push(UserHome { name, uid: None, home: dir });
        }
        if self.os == Os::Linux && root.join("root").is_dir() {
            users.push(UserHome { name: "root".into(), uid: Some(0), home: root.join("root") });
        }
        users
    }
}

/// The users a live scan covers: every user with a home when the agent runs with privileges
/// (root on Unix), otherwise only the user it runs as (from `HOME` and `USER` in `env`).
pub fn live_users(env: &EnvMap) -> Vec<UserHome> {
    #[cfg(unix)]
    {
        if rustix::process::geteuid().is_root()
            && let Ok(passwd) = std::fs::read_to_string("/etc/passwd")
        {
            let users = users_from_passwd(&passwd, Os::current());
            if !users.is_empty() {
                return users;
            }
        }
    }
    let home = env.get("HOME").or_else(|| env.get("USERPROFILE")).map(PathBuf::from);
    let name = env.get("USER").or_else(|| env.get("USERNAME")).cloned().unwrap_or_else(|| "unknown".into());
    #[cfg(unix)]
    let uid = Some(rustix::process::getuid().as_raw());
    #[cfg(not(unix))]
    let uid = None;
    home.map(|home| vec![UserHome { name, uid, home }]).unwrap_or_default()
}

/// Login users from `/etc/passwd` text: uid 0 or >= 1000 (500 on macOS), a real shell and an
/// existing home directory.
pub fn users_from_passwd(passwd: &str, os: Os) -> Vec<UserHome> {
    let min_uid = if os == Os::Macos { 500 } else { 1000 };
    let mut out = Vec::new();
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || line.starts_with('#') {
            continue;
        }
        let Ok(uid) = f[2].parse::<u32>() else { continue };
        let shell = f[6];
        let real = uid == 0 || (uid >= min_uid && uid != 65534);
        if !real || shell.ends_with("nologin") || shell.ends_with("/false") {
            continue;
        }
        let home = PathBuf::from(f[5]);
        if home.is_dir() && !out.iter().any(|u: &UserHome| u.home == home) {
            out.push(UserHome { name: f[0].to_string(), uid: Some(uid), home });
        }
    }
    out
}

/// One OS user's home on the scanned machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserHome {
    pub name: String,
    pub uid: Option<u32>,
    /// Host path of the home directory.
    pub home: PathBuf,
}

/// The only environment variables the agent reads: who the user is and where clients keep
/// their files. Everything else in the environment (API keys among it) is never looked at.
pub const RELOCATING_VARS: &[&str] = &[
    "HOME",
    "USER",
    "USERNAME",
    "USERPROFILE",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "COPILOT_HOME",
    "CLINE_MCP_SETTINGS_PATH",
    "CLINE_DATA_DIR",
    "CLINE_DIR",
    "CONTINUE_GLOBAL_DIR",
    "KIMI_CODE_HOME",
    "OPENCODE_CONFIG",
    "OPENCODE_CONFIG_DIR",
    "CRUSH_GLOBAL_DATA",
];

/// Environment variables that relocate a client's files (`CODEX_HOME`, `XDG_CONFIG_HOME`, ...).
/// Only the user the agent runs as has them; other users and images get an empty map.
pub type EnvMap = BTreeMap<String, String>;

/// What a client module needs to find one user's files.
#[derive(Clone, Debug)]
pub struct UserCtx {
    pub name: String,
    pub home: PathBuf,
    pub os: Os,
    env: EnvMap,
}

impl UserCtx {
    pub fn new(user: &UserHome, os: Os, env: EnvMap) -> UserCtx {
        UserCtx { name: user.name.clone(), home: user.home.clone(), os, env }
    }

    /// An environment variable of this user's session, when the agent runs as this user.
    /// Values that are not absolute paths are ignored: they relocate files and nothing else.
    pub fn env_path(&self, name: &str) -> Option<PathBuf> {
        let v = self.env.get(name)?;
        let p = PathBuf::from(v);
        (p.is_absolute() && !v.is_empty()).then_some(p)
    }

    /// `~/.config`, or `$XDG_CONFIG_HOME` when set (Linux and macOS CLIs alike).
    pub fn xdg_config(&self) -> PathBuf {
        self.env_path("XDG_CONFIG_HOME").unwrap_or_else(|| self.home.join(".config"))
    }

    /// `~/.local/share`, or `$XDG_DATA_HOME`.
    pub fn xdg_data(&self) -> PathBuf {
        self.env_path("XDG_DATA_HOME").unwrap_or_else(|| self.home.join(".local/share"))
    }

    /// `%APPDATA%` (Windows).
    pub fn appdata(&self) -> PathBuf {
        self.home.join("AppData").join("Roaming")
    }

    /// `%LOCALAPPDATA%` (Windows).
    pub fn localappdata(&self) -> PathBuf {
        self.home.join("AppData").join("Local")
    }

    /// `~/Library/Application Support` (macOS).
    pub fn app_support(&self) -> PathBuf {
        self.home.join("Library").join("Application Support")
    }

    /// Where a desktop app keeps per-user data: `~/.config/<App>` (Linux),
    /// `~/Library/Application Support/<App>` (macOS), `%APPDATA%\<App>` (Windows).
    pub fn app_data_dir(&self, app: &str) -> PathBuf {
        match self.os {
            Os::Linux => self.xdg_config().join(app),
            Os::Macos => self.app_support().join(app),
            Os::Windows => self.appdata().join(app),
        }
    }

    /// Every VS Code family `User` dir that exists for this user: one per product, plus the
    /// remote-server dirs (`~/.vscode-server/data/User`), each with the product name.
    pub fn vscode_user_dirs(&self) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        for product in VSCODE_FAMILY_PRODUCTS {
            let dir = self.app_data_dir(product).join("User");
            if dir.is_dir() {
                out.push(((*product).to_string(), dir));
            }
        }
        for (name, sub) in [
            ("vscode-server", ".vscode-server"),
            ("vscode-server-insiders", ".vscode-server-insiders"),
            ("vscodium-server", ".vscodium-server"),
            ("cursor-server", ".cursor-server"),
            ("windsurf-server", ".windsurf-server"),
        ] {
            let dir = self.home.join(sub).join("data").join("User");
            if dir.is_dir() {
                out.push((name.to_string(), dir));
            }
        }
        out
    }

    /// The `User` dir of one VS Code family product, whether or not it exists.
    pub fn vscode_user_dir(&self, product: &str) -> PathBuf {
        self.app_data_dir(product).join("User")
    }
}

/// Where managed (enterprise) configuration lives on the scanned machine.
#[derive(Clone, Debug)]
pub struct SystemCtx {
    pub os: Os,
    /// `/etc` (Linux and macOS).
    pub etc: Option<PathBuf>,
    /// `/Library/Application Support` (macOS).
    pub app_support: Option<PathBuf>,
    /// `C:\Program Files` (Windows).
    pub program_files: Option<PathBuf>,
    /// `C:\ProgramData` (Windows).
    pub program_data: Option<PathBuf>,
}

/// Sub-directories of `dir`, sorted by name; empty when `dir` is missing or unreadable.
pub fn sorted_subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

/// Files in `dir` whose names satisfy `pred`, sorted; empty when `dir` is missing.
pub fn files_matching(dir: &Path, pred: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => {
            rd.filter_map(Result::ok).filter(|e| pred(&e.file_name().to_string_lossy())).map(|e| e.path()).collect()
        }
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_paths_resolve_under_root_and_display_as_on_the_machine() {
        let linux = Layout::image(PathBuf::from("/img"), Os::Linux);
        assert_eq!(linux.resolve("/home/dev/src/app"), Some(PathBuf::from("/img/home/dev/src/app")));
        assert_eq!(linux.resolve("relative/path"), None);
        assert_eq!(linux.resolve("/../../etc/passwd"), Some(PathBuf::from("/img/etc/passwd")));
        assert_eq!(linux.display(Path::new("/img/home/dev/.cursor/mcp.json")), "/home/dev/.cursor/mcp.json");

        let win = Layout::image(PathBuf::from("/img"), Os::Windows);
        assert_eq!(win.resolve("C:\\Users\\dev\\src\\app"), Some(PathBuf::from("/img/Users/dev/src/app")));
        assert_eq!(win.resolve("c:/Users/dev/x"), Some(PathBuf::from("/img/Users/dev/x")));
        assert_eq!(win.resolve("file:///c%3A/Users/dev/repo"), Some(PathBuf::from("/img/Users/dev/repo")));
        assert_eq!(
            win.display(Path::new("/img/Users/dev/AppData/Roaming/Code/User/mcp.json")),
            "C:\\Users\\dev\\AppData\\Roaming\\Code\\User\\mcp.json"
        );
    }

    #[test]
    fn image_users_skip_windows_system_profiles() {
        let dir = tempfile::tempdir().expect("tempdir");
        for u in ["alice", "bob", "Public", "Default"] {
            std::fs::create_dir_all(dir.path().join("Users").join(u)).expect("mkdir");
        }
        let layout = Layout::image(dir.path().to_path_buf(), Os::Windows);
        let names: Vec<String> = layout.image_users().into_iter().map(|u| u.name).collect();
        assert_eq!(names, ["alice", "bob"]);
    }
}
