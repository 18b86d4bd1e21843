//! Report ingest rules, independent of storage: which sequence numbers are applied, retried or
//! answered with a resync, and which change events (appeared / changed / disappeared) a report
//! produces per server.
//!
//! Nothing here touches the database: the store calls [`decide`] and [`diff_servers`] inside its
//! transaction so the decision and the write see the same stored sequence.

pub mod activity;
pub mod finding_uid;
pub mod limits;
pub mod plan;
pub mod policy;
pub mod processes;

use std::collections::{BTreeMap, BTreeSet};

use muster_proto::prost::Message;
use muster_proto::v1::{InventoryDelta, InventorySnapshot, McpServer, PolicyReport, ReportRequest, report_request};
use sha2::{Digest, Sha256};

/// A report accepted for ingest: the proto request minus the agent id, which the gRPC layer has
/// already checked against the client certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub sequence: u64,
    pub base_sequence: u64,
    pub body: ReportBody,
    /// The agent's policy state, when it sent one (`None`: an agent without policy support,
    /// whose stored compliance rows are left as they are).
    pub policy: Option<PolicyReport>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReportBody {
    Full(InventorySnapshot),
    Delta(InventoryDelta),
}

/// Why a report cannot be ingested at all (the agent sent something malformed).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    #[error("sequence numbers start at 1")]
    ZeroSequence,
    #[error("sequence {sequence} is above the largest sequence the control plane stores ({MAX_SEQUENCE})")]
    SequenceTooLarge { sequence: u64 },
    #[error("report has neither a full snapshot nor a delta")]
    MissingBody,
    #[error("delta base_sequence {base} is not below its sequence {sequence}")]
    BaseNotBelowSequence { base: u64, sequence: u64 },
    /// Host tags an agent's config file could never hold (`muster_proto::tags`): every problem.
    #[error("host tags: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    BadTags(Vec<muster_proto::tags::TagProblem>),
    /// A policy report the control plane cannot store as sent (see [`policy::check`]).
    #[error("policy report: {0}")]
    BadPolicy(#[from] policy::PolicyReportError),
}

/// The largest sequence number a report may carry: the store keeps sequences as signed 64-bit
/// integers (both SQL dialects), so a larger one could not be stored exactly and a report
/// acknowledged under it could be applied again.
pub const MAX_SEQUENCE: u64 = i64::MAX as u64;

impl Report {
    /// Validates the shape of a request (not its sequence against stored state).
    pub fn from_request(request: ReportRequest) -> Result<Self, ReportError> {
        if request.sequence == 0 {
            return Err(ReportError::ZeroSequence);
        }
        // A delta's base is below its sequence (checked next), so bounding the sequence bounds both.
        if request.sequence > MAX_SEQUENCE {
            return Err(ReportError::SequenceTooLarge { sequence: request.sequence });
        }
        let body = match request.body {
            Some(report_request::Body::Full(snapshot)) => ReportBody::Full(snapshot),
            Some(report_request::Body::Delta(delta)) => {
                if request.base_sequence >= request.sequence {
                    return Err(ReportError::BaseNotBelowSequence {
                        base: request.base_sequence,
                        sequence: request.sequence,
                    });
                }
                ReportBody::Delta(delta)
            }
            None => return Err(ReportError::MissingBody),
        };
        let host = match &body {
            ReportBody::Full(snapshot) => snapshot.host.as_ref(),
            ReportBody::Delta(delta) => delta.host.as_ref(),
        };
        if let Some(host) = host {
            let problems = muster_proto::tags::check(&host.tags);
            if !problems.is_empty() {
                return Err(ReportError::BadTags(problems));
            }
        }
        if let Some(policy) = &request.policy {
            policy::check(policy)?;
        }
        Ok(Self { sequence: request.sequence, base_sequence: request.base_sequence, body, policy: request.policy })
    }
}

/// What ingest tells the rest of the control plane after a report is committed (webhooks, later
/// live views). Published on [`crate::ControlPlane::subscribe_ingest`]; never sent from inside a
/// database transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestEvent {
    /// A report of this agent was applied (not a retry, not a resync).
    ReportApplied { agent_id: String },
}

/// What to do with a report given the highest sequence stored for its agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Already stored (a retry, or an older report arriving late): change nothing, ack.
    AlreadyStored,
    /// Apply it and store its sequence.
    Apply,
    /// A delta on a state we do not have: ask for a full snapshot.
    Resync,
}

