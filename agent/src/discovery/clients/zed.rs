//! Zed: `context_servers` in `settings.json` (JSONC) — `$XDG_CONFIG_HOME/zed/` (and the Flatpak
//! build's dir) on Linux, `~/.config/zed/` on macOS, `%APPDATA%\Zed\` on Windows — and
//! `<repo>/.zed/settings.json`. Zed has no type field: a `command` is stdio, a `url` is remote, and
//! an entry with only `settings` (or `"source": "extension"`) is a server an installed extension
//! launches; those are reported with origin `extension` and no command. Very old files nest
//! `command: {path, args, env}`; the shared normaliser reads that shape too.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed};
use crate::discovery::entry::{Dialect, EntryError, RawServer, nested_secrets, normalise_entry};
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, UserCtx};
use muster_proto::v1::Transport;

pub struct Zed;

impl ClientSource for Zed {
    fn id(&self) -> &'static str {
        "zed"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        match user.os {
            Os::Linux => {
                out.push(Candidate::user(user.xdg_config().join("zed/settings.json"), FileFormat::Jsonc, "settings"));
                out.push(Candidate::user(
                    user.home.join(".var/app/dev.zed.Zed/config/zed/settings.json"),
                    FileFormat::Jsonc,
                    "settings",
                ));
            }
            Os::Macos => {
                out.push(Candidate::user(user.home.join(".config/zed/settings.json"), FileFormat::Jsonc, "settings"))
            }
            Os::Windows => {
                out.push(Candidate::user(user.appdata().join("Zed/settings.json"), FileFormat::Jsonc, "settings"))
            }
        }
    }

    fn project_files(&self, project: &Path, _os: Os, out: &mut Vec<Candidate>) {
        out.push(Candidate::project(project.join(".zed/settings.json"), FileFormat::Jsonc, "settings"));
    }

    fn parse(&self, _file: &Candidate, doc: &Value) -> Parsed {
        let mut parsed = Parsed::default();
        match doc.get("context_servers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                let results = map.iter().map(|(name, v)| zed_entry(name, v)).collect();
                parsed.extend(results);
            }
            Some(_) => parsed.wrong_shape("context_servers", "an object of servers"),
        }
        parsed
    }
}

fn zed_entry(name: &str, v: &Value) -> Result<RawServer, EntryError> {
    match normalise_entry(name, v, Dialect::default()) {
        Err(EntryError::NoLaunch { .. })
            if v.get("settings").is_some() || v.get("source").and_then(Value::as_str) == Some("extension") =>
        {
            let mut s = RawServer { name: name.to_string(), transport: Some(Transport::Stdio), ..RawServer::default() };
            s.origin = Some("extension".into());
            s.disabled = v.get("enabled").and_then(Value::as_bool) == Some(false);
            // The extension's `settings` block holds its keys (issue 16: never searched before).
            if let Some(obj) = v.as_object() {
                s.extra_secrets = nested_secrets(obj);
            }
            Ok(s)
        }
        other => other,
    }
}
