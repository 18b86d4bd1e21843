//! JetBrains AI Assistant. Its own MCP settings live in the IDE's options store; the file
//! locations other tools write for it are `~/.ai/mcp/mcp.json` and `<repo>/.ai/mcp/mcp.json`
//! (`mcpServers`), which are read here.
//!
//! This module also reads the JetBrains IDEs' `recentProjects.xml` (every IDE under
//! `~/.config/JetBrains/`, `~/Library/Application Support/JetBrains/` or `%APPDATA%\JetBrains\`) to
//! find the user's projects, which every client's project files are then looked for in.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed, parse_map_at};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::FileFormat;
use crate::discovery::fsread;
use crate::platform::{Layout, Os, UserCtx, sorted_subdirs};

pub struct JetbrainsAi;

impl ClientSource for JetbrainsAi {
    fn id(&self) -> &'static str {
        "jetbrains-ai"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        out.push(Candidate::user(user.home.join(".ai/mcp/mcp.json"), FileFormat::Json, "mcp"));
    }

    fn project_files(&self, project: &Path, _os: Os, out: &mut Vec<Candidate>) {
        out.push(Candidate::project(project.join(".ai/mcp/mcp.json"), FileFormat::Json, "mcp"));
    }

    fn recorded_projects(&self, user: &UserCtx, layout: &Layout) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for ide in sorted_subdirs(&user.app_data_dir("JetBrains")) {
            let Ok(data) = fsread::read_config(&ide.join("options/recentProjects.xml")) else { continue };
            for path in recent_project_paths(&data.text, &layout.display(&user.home)) {
                if let Some(p) = layout.resolve(&path) {
                    out.push(p);
                }
            }
        }
        out
    }

    fn parse(&self, _file: &Candidate, doc: &Value) -> Parsed {
        parse_map_at(doc, "mcpServers", Dialect::default())
    }
}

/// Project paths in `recentProjects.xml`: the `<entry key="...">` elements of the
/// `additionalInfo` map (current IDEs) and the `<option value="...">` items of the older
/// `recentPaths` list, with `$USER_HOME$` expanded and XML entities decoded.
fn recent_project_paths(xml: &str, home: &str) -> Vec<String> {
    let mut out = Vec::new();
    for marker in ["<entry key=\"", "<option value=\""] {
        for chunk in xml.split(marker).skip(1) {
            let Some(end) = chunk.find('"') else { continue };
            let path = xml_unescape(&chunk[..end]).replace("$USER_HOME$", home);
            if !out.contains(&path) {
                out.push(path);
            }
        }
    }
    out
}

fn xml_unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    #[test]
    fn recent_projects_expand_user_home() {
        let xml = r#"<application><component name="RecentProjectsManager"><option name="additionalInfo"><map>
            <entry key="$USER_HOME$/src/api"><value/></entry><entry key="/opt/work/x"><value/></entry>
            </map></option></component></application>"#;
        assert_eq!(super::recent_project_paths(xml, "/home/dev"), ["/home/dev/src/api", "/opt/work/x"]);
    }

    #[test]
    fn recent_projects_read_the_older_recent_paths_list_and_decode_entities() {
        let xml = r#"<application><component name="RecentProjectsManager"><option name="recentPaths"><list>
            <option value="$USER_HOME$/R&amp;D/tool" /></list></option>
            <option name="lastOpenedProject" value="$USER_HOME$/R&amp;D/tool" /></component></application>"#;
        assert_eq!(super::recent_project_paths(xml, "/home/dev"), ["/home/dev/R&D/tool"]);
    }
}
