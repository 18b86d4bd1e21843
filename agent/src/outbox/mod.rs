//! The durable outbox: every report is on disk before it is sent and leaves the disk only when the
//! control plane acknowledged it (or rejected it for good), so neither control-plane downtime nor
//! an agent restart loses one.
//!
//! Layout of the directory:
//! - `<sequence, 20 digits>.report`: one protobuf `ReportRequest` each (without `agent_id`, which
//!   the transport fills in), written atomically (temp file, fsync, rename, directory fsync);
//! - `head.pb`: a `ReportRequest` whose `sequence` is the last sequence number ever used and whose
//!   `full` body is the state the control plane will hold once every entry is applied (the base of
//!   the next delta). It is written after the entry, so on load a head older than the newest entry
//!   is discarded and the next report becomes a full snapshot.
//!
//! Sequence numbers only grow and are never reused for different content; a resent report keeps
//! its number, which the control plane treats idempotently. A full snapshot supersedes every
//! pending entry before it (they are deleted), which is also how the outbox stays bounded: when a
//! new delta would pass the entry or byte limit, the latest full state is queued instead, so the
//! newest information is never the one dropped. A report the control plane rejects for good
//! (over its caps) leaves with everything chained on it ([`Outbox::drop_rejected`]). This module
//! does no networking and no timing.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use muster_proto::prost::Message;
use muster_proto::v1::{InventoryDelta, InventorySnapshot, PolicyReport, ReportRequest, report_request::Body};

use crate::report::delta;
use crate::state::{create_private_dir, sync_dir, write_atomic};

const HEAD_FILE: &str = "head.pb";
const ENTRY_SUFFIX: &str = ".report";

/// The outbox could not read or write its directory.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// How large the outbox may grow before it compacts to a full snapshot.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_entries: usize,
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_entries: 64, max_bytes: 32 * 1024 * 1024 }
    }
}

/// What [`Outbox::enqueue`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// Nothing changed since the last queued state; nothing was written.
    Unchanged,
    Delta {
        sequence: u64,
    },
    /// A full snapshot; `superseded` pending entries were deleted.
    Full {
        sequence: u64,
        superseded: usize,
    },
}

/// The on-disk queue of unacknowledged reports.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    limits: Limits,
    /// Pending entries by sequence, with their encoded size.
    entries: BTreeMap<u64, u64>,
    last_sequence: u64,
    /// The state after every queued report: the base of the next delta.
    projected: Option<InventorySnapshot>,
    /// The policy state the last queued report carried (a change is reported even when the
    /// inventory did not change).
    projected_policy: Option<PolicyReport>,
}

