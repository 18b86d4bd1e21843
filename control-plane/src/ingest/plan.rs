//! The ingest plan: what applying one report writes, decided as a pure function of what is stored
//! for the agent and the report (a full snapshot or a delta).
//!
//! [`plan`] says which rows of which table are inserted, replaced, touched or deleted, which
//! part hashes of the host row follow, whether the clients table must be recomputed, the change
//! events to record and which servers the read-model step must derive facts for. The store reads
//! [`Stored`] (the servers named by [`servers_to_read`] and, for a full snapshot, the part
//! hashes), calls [`plan`] and executes the plan in one transaction; nothing here touches the
//! database, so every decision is unit-tested without one.
//!
//! The plan is shaped for throughput (see `store/ingest_sql.rs`): unchanged servers are only
//! touched, a full snapshot's unchanged users, sources and host-wide findings are skipped by
//! hash, and a delta reads only the servers it names.

use std::collections::{BTreeMap, BTreeSet};

use muster_proto::v1::{ConfigSource, Credential, Finding, Host, McpServer, OsUser};

use super::activity::{FindingChange, describe_change, finding_events};
use super::{
    ChangeKind, FindingRef, KnownServer, Report, ReportBody, ServerChange, diff_servers, part_hash, server_hash,
};

/// Which stored servers a report's plan needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServersToRead<'r> {
    /// Every server of the host (a full snapshot replaces them all).
    All,
    /// Only the servers a delta names (upserted or removed), so a delta reads no more than it writes.
    Named(Vec<&'r str>),
}

/// The stored servers [`plan`] needs for `report`.
pub fn servers_to_read(report: &Report) -> ServersToRead<'_> {
    match &report.body {
        ReportBody::Full(_) => ServersToRead::All,
        ReportBody::Delta(delta) => ServersToRead::Named(
            delta
                .upserted_servers
                .iter()
                .map(|s| s.id.as_str())
                .chain(delta.removed_server_ids.iter().map(String::as_str))
                .collect(),
        ),
    }
}

/// Whether [`plan`] needs the stored [`PartHashes`] (only a full snapshot compares them).
pub fn needs_part_hashes(report: &Report) -> bool {
    matches!(report.body, ReportBody::Full(_))
}

/// The hashes kept on the host row of a host's users, sources and host-wide findings (`""` when
/// unknown, which never equals a computed hash).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartHashes {
    pub users: String,
    pub sources: String,
    pub findings: String,
}

/// What is stored for the agent, as far as planning a report needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stored {
    /// The servers named by [`servers_to_read`], by server id.
    pub servers: BTreeMap<String, KnownServer>,
    /// The host row's part hashes; default when the host row is missing or the report is a delta.
    pub part_hashes: PartHashes,
    /// The stored message of every server the report changes or removes ([`previous_to_read`]),
    /// so the change events can say what changed and which findings went.
    pub previous: BTreeMap<String, McpServer>,
    /// The stored host-wide findings, when the report replaces them ([`needs_host_findings`]).
    pub host_findings: Vec<Finding>,
}

/// The servers whose stored message [`plan`] needs besides [`Stored::servers`]: those the report
/// changes or removes (read after the known servers, so an unchanged server costs nothing).
pub fn previous_to_read(known: &BTreeMap<String, KnownServer>, report: &Report) -> Vec<String> {
    let changes = match &report.body {
        ReportBody::Full(snapshot) => diff_servers(known, &snapshot.servers, &[], true),
        ReportBody::Delta(delta) => diff_servers(known, &delta.upserted_servers, &delta.removed_server_ids, false),
    };
    changes.into_iter().filter(|c| c.kind != ChangeKind::Appeared).map(|c| c.server_id).collect()
}

/// Whether the report replaces the stored host-wide findings, so [`plan`] needs them to tell
/// which appeared and which were resolved.
pub fn needs_host_findings(part_hashes: &PartHashes, report: &Report) -> bool {
    match &report.body {
        ReportBody::Full(snapshot) => part_hash(&snapshot.findings) != part_hashes.findings,
        ReportBody::Delta(delta) => delta.replace_findings,
    }
}

