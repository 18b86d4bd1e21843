//! Claude Desktop: `claude_desktop_config.json` (strict JSON: a trailing comma silently disables
//! every server) and installed desktop extensions (`.dxt`/`.mcpb`), whose `manifest.json` carries
//! the launch command under `server.mcp_config`; an extension turned off in the app has
//! `"isEnabled": false` in `Claude Extensions Settings/<id>.json`, which disables its server.
//!
//! Paths: `~/.config/Claude/` on Linux (community builds; the lower-case `claude` dir some tools
//! write is probed too), `~/Library/Application Support/Claude/` on macOS, `%APPDATA%\Claude\` for
//! the classic Windows installer and the MSIX build's virtualised copy under
//! `%LOCALAPPDATA%\Packages\Claude_*\LocalCache\Roaming\Claude\`. The third-party-inference
//! `managedMcpServers` policy arrives through MDM profiles (plist / registry), which this module
//! does not read.

use std::path::PathBuf;

use serde_json::Value;

use super::{
    Candidate, ClientSource, DisabledElsewhere, Parsed, add_dir_files, parent_name, parse_map_at, with_origin,
};
use crate::discovery::entry::{Dialect, normalise_entry};
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, UserCtx, sorted_subdirs};
use muster_proto::v1::Scope;

pub struct ClaudeDesktop;

impl ClaudeDesktop {
    /// Every directory that may hold `claude_desktop_config.json` for this user.
    fn data_dirs(user: &UserCtx) -> Vec<PathBuf> {
        match user.os {
            Os::Linux => vec![user.xdg_config().join("Claude"), user.xdg_config().join("claude")],
            Os::Macos => vec![user.app_support().join("Claude")],
            Os::Windows => {
                let mut dirs = vec![user.appdata().join("Claude")];
                for pkg in sorted_subdirs(&user.localappdata().join("Packages")) {
                    let is_claude = pkg.file_name().is_some_and(|n| n.to_string_lossy().starts_with("Claude_"));
                    if is_claude {
                        dirs.push(pkg.join("LocalCache").join("Roaming").join("Claude"));
                    }
                }
                dirs
            }
        }
    }
}

impl ClientSource for ClaudeDesktop {
    fn id(&self) -> &'static str {
        "claude-desktop"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        for dir in Self::data_dirs(user) {
            out.push(Candidate::user(dir.join("claude_desktop_config.json"), FileFormat::Json, "config"));
            for ext in sorted_subdirs(&dir.join("Claude Extensions")) {
                add_dir_files(out, &ext, "manifest.json", Scope::User, FileFormat::Json, "manifest");
                // Whether the extension is on lives beside it: `Claude Extensions Settings/<id>.json`.
                if let Some(id) = ext.file_name() {
                    let mut settings = id.to_os_string();
                    settings.push(".json");
                    out.push(Candidate::user(
                        dir.join("Claude Extensions Settings").join(settings),
                        FileFormat::Json,
                        "extension-settings",
                    ));
                }
            }
        }
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        match file.kind {
            "manifest" => parse_manifest(&parent_name(file), doc),
            "extension-settings" => {
                let mut parsed = Parsed::default();
                if doc.get("isEnabled").and_then(Value::as_bool) == Some(false) {
                    let id = file.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                    parsed.disabled_elsewhere.push(DisabledElsewhere::Origin(format!("extension:{id}")));
                }
                parsed
            }
            _ => parse_map_at(doc, "mcpServers", Dialect::default()),
        }
    }
}

/// An extension manifest: `{"name", "server": {"type", "mcp_config": {command, args, env}}}`.
fn parse_manifest(ext_id: &str, doc: &Value) -> Parsed {
    let mut parsed = Parsed::default();
    let Some(config) = doc.get("server").and_then(|s| s.get("mcp_config")) else {
        if doc.get("server").is_some() {
            parsed.wrong_shape("server.mcp_config", "present");
        }
        return parsed;
    };
    let name = doc.get("name").and_then(Value::as_str).unwrap_or(ext_id);
    parsed.extend(vec![normalise_entry(name, config, Dialect::default())]);
    with_origin(parsed, format!("extension:{ext_id}"))
}
