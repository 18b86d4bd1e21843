//! Where each server's entry is in its configuration file, so the developer's tools can open the
//! file at that line. Found during the scan, from the text it reads anyway (no file is read a
//! second time): small files by the quarantine's own locating code
//! ([`crate::enforce::quarantine::entry_places`]: the same server-map search and the same
//! format-preserving parsers), which the scan calls through [`locate_in_text`]; a large file the
//! scan streams (`~/.claude.json`) by the positions its streaming reader records
//! (`discovery::stream_json`). Served on the local API only: the `muster.v1` model the control
//! plane receives has no line numbers, so an entry moving inside its file is no inventory
//! change. This module reads no file.

use std::collections::BTreeMap;
use std::path::Path;

use crate::discovery::{ServerRecord, TextPosition};
use crate::enforce::quarantine::{EntryPlace, entry_places};

/// Server id → where its entry's key is in its config file.
pub type Places = BTreeMap<String, EntryPlace>;

/// The places the scan found for `servers` (those it could locate).
pub fn of_servers(servers: &[ServerRecord]) -> Places {
    servers
        .iter()
        .filter_map(|s| Some((s.id.clone(), s.place.map(|p| EntryPlace { line: p.line, column: p.column })?)))
        .collect()
}

/// Where the entries `(name, project)` are in `text`, the content of the file at `path`: the
/// discovery's [`crate::discovery::LocateEntries`] hook.
pub fn locate_in_text(path: &Path, text: &str, entries: &[(&str, &str)]) -> Vec<Option<TextPosition>> {
    entry_places(path, text, entries)
        .into_iter()
        .map(|p| p.map(|p| TextPosition { line: p.line, column: p.column }))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::PathBuf;

    use super::*;
    use crate::discovery::{ScanOptions, scan};
    use crate::platform::{Layout, Os, UserHome};

    fn scan_placed(root: &Path) -> (crate::discovery::Discovery, Places) {
        let opts = ScanOptions {
            layout: Layout::image(root.to_path_buf(), Os::Linux),
            users: vec![UserHome { name: "alice".into(), uid: None, home: root.join("home/alice") }],
            env_user: None,
            processes: false,
            project_only: None,
            locate_entries: Some(locate_in_text),
        };
        let found = scan(&opts);
        let places = of_servers(&found.servers);
        (found, places)
    }

    #[test]
    fn servers_are_placed_at_their_keys_from_the_scans_own_read() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home/alice");
        std::fs::create_dir_all(home.join(".cursor")).unwrap();
        std::fs::write(
            home.join(".cursor/mcp.json"),
            "{\n  \"mcpServers\": {\n    \"one\": {\"command\": \"a\"},\n\n    \"two\": {\"url\": \"https://u\"}\n  }\n}\n",
        )
        .unwrap();
        let (found, places) = scan_placed(dir.path());
        let at = |name: &str| {
            let s = found.servers.iter().find(|s| s.raw.name == name).unwrap();
            places.get(&s.id).copied()
        };
        assert_eq!(at("one"), Some(EntryPlace { line: 3, column: 5 }));
        assert_eq!(at("two"), Some(EntryPlace { line: 5, column: 5 }));
        assert_eq!(places.len(), 2, "{places:?}");
        // A scan that is not asked for places finds none.
        assert!(of_servers(&scan(&scan_opts_without_places(dir.path())).servers).is_empty());
    }

    fn scan_opts_without_places(root: &Path) -> ScanOptions {
        ScanOptions {
            layout: Layout::image(root.to_path_buf(), Os::Linux),
            users: vec![UserHome { name: "alice".into(), uid: None, home: root.join("home/alice") }],
            env_user: None,
            processes: false,
            project_only: None,
            locate_entries: None,
        }
    }

    /// A `~/.claude.json` large enough to be streamed gets the places the quarantine's locator
    /// finds in its whole text, for user-level and per-project entries alike.
    #[test]
    fn a_streamed_claude_json_is_placed_as_its_whole_text_would_be() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home/alice");
        std::fs::create_dir_all(&home).unwrap();
        let mut projects = serde_json::Map::new();
        for p in 0..400 {
            let history: Vec<serde_json::Value> = (0..10)
                .map(|i| serde_json::json!({"display": format!("prompt ünïcode {p}.{i} with some length to it"), "pastedContents": {}}))
                .collect();
            let mut project = serde_json::json!({"history": history, "allowedTools": []});
            if p % 97 == 3 {
                project["mcpServers"] = serde_json::json!({"shared": {"command": "npx", "args": ["-y", "x"]}, format!("p{p}"): {"url": "https://p"}});
            }
            projects.insert(format!("/home/alice/work/é{p}"), project);
        }
        let doc = serde_json::json!({
            "numStartups": 4,
            "projects": projects,
            "mcpServers": {"shared": {"command": "uvx", "args": ["y"]}, "top": {"url": "https://t"}},
        });
        let text = serde_json::to_string_pretty(&doc).unwrap();
        assert!(text.len() > 512 * 1024, "large enough to be streamed: {}", text.len());
        let path: PathBuf = home.join(".claude.json");
        std::fs::write(&path, &text).unwrap();

        let (found, places) = scan_placed(dir.path());
        let servers: Vec<&ServerRecord> = found.servers.iter().filter(|s| s.client == "claude-code").collect();
        assert_eq!(servers.len(), 2 + 5 * 2, "{:?}", found.problems);
        let entries: Vec<(&str, &str)> =
            servers.iter().map(|s| (s.raw.name.as_str(), s.project.as_deref().unwrap_or(""))).collect();
        let whole = entry_places(&path, &text, &entries);
        for (s, want) in servers.iter().zip(whole) {
            assert!(want.is_some(), "the locator places {}", s.raw.name);
            assert_eq!(places.get(&s.id).copied(), want, "{} in {:?}", s.raw.name, s.project);
        }
    }
}