/// Everything applying one report writes. Executed by the store in the order of the fields.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestPlan<'r> {
    /// The agent's new stored sequence (written last).
    pub sequence: u64,
    pub host: HostWrite<'r>,
    /// `Some`: delete the host's users and insert these (last of equal names kept).
    pub users: Option<Vec<&'r OsUser>>,
    pub sources: SourceWrites<'r>,
    pub servers: ServerWrites<'r>,
    /// `Some`: delete the host-wide findings (server id `""`) and insert these.
    pub host_findings: Option<&'r [Finding]>,
    /// Part hashes a delta rewrote (a full snapshot writes all three with its host row).
    pub hash_updates: HashUpdates,
    /// The set of clients named by sources and servers may have changed: recompute the clients
    /// table (otherwise only its `last_seen_at` moves).
    pub client_set_may_change: bool,
    /// One change event per server that appeared, changed (with what changed) or disappeared,
    /// then one per finding that appeared or was resolved.
    pub changes: Vec<ServerChange>,
    /// Servers that appeared or changed: the read-model step derives their facts and
    /// denormalises their findings (then recounts the endpoint's summary, always).
    pub touched_servers: BTreeSet<&'r str>,
}

/// The host row.
#[derive(Debug, Clone, PartialEq)]
pub enum HostWrite<'r> {
    /// A full snapshot: the whole row, with its counts and part hashes.
    Snapshot {
        host: Host,
        scanned_at: i64,
        process_count: usize,
        /// The processes in their stored form (`ingest::processes`).
        processes: Vec<u8>,
        problem_count: usize,
        hashes: PartHashes,
    },
    /// A delta: the host fields when it carries them (counts and hashes kept), and the counts it
    /// replaces.
    Delta {
        host: Option<&'r Host>,
        scanned_at: i64,
        process_count: Option<usize>,
        /// When the delta replaces the processes: their stored form.
        processes: Option<Vec<u8>>,
        problem_count: Option<usize>,
    },
}

/// Config source rows.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceWrites<'r> {
    /// Delete every source of the host first (a changed full snapshot).
    pub delete_all: bool,
    /// Delete these paths (a delta).
    pub delete_paths: &'r [String],
    /// Insert or update these (last of equal paths kept).
    pub upsert: Vec<&'r ConfigSource>,
}

/// Server rows and their children (credentials, findings).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerWrites<'r> {
    /// Delete these servers with their credentials and findings.
    pub delete: Vec<&'r str>,
    /// Insert or replace these servers (`first_seen_at` kept), each with its content hash.
    pub write: Vec<ServerWrite<'r>>,
    /// Servers in `write` that were stored before: their old credentials and findings go first.
    pub replace_children_of: Vec<&'r str>,
    /// Credentials of the written servers (last of equal locations per server kept).
    pub credentials: Vec<(&'r str, &'r Credential)>,
    /// Findings of the written servers.
    pub findings: Vec<(&'r str, &'r Finding)>,
    /// Servers whose `last_seen_at` moves to now without any other change.
    pub touch: Touch<'r>,
}

/// A server to insert or replace, with its content hash.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerWrite<'r> {
    pub server: &'r McpServer,
    pub content_hash: String,
}

/// Which servers' `last_seen_at` moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touch<'r> {
    /// Every server of the host (a full snapshot saw them all).
    All,
    /// The named unchanged servers of a delta.
    Only(Vec<&'r str>),
}

/// Part hashes a delta rewrote: `Some(hash)` is stored (`""` means "unknown": the next full
/// snapshot rewrites that part).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashUpdates {
    pub users: Option<String>,
    pub sources: Option<String>,
    pub findings: Option<String>,
}

impl HashUpdates {
    pub fn is_empty(&self) -> bool {
        self.users.is_none() && self.sources.is_none() && self.findings.is_none()
    }
}

/// Keeps the last of the items with equal keys, in first-seen order: a multi-row upsert may not
/// name one key twice, and sequential upserts would have kept the last anyway.
pub fn last_by_key<T, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> Vec<&T> {
    let mut index = BTreeMap::new();
    let mut out: Vec<&T> = Vec::with_capacity(items.len());
    for item in items {
        match index.entry(key(item)) {
            std::collections::btree_map::Entry::Occupied(slot) => out[*slot.get()] = item,
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(out.len());
                out.push(item);
            }
        }
    }
    out
}

