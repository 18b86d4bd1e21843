//! The agent daemon's core: one loop over a closed [`Event`] enum. Every trigger (a watched file
//! changed, the debounce window closed, the rescan interval, the full-snapshot interval, a retry
//! after backoff, certificate renewal, shutdown) is one variant, handled in one place,
//! [`Daemon::handle`]. Timers are plain deadlines kept in the core; [`run`] sleeps until the
//! nearest one, so tests drive the real loop with `tokio::time::pause()` or call `handle` with
//! synthetic events.
//!
//! The core is generic over its edges: a [`Scanner`] (the filesystem and processes), a
//! [`ConfigWatcher`] (`notify`) and a [`ReportTransport`] (gRPC). It owns the [`Outbox`]: a scan
//! is queued durably, then the queue is flushed in order until empty or a failure, which schedules
//! a retry with jittered exponential backoff. A report the control plane rejects for good (over
//! its caps: `TransportError::Rejected`) is not retried: it leaves the outbox with whatever was
//! chained on it, becomes a problem in the local state and the log, and the current inventory
//! follows as a full snapshot unless it is the very state that was rejected, which waits for a
//! change or the full-snapshot interval (`docs/adr/0004-ingest-fairness.md`). Without an
//! identity (not enrolled) there is no reporter: the daemon still scans and keeps
//! `inventory.json` for local readers.

pub mod live;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use muster_proto::v1::{InventorySnapshot, Problem, ProblemKind, report_request::Body};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::enforce::engine::Engine;
use crate::local_api::{Connection, StatusPublisher};
use crate::outbox::{Outbox, OutboxError};
use crate::policy::PolicyStatus;
use crate::report::{Backoff, CertificateValidity, ReportTransport, TransportError, delta};
use crate::state::StateDir;
use crate::watch::ConfigWatcher;
use muster_proto::local::v1::ConnectionState;

/// Everything that makes the daemon act.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A watched configuration path changed; a rescan follows after the debounce window.
    ConfigChanged(PathBuf),
    /// No change arrived for a debounce window since the last one (or changes kept coming for
    /// [`MAX_DEBOUNCE_FACTOR`] windows): rescan.
    DebounceElapsed,
    /// The periodic rescan (configuration and processes).
    RescanDue,
    /// Time to send a full snapshot instead of a delta.
    FullSnapshotDue,
    /// The backoff after a failed send has elapsed: flush the outbox again.
    RetryDue,
    /// Half of the client certificate's lifetime has passed.
    RenewDue,
    /// Tell the control plane the agent is alive (a quiet host sends no reports).
    HeartbeatDue,
    /// A new policy was accepted (or one was refused): evaluate and enforce it now.
    PolicyChanged,
    /// Stop after the current event.
    Shutdown,
}

/// A burst of changes delays the rescan by at most this many debounce windows, so a file that is
/// rewritten continuously is still reported.
pub const MAX_DEBOUNCE_FACTOR: u32 = 4;

/// Whether the loop goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// Produces an inventory and the paths to watch for the next change. Async so the live scanner
/// can run its blocking filesystem and process walk off the event loop's thread.
pub trait Scanner: Send {
    /// A scan that cannot run at all (never a single file's problem) is an error; the daemon
    /// then keeps its last state and reports nothing.
    fn scan(&mut self) -> impl Future<Output = Result<crate::Scanned, crate::ScanError>> + Send;
}

/// Timing of the daemon.
#[derive(Clone, Debug)]
pub struct Settings {
    pub debounce: Duration,
    pub rescan_interval: Duration,
    pub full_interval: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Wait before retrying a failed certificate renewal.
    pub renew_retry: Duration,
    pub heartbeat_interval: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            debounce: Duration::from_millis(300),
            rescan_interval: Duration::from_secs(30),
            full_interval: Duration::from_secs(6 * 3600),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            renew_retry: Duration::from_secs(600),
            heartbeat_interval: Duration::from_secs(60),
        }
    }
}

