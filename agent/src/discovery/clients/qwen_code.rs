//! Qwen Code, a Gemini CLI fork: `mcpServers` in `~/.qwen/settings.json` and
//! `<repo>/.qwen/settings.json`, in Gemini's schema and syntax rules.

use std::path::Path;

use serde_json::Value;

use super::gemini_cli::parse_gemini_settings;
use super::{Candidate, ClientSource, Parsed};
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, UserCtx};

pub struct QwenCode;

impl ClientSource for QwenCode {
    fn id(&self) -> &'static str {
        "qwen-code"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        out.push(Candidate::user(user.home.join(".qwen/settings.json"), FileFormat::JsonComments, "settings"));
    }

    fn project_files(&self, project: &Path, _os: Os, out: &mut Vec<Candidate>) {
        out.push(Candidate::project(project.join(".qwen/settings.json"), FileFormat::JsonComments, "settings"));
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        parse_gemini_settings(file, doc)
    }
}
