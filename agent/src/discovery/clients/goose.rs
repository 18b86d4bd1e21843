//! Goose (CLI and desktop): the `extensions` map in `~/.config/goose/config.yaml` (Windows:
//! `%APPDATA%\Block\goose\config\config.yaml`). Launch fields are `cmd`, `args`, `envs` (literal
//! values), `env_keys` (names whose values live in the keyring or `secrets.yaml`) and `uri` for
//! remote servers; `enabled` is a sibling of the config. Built-in, platform, frontend and inline
//! Python extensions run inside Goose and are not MCP servers on the machine, so they are skipped.

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed};
use crate::discovery::entry::{Dialect, normalise_entry};
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, UserCtx};

pub struct Goose;

const IN_PROCESS: &[&str] = &["builtin", "platform", "frontend", "inline_python"];

impl ClientSource for Goose {
    fn id(&self) -> &'static str {
        "goose"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        let path = match user.os {
            Os::Windows => user.appdata().join("Block/goose/config/config.yaml"),
            _ => user.xdg_config().join("goose/config.yaml"),
        };
        out.push(Candidate::user(path, FileFormat::Yaml, "config"));
    }

    fn parse(&self, _file: &Candidate, doc: &Value) -> Parsed {
        let mut parsed = Parsed::default();
        match doc.get("extensions") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                let mut results = Vec::new();
                for (key, ext) in map {
                    let kind = ext.get("type").and_then(Value::as_str).unwrap_or("");
                    if IN_PROCESS.contains(&kind) {
                        continue;
                    }
                    let name = ext.get("name").and_then(Value::as_str).unwrap_or(key);
                    results.push(normalise_entry(name, ext, Dialect::default()));
                }
                parsed.extend(results);
            }
            Some(_) => parsed.wrong_shape("extensions", "an object of extensions"),
        }
        parsed
    }
}