pub fn decide(stored_sequence: u64, report: &Report) -> Decision {
    if report.sequence <= stored_sequence {
        return Decision::AlreadyStored;
    }
    match report.body {
        ReportBody::Full(_) => Decision::Apply,
        ReportBody::Delta(_) if report.base_sequence == stored_sequence => Decision::Apply,
        ReportBody::Delta(_) => Decision::Resync,
    }
}

/// The answer to the agent after ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestOutcome {
    pub acked_sequence: u64,
    pub resync_required: bool,
    pub decision: Decision,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeKind {
    Appeared,
    Changed,
    Disappeared,
    /// A finding the host did not report before.
    FindingAppeared,
    /// A finding the host no longer reports (fixed, or its server removed).
    FindingResolved,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Appeared => "appeared",
            Self::Changed => "changed",
            Self::Disappeared => "disappeared",
            Self::FindingAppeared => "finding_appeared",
            Self::FindingResolved => "finding_resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "appeared" => Some(Self::Appeared),
            "changed" => Some(Self::Changed),
            "disappeared" => Some(Self::Disappeared),
            "finding_appeared" => Some(Self::FindingAppeared),
            "finding_resolved" => Some(Self::FindingResolved),
            _ => None,
        }
    }
}

/// A server as the store knows it before a report is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownServer {
    pub name: String,
    pub client: String,
    pub content_hash: String,
}

/// One change event produced by a report: a server that appeared, changed or disappeared, or a
/// finding that appeared or was resolved (`server_id` empty for a host-wide finding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerChange {
    pub server_id: String,
    pub server_name: String,
    pub client: String,
    pub kind: ChangeKind,
    /// For `changed`: what changed, names never values ([`activity::describe_change`]).
    pub fields: Vec<activity::FieldChange>,
    /// For finding events: which finding.
    pub finding: Option<FindingRef>,
}

/// The finding a finding event is about: its catalog id and severity (never its message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingRef {
    pub finding_id: String,
    pub severity: i32,
}

/// Hex SHA-256 of the server's encoded message: equal hashes mean nothing about it changed.
pub fn server_hash(server: &McpServer) -> String {
    hex::encode(Sha256::digest(server.encode_to_vec()))
}

/// Hex SHA-256 of a list of messages (each length-delimited, in order): equal hashes mean the
/// list is the same, so a full snapshot's users, sources or findings need not be rewritten.
pub fn part_hash<M: Message>(items: &[M]) -> String {
    let mut hasher = Sha256::new();
    for item in items {
        hasher.update(item.encode_length_delimited_to_vec());
    }
    hex::encode(hasher.finalize())
}

