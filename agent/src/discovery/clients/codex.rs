//! OpenAI Codex (CLI, IDE extension, desktop app): `[mcp_servers.<name>]` tables in
//! `~/.codex/config.toml` (or `$CODEX_HOME/config.toml`), profile files `<profile>.config.toml`
//! beside it, `<repo>/.codex/config.toml` for trusted projects, and the system and managed files
//! (`/etc/codex/{config,managed_config,requirements}.toml`; on Windows
//! `%ProgramData%\OpenAI\Codex\requirements.toml` and `~\.codex\managed_config.toml`).
//! `command` means stdio, `url` streamable HTTP; `env_vars`, `bearer_token_env_var` and
//! `env_http_headers` name variables instead of holding secrets; `enabled = false` disables.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, add_dir_files, parse_map_at};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, SystemCtx, UserCtx};
use muster_proto::v1::Scope;

pub struct Codex;

impl ClientSource for Codex {
    fn id(&self) -> &'static str {
        "codex"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        let dir = user.env_path("CODEX_HOME").unwrap_or_else(|| user.home.join(".codex"));
        out.push(Candidate::user(dir.join("config.toml"), FileFormat::Toml, "config"));
        add_dir_files(out, &dir, ".config.toml", Scope::User, FileFormat::Toml, "config");
        if user.os == Os::Windows {
            out.push(Candidate::new(dir.join("managed_config.toml"), Scope::Managed, FileFormat::Toml, "config"));
        }
    }

    fn project_files(&self, project: &Path, _os: Os, out: &mut Vec<Candidate>) {
        out.push(Candidate::project(project.join(".codex/config.toml"), FileFormat::Toml, "config"));
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        match sys.os {
            Os::Linux | Os::Macos => {
                if let Some(etc) = &sys.etc {
                    for f in ["config.toml", "managed_config.toml", "requirements.toml"] {
                        out.push(Candidate::managed(etc.join("codex").join(f), FileFormat::Toml, "config"));
                    }
                }
            }
            Os::Windows => {
                if let Some(pd) = &sys.program_data {
                    out.push(Candidate::managed(pd.join("OpenAI/Codex/requirements.toml"), FileFormat::Toml, "config"));
                }
            }
        }
    }

    fn parse(&self, _file: &Candidate, doc: &Value) -> Parsed {
        parse_map_at(doc, "mcp_servers", Dialect::default())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{paths, user_with};
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn codex_home_moves_the_config() {
        assert_eq!(paths(&Codex, &user_with(&[])), [PathBuf::from("/home/alice/.codex/config.toml")]);
        let moved = user_with(&[("CODEX_HOME", "/srv/codex")]);
        assert_eq!(paths(&Codex, &moved), [PathBuf::from("/srv/codex/config.toml")]);
    }
}
