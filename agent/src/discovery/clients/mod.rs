//! One module per MCP client, each behind the small [`ClientSource`] trait and listed once in
//! [`REGISTRY`].
//!
//! A client module knows three things: its stable id (from the reference's client list), the
//! files it reads for a user, a project and the managed scope on each OS, and how to turn one
//! parsed file into server entries. It does no I/O beyond listing directories to find
//! candidates; reading, size limits and syntax are the scan's job, so a module's `parse` is a
//! pure function of the parsed document.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::entry::{self, Dialect, EntryError, RawServer};
use super::formats::{FileFormat, Keep};
use crate::platform::{Layout, Os, SystemCtx, UserCtx};
use muster_proto::v1::Scope;

pub mod amazon_q;
pub mod amp;
pub mod antigravity;
pub mod augment;
pub mod boltai;
pub mod claude_code;
pub mod claude_desktop;
pub mod cline;
pub mod codex;
pub mod continue_dev;
pub mod copilot_cli;
pub mod copilot_jetbrains;
pub mod crush;
pub mod cursor;
pub mod devin;
pub mod docker_mcp_toolkit;
pub mod factory_droid;
pub mod five_ire;
pub mod gemini_cli;
pub mod goose;
pub mod jetbrains_ai;
pub mod junie;
pub mod kilo_code;
pub mod kimi_code;
pub mod kiro;
pub mod lm_studio;
pub mod mcphub;
pub mod mistral_vibe;
pub mod opencode;
pub mod qwen_code;
pub mod roo_code;
pub mod trae;
pub mod visual_studio;
pub mod vscode;
pub mod warp;
pub mod windsurf;
pub mod zed;

/// Every client Muster knows, in the order of the reference's client list.
pub static REGISTRY: &[&dyn ClientSource] = &[
    &claude_desktop::ClaudeDesktop,
    &claude_code::ClaudeCode,
    &cursor::Cursor,
    &vscode::VsCode,
    &visual_studio::VisualStudio,
    &copilot_jetbrains::CopilotJetbrains,
    &copilot_cli::CopilotCli,
    &windsurf::Windsurf,
    &cline::Cline,
    &roo_code::RooCode,
    &kilo_code::KiloCode,
    &continue_dev::Continue,
    &zed::Zed,
    &gemini_cli::GeminiCli,
    &codex::Codex,
    &goose::Goose,
    &amazon_q::AmazonQ,
    &kiro::Kiro,
    &lm_studio::LmStudio,
    &junie::Junie,
    &jetbrains_ai::JetbrainsAi,
    &opencode::Opencode,
    &warp::Warp,
    &augment::Augment,
    &trae::Trae,
    &five_ire::FiveIre,
    &boltai::BoltAi,
    &mcphub::Mcphub,
    &docker_mcp_toolkit::DockerMcpToolkit,
    &amp::Amp,
    &crush::Crush,
    &antigravity::Antigravity,
    &qwen_code::QwenCode,
    &factory_droid::FactoryDroid,
    &kimi_code::KimiCode,
    &mistral_vibe::MistralVibe,
    &devin::Devin,
];

/// The client with this id.
pub fn by_id(id: &str) -> Option<&'static dyn ClientSource> {
    REGISTRY.iter().copied().find(|c| c.id() == id)
}

/// A file a client may read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Host path.
    pub path: PathBuf,
    pub scope: Scope,
    pub format: FileFormat,
    /// Which of the client's files this is, for `parse` ("mcp", "settings", "manifest", ...).
    pub kind: &'static str,
}

impl Candidate {
    pub fn new(path: PathBuf, scope: Scope, format: FileFormat, kind: &'static str) -> Candidate {
        Candidate { path, scope, format, kind }
    }

    pub fn user(path: PathBuf, format: FileFormat, kind: &'static str) -> Candidate {
        Candidate::new(path, Scope::User, format, kind)
    }

    pub fn project(path: PathBuf, format: FileFormat, kind: &'static str) -> Candidate {
        Candidate::new(path, Scope::Project, format, kind)
    }

    pub fn managed(path: PathBuf, format: FileFormat, kind: &'static str) -> Candidate {
        Candidate::new(path, Scope::Managed, format, kind)
    }
}

/// What one file yields: its servers, the entries that could not be read, and project
/// directories the file records (written as on the scanned machine).
#[derive(Debug, Default)]
pub struct Parsed {
    pub servers: Vec<RawServer>,
    pub entry_errors: Vec<String>,
    pub projects: Vec<String>,
    /// Files this document points at for more servers (a Claude Code plugin manifest whose
    /// `mcpServers` is a relative path): read next by the same client, for the same user and
    /// project, their servers given `origin` when they have none.
    pub linked: Vec<(Candidate, Option<String>)>,
    /// Disabled state kept outside the server entries it applies to.
    pub disabled_elsewhere: Vec<DisabledElsewhere>,
}

/// Servers a file disables although their entries live elsewhere; applied by the scan once
/// every file of the user is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DisabledElsewhere {
    /// Every server of this client with this origin (a Claude Desktop extension's settings file
    /// saying `"isEnabled": false` for `extension:<id>`).
    Origin(String),
    /// Servers of a project's `.mcp.json` with these names (Claude Code's
    /// `disabledMcpjsonServers`): the project as written in the file (a `~/.claude.json` key), or
    /// as a host directory (the project's own `.claude/settings*.json`).
    ProjectMcpJson { project: ProjectDir, names: Vec<String> },
}

/// A project directory as a file names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProjectDir {
    /// As written on the scanned machine; resolved through the layout.
    Written(String),
    /// A host path.
    Host(PathBuf),
}