/// The plan for `report` (already decided to be applied, see [`super::decide`]) given what is
/// stored for its agent. The plan borrows from both.
pub fn plan<'r>(stored: &'r Stored, report: &'r Report) -> IngestPlan<'r> {
    match &report.body {
        ReportBody::Full(snapshot) => {
            let known = &stored.servers;
            let mut changes = diff_servers(known, &snapshot.servers, &[], true);
            let hashes = PartHashes {
                users: part_hash(&snapshot.users),
                sources: part_hash(&snapshot.sources),
                findings: part_hash(&snapshot.findings),
            };
            let users_changed = hashes.users != stored.part_hashes.users;
            let sources_changed = hashes.sources != stored.part_hashes.sources;
            let findings_changed = hashes.findings != stored.part_hashes.findings;
            let present: BTreeSet<&str> = snapshot.servers.iter().map(|s| s.id.as_str()).collect();
            let gone: Vec<&'r str> = known.keys().map(String::as_str).filter(|id| !present.contains(id)).collect();
            let written = plan_servers(known, &snapshot.servers, Touch::All);
            let client_set_may_change = sources_changed || !gone.is_empty() || written.client_set_may_change;
            IngestPlan {
                sequence: report.sequence,
                host: HostWrite::Snapshot {
                    host: snapshot.host.clone().unwrap_or_default(),
                    scanned_at: snapshot.scanned_at_unix,
                    process_count: snapshot.processes.len(),
                    processes: super::processes::encode(&snapshot.processes),
                    problem_count: snapshot.problems.len(),
                    hashes,
                },
                users: users_changed.then(|| last_by_key(&snapshot.users, |u| u.name.clone())),
                sources: SourceWrites {
                    delete_all: sources_changed,
                    delete_paths: &[],
                    upsert: if sources_changed {
                        last_by_key(&snapshot.sources, |s| s.path.clone())
                    } else {
                        Vec::new()
                    },
                },
                servers: ServerWrites { delete: gone, ..written.writes },
                host_findings: findings_changed.then_some(snapshot.findings.as_slice()),
                hash_updates: HashUpdates::default(),
                client_set_may_change,
                touched_servers: touched(&changes, &snapshot.servers),
                changes: {
                    let host_findings = findings_changed.then_some(snapshot.findings.as_slice());
                    explain(stored, &snapshot.servers, host_findings, &mut changes);
                    changes
                },
            }
        }
        ReportBody::Delta(delta) => {
            let known = &stored.servers;
            let mut changes = diff_servers(known, &delta.upserted_servers, &delta.removed_server_ids, false);
            let removed: Vec<&'r str> = delta.removed_server_ids.iter().map(String::as_str).collect();
            // A set, not the list: a delta may remove tens of thousands of servers.
            let removed_set: BTreeSet<&str> = removed.iter().copied().collect();
            let still_known: BTreeMap<String, KnownServer> = known
                .iter()
                .filter(|(id, _)| !removed_set.contains(id.as_str()))
                .map(|(id, server)| (id.clone(), server.clone()))
                .collect();
            let written = plan_servers(&still_known, &delta.upserted_servers, Touch::Only(Vec::new()));
            let sources_changed = !delta.removed_source_paths.is_empty() || !delta.upserted_sources.is_empty();
            let client_set_may_change = sources_changed || !removed.is_empty() || written.client_set_may_change;
            let replaces_users = !delta.users.is_empty();
            IngestPlan {
                sequence: report.sequence,
                host: HostWrite::Delta {
                    host: delta.host.as_ref(),
                    scanned_at: delta.scanned_at_unix,
                    process_count: delta.replace_processes.then_some(delta.processes.len()),
                    processes: delta.replace_processes.then(|| super::processes::encode(&delta.processes)),
                    problem_count: delta.replace_problems.then_some(delta.problems.len()),
                },
                users: replaces_users.then(|| last_by_key(&delta.users, |u| u.name.clone())),
                sources: SourceWrites {
                    delete_all: false,
                    delete_paths: &delta.removed_source_paths,
                    upsert: last_by_key(&delta.upserted_sources, |s| s.path.clone()),
                },
                servers: ServerWrites { delete: removed, ..written.writes },
                host_findings: delta.replace_findings.then_some(delta.findings.as_slice()),
                hash_updates: HashUpdates {
                    users: replaces_users.then(|| part_hash(&delta.users)),
                    sources: sources_changed.then(String::new),
                    findings: delta.replace_findings.then(|| part_hash(&delta.findings)),
                },
                client_set_may_change,
                touched_servers: touched(&changes, &delta.upserted_servers),
                changes: {
                    let host_findings = delta.replace_findings.then_some(delta.findings.as_slice());
                    explain(stored, &delta.upserted_servers, host_findings, &mut changes);
                    changes
                },
            }
        }
    }
}

