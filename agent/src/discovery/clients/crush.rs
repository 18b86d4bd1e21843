//! Crush (Charm): the `mcp` map in `/etc/crush/crush.json` (managed, Linux and macOS),
//! `$XDG_CONFIG_HOME/crush/crush.json`, `$XDG_DATA_HOME/crush/crush.json` (Windows:
//! `%LOCALAPPDATA%\crush\crush.json`), and in projects `.crush.json`, `crush.json` and
//! `.crush/crush.json`. `type` is `stdio` (default), `sse` or `http`; `disabled: true` disables.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, parse_map_at};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx};

pub struct Crush;

impl ClientSource for Crush {
    fn id(&self) -> &'static str {
        "crush"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        match user.os {
            Os::Windows => {
                out.push(Candidate::user(user.localappdata().join("crush/crush.json"), FileFormat::Json, "config"))
            }
            _ => {
                let data = user.env_path("CRUSH_GLOBAL_DATA").unwrap_or_else(|| user.xdg_data().join("crush"));
                out.push(Candidate::user(user.xdg_config().join("crush/crush.json"), FileFormat::Json, "config"));
                out.push(Candidate::user(data.join("crush.json"), FileFormat::Json, "config"));
            }
        }
    }

    fn project_files(&self, project: &Path, _os: Os, out: &mut Vec<Candidate>) {
        for f in [".crush.json", "crush.json", ".crush/crush.json"] {
            out.push(Candidate::project(project.join(f), FileFormat::Json, "config"));
        }
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        if let Some(etc) = &sys.etc {
            out.push(Candidate::managed(etc.join("crush/crush.json"), FileFormat::Json, "config"));
        }
    }

    fn parse(&self, _file: &Candidate, doc: &Value) -> Parsed {
        parse_map_at(doc, "mcp", Dialect::default())
    }
}
