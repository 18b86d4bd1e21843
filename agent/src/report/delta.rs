//! The difference between two inventories of one host, as the wire's [`InventoryDelta`], and its
//! inverse [`apply`] (used by tests and by anyone replaying a report chain).
//!
//! Servers are keyed by id and sources by path: a changed or new one is upserted whole, a missing
//! one removed. Processes, problems and findings are small and have no stable key, so a change
//! replaces the list. Every delta also carries the host and the users (tiny, and the control plane
//! simply replaces them). A rescan that only moved `scanned_at_unix` is no delta at all.

use std::collections::{BTreeMap, BTreeSet};

use muster_proto::v1::{ConfigSource, InventoryDelta, InventorySnapshot, McpServer};

/// The changes that turn `old` into `new`, or `None` when nothing but the scan time changed.
pub fn diff(old: &InventorySnapshot, new: &InventorySnapshot) -> Option<InventoryDelta> {
    let old_servers: BTreeMap<&str, &McpServer> = old.servers.iter().map(|s| (s.id.as_str(), s)).collect();
    let new_ids: BTreeSet<&str> = new.servers.iter().map(|s| s.id.as_str()).collect();
    let old_sources: BTreeMap<&str, &ConfigSource> = old.sources.iter().map(|s| (s.path.as_str(), s)).collect();
    let new_paths: BTreeSet<&str> = new.sources.iter().map(|s| s.path.as_str()).collect();

    let mut d = InventoryDelta {
        upserted_servers: new.servers.iter().filter(|s| old_servers.get(s.id.as_str()) != Some(s)).cloned().collect(),
        removed_server_ids: old_servers.keys().filter(|id| !new_ids.contains(*id)).map(|id| id.to_string()).collect(),
        upserted_sources: new.sources.iter().filter(|s| old_sources.get(s.path.as_str()) != Some(s)).cloned().collect(),
        removed_source_paths: old_sources.keys().filter(|p| !new_paths.contains(*p)).map(|p| p.to_string()).collect(),
        replace_processes: old.processes != new.processes,
        replace_problems: old.problems != new.problems,
        replace_findings: old.findings != new.findings,
        scanned_at_unix: new.scanned_at_unix,
        users: new.users.clone(),
        host: new.host.clone(),
        ..InventoryDelta::default()
    };
    if d.replace_processes {
        d.processes = new.processes.clone();
    }
    if d.replace_problems {
        d.problems = new.problems.clone();
    }
    if d.replace_findings {
        d.findings = new.findings.clone();
    }
    let unchanged = d.upserted_servers.is_empty()
        && d.removed_server_ids.is_empty()
        && d.upserted_sources.is_empty()
        && d.removed_source_paths.is_empty()
        && !d.replace_processes
        && !d.replace_problems
        && !d.replace_findings
        && old.users == new.users
        && old.host == new.host;
    (!unchanged).then_some(d)
}