/// Says what changed in each `changed` event of `changes` and appends one event per finding that
/// appeared or was resolved (in the servers the report wrote or removed, and in the host-wide
/// findings when it replaces them, `host_findings`).
fn explain(
    stored: &Stored,
    reported: &[McpServer],
    host_findings: Option<&[Finding]>,
    changes: &mut Vec<ServerChange>,
) {
    let by_id: BTreeMap<&str, &McpServer> = reported.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut before: Vec<(&str, &Finding)> = Vec::new();
    let mut after: Vec<(&str, &Finding)> = Vec::new();
    for change in changes.iter_mut() {
        let old = stored.previous.get(&change.server_id);
        let new = by_id.get(change.server_id.as_str()).copied();
        if change.kind == ChangeKind::Changed
            && let (Some(old), Some(new)) = (old, new)
        {
            change.fields = describe_change(old, new);
        }
        if let Some(old) = old.filter(|_| change.kind != ChangeKind::Appeared) {
            before.extend(old.findings.iter().map(|f| (old.id.as_str(), f)));
        }
        if let Some(new) = new.filter(|_| change.kind != ChangeKind::Disappeared) {
            after.extend(new.findings.iter().map(|f| (new.id.as_str(), f)));
        }
    }
    if let Some(host_findings) = host_findings {
        before.extend(stored.host_findings.iter().map(|f| ("", f)));
        after.extend(host_findings.iter().map(|f| ("", f)));
    }
    let names: BTreeMap<&str, (&str, &str)> = stored
        .previous
        .values()
        .chain(reported.iter())
        .map(|s| (s.id.as_str(), (s.name.as_str(), s.client.as_str())))
        .collect();
    let events: Vec<ServerChange> = finding_events(&before, &after)
        .into_iter()
        .map(|event| {
            let (name, client) = names.get(event.server_id).copied().unwrap_or(("", event.finding.client.as_str()));
            ServerChange {
                server_id: event.server_id.to_string(),
                server_name: name.to_string(),
                client: client.to_string(),
                kind: match event.change {
                    FindingChange::Appeared => ChangeKind::FindingAppeared,
                    FindingChange::Resolved => ChangeKind::FindingResolved,
                },
                fields: Vec::new(),
                finding: Some(FindingRef { finding_id: event.finding.id.clone(), severity: event.finding.severity }),
            }
        })
        .collect();
    changes.extend(events);
}

struct PlannedServers<'r> {
    writes: ServerWrites<'r>,
    /// A server appeared or moved to another client.
    client_set_may_change: bool,
}

