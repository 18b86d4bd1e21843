//! Continue: `~/.continue/config.yaml` (`mcpServers` is a *list* of entries with `name`; the dir
//! moves with `$CONTINUE_GLOBAL_DIR`), block files in `.continue/mcpServers/` (walked recursively;
//! YAML blocks with a `mcpServers` list, or JSON in Claude Desktop's map shape or Claude Code's
//! `projects.*.mcpServers` shape), and the legacy `config.json`'s
//! `experimental.modelContextProtocolServers[]`, whose launch fields sit under `transport`.

use std::path::Path;

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, read_list_into, read_map_into};
use crate::discovery::entry::{Dialect, normalise_entry};
use crate::discovery::formats::FileFormat;
use crate::platform::{Os, UserCtx};
use muster_proto::v1::Scope;

pub struct Continue;

/// Block directories are walked this deep.
const BLOCK_DEPTH: usize = 4;

impl ClientSource for Continue {
    fn id(&self) -> &'static str {
        "continue"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        let dir = user.env_path("CONTINUE_GLOBAL_DIR").unwrap_or_else(|| user.home.join(".continue"));
        out.push(Candidate::user(dir.join("config.yaml"), FileFormat::Yaml, "config-yaml"));
        out.push(Candidate::user(dir.join("config.json"), FileFormat::Jsonc, "config-json"));
        blocks(&dir.join("mcpServers"), Scope::User, BLOCK_DEPTH, out);
    }

    fn project_files(&self, project: &Path, _os: Os, out: &mut Vec<Candidate>) {
        blocks(&project.join(".continue/mcpServers"), Scope::Project, BLOCK_DEPTH, out);
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        let mut parsed = Parsed::default();
        match file.kind {
            "config-json" => {
                let list = doc.get("experimental").and_then(|e| e.get("modelContextProtocolServers"));
                match list {
                    None | Some(Value::Null) => {}
                    Some(Value::Array(items)) => {
                        let results = items
                            .iter()
                            .enumerate()
                            .map(|(i, item)| {
                                let name = item
                                    .get("name")
                                    .and_then(Value::as_str)
                                    .map(str::to_string)
                                    .unwrap_or_else(|| format!("#{i}"));
                                normalise_entry(&name, item, Dialect::default())
                            })
                            .collect();
                        parsed.extend(results);
                    }
                    Some(_) => parsed.wrong_shape("experimental.modelContextProtocolServers", "a list"),
                }
            }
            "block-json" => {
                read_map_into(&mut parsed, doc.get("mcpServers"), "mcpServers", Dialect::default());
                if let Some(Value::Object(projects)) = doc.get("projects") {
                    for p in projects.values() {
                        read_map_into(&mut parsed, p.get("mcpServers"), "projects.*.mcpServers", Dialect::default());
                    }
                }
            }
            // config.yaml and YAML blocks: a list of entries with `name`.
            _ => match doc.get("mcpServers") {
                Some(v @ Value::Object(_)) => read_map_into(&mut parsed, Some(v), "mcpServers", Dialect::default()),
                v => read_list_into(&mut parsed, v, "mcpServers", Dialect::default()),
            },
        }
        parsed
    }
}

fn blocks(dir: &Path, scope: Scope, depth: usize, out: &mut Vec<Candidate>) {
    if depth == 0 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if path.is_dir() {
            blocks(&path, scope, depth - 1, out);
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            out.push(Candidate::new(path, scope, FileFormat::Yaml, "block-yaml"));
        } else if name.ends_with(".json") {
            out.push(Candidate::new(path, scope, FileFormat::Jsonc, "block-json"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{paths, user_with};
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn continue_global_dir_moves_the_config() {
        let moved = user_with(&[("CONTINUE_GLOBAL_DIR", "/data/continue")]);
        assert_eq!(
            paths(&Continue, &moved),
            [PathBuf::from("/data/continue/config.yaml"), PathBuf::from("/data/continue/config.json")]
        );
    }
}
