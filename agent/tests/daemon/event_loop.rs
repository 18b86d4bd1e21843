//! The daemon core fed synthetic events (or driven by its real loop under a paused clock) with a
//! fake scanner and a fake control plane that applies reports the way the real one must:
//! idempotent by sequence, deltas only on the state they were based on, resync on a gap, and (like
//! the real one's caps and work budget) rejections for good and retryable refusals, answered with
//! the gRPC statuses the real transport turns into errors.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use muster_agent::daemon::{self, Daemon, Event, Reporter, Scanner, Settings};
use muster_agent::grpc::status_error;
use muster_agent::outbox::{Limits, Outbox};
use muster_agent::report::delta;
use muster_agent::report::{CertificateValidity, ReportTransport, TransportError};
use muster_agent::state::StateDir;
use muster_agent::watch::NoWatcher;
use muster_proto::tonic::Status;
use muster_proto::v1::{
    HeartbeatResponse, InventorySnapshot, ProblemKind, ReportRequest, ReportResponse, report_request::Body,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::support::inventory;

/// Returns whatever inventory the test last put in.
#[derive(Clone)]
struct FakeScanner {
    current: Arc<Mutex<InventorySnapshot>>,
    scans: Arc<Mutex<u32>>,
}

impl FakeScanner {
    fn new(inv: InventorySnapshot) -> FakeScanner {
        FakeScanner { current: Arc::new(Mutex::new(inv)), scans: Arc::new(Mutex::new(0)) }
    }
    fn set(&self, inv: InventorySnapshot) {
        *self.current.lock().unwrap() = inv;
    }
    fn scans(&self) -> u32 {
        *self.scans.lock().unwrap()
    }
}

impl Scanner for FakeScanner {
    async fn scan(&mut self) -> Result<muster_agent::Scanned, muster_agent::ScanError> {
        *self.scans.lock().unwrap() += 1;
        Ok(muster_agent::Scanned { inventory: self.current.lock().unwrap().clone(), ..Default::default() })
    }
}

/// A control plane in memory.
#[derive(Default)]
struct Server {
    up: bool,
    /// Store the next report but lose the answer (the agent is killed or the link drops mid-send).
    lose_next_answer: bool,
    /// Answer the next delta with a resync request.
    resync_next: bool,
    state: Option<InventorySnapshot>,
    last: u64,
    /// Every report that arrived: (sequence, was full, when).
    received: Vec<(u64, bool, Instant)>,
    /// Sequences applied to `state` (a duplicate here would be a double-applied report).
    applied: Vec<u64>,
    /// Failed attempts while down.
    refused_at: Vec<Instant>,
    renewals: u32,
    renew_fails: bool,
    /// `last_sequence` of every heartbeat received.
    heartbeats: Vec<u64>,
    /// Like the control plane's `max_servers_per_report`: a full snapshot with more servers, or a
    /// delta upserting or removing more, is rejected for good (`InvalidArgument`).
    max_servers: Option<usize>,
    /// Answer the next this many reports `ResourceExhausted` (over the agent's work budget).
    exhausted_next: u32,
}

#[derive(Clone, Default)]
struct FakeTransport(Arc<Mutex<Server>>);

impl FakeTransport {
    fn up() -> FakeTransport {
        let t = FakeTransport::default();
        t.0.lock().unwrap().up = true;
        t
    }
    fn with<R>(&self, f: impl FnOnce(&mut Server) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }
}

impl ReportTransport for FakeTransport {
    async fn report(&mut self, req: ReportRequest) -> Result<ReportResponse, TransportError> {
        let mut s = self.0.lock().unwrap();
        if !s.up {
            s.refused_at.push(Instant::now());
            return Err(TransportError::Unreachable("connection refused".into()));
        }
        let full = matches!(req.body, Some(Body::Full(_)));
        s.received.push((req.sequence, full, Instant::now()));
        if s.exhausted_next > 0 {
            s.exhausted_next -= 1;
            return Err(status_error(&Status::resource_exhausted("work budget exceeded; retry in about 10 s")));
        }
        let (kind, servers) = match &req.body {
            Some(Body::Full(inv)) => ("snapshot", inv.servers.len()),
            Some(Body::Delta(d)) => ("delta", d.upserted_servers.len().max(d.removed_server_ids.len())),
            None => ("report", 0),
        };
        if let Some(limit) = s.max_servers.filter(|limit| servers > *limit) {
            return Err(status_error(&Status::invalid_argument(format!(
                "{kind} has {servers} servers, more than the limit of {limit}; this report will not be accepted"
            ))));
        }
        let mut resync = false;
        if req.sequence > s.last {
            match req.body {
                Some(Body::Full(inv)) => {
                    s.state = Some(inv);
                    s.last = req.sequence;
                    s.applied.push(req.sequence);
                }
                Some(Body::Delta(d)) if !s.resync_next && req.base_sequence == s.last && s.state.is_some() => {
                    let next = delta::apply(s.state.as_ref().unwrap(), &d);
                    s.state = Some(next);
                    s.last = req.sequence;
                    s.applied.push(req.sequence);
                }
                _ => {
                    s.resync_next = false;
                    resync = true;
                }
            }
        }
        if s.lose_next_answer {
            s.lose_next_answer = false;
            return Err(TransportError::Unreachable("connection reset".into()));
        }
        Ok(ReportResponse { acked_sequence: s.last, resync_required: resync })
    }

    async fn heartbeat(&mut self, last_sequence: u64) -> Result<HeartbeatResponse, TransportError> {
        let mut s = self.0.lock().unwrap();
        if !s.up {
            return Err(TransportError::Unreachable("connection refused".into()));
        }
        s.heartbeats.push(last_sequence);
        // A control plane that lost this agent's state (restored from a backup) asks for it again.
        Ok(HeartbeatResponse { server_time_unix: 0, resync_required: s.state.is_none() || last_sequence < s.last })
    }

    async fn renew(&mut self) -> Result<CertificateValidity, TransportError> {
        let mut s = self.0.lock().unwrap();
        s.renewals += 1;
        if s.renew_fails {
            return Err(TransportError::Unreachable("connection refused".into()));
        }
        let now = muster_agent::state::now_unix();
        Ok(CertificateValidity { issued_at_unix: now, not_after_unix: now + 30 * 86_400 })
    }
}

fn settings() -> Settings {
    Settings { backoff_base: Duration::from_secs(1), backoff_max: Duration::from_secs(60), ..Settings::default() }
}

type TestDaemon = Daemon<FakeScanner, NoWatcher, FakeTransport>;

fn daemon(dir: &std::path::Path, scanner: &FakeScanner, transport: &FakeTransport) -> TestDaemon {
    let state = StateDir::open(dir).unwrap();
    let reporter = Reporter {
        outbox: Outbox::open(&state.outbox_dir(), Limits::default()).unwrap(),
        transport: transport.clone(),
        renew_at_unix: None,
    };
    // Jitter 0: every wait is exactly half of its exponential step, so times are predictable.
    Daemon::new(settings(), scanner.clone(), NoWatcher, state, Some(reporter)).with_jitter(|| 0.0)
}

fn sorted(mut inv: InventorySnapshot) -> InventorySnapshot {
    inv.servers.sort_by(|a, b| a.id.cmp(&b.id));
    inv.sources.sort_by(|a, b| a.path.cmp(&b.path));
    inv
}

#[tokio::test(start_paused = true)]
async fn an_acknowledged_report_leaves_the_outbox_and_changes_arrive_as_deltas() {
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a"]));
    let server = FakeTransport::up();
    let mut d = daemon(tmp.path(), &scanner, &server);

    d.start().await.unwrap();
    assert!(d.outbox().unwrap().is_empty(), "the acknowledged full snapshot left the outbox");
    assert!(tmp.path().join("inventory.json").exists(), "local state is kept for the tray app");

    scanner.set(inventory(&["a", "b"]));
    d.handle(Event::ConfigChanged(PathBuf::from("/home/dev/.cursor/mcp.json"))).await.unwrap();
    assert_eq!(server.with(|s| s.received.len()), 1, "a change waits for the debounce window");
    assert_eq!(d.next_timer().1, Event::DebounceElapsed);
    d.handle(Event::DebounceElapsed).await.unwrap();

    assert!(d.outbox().unwrap().is_empty());
    let kinds: Vec<(u64, bool)> = server.with(|s| s.received.iter().map(|r| (r.0, r.1)).collect());
    assert_eq!(kinds, [(1, true), (2, false)], "a full snapshot first, then a delta");
    assert_eq!(server.with(|s| sorted(s.state.clone().unwrap())), sorted(inventory(&["a", "b"])));

    // A rescan that finds nothing new sends nothing.
    d.handle(Event::RescanDue).await.unwrap();
    assert_eq!(server.with(|s| s.received.len()), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_send_stays_queued_and_is_retried_with_growing_backoff() {
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a"]));
    let server = FakeTransport::default(); // down
    let mut d = daemon(tmp.path(), &scanner, &server);
    let (_changes_tx, changes) = mpsc::channel(8);
    let (stop_tx, stop) = oneshot::channel::<()>();
    let t0 = Instant::now();
    let task = tokio::spawn(async move {
        daemon::run(&mut d, changes, async {
            let _ = stop.await;
        })
        .await
        .unwrap();
        d
    });

    // Poll under the paused clock until four attempts have failed (with a deadline).
    let deadline = t0 + Duration::from_secs(60);
    while server.with(|s| s.refused_at.len()) < 4 {
        assert!(Instant::now() < deadline, "the daemon stopped retrying");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waits: Vec<Duration> = server.with(|s| s.refused_at.windows(2).map(|w| w[1] - w[0]).collect());
    assert_eq!(
        waits,
        [Duration::from_millis(500), Duration::from_millis(1000), Duration::from_millis(2000)],
        "exponential backoff (jitter floor is half the step)"
    );

    server.with(|s| s.up = true);
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.with(|s| s.applied.is_empty()) {
        assert!(Instant::now() < deadline, "the report never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_tx.send(()).unwrap();
    let d = task.await.unwrap();
    assert!(d.outbox().unwrap().is_empty(), "acknowledged after the control plane came back");
    assert_eq!(server.with(|s| s.applied.clone()), [1]);
}

#[tokio::test(start_paused = true)]
async fn a_resync_request_is_answered_with_a_full_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a"]));
    let server = FakeTransport::up();
    let mut d = daemon(tmp.path(), &scanner, &server);
    d.start().await.unwrap();

    server.with(|s| s.resync_next = true);
    scanner.set(inventory(&["b"]));
    d.handle(Event::RescanDue).await.unwrap();

    let kinds: Vec<(u64, bool)> = server.with(|s| s.received.iter().map(|r| (r.0, r.1)).collect());
    assert_eq!(kinds, [(1, true), (2, false), (3, true)], "the refused delta is followed by a full snapshot");
    assert!(d.outbox().unwrap().is_empty());
    assert_eq!(server.with(|s| s.state.clone().unwrap()), inventory(&["b"]));
}

#[tokio::test(start_paused = true)]
async fn a_restart_resends_queued_reports_once_with_their_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a"]));
    let server = FakeTransport::default(); // down
    {
        let mut d = daemon(tmp.path(), &scanner, &server);
        d.start().await.unwrap();
        scanner.set(inventory(&["a", "b"]));
        d.handle(Event::RetryDue).await.unwrap(); // still down
        d.handle(Event::RescanDue).await.unwrap();
        assert_eq!(d.outbox().unwrap().pending(), [1, 2]);
    } // the agent stops with two reports queued

    server.with(|s| s.up = true);
    let mut d = daemon(tmp.path(), &scanner, &server);
    d.start().await.unwrap();
    assert!(d.outbox().unwrap().is_empty());
    let seqs: Vec<u64> = server.with(|s| s.received.iter().map(|r| r.0).collect());
    assert_eq!(seqs, [1, 2], "each queued report sent once, with its original number");
    assert_eq!(server.with(|s| sorted(s.state.clone().unwrap())), sorted(inventory(&["a", "b"])));
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_is_retried_with_the_same_number_and_applied_once() {
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a"]));
    let server = FakeTransport::up();
    server.with(|s| s.lose_next_answer = true);
    {
        let mut d = daemon(tmp.path(), &scanner, &server);
        d.start().await.unwrap(); // stored by the server, answer lost
        assert_eq!(d.outbox().unwrap().pending(), [1]);
        assert!(d.retry_at().is_some());
    } // killed before the retry

    let mut d = daemon(tmp.path(), &scanner, &server);
    d.start().await.unwrap();
    assert!(d.outbox().unwrap().is_empty());
    let seqs: Vec<u64> = server.with(|s| s.received.iter().map(|r| r.0).collect());
    assert_eq!(seqs, [1, 1], "the retry reused the sequence number");
    assert_eq!(server.with(|s| s.applied.clone()), [1], "and the control plane applied it once");
}

#[tokio::test(start_paused = true)]
async fn changes_are_debounced_through_the_real_loop() {
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a"]));
    let server = FakeTransport::up();
    let mut d = daemon(tmp.path(), &scanner, &server);
    let (changes_tx, changes) = mpsc::channel(8);
    let (stop_tx, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        daemon::run(&mut d, changes, async {
            let _ = stop.await;
        })
        .await
        .unwrap();
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.with(|s| s.applied.len()) < 1 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let scans_before = scanner.scans();
    scanner.set(inventory(&["a", "c"]));
    let changed_at = Instant::now();
    for _ in 0..5 {
        changes_tx.send(PathBuf::from("/home/dev/.cursor/mcp.json")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.with(|s| s.applied.len()) < 2 {
        assert!(Instant::now() < deadline, "the change never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let arrived = server.with(|s| s.received.last().unwrap().2);
    assert!(arrived - changed_at < Duration::from_secs(1), "a change arrives within a second");
    assert!(arrived - changed_at >= Duration::from_millis(500), "not before the burst settled");
    assert_eq!(scanner.scans() - scans_before, 1, "five quick changes, one rescan");
    stop_tx.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_file_rewritten_continuously_is_still_rescanned() {
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a"]));
    let server = FakeTransport::up();
    let mut d = daemon(tmp.path(), &scanner, &server);
    d.start().await.unwrap();
    let t0 = Instant::now();
    let window = settings().debounce;
    // A change every half window would postpone a plain trailing debounce forever.
    for _ in 0..20 {
        d.handle(Event::ConfigChanged(PathBuf::from("/x"))).await.unwrap();
        tokio::time::advance(window / 2).await;
    }
    let (at, event) = d.next_timer();
    assert_eq!(event, Event::DebounceElapsed);
    assert_eq!(at, t0 + window * daemon::MAX_DEBOUNCE_FACTOR, "the burst is capped");
}

#[tokio::test(start_paused = true)]
async fn the_certificate_is_renewed_at_half_life_and_retried_after_a_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a"]));
    let server = FakeTransport::up();
    let state = StateDir::open(tmp.path()).unwrap();
    let now = muster_agent::state::now_unix();
    let reporter = Reporter {
        outbox: Outbox::open(&state.outbox_dir(), Limits::default()).unwrap(),
        transport: server.clone(),
        renew_at_unix: Some(now + 3600),
    };
    let mut d = Daemon::new(settings(), scanner, NoWatcher, state, Some(reporter)).with_jitter(|| 0.0);
    let t0 = Instant::now();
    // The renewal is due an hour ahead (within a second of wall-clock rounding).
    let due = d.renew_due().unwrap() - t0;
    assert!(due >= Duration::from_secs(3599) && due <= Duration::from_secs(3600), "{due:?}");

    // Drive the real timers until renewal is the next event.
    d.start().await.unwrap();
    loop {
        let (at, event) = d.next_timer();
        tokio::time::advance(at.saturating_duration_since(Instant::now())).await;
        if event == Event::RenewDue {
            break;
        }
        d.handle(event).await.unwrap();
    }
    server.with(|s| s.renew_fails = true);
    d.handle(Event::RenewDue).await.unwrap();
    assert_eq!(server.with(|s| s.renewals), 1);
    assert_eq!(d.renew_due(), Some(Instant::now() + settings().renew_retry), "a failed renewal is retried later");

    server.with(|s| s.renew_fails = false);
    d.handle(Event::RenewDue).await.unwrap();
    assert_eq!(server.with(|s| s.renewals), 2);
    // A 30-day certificate issued now is renewed in 15 days.
    let next = d.renew_due().unwrap() - Instant::now();
    assert!(next >= Duration::from_secs(15 * 86_400 - 1) && next <= Duration::from_secs(15 * 86_400), "{next:?}");
}

#[tokio::test(start_paused = true)]
async fn heartbeats_keep_a_quiet_agent_seen_and_can_ask_for_a_resync() {
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a"]));
    let server = FakeTransport::up();
    let mut d = daemon(tmp.path(), &scanner, &server);
    d.start().await.unwrap();
    let t0 = Instant::now();
    let heartbeat_at = loop {
        let (at, event) = d.next_timer();
        tokio::time::advance(at.saturating_duration_since(Instant::now())).await;
        d.handle(event.clone()).await.unwrap();
        if event == Event::HeartbeatDue {
            break at;
        }
    };
    assert_eq!(heartbeat_at - t0, settings().heartbeat_interval);
    assert_eq!(server.with(|s| s.heartbeats.clone()), [1]);
    assert_eq!(server.with(|s| s.received.len()), 1, "nothing changed, so no report");

    // The control plane lost the agent's state: the heartbeat's answer brings a full snapshot.
    server.with(|s| s.state = None);
    d.handle(Event::HeartbeatDue).await.unwrap();
    let kinds: Vec<(u64, bool)> = server.with(|s| s.received.iter().map(|r| (r.0, r.1)).collect());
    assert_eq!(kinds, [(1, true), (2, true)]);
    assert!(d.outbox().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_full_snapshot_timer_sends_a_full_report_even_without_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a"]));
    let server = FakeTransport::up();
    let mut d = daemon(tmp.path(), &scanner, &server);
    d.start().await.unwrap();
    d.handle(Event::FullSnapshotDue).await.unwrap();
    let kinds: Vec<(u64, bool)> = server.with(|s| s.received.iter().map(|r| (r.0, r.1)).collect());
    assert_eq!(kinds, [(1, true), (2, true)]);
}

#[tokio::test(start_paused = true)]
async fn run_once_reports_failure_when_never_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a"]));
    let server = FakeTransport::default(); // down
    let mut d = daemon(tmp.path(), &scanner, &server);
    assert!(!daemon::run_once(&mut d, 3).await.unwrap());
    assert_eq!(server.with(|s| s.refused_at.len()), 3);
    assert_eq!(d.outbox().unwrap().pending(), [1], "the report stays queued for the next run");

    server.with(|s| s.up = true);
    let mut d = daemon(tmp.path(), &scanner, &server);
    assert!(daemon::run_once(&mut d, 3).await.unwrap());
    assert!(d.outbox().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn unenrolled_the_daemon_scans_and_keeps_local_state() {
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a"]));
    let state = StateDir::open(tmp.path()).unwrap();
    let mut d: TestDaemon = Daemon::new(settings(), scanner.clone(), NoWatcher, state, None);
    assert!(!d.is_enrolled());
    assert!(daemon::run_once(&mut d, 3).await.unwrap());
    let text = std::fs::read_to_string(tmp.path().join("inventory.json")).unwrap();
    assert!(text.contains("laptop"), "{text}");
    assert!(!tmp.path().join("outbox").exists(), "no outbox without an identity");
}

fn kinds(server: &FakeTransport) -> Vec<(u64, bool)> {
    server.with(|s| s.received.iter().map(|r| (r.0, r.1)).collect())
}

fn local_state(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("inventory.json")).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_report_rejected_for_good_is_dropped_once_and_shown_as_a_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a", "b", "c"]));
    let server = FakeTransport::up();
    server.with(|s| s.max_servers = Some(2));
    let mut d = daemon(tmp.path(), &scanner, &server);
    d.start().await.unwrap();
    // Ten minutes of the daemon's own timers: rescans, heartbeats (each answered with a resync
    // request, as the control plane stored nothing) and any retry it would schedule.
    let end = Instant::now() + Duration::from_secs(600);
    loop {
        let (at, event) = d.next_timer();
        if at > end {
            break;
        }
        tokio::time::advance(at.saturating_duration_since(Instant::now())).await;
        d.handle(event).await.unwrap();
    }

    assert_eq!(kinds(&server), [(1, true)], "sent once, never retried");
    assert_eq!(server.with(|s| s.heartbeats.len()), 10, "the daemon kept running");
    assert!(d.outbox().unwrap().is_empty(), "dropped from the outbox");
    assert_eq!(d.retry_at(), None);
    let problem = d.rejection().expect("the rejection is a problem");
    assert_eq!(problem.kind, ProblemKind::ReportRejected as i32);
    assert!(problem.message.contains("snapshot has 3 servers, more than the limit of 2"), "{}", problem.message);
    let local = local_state(tmp.path());
    assert!(local.contains("report-rejected") && local.contains("more than the limit of 2"), "{local}");

    // The full-snapshot interval tries the same state once more, in case the limit was raised.
    d.handle(Event::FullSnapshotDue).await.unwrap();
    assert_eq!(kinds(&server), [(1, true), (2, true)]);
    assert!(d.outbox().unwrap().is_empty());

    // A state the control plane accepts goes out at once, as a full snapshot with a new number.
    scanner.set(inventory(&["a", "b"]));
    d.handle(Event::RescanDue).await.unwrap();
    assert_eq!(kinds(&server), [(1, true), (2, true), (3, true)]);
    assert_eq!(server.with(|s| s.applied.clone()), [3]);
    assert_eq!(d.rejection(), None, "an acknowledged report clears the problem");
    assert!(!local_state(tmp.path()).contains("report-rejected"));
}

#[tokio::test(start_paused = true)]
async fn a_rejected_delta_is_dropped_and_followed_by_a_full_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a", "b", "c"]));
    let server = FakeTransport::up();
    let mut d = daemon(tmp.path(), &scanner, &server);
    d.start().await.unwrap();
    // The limit is lowered; the next delta removes three servers, more than it allows.
    server.with(|s| s.max_servers = Some(2));
    scanner.set(inventory(&["d"]));
    d.handle(Event::RescanDue).await.unwrap();

    assert_eq!(kinds(&server), [(1, true), (2, false), (3, true)], "the delta once, then the current state");
    assert_eq!(server.with(|s| s.applied.clone()), [1, 3]);
    assert_eq!(server.with(|s| s.state.clone().unwrap()), inventory(&["d"]));
    assert!(d.outbox().unwrap().is_empty());
    assert_eq!(d.rejection(), None, "the full snapshot after it was acknowledged");
    assert_eq!(d.retry_at(), None);
}

#[tokio::test(start_paused = true)]
async fn a_report_over_the_work_budget_is_retried_with_backoff() {
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a"]));
    let server = FakeTransport::up();
    server.with(|s| s.exhausted_next = 3);
    let mut d = daemon(tmp.path(), &scanner, &server);
    let (_changes_tx, changes) = mpsc::channel(8);
    let (stop_tx, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        daemon::run(&mut d, changes, async {
            let _ = stop.await;
        })
        .await
        .unwrap();
        d
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.with(|s| s.applied.is_empty()) {
        assert!(Instant::now() < deadline, "the report was never retried");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_tx.send(()).unwrap();
    let d = task.await.unwrap();
    let received = server.with(|s| s.received.clone());
    let sequences: Vec<u64> = received.iter().map(|r| r.0).collect();
    assert_eq!(sequences, [1, 1, 1, 1], "the same report, retried until accepted");
    let waits: Vec<Duration> = received.windows(2).map(|w| w[1].2 - w[0].2).collect();
    assert_eq!(waits, [Duration::from_millis(500), Duration::from_millis(1000), Duration::from_millis(2000)]);
    assert!(d.outbox().unwrap().is_empty());
    assert_eq!(d.rejection(), None, "a retryable refusal is no problem");
}

#[tokio::test(start_paused = true)]
async fn run_once_stops_at_a_rejection_for_good() {
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a", "b"]));
    let server = FakeTransport::up();
    server.with(|s| s.max_servers = Some(1));
    let mut d = daemon(tmp.path(), &scanner, &server);
    assert!(!daemon::run_once(&mut d, 3).await.unwrap(), "a rejected report is not acknowledged");
    assert_eq!(kinds(&server), [(1, true)], "one attempt, not three");
    assert!(d.outbox().unwrap().is_empty());
    assert!(d.rejection().is_some());
}

#[tokio::test(start_paused = true)]
async fn the_local_api_sees_each_inventory_and_the_connection_change() {
    use muster_agent::local_api::{Connection, StatusPublisher};
    use muster_proto::local::v1::ConnectionState;
    let tmp = tempfile::tempdir().unwrap();
    let scanner = FakeScanner::new(inventory(&["a"]));
    let server = FakeTransport::default(); // down
    let publisher = StatusPublisher::new(Connection { state: ConnectionState::Connecting, ..Connection::default() });
    let mut d = daemon(tmp.path(), &scanner, &server).with_status_publisher(publisher.clone());

    d.start().await.unwrap();
    let view = publisher.current();
    assert_eq!(view.snapshot.as_deref().map(|s| s.servers.len()), Some(1), "the first scan is published");
    assert_eq!(view.connection.state, ConnectionState::Retrying);
    assert!(!view.connection.last_error.is_empty());
    assert_eq!(view.connection.queued_reports, 1);

    server.with(|s| s.up = true);
    d.handle(Event::RetryDue).await.unwrap();
    let view = publisher.current();
    assert_eq!(view.connection.state, ConnectionState::Connected);
    assert!(view.connection.last_acknowledged_unix.is_some());
    assert!(view.connection.last_error.is_empty());
    assert_eq!(view.connection.queued_reports, 0);
}
