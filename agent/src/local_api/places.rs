//! Where each server's entry is in its configuration file, so the developer's tools can open the
//! file at that line. Found by the quarantine's own locating code
//! ([`crate::enforce::quarantine::entry_places`]: the same server-map search and the same
//! format-preserving parsers), each file read once per scan through the file-safety reader
//! (no FIFO, device or huge file is opened). Served on the local API only: the `muster.v1`
//! model the control plane receives has no line numbers, so an entry moving inside its file is
//! no inventory change. This module does not read anything the scan did not name.

use std::collections::BTreeMap;

use muster_proto::v1::InventorySnapshot;

use crate::enforce::files::Observed;
use crate::enforce::quarantine::{EntryPlace, entry_places};
use crate::platform::Layout;

/// Server id → where its entry's key is in its config file.
pub type Places = BTreeMap<String, EntryPlace>;

/// The place of every server of `inventory` whose entry can be located.
pub fn locate(inventory: &InventorySnapshot, layout: &Layout) -> Places {
    let mut by_file: BTreeMap<&str, Vec<(&str, &str, &str)>> = BTreeMap::new();
    for s in &inventory.servers {
        if !s.config_path.is_empty() {
            by_file.entry(s.config_path.as_str()).or_default().push((
                s.id.as_str(),
                s.name.as_str(),
                s.project.as_str(),
            ));
        }
    }
    let mut places = Places::new();
    for (machine_path, servers) in by_file {
        let Some(path) = layout.resolve(machine_path) else { continue };
        let Ok((_, Some(bytes))) = Observed::read(&path) else { continue };
        let Ok(text) = String::from_utf8(bytes) else { continue };
        let entries: Vec<(&str, &str)> = servers.iter().map(|(_, name, project)| (*name, *project)).collect();
        for ((id, ..), place) in servers.iter().zip(entry_places(&path, &text, &entries)) {
            if let Some(place) = place {
                places.insert((*id).to_string(), place);
            }
        }
    }
    places
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use muster_proto::v1::McpServer;

    use super::*;

    #[test]
    fn servers_are_placed_at_their_keys_and_unreadable_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let cursor = dir.path().join("mcp.json");
        std::fs::write(&cursor, "{\n  \"mcpServers\": {\n    \"one\": {},\n\n    \"two\": {\"url\": \"u\"}\n  }\n}\n")
            .unwrap();
        let server = |id: &str, name: &str, path: &std::path::Path| McpServer {
            id: id.into(),
            name: name.into(),
            config_path: path.to_string_lossy().into_owned(),
            ..Default::default()
        };
        let inventory = InventorySnapshot {
            servers: vec![
                server("a", "one", &cursor),
                server("b", "two", &cursor),
                server("c", "gone", &cursor),
                server("d", "one", &dir.path().join("missing.json")),
            ],
            ..Default::default()
        };
        let places = locate(&inventory, &Layout::live());
        assert_eq!(places.get("a"), Some(&EntryPlace { line: 3, column: 5 }));
        assert_eq!(places.get("b"), Some(&EntryPlace { line: 5, column: 5 }));
        assert_eq!(places.len(), 2, "{places:?}");
    }
}
