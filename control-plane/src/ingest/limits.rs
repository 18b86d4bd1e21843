//! How big a report is, whether the control plane accepts that size at all, and what it costs.
//!
//! Two questions, both pure functions of the request: does the report stay within the per-report
//! caps (servers, items per list), and how much *work* it is. A report's work is one unit per
//! server, one per item of every other top-level list (sources, users, processes, problems,
//! host-wide findings, removed ids, the policy part's servers and actions) and one per KiB of
//! its encoding; the gRPC layer charges it to the agent's work budget ([`crate::admission::rate`]) and weighs its admission to ingest with it
//! ([`crate::admission`]). Nothing here keeps state, reads the clock or touches storage.

use muster_proto::prost::Message;
use muster_proto::v1::ReportRequest;

use super::{Report, ReportBody};

/// The per-report caps (from `[limits]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportCaps {
    /// Servers in a full snapshot, or servers upserted (and, separately, removed) by a delta.
    pub max_servers: u64,
    /// Items in any other top-level list: sources, users, processes, problems, host-wide
    /// findings, removed source paths, and the policy part's servers and actions (all servers'
    /// actions together).
    pub max_list_items: u64,
}

/// The counts that decide a report's caps and cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSize {
    /// "snapshot" or "delta", for messages.
    pub kind: &'static str,
    pub servers: u64,
    pub removed_servers: u64,
    /// Every other top-level list: (name, length).
    pub lists: Vec<(&'static str, u64)>,
    /// The encoded request.
    pub bytes: u64,
}

/// A report the control plane will never accept, whatever the timing: resending it cannot help.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CapError {
    #[error("{kind} has {count} servers, more than the limit of {limit}; this report will not be accepted")]
    TooManyServers { kind: &'static str, count: u64, limit: u64 },
    #[error("delta removes {count} servers, more than the limit of {limit}; this report will not be accepted")]
    TooManyRemovedServers { count: u64, limit: u64 },
    #[error("{kind} has {count} {list}, more than the limit of {limit} per list; this report will not be accepted")]
    TooManyItems { kind: &'static str, list: &'static str, count: u64, limit: u64 },
}

fn len<T>(items: &[T]) -> u64 {
    items.len() as u64
}

impl ReportSize {
    /// Measures `report`, whose request encoded to `bytes` bytes (see [`request_bytes`]).
    pub fn of(report: &Report, bytes: u64) -> Self {
        let mut size = Self::of_body(report, bytes);
        if let Some(policy) = &report.policy {
            let actions: u64 = policy.servers.iter().map(|s| len(&s.actions)).sum();
            size.lists.push(("policy servers", len(&policy.servers)));
            size.lists.push(("policy actions", actions));
        }
        size
    }

    fn of_body(report: &Report, bytes: u64) -> Self {
        match &report.body {
            ReportBody::Full(s) => Self {
                kind: "snapshot",
                servers: len(&s.servers),
                removed_servers: 0,
                lists: vec![
                    ("sources", len(&s.sources)),
                    ("users", len(&s.users)),
                    ("processes", len(&s.processes)),
                    ("problems", len(&s.problems)),
                    ("findings", len(&s.findings)),
                ],
                bytes,
            },
            ReportBody::Delta(d) => Self {
                kind: "delta",
                servers: len(&d.upserted_servers),
                removed_servers: len(&d.removed_server_ids),
                lists: vec![
                    ("sources", len(&d.upserted_sources)),
                    ("removed sources", len(&d.removed_source_paths)),
                    ("users", len(&d.users)),
                    ("processes", len(&d.processes)),
                    ("problems", len(&d.problems)),
                    ("findings", len(&d.findings)),
                ],
                bytes,
            },
        }
    }

    /// Refuses a report over any cap, naming the first one it passes.
    pub fn check(&self, caps: &ReportCaps) -> Result<(), CapError> {
        if self.servers > caps.max_servers {
            return Err(CapError::TooManyServers { kind: self.kind, count: self.servers, limit: caps.max_servers });
        }
        if self.removed_servers > caps.max_servers {
            return Err(CapError::TooManyRemovedServers { count: self.removed_servers, limit: caps.max_servers });
        }
        match self.lists.iter().find(|(_, count)| *count > caps.max_list_items) {
            Some(&(list, count)) => {
                Err(CapError::TooManyItems { kind: self.kind, list, count, limit: caps.max_list_items })
            }
            None => Ok(()),
        }
    }

    /// The work units this report costs: servers + other list items + KiB (rounded up), at least 1.
    pub fn work(&self) -> u64 {
        let items: u64 = self.lists.iter().map(|(_, count)| *count).sum();
        let kib = self.bytes.div_ceil(1024);
        self.servers.saturating_add(self.removed_servers).saturating_add(items).saturating_add(kib).max(1)
    }
}