impl Parsed {
    /// Adds per-entry results: servers go to `servers`, errors to `entry_errors`.
    pub fn extend(&mut self, results: Vec<Result<RawServer, EntryError>>) {
        for r in results {
            match r {
                Ok(s) => self.servers.push(s),
                Err(e) => self.entry_errors.push(e.to_string()),
            }
        }
    }

    /// Records that `key` exists but is not the expected shape.
    pub fn wrong_shape(&mut self, key: &str, expected: &str) {
        self.entry_errors.push(format!("{key:?} is not {expected}; its servers were not read"));
    }
}

/// One MCP client: where it keeps MCP configuration and how to read it.
pub trait ClientSource: Sync {
    /// Stable id from the reference's client list (`claude-desktop`, `vscode`, ...).
    fn id(&self) -> &'static str;

    /// Files the client reads for one user (user scope).
    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>);

    /// Files the client reads inside a project directory; paths are joined onto `project`.
    fn project_files(&self, _project: &Path, _os: Os, _out: &mut Vec<Candidate>) {}

    /// Enterprise / system-wide files.
    fn managed_files(&self, _sys: &SystemCtx, _out: &mut Vec<Candidate>) {}

    /// Project directories the client itself has recorded for this user (recently opened
    /// folders), as host paths.
    /// The parts of `file` this client reads, when it can say (a large file is then read
    /// without building the rest); `None` reads the whole document.
    fn keep(&self, _file: &Candidate) -> Option<&'static Keep> {
        None
    }

    fn recorded_projects(&self, _user: &UserCtx, _layout: &Layout) -> Vec<PathBuf> {
        Vec::new()
    }

    /// Turns one parsed file into server entries. Pure: no I/O.
    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed;
}

/// The common case: servers in a `{name: entry}` map under `key` (a top-level key; a literal
/// dotted key like Amp's `"amp.mcpServers"` is looked up as written).
pub fn parse_map_at(doc: &Value, key: &str, dialect: Dialect) -> Parsed {
    let mut parsed = Parsed::default();
    read_map_into(&mut parsed, doc.get(key), key, dialect);
    parsed
}

/// Reads a server map into `parsed`; a missing or null key adds nothing.
pub fn read_map_into(parsed: &mut Parsed, value: Option<&Value>, key: &str, dialect: Dialect) {
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => parsed.extend(entry::normalise_map(map, dialect)),
        Some(_) => parsed.wrong_shape(key, "an object of servers"),
    }
}

/// Reads a server list (entries with `name`) into `parsed`.
pub fn read_list_into(parsed: &mut Parsed, value: Option<&Value>, key: &str, dialect: Dialect) {
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => parsed.extend(entry::normalise_list(list, dialect)),
        Some(_) => parsed.wrong_shape(key, "a list of servers"),
    }
}

/// Adds `dir/<rel>` for each `rel` as a candidate of one scope.
pub fn add_all(
    out: &mut Vec<Candidate>,
    dir: &Path,
    rels: &[&str],
    scope: Scope,
    format: FileFormat,
    kind: &'static str,
) {
    for rel in rels {
        out.push(Candidate::new(dir.join(rel), scope, format, kind));
    }
}

/// Adds every file in `dir` whose name ends with `suffix` (agent definitions, extension
/// manifests, block files).
pub fn add_dir_files(
    out: &mut Vec<Candidate>,
    dir: &Path,
    suffix: &str,
    scope: Scope,
    format: FileFormat,
    kind: &'static str,
) {
    for path in crate::platform::files_matching(dir, |n| n.ends_with(suffix) && !n.starts_with('.')) {
        out.push(Candidate::new(path, scope, format, kind));
    }
}

/// The file stem of a candidate, used to name servers defined by agent or extension files.
pub fn file_stem(file: &Candidate) -> String {
    file.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Name of the directory that holds a candidate (an extension's or plugin's id).
pub fn parent_name(file: &Candidate) -> String {
    file.path.parent().and_then(|p| p.file_name()).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Sets `origin` on every server parsed so far.
pub fn with_origin(mut parsed: Parsed, origin: String) -> Parsed {
    for s in &mut parsed.servers {
        s.origin = Some(origin.clone());
    }
    parsed
}

/// Helpers for the client modules' unit tests of environment relocation.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::PathBuf;

    use super::ClientSource;
    use crate::platform::{Os, UserCtx, UserHome};

    /// User `alice` on Linux with the given relocating variables.
    pub fn user_with(env: &[(&str, &str)]) -> UserCtx {
        let home = UserHome { name: "alice".into(), uid: None, home: PathBuf::from("/home/alice") };
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        UserCtx::new(&home, Os::Linux, env)
    }

    /// The user-scope candidate paths of a client.
    pub fn paths(source: &dyn ClientSource, user: &UserCtx) -> Vec<PathBuf> {
        let mut out = Vec::new();
        source.user_files(user, &mut out);
        out.into_iter().map(|c| c.path).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_holds_every_reference_client_once() {
        let ids: Vec<&str> = REGISTRY.iter().map(|c| c.id()).collect();
        let expected = [
            "claude-desktop",
            "claude-code",
            "cursor",
            "vscode",
            "visual-studio",
            "copilot-jetbrains",
            "copilot-cli",
            "windsurf",
            "cline",
            "roo-code",
            "kilo-code",
            "continue",
            "zed",
            "gemini-cli",
            "codex",
            "goose",
            "amazon-q",
            "kiro",
            "lm-studio",
            "junie",
            "jetbrains-ai",
            "opencode",
            "warp",
            "augment",
            "trae",
            "5ire",
            "boltai",
            "mcphub",
            "docker-mcp-toolkit",
            "amp",
            "crush",
            "antigravity",
            "qwen-code",
            "factory-droid",
            "kimi-code",
            "mistral-vibe",
            "devin",
        ];
        assert_eq!(ids, expected);
    }
}