/// Splits `servers` (last of equal ids kept) into written (new or changed content) and unchanged
/// ones against `known`, with the children of the written ones.
fn plan_servers<'r>(
    known: &BTreeMap<String, KnownServer>,
    servers: &'r [McpServer],
    touch: Touch<'r>,
) -> PlannedServers<'r> {
    let mut write = Vec::new();
    let mut replace_children_of = Vec::new();
    let mut unchanged = Vec::new();
    let mut client_set_may_change = false;
    for server in last_by_key(servers, |s| s.id.clone()) {
        let content_hash = server_hash(server);
        match known.get(&server.id) {
            Some(old) if old.content_hash == content_hash => unchanged.push(server.id.as_str()),
            Some(old) => {
                client_set_may_change |= old.client != server.client;
                replace_children_of.push(server.id.as_str());
                write.push(ServerWrite { server, content_hash });
            }
            None => {
                client_set_may_change = true;
                write.push(ServerWrite { server, content_hash });
            }
        }
    }
    let written: Vec<&'r McpServer> = write.iter().map(|w| w.server).collect();
    let credentials = written
        .iter()
        .flat_map(|&server| {
            last_by_key(&server.credentials, |c| c.location.clone()).into_iter().map(move |c| (server.id.as_str(), c))
        })
        .collect();
    let findings =
        written.iter().flat_map(|&server| server.findings.iter().map(move |f| (server.id.as_str(), f))).collect();
    let touch = match touch {
        Touch::All => Touch::All,
        Touch::Only(_) => Touch::Only(unchanged),
    };
    PlannedServers {
        writes: ServerWrites { delete: Vec::new(), write, replace_children_of, credentials, findings, touch },
        client_set_may_change,
    }
}

/// The servers that appeared or changed, borrowed from the report.
fn touched<'r>(changes: &[ServerChange], servers: &'r [McpServer]) -> BTreeSet<&'r str> {
    let ids: BTreeSet<&str> =
        changes.iter().filter(|c| c.kind != ChangeKind::Disappeared).map(|c| c.server_id.as_str()).collect();
    servers.iter().map(|s| s.id.as_str()).filter(|id| ids.contains(id)).collect()
}

#[cfg(test)]
mod tests {
    use muster_proto::v1::{InventoryDelta, InventorySnapshot};

    use super::*;
    use crate::ingest::{Decision, decide};

    fn server(id: &str, client: &str, command: &str) -> McpServer {
        McpServer {
            id: id.into(),
            name: format!("name-{id}"),
            client: client.into(),
            command: command.into(),
            credentials: vec![
                Credential { location: "env:TOKEN".into(), fingerprint: format!("old-{id}"), ..Default::default() },
                Credential { location: "env:TOKEN".into(), fingerprint: format!("fp-{id}"), ..Default::default() },
            ],
            findings: vec![Finding { id: "MCP-001".into(), ..Default::default() }],
            ..Default::default()
        }
    }

    fn stored(servers: &[McpServer]) -> Stored {
        Stored {
            servers: servers
                .iter()
                .map(|s| {
                    let known =
                        KnownServer { name: s.name.clone(), client: s.client.clone(), content_hash: server_hash(s) };
                    (s.id.clone(), known)
                })
                .collect(),
            part_hashes: PartHashes::default(),
            previous: servers.iter().map(|s| (s.id.clone(), s.clone())).collect(),
            host_findings: Vec::new(),
        }
    }

    fn snapshot(servers: Vec<McpServer>) -> InventorySnapshot {
        InventorySnapshot {
            host: Some(Host { hostname: "mbp".into(), ..Default::default() }),
            scanned_at_unix: 1_700_000_000,
            users: vec![OsUser { name: "dev".into(), ..Default::default() }],
            sources: vec![ConfigSource { path: "/home/dev/.cursor/mcp.json".into(), ..Default::default() }],
            findings: vec![Finding { id: "MCP-100".into(), ..Default::default() }],
            servers,
            ..Default::default()
        }
    }

    fn full(sequence: u64, snapshot: InventorySnapshot) -> Report {
        Report { sequence, base_sequence: 0, body: ReportBody::Full(snapshot), policy: None }
    }

    fn delta(sequence: u64, delta: InventoryDelta) -> Report {
        Report { sequence, base_sequence: sequence - 1, body: ReportBody::Delta(delta), policy: None }
    }