/// The encoded size of a request (what the agent sent, give or take field order).
pub fn request_bytes(request: &ReportRequest) -> u64 {
    request.encoded_len() as u64
}

#[cfg(test)]
mod tests {
    use muster_proto::v1::{InventoryDelta, InventorySnapshot, McpProcess, McpServer};

    use super::*;

    const CAPS: ReportCaps = ReportCaps { max_servers: 3, max_list_items: 2 };

    fn servers(n: usize) -> Vec<McpServer> {
        (0..n).map(|i| McpServer { id: format!("s{i}"), ..Default::default() }).collect()
    }

    fn full(snapshot: InventorySnapshot) -> Report {
        Report { sequence: 1, base_sequence: 0, body: ReportBody::Full(snapshot), policy: None }
    }

    fn delta(delta: InventoryDelta) -> Report {
        Report { sequence: 2, base_sequence: 1, body: ReportBody::Delta(delta), policy: None }
    }

    #[test]
    fn a_snapshot_at_the_caps_is_accepted_and_one_more_server_is_refused() {
        let at = ReportSize::of(&full(InventorySnapshot { servers: servers(3), ..Default::default() }), 10);
        assert_eq!(at.check(&CAPS), Ok(()));
        let over = ReportSize::of(&full(InventorySnapshot { servers: servers(4), ..Default::default() }), 10);
        let error = over.check(&CAPS).unwrap_err();
        assert_eq!(error, CapError::TooManyServers { kind: "snapshot", count: 4, limit: 3 });
        assert_eq!(
            error.to_string(),
            "snapshot has 4 servers, more than the limit of 3; this report will not be accepted"
        );
    }

    #[test]
    fn deltas_are_capped_on_upserts_removals_and_lists() {
        let upserts = ReportSize::of(&delta(InventoryDelta { upserted_servers: servers(4), ..Default::default() }), 1);
        assert!(matches!(upserts.check(&CAPS), Err(CapError::TooManyServers { kind: "delta", count: 4, .. })));
        let removals =
            ReportSize::of(&delta(InventoryDelta { removed_server_ids: vec!["x".into(); 4], ..Default::default() }), 1);
        assert_eq!(removals.check(&CAPS), Err(CapError::TooManyRemovedServers { count: 4, limit: 3 }));
        let processes = ReportSize::of(
            &delta(InventoryDelta { processes: vec![McpProcess::default(); 3], ..Default::default() }),
            1,
        );
        let error = processes.check(&CAPS).unwrap_err();
        assert_eq!(error, CapError::TooManyItems { kind: "delta", list: "processes", count: 3, limit: 2 });
        assert!(error.to_string().contains("3 processes, more than the limit of 2"), "{error}");
    }

    #[test]
    fn the_policy_part_is_capped_and_counted_like_the_other_lists() {
        use muster_proto::v1::{PolicyActionResult, PolicyReport, PolicyServerState};
        let servers = |actions: usize| PolicyServerState {
            server_id: "s".into(),
            actions: vec![PolicyActionResult::default(); actions],
        };
        let mut report = full(InventorySnapshot::default());
        report.policy = Some(PolicyReport { servers: vec![servers(1), servers(1)], ..Default::default() });
        let at = ReportSize::of(&report, 0);
        assert_eq!(at.check(&CAPS), Ok(()));
        assert_eq!(at.work(), 4);
        report.policy = Some(PolicyReport { servers: vec![servers(0), servers(0), servers(0)], ..Default::default() });
        let error = ReportSize::of(&report, 0).check(&CAPS).unwrap_err();
        assert_eq!(error, CapError::TooManyItems { kind: "snapshot", list: "policy servers", count: 3, limit: 2 });
        report.policy = Some(PolicyReport { servers: vec![servers(3)], ..Default::default() });
        let error = ReportSize::of(&report, 0).check(&CAPS).unwrap_err();
        assert_eq!(error, CapError::TooManyItems { kind: "snapshot", list: "policy actions", count: 3, limit: 2 });
    }

    #[test]
    fn work_counts_servers_items_and_kibibytes() {
        let snapshot =
            InventorySnapshot { servers: servers(5), processes: vec![McpProcess::default(); 2], ..Default::default() };
        assert_eq!(ReportSize::of(&full(snapshot), 2049).work(), 5 + 2 + 3);
        assert_eq!(ReportSize::of(&full(InventorySnapshot::default()), 0).work(), 1, "nothing is free");
    }
}
