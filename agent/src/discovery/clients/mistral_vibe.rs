//! Mistral Vibe: `[[mcp_servers]]`, an *array of tables* each with a `name`, in
//! `~/.vibe/config.toml` and `<repo>/.vibe/config.toml`. `transport` is `stdio`, `http` or
//! `streamable-http`; `api_key_env` names the variable that holds the key.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, read_list_into};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, UserCtx};

pub struct MistralVibe;

impl ClientSource for MistralVibe {
    fn id(&self) -> &'static str {
        "mistral-vibe"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        out.push(Candidate::user(user.home.join(".vibe/config.toml"), FileFormat::Toml, "config"));
    }

    fn project_files(&self, project: &Path, _os: Os, out: &mut Vec<Candidate>) {
        out.push(Candidate::project(project.join(".vibe/config.toml"), FileFormat::Toml, "config"));
    }

    fn parse(&self, _file: &Candidate, doc: &Value) -> Parsed {
        let mut parsed = Parsed::default();
        read_list_into(&mut parsed, doc.get("mcp_servers"), "mcp_servers", Dialect::default());
        parsed
    }
}