/// The daemon failed in a way retrying will not fix (its own disk).
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Grpc(#[from] crate::grpc::GrpcError),
    #[error(transparent)]
    Watch(#[from] crate::watch::WatchError),
    /// The enforcement journal cannot be opened.
    #[error("cannot open the enforcement journal: {0}")]
    Enforce(String),
    #[cfg(unix)]
    #[error(transparent)]
    LocalApi(#[from] crate::local_api::server::LocalApiError),
}

/// The reporting half, present only when enrolled.
#[derive(Debug)]
pub struct Reporter<T> {
    pub outbox: Outbox,
    pub transport: T,
    /// When the certificate should be renewed (Unix seconds), if known.
    pub renew_at_unix: Option<i64>,
}

struct Timers {
    debounce: Option<Instant>,
    /// When the current burst of changes began.
    burst_started: Option<Instant>,
    rescan: Instant,
    full: Instant,
    retry: Option<Instant>,
    renew: Option<Instant>,
    heartbeat: Option<Instant>,
}

/// The daemon's state between events.
pub struct Daemon<S, W, T> {
    settings: Settings,
    scanner: S,
    watcher: W,
    state: StateDir,
    reporter: Option<Reporter<T>>,
    backoff: Backoff,
    timers: Timers,
    latest: Option<InventorySnapshot>,
    /// The last report the control plane rejected for good, as a problem for the local state;
    /// cleared when a later report is acknowledged.
    rejection: Option<Problem>,
    /// The inventory whose full snapshot was rejected for good: not sent again until a scan
    /// differs from it or a full snapshot is due.
    rejected_state: Option<InventorySnapshot>,
    jitter: Box<dyn FnMut() -> f64 + Send>,
    /// Where the local API learns of new inventories and the connection's state.
    publisher: Option<StatusPublisher>,
    /// The policy step, when the agent has one (see [`Daemon::with_policy`]).
    policy: Option<PolicyStep>,
    /// The data bundle status each policy report carries (data version in use, last refusal).
    data_status: Option<watch::Receiver<crate::data_bundle::DataStatus>>,
}

/// The policy in force and the engine that evaluates and enforces it after each scan.
struct PolicyStep {
    engine: Engine,
    status: watch::Receiver<PolicyStatus>,
}

impl<S, W, T> std::fmt::Debug for Daemon<S, W, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl<S: Scanner, W: ConfigWatcher, T: ReportTransport> Daemon<S, W, T> {
    pub fn new(settings: Settings, scanner: S, watcher: W, state: StateDir, reporter: Option<Reporter<T>>) -> Self {
        let now = Instant::now();
        let renew = reporter.as_ref().and_then(|r| r.renew_at_unix).map(instant_for_unix);
        Daemon {
            backoff: Backoff::new(settings.backoff_base, settings.backoff_max),
            timers: Timers {
                debounce: None,
                burst_started: None,
                rescan: now + settings.rescan_interval,
                full: now + settings.full_interval,
                retry: None,
                heartbeat: reporter.as_ref().map(|_| now + settings.heartbeat_interval),
                renew,
            },
            settings,
            scanner,
            watcher,
            state,
            reporter,
            latest: None,
            rejection: None,
            rejected_state: None,
            jitter: Box::new(crate::report::os_jitter),
            publisher: None,
            policy: None,
            data_status: None,
        }
    }

    /// Evaluates the policy in `status` after every scan with `engine` (enforcing what is due),
    /// reports the outcome with each report and publishes it to the local API.
    pub fn with_policy(mut self, engine: Engine, status: watch::Receiver<PolicyStatus>) -> Self {
        self.policy = Some(PolicyStep { engine, status });
        self
    }

    /// Reports the data bundle status (`crate::data_bundle::DataHolder::subscribe`) in every
    /// policy report, so the control plane learns which bundle each agent uses and refused.
    pub fn with_data_status(mut self, status: watch::Receiver<crate::data_bundle::DataStatus>) -> Self {
        self.data_status = Some(status);
        self
    }

    /// A receiver that sees every change of the policy in force, for [`run`]'s loop.
    pub fn policy_changes(&self) -> Option<watch::Receiver<PolicyStatus>> {
        self.policy.as_ref().map(|p| p.status.clone())
    }

    /// Replaces the jitter source (uniform in `[0, 1)`), for deterministic tests.
    pub fn with_jitter(mut self, jitter: impl FnMut() -> f64 + Send + 'static) -> Self {
        self.jitter = Box::new(jitter);
        self
    }

    /// Publishes every new inventory and connection change to the local API.
    pub fn with_status_publisher(mut self, publisher: StatusPublisher) -> Self {
        self.publisher = Some(publisher);
        self
    }

    fn publish_connection(&self, change: impl FnOnce(&mut Connection)) {
        if let Some(p) = &self.publisher {
            p.update_connection(change);
        }
    }

    pub fn is_enrolled(&self) -> bool {
        self.reporter.is_some()
    }

    pub fn outbox(&self) -> Option<&Outbox> {
        self.reporter.as_ref().map(|r| &r.outbox)
    }

    pub fn transport(&self) -> Option<&T> {
        self.reporter.as_ref().map(|r| &r.transport)
    }

    /// When the certificate renewal is scheduled, if enrolled.
    pub fn renew_due(&self) -> Option<Instant> {
        self.timers.renew
    }

    /// The control plane's last rejection of a report for good, until a later report is
    /// acknowledged (also in `inventory.json`'s problems).
    pub fn rejection(&self) -> Option<&Problem> {
        self.rejection.as_ref()
    }

    /// When the next retry is scheduled, if a send failed.
    pub fn retry_at(&self) -> Option<Instant> {
        self.timers.retry
    }

    /// The first scan of a run: resends what a previous run left (same sequence numbers), then
    /// queues the current state (a full snapshot unless the outbox knows the last queued state).
    pub async fn start(&mut self) -> Result<(), DaemonError> {
        if self.reporter.is_none() {
            tracing::warn!(state_dir = %self.state.path().display(), "not enrolled: scanning and keeping local state only");
        }
        self.rescan(false).await
    }

    /// The next timer to fire and the event it stands for.
    pub fn next_timer(&self) -> (Instant, Event) {
        let t = &self.timers;
        let mut next = (t.rescan, Event::RescanDue);
        let candidates = [
            (Some(t.full), Event::FullSnapshotDue),
            (t.debounce, Event::DebounceElapsed),
            (t.retry, Event::RetryDue),
            (t.renew, Event::RenewDue),
            (t.heartbeat, Event::HeartbeatDue),
        ];
        for (at, ev) in candidates {
            if let Some(at) = at
                && at < next.0
            {
                next = (at, ev);
            }
        }
        next
    }

    /// Handles one event.
    pub async fn handle(&mut self, event: Event) -> Result<Flow, DaemonError> {
        let now = Instant::now();
        match event {
            Event::ConfigChanged(path) => {
                tracing::debug!(path = %crate::secrets::scrub::scrub_text(&path.to_string_lossy()), "configuration changed");
                let started = *self.timers.burst_started.get_or_insert(now);
                let latest = started + self.settings.debounce * MAX_DEBOUNCE_FACTOR;
                self.timers.debounce = Some((now + self.settings.debounce).min(latest));
            }
            Event::DebounceElapsed => {
                self.timers.debounce = None;
                self.timers.burst_started = None;
                self.rescan(false).await?;
            }
            Event::RescanDue => {
                self.timers.rescan = now + self.settings.rescan_interval;
                self.rescan(false).await?;
            }
            Event::FullSnapshotDue => {
                self.timers.full = now + self.settings.full_interval;
                self.rescan(true).await?;
            }
            Event::RetryDue => {
                self.timers.retry = None;
                self.flush().await?;
            }
            Event::RenewDue => self.renew().await,
            Event::HeartbeatDue => {
                self.timers.heartbeat = Some(now + self.settings.heartbeat_interval);
                self.heartbeat().await?;
            }
            Event::PolicyChanged => self.rescan(false).await?,
            Event::Shutdown => return Ok(Flow::Stop),
        }
        Ok(Flow::Continue)
    }

    /// Scans, refreshes the watches and local state, queues the change and sends it unless a
    /// retry is already scheduled.
    pub async fn rescan(&mut self, force_full: bool) -> Result<(), DaemonError> {
        let scanned = match self.scanner.scan().await {
            Ok(out) => out,
            Err(e) => {
                tracing::error!(error = %e, "scan failed; keeping the last reported state");
                return Ok(());
            }
        };
        self.watcher.set(&scanned.watch);
        let policy = self.policy.as_mut().map(|step| {
            let status = step.status.borrow_and_update().clone();
            step.engine.run(&status, &scanned, crate::state::now_unix())
        });
        let snapshot = scanned.inventory;
        save_local(&self.state, self.rejection.as_ref(), &snapshot);
        if let Some(p) = &self.publisher {
            p.publish_scan(&snapshot, scanned.places, scanned.pins);
        }
        let report = policy.map(|outcome| {
            if let Some(p) = &self.publisher {
                p.publish_policy(outcome.view);
            }
            let mut report = outcome.report;
            if let Some(data) = &self.data_status {
                let data = data.borrow();
                report.data_version = data.current.version();
                report.data_refused_version = data.refused_version;
                report.data_refusal = data.refusal.as_deref().map(crate::data_bundle::report_text).unwrap_or_default();
            }
            report
        });
        if let Some(r) = &mut self.reporter {
            if !force_full && rejected_before(self.rejected_state.as_ref(), &snapshot) {
                tracing::debug!("inventory unchanged since the control plane rejected it; not sent again");
            } else {
                self.rejected_state = None;
                let queued = match &report {
                    Some(report) => r.outbox.enqueue_with_policy(&snapshot, report, force_full)?,
                    None => r.outbox.enqueue(&snapshot, force_full)?,
                };
                tracing::debug!(?queued, "inventory queued");
            }
        }
        self.latest = Some(snapshot);
        if self.timers.retry.is_none() {
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends queued reports in order until the outbox is empty or a send fails.
    pub async fn flush(&mut self) -> Result<(), DaemonError> {
        let Some(r) = &mut self.reporter else { return Ok(()) };
        loop {
            let Some(req) = r.outbox.head()? else {
                self.backoff.succeed();
                return Ok(());
            };
            let queued = r.outbox.pending().len();
            let sequence = req.sequence;
            let was_full = matches!(req.body, Some(Body::Full(_)));
            let failure = match r.transport.report(req).await {
                Ok(resp) if resp.resync_required && !was_full => {
                    tracing::info!(sequence, "control plane asked for a full snapshot");
                    r.outbox.ack(resp.acked_sequence)?;
                    r.outbox.forget_base()?;
                    None
                }
                Ok(resp) if resp.resync_required => Some("the control plane refused a full snapshot".to_string()),
                Ok(resp) => {
                    r.outbox.ack(resp.acked_sequence)?;
                    let left = r.outbox.pending().len();
                    if let Some(p) = &self.publisher {
                        p.update_connection(|c| {
                            c.state = ConnectionState::Connected;
                            c.last_acknowledged_unix = Some(crate::state::now_unix());
                            c.last_error.clear();
                            c.queued_reports = u32::try_from(left).unwrap_or(u32::MAX);
                        });
                    }
                    if resp.acked_sequence >= sequence
                        && self.rejection.take().is_some()
                        && let Some(latest) = &self.latest
                    {
                        save_local(&self.state, None, latest);
                    }
                    (resp.acked_sequence < sequence)
                        .then(|| format!("acknowledged {} of {sequence}", resp.acked_sequence))
                }
                Err(TransportError::Rejected { code, message }) => {
                    // Resending cannot help: drop it (and the deltas chained on it) once.
                    let newest = sequence == r.outbox.last_sequence();
                    let dropped = r.outbox.drop_rejected()?;
                    tracing::error!(
                        sequence,
                        code = %code,
                        error = %message,
                        dropped = dropped.len(),
                        "the control plane rejected a report for good; it was dropped"
                    );
                    let problem = rejection_problem(sequence, &code, &message);
                    if let Some(latest) = &self.latest {
                        save_local(&self.state, Some(&problem), latest);
                    }
                    if let Some(p) = &self.publisher {
                        p.update_connection(|c| c.last_error = problem.message.clone());
                    }
                    self.rejection = Some(problem);
                    // A full snapshot of the current state was rejected: sending it again would be
                    // too. Anything else (a delta, an older state) is followed by the current state.
                    if was_full && newest {
                        self.rejected_state = self.latest.clone();
                    }
                    None
                }
                Err(e) => Some(e.to_string()),
            };
            // A reset base (resync, a rejection, or an ack beyond anything sent) means the next
            // report must be the full current state.
            if !r.outbox.has_base()
                && let Some(latest) = &self.latest
                && !rejected_before(self.rejected_state.as_ref(), latest)
            {
                r.outbox.enqueue(latest, true)?;
            }
            if let Some(reason) = failure {
                if let Some(p) = &self.publisher {
                    p.update_connection(|c| {
                        c.state = ConnectionState::Retrying;
                        c.last_error = crate::secrets::scrub::scrub_text(&reason).into_owned();
                        c.queued_reports = u32::try_from(queued).unwrap_or(u32::MAX);
                    });
                }
                let wait = self.backoff.fail((self.jitter)());
                tracing::warn!(sequence, error = %reason, retry_in_ms = wait.as_millis() as u64, "report not acknowledged");
                self.timers.retry = Some(Instant::now() + wait);
                return Ok(());
            }
            self.backoff.succeed();
        }
    }

    async fn heartbeat(&mut self) -> Result<(), DaemonError> {
        let Some(r) = &mut self.reporter else { return Ok(()) };
        let last_sequence = r.outbox.last_sequence();
        match r.transport.heartbeat(last_sequence).await {
            Ok(resp) if resp.resync_required => {
                tracing::info!(last_sequence, "control plane asked for a full snapshot");
                r.outbox.forget_base()?;
                if let Some(latest) = &self.latest
                    && !rejected_before(self.rejected_state.as_ref(), latest)
                {
                    r.outbox.enqueue(latest, true)?;
                }
                if self.timers.retry.is_none() {
                    self.flush().await?;
                }
            }
            Ok(_) => self.publish_connection(|c| {
                c.state = ConnectionState::Connected;
                c.last_acknowledged_unix = Some(crate::state::now_unix());
            }),
            // Reports have their own retries; a missed heartbeat only delays "last seen".
            Err(e) => tracing::debug!(error = %e, "heartbeat failed"),
        }
        Ok(())
    }

    async fn renew(&mut self) {
        let Some(r) = &mut self.reporter else {
            self.timers.renew = None;
            return;
        };
        match r.transport.renew().await {
            Ok(v @ CertificateValidity { .. }) => {
                tracing::info!(not_after_unix = v.not_after_unix, "client certificate renewed");
                r.renew_at_unix = Some(v.renew_at_unix());
                self.timers.renew = Some(instant_for_unix(v.renew_at_unix()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "certificate renewal failed");
                self.timers.renew = Some(Instant::now() + self.settings.renew_retry);
            }
        }
    }
}

/// Writes the local inventory for local readers, with the last rejection as a problem.
fn save_local(state: &StateDir, rejection: Option<&Problem>, snapshot: &InventorySnapshot) {
    let result = match rejection {
        Some(problem) => {
            let mut shown = snapshot.clone();
            shown.problems.push(problem.clone());
            state.save_inventory(&shown)
        }
        None => state.save_inventory(snapshot),
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot store the local inventory");
    }
}

/// Whether `snapshot` is (apart from the scan time) the inventory the control plane rejected.
fn rejected_before(rejected: Option<&InventorySnapshot>, snapshot: &InventorySnapshot) -> bool {
    rejected.is_some_and(|rejected| delta::diff(rejected, snapshot).is_none())
}

/// The problem shown for a rejected report. The control plane's message names the limit; it is
/// cut short and stripped of control characters, and nothing from the report itself is quoted.
fn rejection_problem(sequence: u64, code: &str, message: &str) -> Problem {
    let message: String = message.chars().filter(|c| !c.is_control()).take(300).collect();
    Problem {
        message: format!(
            "the control plane rejected report {sequence} for good ({code}: {message}); it was dropped and \
             the inventory is sent again as a full snapshot once it changes"
        ),
        kind: ProblemKind::ReportRejected as i32,
        ..Problem::default()
    }
}

/// Parses a duration such as `300ms`, `30s`, `5m`, `6h` or `1d` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("{text:?} is not a duration like 30s, 5m or 6h"))?;
    let secs = |mul: u64| Duration::from_secs(n.saturating_mul(mul));
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => Ok(secs(1)),
        "m" => Ok(secs(60)),
        "h" => Ok(secs(3600)),
        "d" => Ok(secs(86_400)),
        other => Err(format!("unknown duration unit {other:?} in {text:?} (use ms, s, m, h or d)")),
    }
}

/// The (pausable) tokio instant of a wall-clock Unix time; now if it is past.
fn instant_for_unix(unix: i64) -> Instant {
    let ahead = unix.saturating_sub(crate::state::now_unix()).max(0) as u64;
    Instant::now() + Duration::from_secs(ahead)
}

/// Runs the daemon until `shutdown` completes: the first scan, then one event at a time from
/// `changes` (paths reported by the watcher) and the core's timers.
pub async fn run<S, W, T>(
    daemon: &mut Daemon<S, W, T>,
    mut changes: mpsc::Receiver<PathBuf>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError>
where
    S: Scanner,
    W: ConfigWatcher,
    T: ReportTransport,
{
    let mut policy = daemon.policy_changes();
    daemon.start().await?;
    tokio::pin!(shutdown);
    loop {
        let (at, timer) = daemon.next_timer();
        let policy_changed = async {
            match policy.as_mut() {
                Some(rx) => rx.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        let event = tokio::select! {
            biased;
            () = &mut shutdown => Event::Shutdown,
            Some(path) = changes.recv() => Event::ConfigChanged(path),
            true = policy_changed => Event::PolicyChanged,
            () = tokio::time::sleep_until(at) => timer,
        };
        if daemon.handle(event).await? == Flow::Stop {
            return Ok(());
        }
    }
}

/// `run --once`: scan, queue a full snapshot, send until acknowledged, rejected for good, or
/// `max_attempts` sends have failed. Returns whether everything was acknowledged (trivially true
/// when not enrolled; false after a rejection, see [`Daemon::rejection`]).
pub async fn run_once<S, W, T>(daemon: &mut Daemon<S, W, T>, max_attempts: u32) -> Result<bool, DaemonError>
where
    S: Scanner,
    W: ConfigWatcher,
    T: ReportTransport,
{
    if daemon.reporter.is_none() {
        daemon.start().await?;
        return Ok(true);
    }
    daemon.rescan(true).await?;
    loop {
        if daemon.outbox().is_none_or(Outbox::is_empty) {
            return Ok(daemon.rejection.is_none());
        }
        if daemon.backoff.failures() >= max_attempts {
            return Ok(false);
        }
        if let Some(at) = daemon.timers.retry.take() {
            tokio::time::sleep_until(at).await;
        }
        daemon.flush().await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("6h"), Ok(Duration::from_secs(21_600)));
        assert!(parse_duration("6 hours").is_err());
        assert!(parse_duration("h").is_err());
    }
}