/// Change events for `upserted` and `removed` servers. For a full snapshot pass `full = true`:
/// every known server not in `upserted` disappears and `removed` is ignored.
pub fn diff_servers(
    known: &BTreeMap<String, KnownServer>,
    upserted: &[McpServer],
    removed: &[String],
    full: bool,
) -> Vec<ServerChange> {
    let mut changes = Vec::new();
    let mut present = BTreeSet::new();
    for server in upserted {
        present.insert(server.id.as_str());
        let kind = match known.get(&server.id) {
            None => ChangeKind::Appeared,
            Some(old) if old.content_hash != server_hash(server) => ChangeKind::Changed,
            Some(_) => continue,
        };
        changes.push(ServerChange {
            server_id: server.id.clone(),
            server_name: server.name.clone(),
            client: server.client.clone(),
            kind,
            fields: Vec::new(),
            finding: None,
        });
    }
    let gone: Vec<&String> = if full {
        known.keys().filter(|id| !present.contains(id.as_str())).collect()
    } else {
        removed.iter().filter(|id| known.contains_key(*id) && !present.contains(id.as_str())).collect()
    };
    for id in gone {
        if let Some(old) = known.get(id) {
            changes.push(ServerChange {
                server_id: id.clone(),
                server_name: old.name.clone(),
                client: old.client.clone(),
                kind: ChangeKind::Disappeared,
                fields: Vec::new(),
                finding: None,
            });
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(id: &str, command: &str) -> McpServer {
        McpServer {
            id: id.into(),
            name: format!("name-{id}"),
            client: "cursor".into(),
            command: command.into(),
            ..Default::default()
        }
    }

    fn full(sequence: u64) -> Report {
        Report { sequence, base_sequence: 0, body: ReportBody::Full(InventorySnapshot::default()), policy: None }
    }

    fn delta(sequence: u64, base_sequence: u64) -> Report {
        Report { sequence, base_sequence, body: ReportBody::Delta(InventoryDelta::default()), policy: None }
    }

    #[test]
    fn retried_and_old_sequences_are_already_stored() {
        assert_eq!(decide(5, &full(5)), Decision::AlreadyStored);
        assert_eq!(decide(5, &delta(3, 2)), Decision::AlreadyStored);
    }

    #[test]
    fn full_snapshot_applies_after_any_gap() {
        assert_eq!(decide(0, &full(1)), Decision::Apply);
        assert_eq!(decide(3, &full(9)), Decision::Apply);
    }

    #[test]
    fn delta_applies_only_on_the_stored_base() {
        assert_eq!(decide(4, &delta(5, 4)), Decision::Apply);
        assert_eq!(decide(4, &delta(6, 5)), Decision::Resync);
        assert_eq!(decide(0, &delta(2, 1)), Decision::Resync);
    }

    #[test]
    fn malformed_requests_are_refused() {
        let zero = ReportRequest { sequence: 0, ..Default::default() };
        assert_eq!(Report::from_request(zero), Err(ReportError::ZeroSequence));
        let empty = ReportRequest { sequence: 1, ..Default::default() };
        assert_eq!(Report::from_request(empty), Err(ReportError::MissingBody));
        let backwards = ReportRequest {
            sequence: 2,
            base_sequence: 2,
            body: Some(report_request::Body::Delta(InventoryDelta::default())),
            ..Default::default()
        };
        assert!(matches!(Report::from_request(backwards), Err(ReportError::BaseNotBelowSequence { .. })));
    }

    #[test]
    fn host_tags_no_config_file_could_hold_are_refused_in_snapshots_and_deltas() {
        use muster_proto::v1::Host;
        let host =
            |tags: &[&str]| Some(Host { tags: tags.iter().map(|t| t.to_string()).collect(), ..Default::default() });
        let full = |tags: &[&str]| ReportRequest {
            sequence: 1,
            body: Some(report_request::Body::Full(InventorySnapshot { host: host(tags), ..Default::default() })),
            ..Default::default()
        };
        let delta = |tags: &[&str]| ReportRequest {
            sequence: 2,
            base_sequence: 1,
            body: Some(report_request::Body::Delta(InventoryDelta { host: host(tags), ..Default::default() })),
            ..Default::default()
        };
        assert!(Report::from_request(full(&["team:payments", "ring/canary"])).is_ok());
        assert!(Report::from_request(delta(&["team:payments"])).is_ok());
        for request in [full(&["Team Payments", "x", "x"]), delta(&["Team Payments", "x", "x"])] {
            let error = Report::from_request(request).unwrap_err();
            assert!(matches!(&error, ReportError::BadTags(problems) if problems.len() == 2), "{error:?}");
            let text = error.to_string();
            assert!(text.contains("tag 1 `Team Payments`") && text.contains("tag 3 `x` is given twice"), "{text}");
        }
    }

    #[test]
    fn sequences_the_store_cannot_hold_exactly_are_refused() {
        let request = |sequence| ReportRequest {
            sequence,
            body: Some(report_request::Body::Full(InventorySnapshot::default())),
            ..Default::default()
        };
        assert_eq!(Report::from_request(request(MAX_SEQUENCE)).map(|r| r.sequence), Ok(MAX_SEQUENCE));
        for sequence in [MAX_SEQUENCE + 1, u64::MAX] {
            assert_eq!(Report::from_request(request(sequence)), Err(ReportError::SequenceTooLarge { sequence }));
        }
    }

    #[test]
    fn full_diff_reports_appeared_changed_and_disappeared() {
        let mut known = BTreeMap::new();
        for (id, command) in [("a", "x"), ("b", "y"), ("c", "z")] {
            let s = server(id, command);
            known.insert(
                id.to_string(),
                KnownServer { name: s.name.clone(), client: s.client.clone(), content_hash: server_hash(&s) },
            );
        }
        let changes = diff_servers(&known, &[server("a", "x"), server("b", "changed"), server("d", "new")], &[], true);
        let kinds: Vec<(&str, ChangeKind)> = changes.iter().map(|c| (c.server_id.as_str(), c.kind)).collect();
        assert_eq!(
            kinds,
            vec![("b", ChangeKind::Changed), ("d", ChangeKind::Appeared), ("c", ChangeKind::Disappeared)]
        );
    }

    #[test]
    fn delta_diff_only_removes_named_known_servers() {
        let s = server("a", "x");
        let known = BTreeMap::from([(
            "a".to_string(),
            KnownServer { name: s.name.clone(), client: s.client.clone(), content_hash: server_hash(&s) },
        )]);
        let changes = diff_servers(&known, &[], &["a".into(), "unknown".into()], false);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].kind, ChangeKind::Disappeared);
        assert!(diff_servers(&known, &[], &[], false).is_empty());
    }
}