impl Outbox {
    /// Opens (creating if needed) the outbox in `dir` and loads what a previous run left.
    /// Unreadable entries are deleted and force the next report to be a full snapshot.
    pub fn open(dir: &Path, limits: Limits) -> Result<Outbox, OutboxError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| OutboxError::Io { path, source }
        };
        create_private_dir(dir).map_err(io_err(dir))?;
        let mut entries = BTreeMap::new();
        let mut corrupt = false;
        for item in fs::read_dir(dir).map_err(io_err(dir))? {
            let item = item.map_err(io_err(dir))?;
            let name = item.file_name().to_string_lossy().into_owned();
            let path = item.path();
            if name.starts_with('.') && name.ends_with(".tmp") {
                // An interrupted write: the rename never happened, so the report was never queued.
                fs::remove_file(&path).map_err(io_err(&path))?;
                continue;
            }
            let Some(seq) = name.strip_suffix(ENTRY_SUFFIX).and_then(|s| s.parse::<u64>().ok()) else { continue };
            let bytes = fs::read(&path).map_err(io_err(&path))?;
            match ReportRequest::decode(bytes.as_slice()) {
                Ok(req) if req.sequence == seq && req.body.is_some() => {
                    entries.insert(seq, bytes.len() as u64);
                }
                _ => {
                    tracing::warn!(path = %path.display(), "deleting an unreadable outbox entry");
                    fs::remove_file(&path).map_err(io_err(&path))?;
                    corrupt = true;
                }
            }
        }
        let head_path = dir.join(HEAD_FILE);
        let head = match fs::read(&head_path) {
            Ok(bytes) => ReportRequest::decode(bytes.as_slice()).ok(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => return Err(OutboxError::Io { path: head_path, source }),
        };
        let newest_entry = entries.keys().next_back().copied().unwrap_or(0);
        let head_sequence = head.as_ref().map_or(0, |h| h.sequence);
        let last_sequence = head_sequence.max(newest_entry);
        let projected_policy = head.as_ref().and_then(|h| h.policy.clone());
        let projected = match head {
            Some(ReportRequest { sequence, body: Some(Body::Full(inv)), .. })
                if sequence == last_sequence && !corrupt =>
            {
                Some(inv)
            }
            _ => None,
        };
        Ok(Outbox { dir: dir.to_path_buf(), limits, entries, last_sequence, projected, projected_policy })
    }

    /// [`enqueue`](Self::enqueue) for an agent with a policy engine: every report carries
    /// `policy`, and a policy state that changed (apart from its evaluation time) is queued as
    /// an empty delta when the inventory itself did not change.
    pub fn enqueue_with_policy(
        &mut self,
        snapshot: &InventorySnapshot,
        policy: &PolicyReport,
        force_full: bool,
    ) -> Result<Enqueued, OutboxError> {
        let changed = self.projected_policy.as_ref().is_none_or(|p| !same_policy(p, policy));
        self.queue(snapshot, Some(policy), force_full, changed)
    }

    /// Queues the change from the last queued state to `snapshot`: a delta, or a full snapshot when
    /// `force_full`, when there is no known base, when the agent version changed, or when the delta
    /// would pass the limits. The entry is durable when this returns.
    pub fn enqueue(&mut self, snapshot: &InventorySnapshot, force_full: bool) -> Result<Enqueued, OutboxError> {
        self.queue(snapshot, None, force_full, false)
    }

    fn queue(
        &mut self,
        snapshot: &InventorySnapshot,
        policy: Option<&PolicyReport>,
        force_full: bool,
        policy_changed: bool,
    ) -> Result<Enqueued, OutboxError> {
        let delta = match &self.projected {
            Some(prev) if !force_full && prev.agent_version == snapshot.agent_version => {
                match delta::diff(prev, snapshot) {
                    None if policy_changed => Some(InventoryDelta {
                        scanned_at_unix: snapshot.scanned_at_unix,
                        users: snapshot.users.clone(),
                        host: snapshot.host.clone(),
                        ..InventoryDelta::default()
                    }),
                    None => return Ok(Enqueued::Unchanged),
                    Some(d) => Some(d),
                }
            }
            _ => None,
        };
        let policy = policy.cloned();
        let sequence = self.last_sequence + 1;
        if let Some(d) = delta {
            let req = ReportRequest {
                agent_id: String::new(),
                sequence,
                base_sequence: self.last_sequence,
                body: Some(Body::Delta(d)),
                policy: policy.clone(),
            };
            let bytes = req.encode_to_vec();
            let fits = self.entries.len() < self.limits.max_entries
                && self.pending_bytes() + bytes.len() as u64 <= self.limits.max_bytes;
            if fits {
                self.write_entry(sequence, &bytes)?;
                if req.policy.is_some() {
                    self.projected_policy = req.policy;
                }
                self.advance(sequence, snapshot)?;
                return Ok(Enqueued::Delta { sequence });
            }
        }
        let req = ReportRequest {
            agent_id: String::new(),
            sequence,
            base_sequence: 0,
            body: Some(Body::Full(snapshot.clone())),
            policy,
        };
        self.write_entry(sequence, &req.encode_to_vec())?;
        if req.policy.is_some() {
            self.projected_policy = req.policy;
        }
        // Deleted only after the full snapshot is durable: a crash in between resends old entries
        // first, which the full snapshot then overrides.
        let superseded: Vec<u64> = self.entries.range(..sequence).map(|(s, _)| *s).collect();
        for s in &superseded {
            self.remove_entry(*s)?;
        }
        self.sync()?;
        self.advance(sequence, snapshot)?;
        Ok(Enqueued::Full { sequence, superseded: superseded.len() })
    }

    /// The oldest unacknowledged report, read back from disk.
    pub fn head(&self) -> Result<Option<ReportRequest>, OutboxError> {
        let Some((&seq, _)) = self.entries.iter().next() else { return Ok(None) };
        let path = self.entry_path(seq);
        let bytes = fs::read(&path).map_err(|source| OutboxError::Io { path: path.clone(), source })?;
        let req = ReportRequest::decode(bytes.as_slice())
            .map_err(|e| OutboxError::Io { path, source: io::Error::new(io::ErrorKind::InvalidData, e.to_string()) })?;
        Ok(Some(req))
    }

    /// The control plane stored everything up to `acked`: delete those entries. Returns how many.
    ///
    /// An ack beyond the last sequence this outbox ever used means the control plane knows a
    /// history this agent lost (its state directory was reset): numbering jumps past it and the
    /// next report is a full snapshot, so new reports are not mistaken for retries.
    pub fn ack(&mut self, acked: u64) -> Result<usize, OutboxError> {
        let done: Vec<u64> = self.entries.range(..=acked).map(|(s, _)| *s).collect();
        for s in &done {
            self.remove_entry(*s)?;
        }
        if !done.is_empty() {
            self.sync()?;
        }
        if acked > self.last_sequence {
            self.last_sequence = acked;
            self.projected = None;
            self.write_head()?;
        }
        Ok(done.len())
    }

    /// The control plane rejected the oldest pending report for good (see
    /// `docs/adr/0004-ingest-fairness.md`): deletes it and every entry after it, each a delta
    /// chained on it (a full snapshot would have superseded it), and forgets the base, so the next
    /// report is a full snapshot with a fresh number. Returns the dropped sequence numbers.
    pub fn drop_rejected(&mut self) -> Result<Vec<u64>, OutboxError> {
        // Base first: a crash in between resends the rejected report, which is rejected again.
        self.forget_base()?;
        let dropped: Vec<u64> = self.entries.keys().copied().collect();
        for s in &dropped {
            self.remove_entry(*s)?;
        }
        if !dropped.is_empty() {
            self.sync()?;
        }
        Ok(dropped)
    }

    /// Forgets the base of the next delta, so the next [`enqueue`](Self::enqueue) is a full snapshot.
    pub fn forget_base(&mut self) -> Result<(), OutboxError> {
        self.projected = None;
        self.write_head()
    }

    /// Sequence numbers of pending reports, oldest first.
    pub fn pending(&self) -> Vec<u64> {
        self.entries.keys().copied().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn last_sequence(&self) -> u64 {
        self.last_sequence
    }

    /// Whether the next report can be a delta.
    pub fn has_base(&self) -> bool {
        self.projected.is_some()
    }

    pub fn pending_bytes(&self) -> u64 {
        self.entries.values().sum()
    }

    fn entry_path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}{ENTRY_SUFFIX}"))
    }

    fn write_entry(&mut self, seq: u64, bytes: &[u8]) -> Result<(), OutboxError> {
        let path = self.entry_path(seq);
        write_atomic(&path, bytes).map_err(|source| OutboxError::Io { path, source })?;
        self.entries.insert(seq, bytes.len() as u64);
        Ok(())
    }

    fn remove_entry(&mut self, seq: u64) -> Result<(), OutboxError> {
        let path = self.entry_path(seq);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(OutboxError::Io { path, source }),
        }
        self.entries.remove(&seq);
        Ok(())
    }

    fn sync(&self) -> Result<(), OutboxError> {
        sync_dir(&self.dir).map_err(|source| OutboxError::Io { path: self.dir.clone(), source })
    }

    fn advance(&mut self, seq: u64, snapshot: &InventorySnapshot) -> Result<(), OutboxError> {
        self.last_sequence = seq;
        self.projected = Some(snapshot.clone());
        self.write_head()
    }

    fn write_head(&self) -> Result<(), OutboxError> {
        let head = ReportRequest {
            agent_id: String::new(),
            sequence: self.last_sequence,
            base_sequence: 0,
            body: self.projected.clone().map(Body::Full),
            policy: self.projected_policy.clone(),
        };
        let path = self.dir.join(HEAD_FILE);
        write_atomic(&path, &head.encode_to_vec()).map_err(|source| OutboxError::Io { path, source })
    }
}

/// Whether two policy states say the same (the evaluation time aside).
fn same_policy(a: &PolicyReport, b: &PolicyReport) -> bool {
    PolicyReport { evaluated_at_unix: 0, ..a.clone() } == PolicyReport { evaluated_at_unix: 0, ..b.clone() }
}