    fn ids<'a>(writes: &'a [ServerWrite<'_>]) -> Vec<&'a str> {
        writes.iter().map(|w| w.server.id.as_str()).collect()
    }

    /// The server events of a plan (finding events have their own test).
    fn kinds(plan: &IngestPlan<'_>) -> Vec<(String, ChangeKind)> {
        plan.changes.iter().filter(|c| c.finding.is_none()).map(|c| (c.server_id.clone(), c.kind)).collect()
    }

    #[test]
    fn changed_events_say_what_changed_and_findings_appear_and_resolve() {
        let mut old_b = server("b", "vscode", "npx");
        old_b.env_names = vec!["OLD".into()];
        let old = [server("a", "cursor", "npx a"), old_b.clone()];
        let stored = stored(&old);
        let mut new_b = McpServer { command: "uvx".into(), env_names: vec!["NEW".into()], ..old_b };
        new_b.findings = vec![Finding { id: "MUSTER-SECRET-ENV".into(), severity: 4, ..Default::default() }];
        let host_wide = [Finding { id: "MUSTER-TRIFECTA".into(), client: "vscode".into(), ..Default::default() }];
        let report = full(2, InventorySnapshot { findings: host_wide.to_vec(), ..snapshot(vec![new_b]) });
        assert_eq!(previous_to_read(&stored.servers, &report), ["b", "a"]);
        assert!(needs_host_findings(&stored.part_hashes, &report));
        let plan = plan(&stored, &report);
        let changed = plan.changes.iter().find(|c| c.kind == ChangeKind::Changed).unwrap();
        let text: Vec<String> = changed.fields.iter().map(super::super::activity::FieldChange::text).collect();
        assert_eq!(
            text,
            [
                "command npx → uvx",
                "env names added: NEW; removed: OLD",
                "findings added: MUSTER-SECRET-ENV; removed: MCP-001"
            ]
        );
        let findings: Vec<(&str, ChangeKind, &str)> = plan
            .changes
            .iter()
            .filter_map(|c| c.finding.as_ref().map(|f| (c.server_id.as_str(), c.kind, f.finding_id.as_str())))
            .collect();
        assert_eq!(
            findings,
            [
                ("", ChangeKind::FindingAppeared, "MUSTER-TRIFECTA"),
                ("a", ChangeKind::FindingResolved, "MCP-001"),
                ("b", ChangeKind::FindingResolved, "MCP-001"),
                ("b", ChangeKind::FindingAppeared, "MUSTER-SECRET-ENV"),
            ]
        );
        let resolved_on_a = plan.changes.iter().find(|c| c.server_id == "a" && c.finding.is_some()).unwrap();
        assert_eq!((resolved_on_a.server_name.as_str(), resolved_on_a.client.as_str()), ("name-a", "cursor"));
    }

    #[test]
    fn first_full_snapshot_writes_every_part() {
        let report = full(1, snapshot(vec![server("a", "cursor", "npx a"), server("b", "vscode", "npx b")]));
        let stored = Stored::default();
        assert_eq!(servers_to_read(&report), ServersToRead::All);
        assert!(needs_part_hashes(&report));
        let plan = plan(&stored, &report);
        assert_eq!(plan.sequence, 1);
        let HostWrite::Snapshot { host, scanned_at, hashes, .. } = &plan.host else { panic!("snapshot host") };
        assert_eq!((host.hostname.as_str(), *scanned_at), ("mbp", 1_700_000_000));
        assert!(!hashes.users.is_empty() && !hashes.sources.is_empty() && !hashes.findings.is_empty());
        assert_eq!(plan.users.as_ref().map(Vec::len), Some(1));
        assert!(plan.sources.delete_all);
        assert_eq!(plan.sources.upsert.len(), 1);
        assert_eq!(ids(&plan.servers.write), ["a", "b"]);
        assert!(plan.servers.delete.is_empty() && plan.servers.replace_children_of.is_empty());
        assert_eq!(plan.servers.touch, Touch::All);
        // The last of two credentials at one location, one per server.
        let fingerprints: Vec<&str> = plan.servers.credentials.iter().map(|(_, c)| c.fingerprint.as_str()).collect();
        assert_eq!(fingerprints, ["fp-a", "fp-b"]);
        assert_eq!(plan.servers.findings.len(), 2);
        assert_eq!(plan.host_findings.map(<[Finding]>::len), Some(1));
        assert!(plan.hash_updates.is_empty(), "a snapshot writes its hashes with the host row");
        assert!(plan.client_set_may_change);
        assert_eq!(kinds(&plan), [("a".into(), ChangeKind::Appeared), ("b".into(), ChangeKind::Appeared)]);
        assert_eq!(plan.touched_servers, BTreeSet::from(["a", "b"]));
    }

    #[test]
    fn unchanged_full_snapshot_only_touches() {
        let servers = vec![server("a", "cursor", "npx a"), server("b", "vscode", "npx b")];
        let report = full(2, snapshot(servers.clone()));
        let mut stored = stored(&servers);
        let ReportBody::Full(snap) = &report.body else { unreachable!() };
        stored.part_hashes = PartHashes {
            users: part_hash(&snap.users),
            sources: part_hash(&snap.sources),
            findings: part_hash(&snap.findings),
        };
        let plan = plan(&stored, &report);
        assert_eq!(plan.users, None);
        assert!(!plan.sources.delete_all && plan.sources.upsert.is_empty());
        assert!(plan.servers.write.is_empty() && plan.servers.delete.is_empty());
        assert!(plan.servers.credentials.is_empty() && plan.servers.findings.is_empty());
        assert_eq!(plan.servers.touch, Touch::All);
        assert_eq!(plan.host_findings, None);
        assert!(!plan.client_set_may_change);
        assert!(plan.changes.is_empty() && plan.touched_servers.is_empty());
    }

    #[test]
    fn full_snapshot_replaces_changed_and_deletes_missing_servers() {
        let before = vec![server("a", "cursor", "npx a"), server("b", "cursor", "npx b"), server("c", "cursor", "x")];
        let report = full(5, snapshot(vec![server("a", "cursor", "npx a"), server("b", "cursor", "npx b2")]));
        let stored = stored(&before);
        let plan = plan(&stored, &report);
        assert_eq!(plan.servers.delete, ["c"]);
        assert_eq!(ids(&plan.servers.write), ["b"]);
        assert_eq!(plan.servers.replace_children_of, ["b"]);
        assert_eq!(plan.servers.write[0].content_hash, server_hash(&server("b", "cursor", "npx b2")));
        assert!(plan.client_set_may_change, "a server disappeared");
        assert_eq!(kinds(&plan), [("b".into(), ChangeKind::Changed), ("c".into(), ChangeKind::Disappeared)]);
        assert_eq!(plan.touched_servers, BTreeSet::from(["b"]));
    }

    #[test]
    fn a_server_moving_client_may_change_the_client_set() {
        let stored = stored(&[server("a", "cursor", "npx a")]);
        let same_client = full(2, snapshot(vec![server("a", "cursor", "npx a2")]));
        let moved = full(2, snapshot(vec![server("a", "vscode", "npx a")]));
        let mut with_hashes = stored.clone();
        let ReportBody::Full(snap) = &same_client.body else { unreachable!() };
        with_hashes.part_hashes.sources = part_hash(&snap.sources);
        assert!(!plan(&with_hashes, &same_client).client_set_may_change);
        assert!(plan(&with_hashes, &moved).client_set_may_change);
    }

    #[test]
    fn duplicate_server_ids_keep_the_last() {
        let report = full(1, snapshot(vec![server("a", "cursor", "first"), server("a", "cursor", "second")]));
        let stored = Stored::default();
        let plan = plan(&stored, &report);
        assert_eq!(plan.servers.write.len(), 1);
        assert_eq!(plan.servers.write[0].server.command, "second");
    }

    #[test]
    fn delta_adds_changes_and_removes_only_named_servers() {
        let before =
            vec![server("a", "cursor", "npx a"), server("b", "cursor", "npx b"), server("keep", "cursor", "k")];
        let step = InventoryDelta {
            upserted_servers: vec![
                server("a", "cursor", "npx a"),
                server("b", "cursor", "npx b2"),
                server("n", "cursor", "new"),
            ],
            removed_server_ids: vec!["keep".into(), "unknown".into()],
            ..Default::default()
        };
        let report = delta(3, step);
        assert_eq!(servers_to_read(&report), ServersToRead::Named(vec!["a", "b", "n", "keep", "unknown"]));
        assert!(!needs_part_hashes(&report));
        let stored = stored(&before);
        let plan = plan(&stored, &report);
        assert_eq!(plan.sequence, 3);
        assert_eq!(plan.servers.delete, ["keep", "unknown"]);
        assert_eq!(ids(&plan.servers.write), ["b", "n"]);
        assert_eq!(plan.servers.replace_children_of, ["b"]);
        assert_eq!(plan.servers.touch, Touch::Only(vec!["a"]));
        assert_eq!(
            kinds(&plan),
            [
                ("b".into(), ChangeKind::Changed),
                ("n".into(), ChangeKind::Appeared),
                ("keep".into(), ChangeKind::Disappeared)
            ]
        );
        assert_eq!(plan.touched_servers, BTreeSet::from(["b", "n"]));
        assert!(plan.client_set_may_change);
        // Nothing else of the host is rewritten.
        assert_eq!(
            plan.host,
            HostWrite::Delta { host: None, scanned_at: 0, process_count: None, processes: None, problem_count: None }
        );
        assert_eq!(plan.users, None);
        assert!(plan.sources.upsert.is_empty() && plan.sources.delete_paths.is_empty() && !plan.sources.delete_all);
        assert_eq!(plan.host_findings, None);
        assert!(plan.hash_updates.is_empty());
    }

    #[test]
    fn delta_parts_update_their_hashes() {
        let users = vec![OsUser { name: "dev".into(), ..Default::default() }];
        let findings = vec![Finding { id: "MCP-100".into(), ..Default::default() }];
        let step = InventoryDelta {
            users: users.clone(),
            removed_source_paths: vec!["/old.json".into()],
            replace_findings: true,
            findings: findings.clone(),
            replace_processes: true,
            processes: vec![Default::default(); 3],
            host: Some(Host { hostname: "renamed".into(), ..Default::default() }),
            scanned_at_unix: 42,
            ..Default::default()
        };
        let report = delta(2, step);
        let stored = Stored::default();
        let plan = plan(&stored, &report);
        let HostWrite::Delta { host, scanned_at, process_count, processes, problem_count } = &plan.host else {
            panic!("delta")
        };
        assert_eq!(processes.as_deref().map(super::super::processes::decode).map(|p| p.unwrap().len()), Some(3));
        assert_eq!(host.map(|h| h.hostname.as_str()), Some("renamed"));
        assert_eq!((*scanned_at, *process_count, *problem_count), (42, Some(3), None));
        assert_eq!(plan.users.as_ref().map(Vec::len), Some(1));
        assert_eq!(plan.sources.delete_paths, ["/old.json".to_string()]);
        assert_eq!(plan.host_findings.map(<[Finding]>::len), Some(1));
        assert_eq!(
            plan.hash_updates,
            HashUpdates {
                users: Some(part_hash(&users)),
                // A delta cannot know the whole source list's hash: the next snapshot rewrites it.
                sources: Some(String::new()),
                findings: Some(part_hash(&findings)),
            }
        );
        assert!(plan.client_set_may_change, "a source went away");
    }

    #[test]
    fn a_delta_touching_only_unchanged_servers_keeps_the_client_set() {
        let before = vec![server("a", "cursor", "npx a")];
        let report = delta(2, InventoryDelta { upserted_servers: before.clone(), ..Default::default() });
        let stored = stored(&before);
        let plan = plan(&stored, &report);
        assert!(plan.servers.write.is_empty());
        assert_eq!(plan.servers.touch, Touch::Only(vec!["a"]));
        assert!(!plan.client_set_may_change && plan.changes.is_empty());
    }

    #[test]
    fn only_applied_reports_are_planned_and_the_plan_stores_their_sequence() {
        // The store plans only after `decide` says Apply; the plan's sequence is the report's,
        // up to the largest the store holds exactly.
        let largest = full(crate::ingest::MAX_SEQUENCE, snapshot(vec![]));
        assert_eq!(decide(7, &largest), Decision::Apply);
        assert_eq!(plan(&Stored::default(), &largest).sequence, crate::ingest::MAX_SEQUENCE);
        let retry = delta(7, InventoryDelta::default());
        assert_eq!(decide(7, &retry), Decision::AlreadyStored);
        let on_base = delta(8, InventoryDelta::default());
        assert_eq!(decide(7, &on_base), Decision::Apply);
        assert_eq!(plan(&Stored::default(), &on_base).sequence, 8);
    }
}