/// `base` with `delta` applied. Existing entries keep their position; new ones are appended.
pub fn apply(base: &InventorySnapshot, delta: &InventoryDelta) -> InventorySnapshot {
    let mut out = base.clone();
    let removed: BTreeSet<&str> = delta.removed_server_ids.iter().map(String::as_str).collect();
    out.servers.retain(|s| !removed.contains(s.id.as_str()));
    for s in &delta.upserted_servers {
        match out.servers.iter_mut().find(|o| o.id == s.id) {
            Some(slot) => *slot = s.clone(),
            None => out.servers.push(s.clone()),
        }
    }
    let removed: BTreeSet<&str> = delta.removed_source_paths.iter().map(String::as_str).collect();
    out.sources.retain(|s| !removed.contains(s.path.as_str()));
    for s in &delta.upserted_sources {
        match out.sources.iter_mut().find(|o| o.path == s.path) {
            Some(slot) => *slot = s.clone(),
            None => out.sources.push(s.clone()),
        }
    }
    if delta.replace_processes {
        out.processes = delta.processes.clone();
    }
    if delta.replace_problems {
        out.problems = delta.problems.clone();
    }
    if delta.replace_findings {
        out.findings = delta.findings.clone();
    }
    if delta.host.is_some() {
        out.host = delta.host.clone();
    }
    out.users = delta.users.clone();
    out.scanned_at_unix = delta.scanned_at_unix;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use muster_proto::v1::{Host, McpProcess, OsUser, Problem};

    fn server(id: &str, command: &str) -> McpServer {
        McpServer { id: id.into(), name: id.into(), command: command.into(), ..Default::default() }
    }

    fn source(path: &str, size: u64) -> ConfigSource {
        ConfigSource { path: path.into(), size, ..Default::default() }
    }

    fn base() -> InventorySnapshot {
        InventorySnapshot {
            host: Some(Host { hostname: "laptop".into(), ..Default::default() }),
            users: vec![OsUser { name: "dev".into(), ..Default::default() }],
            sources: vec![source("/a.json", 10), source("/b.json", 20)],
            servers: vec![server("s1", "npx"), server("s2", "uvx"), server("s3", "docker")],
            processes: vec![McpProcess { pid: 7, ..Default::default() }],
            scanned_at_unix: 100,
            agent_version: "0.1.0".into(),
            ..Default::default()
        }
    }

    fn sorted(mut inv: InventorySnapshot) -> InventorySnapshot {
        inv.servers.sort_by(|a, b| a.id.cmp(&b.id));
        inv.sources.sort_by(|a, b| a.path.cmp(&b.path));
        inv
    }

    #[test]
    fn only_a_new_scan_time_is_no_delta() {
        let old = base();
        let mut new = base();
        new.scanned_at_unix = 200;
        assert_eq!(diff(&old, &new), None);
    }

    #[test]
    fn changed_added_and_removed_entries_are_keyed() {
        let old = base();
        let mut new = base();
        new.servers[0].command = "node".into(); // s1 changed
        new.servers.remove(1); // s2 removed
        new.servers.push(server("s4", "bunx")); // s4 added
        new.sources[1].size = 21; // b.json changed
        new.sources.remove(0); // a.json removed
        new.sources.push(source("/c.json", 5));
        new.scanned_at_unix = 300;

        let d = diff(&old, &new).expect("a change");
        let upserted: Vec<&str> = d.upserted_servers.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(upserted, ["s1", "s4"]);
        assert_eq!(d.removed_server_ids, ["s2"]);
        let sources: Vec<&str> = d.upserted_sources.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(sources, ["/b.json", "/c.json"]);
        assert_eq!(d.removed_source_paths, ["/a.json"]);
        assert!(!d.replace_processes && d.processes.is_empty());
        assert!(!d.replace_problems && !d.replace_findings);
        assert_eq!(d.scanned_at_unix, 300);
        assert_eq!(sorted(apply(&old, &d)), sorted(new));
    }

    #[test]
    fn lists_without_keys_are_replaced_whole_even_when_emptied() {
        let old = base();
        let mut new = base();
        new.processes.clear();
        new.problems.push(Problem { path: "/a.json".into(), message: "bad".into(), ..Default::default() });
        let d = diff(&old, &new).expect("a change");
        assert!(d.replace_processes && d.processes.is_empty());
        assert!(d.replace_problems && d.problems.len() == 1);
        assert!(d.upserted_servers.is_empty() && d.removed_server_ids.is_empty());
        assert_eq!(apply(&old, &d), new);
    }

    #[test]
    fn a_changed_host_or_user_list_is_a_delta() {
        let old = base();
        let mut new = base();
        new.users.push(OsUser { name: "ops".into(), ..Default::default() });
        let d = diff(&old, &new).expect("a change");
        assert_eq!(d.users.len(), 2);
        assert_eq!(apply(&old, &d), new);
    }
}
