//! Wiring of the daemon to the real world: the live (or image) scanner, the `notify` watcher, the
//! stored identity, the gRPC transport and the policy stream (`crate::policy`). `main.rs` calls [`run`]; everything it does is a
//! composition of the parts tested on their own.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{Daemon, DaemonError, Reporter, Scanner, Settings};
use crate::data_bundle::{DataHolder, DataSet};
use crate::findings::catalog::FindingsCatalog;
use crate::grpc::GrpcTransport;
use crate::local_api::{Connection, StatusPublisher};
use crate::outbox::{Limits, Outbox};
use crate::policy::{PolicyHolder, watch_policies};
use crate::remote_auth::{self, BackgroundProber, ProbeScope, ProbeSettings};
use crate::state::StateDir;
use crate::watch::{ConfigWatcher, NoWatcher, NotifyWatcher, WatchSet};
use crate::{ScanRequest, Scanned, scan_placed_with};
use muster_proto::local::v1::ConnectionState;

/// Scans with [`crate::scan_placed_with`] on tokio's blocking pool, then judges remote servers'
/// authentication ([`crate::remote_auth`]).
#[derive(Debug)]
pub struct LiveScanner {
    pub request: ScanRequest,
    pub remote_auth: RemoteAuthMode,
    /// The data bundle in use (enrolled agents); the built-in data without one.
    pub data: Option<Arc<DataHolder>>,
}

/// How the daemon learns remote servers' authentication.
#[derive(Debug)]
pub enum RemoteAuthMode {
    /// Switched off (`run --offline`, `[remote_auth] probe = false`): judged from the
    /// configuration alone.
    Off,
    /// Probed in the background; scans never wait (the running daemon).
    Background(BackgroundProber),
    /// Probed before the scan is reported, within the per-host bound (`run --once`, which ends
    /// before a background probe could be reported).
    Inline(ProbeSettings),
}

impl Scanner for LiveScanner {
    async fn scan(&mut self) -> Result<Scanned, crate::ScanError> {
        let request = self.request.clone();
        let data = self.data.as_ref().map_or_else(|| Arc::new(DataSet::builtin()), |holder| holder.current());
        let data_inline = data.clone();
        // Entry places are found by the scan itself, from the text it reads anyway; pin candidates
        // look in the package caches, on the blocking pool too.
        let scan_and_place = move || {
            scan_placed_with(&request, &data).map(|mut scanned| {
                scanned.pins = crate::pins::candidates(&scanned.inventory, &request.layout);
                scanned
            })
        };
        let mut scanned = match tokio::task::spawn_blocking(scan_and_place).await {
            Ok(out) => out?,
            // The scan panicked (a bug): scan inline so the panic surfaces with its message.
            Err(_) => scan_placed_with(&self.request, &data_inline)?,
        };
        let inventory = &mut scanned.inventory;
        let catalog = FindingsCatalog::bundled().map_err(|e| crate::ScanError::Data(e.to_string()))?;
        let now = crate::state::now_unix();
        match &self.remote_auth {
            RemoteAuthMode::Off => remote_auth::annotate(
                inventory,
                &Default::default(),
                Some("not probed: switched off"),
                &Default::default(),
                catalog,
            ),
            RemoteAuthMode::Background(prober) => prober.annotate_and_refresh(inventory, catalog, now),
            RemoteAuthMode::Inline(settings) => {
                if let Err(e) = remote_auth::probe_and_annotate(inventory, settings, catalog, now).await {
                    tracing::warn!(error = %e, "remote servers not probed");
                    remote_auth::annotate(inventory, &Default::default(), Some("not probed"), &settings.scope, catalog);
                }
            }
        }
        Ok(scanned)
    }
}

impl ConfigWatcher for Box<dyn ConfigWatcher> {
    fn set(&mut self, set: &WatchSet) {
        (**self).set(set);
    }
}

/// What `muster-agent run` was asked to do.
#[derive(Debug)]
pub struct RunOptions {
    pub state_dir: PathBuf,
    pub scan: ScanRequest,
    pub settings: Settings,
    /// Rescan when a watched configuration file changes (`[watch] enabled`); without it only
    /// the periodic rescan notices changes.
    pub watch: bool,
    /// Scan, report, wait for the acknowledgement and return.
    pub once: bool,
    /// With `once`: failed sends before giving up.
    pub once_attempts: u32,
    /// Serve the local API on this socket (not with `once`).
    pub local_api: Option<LocalApiOptions>,
    /// Probe remote servers' authentication without credentials (answers kept in the state
    /// dir); off, their posture is judged from the configuration alone.
    pub probe_remote_auth: bool,
    /// Carry out the policy's actions (`[enforce] enabled`); else evaluate and report only.
    pub enforce: bool,
    /// The optional client-policy levers (`[enforce] claude_code_policy_helper`).
    pub writer_options: crate::enforce::client_policy::WriterOptions,
}

/// Where and for whom the local API is served.
#[derive(Clone, Debug)]
pub struct LocalApiOptions {
    pub socket: PathBuf,
    pub access: crate::local_api::caller::Access,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// The control plane acknowledged everything (`--once`), or the daemon was stopped.
    Done,
    /// `--once`: the report was not acknowledged; it stays in the outbox for the next run.
    NotAcknowledged,
    /// `--once`: the control plane rejected the report for good (the message says why, e.g. a
    /// limit); it was dropped from the outbox and recorded as a problem in the local state.
    Rejected(String),
    /// Not enrolled: only local state was written.
    NotEnrolled,
}

/// Runs the daemon (or one pass with `once`) until `shutdown` completes.
pub async fn run(opts: RunOptions, shutdown: impl Future<Output = ()>) -> Result<RunOutcome, DaemonError> {
    let state = StateDir::open(&opts.state_dir)?;
    let reporter = match state.load_identity()? {
        Some(identity) => {
            tracing::info!(agent_id = %identity.agent_id, server = %identity.server, "enrolled");
            let renew_at_unix = Some(identity.renew_at_unix());
            Some(Reporter {
                outbox: Outbox::open(&state.outbox_dir(), Limits::default())?,
                transport: GrpcTransport::new(state.clone(), identity)?,
                renew_at_unix,
            })
        }
        None => None,
    };
    let enrolled = reporter.is_some();
    let publisher = StatusPublisher::new(match state.load_identity()? {
        Some(identity) => {
            Connection { state: ConnectionState::Connecting, server: identity.server.clone(), ..Connection::default() }
        }
        None => Connection::default(),
    });
    let state_for_policy = state.clone();
    // The policy in force survives restarts; while enrolled, the stream brings newer versions.
    let identity = state.load_identity()?;
    let holder = match &identity {
        Some(identity) => {
            let key = identity.policy_public_key().unwrap_or_default();
            Some(Arc::new(PolicyHolder::load(state_for_policy.clone(), &key)))
        }
        None => None,
    };
    let engine = match &identity {
        Some(identity) => Some(
            crate::enforce::engine::Engine::new(
                opts.scan.layout.clone(),
                opts.scan.tags.clone(),
                state.path(),
                opts.enforce,
            )
            .map_err(|e| DaemonError::Enforce(e.to_string()))?
            .with_writer_options(opts.writer_options)
            .with_agent_id(&identity.agent_id),
        ),
        None => None,
    };
    let layout = opts.scan.layout.clone();
    let (tx, rx) = mpsc::channel(256);
    let probe_settings = ProbeSettings {
        cache_dir: Some(opts.state_dir.clone()),
        scope: holder.as_ref().map(|h| policy_probe_scope(h.subscribe())).unwrap_or_default(),
        ..ProbeSettings::default()
    };
    let remote_auth = match (opts.probe_remote_auth, opts.once) {
        (false, _) => RemoteAuthMode::Off,
        (true, true) => RemoteAuthMode::Inline(probe_settings),
        (true, false) => RemoteAuthMode::Background(BackgroundProber::new(probe_settings, tx.clone())),
    };
    // The data bundle in use survives restarts too; an accepted one makes the daemon rescan.
    let data = match state.load_identity()? {
        Some(identity) => {
            let key = identity.policy_public_key().unwrap_or_default();
            Some(Arc::new(DataHolder::load(state_for_policy.clone(), &key, Some(tx.clone()))))
        }
        None => None,
    };
    let scanner = LiveScanner { request: opts.scan, remote_auth, data: data.clone() };
    let watcher: Box<dyn ConfigWatcher> =
        if opts.once || !opts.watch { Box::new(NoWatcher) } else { Box::new(NotifyWatcher::start(tx)?) };
    let mut daemon =
        Daemon::new(opts.settings, scanner, watcher, state, reporter).with_status_publisher(publisher.clone());
    if let (Some(holder), Some(engine)) = (&holder, engine) {
        daemon = daemon.with_policy(engine, holder.subscribe());
    }
    if let Some(data) = &data {
        daemon = daemon.with_data_status(data.subscribe());
    }
    if opts.once {
        let acked = super::run_once(&mut daemon, opts.once_attempts).await?;
        return Ok(match (enrolled, acked, daemon.rejection()) {
            (false, _, _) => RunOutcome::NotEnrolled,
            (true, true, _) => RunOutcome::Done,
            (true, false, Some(problem)) => RunOutcome::Rejected(problem.message.clone()),
            (true, false, None) => RunOutcome::NotAcknowledged,
        });
    }
    // The local API is for the developer; reporting is the agent's job. If the socket cannot be
    // bound (another agent serves it, a read-only /run), the agent runs on without it.
    let local_api = match &opts.local_api {
        Some(api) => match start_local_api(api, &publisher, &opts.state_dir, &layout).await {
            Ok(handle) => Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "running without the local API");
                None
            }
        },
        None => None,
    };
    let policy_task = match holder {
        Some(holder) => {
            let (stop_policy, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(watch_policies(holder, data, async move {
                let _ = stopped.await;
            }));
            Some((stop_policy, task))
        }
        None => None,
    };
    let result = super::run(&mut daemon, rx, shutdown).await;
    if let Some((stop, task)) = policy_task {
        let _ = stop.send(());
        let _ = task.await;
    }
    if let Some((stop, task, socket)) = local_api {
        let _ = stop.send(());
        let _ = task.await;
        // Leave no stale socket behind (a later agent would replace it anyway).
        let _ = std::fs::remove_file(socket);
    }
    result?;
    Ok(if enrolled { RunOutcome::Done } else { RunOutcome::NotEnrolled })
}

/// The hosts the policy in force lets the agent probe (`[remote_auth]`), read at each scan;
/// every host while no policy is in force.
pub fn policy_probe_scope(policy: tokio::sync::watch::Receiver<crate::policy::PolicyStatus>) -> ProbeScope {
    ProbeScope::allowing(move |host| {
        policy.borrow().current.as_ref().is_none_or(|p| p.bundle.allows_remote_auth_probe(host))
    })
}

type LocalApiHandle = (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>, PathBuf);

/// Binds the local API's socket and serves it in the background until told to stop.
#[cfg(unix)]
async fn start_local_api(
    api: &LocalApiOptions,
    publisher: &StatusPublisher,
    state_dir: &std::path::Path,
    layout: &crate::platform::Layout,
) -> Result<LocalApiHandle, DaemonError> {
    use crate::exceptions::{ExceptionDesk, watch_exception_requests};
    use crate::local_api::{fixes::Fixes, server};
    let listener = server::bind(&api.socket, api.access).await?;
    tracing::info!(socket = %api.socket.display(), access = ?api.access, "local API listening");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let desk = Arc::new(ExceptionDesk::new(StateDir::open(state_dir)?));
    let service = server::LocalApiService::new(api.access, publisher.subscribe())
        .with_fixes(Arc::new(Fixes::open(state_dir, layout.clone())))
        .with_exceptions(desk.clone());
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        // The requests' state is followed (pushed by the control plane) for as long as the
        // local API serves it.
        let following = watch_exception_requests(desk, std::future::pending());
        tokio::select! {
            served = server::serve_service(listener, service, shutdown) => {
                if let Err(e) = served {
                    tracing::error!(error = %e, "local API stopped");
                }
            }
            () = following => {}
        }
    });
    Ok((stop, task, api.socket.clone()))
}

/// No local API on this platform yet (the Windows named pipe is not built).
#[cfg(not(unix))]
async fn start_local_api(
    api: &LocalApiOptions,
    _publisher: &StatusPublisher,
    _state_dir: &std::path::Path,
    _layout: &crate::platform::Layout,
) -> Result<LocalApiHandle, DaemonError> {
    tracing::warn!(socket = %api.socket.display(), "the local API is not available on this platform yet");
    let (stop, _) = tokio::sync::oneshot::channel::<()>();
    Ok((stop, tokio::spawn(async {}), api.socket.clone()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use super::policy_probe_scope;
    use crate::policy::{AcceptedPolicy, PolicyStatus};

    fn status(policy: &str) -> PolicyStatus {
        let bundle = muster_policy::parse(policy).unwrap();
        PolicyStatus { current: Some(Arc::new(AcceptedPolicy { envelope: Default::default(), bundle })), refusal: None }
    }

    /// The scope follows the policy in force at each scan: a policy arriving, changing or
    /// lifting `[remote_auth]` applies without restarting the daemon.
    #[test]
    fn the_probe_scope_follows_the_policy_in_force() {
        let (tx, rx) = tokio::sync::watch::channel(PolicyStatus::default());
        let scope = policy_probe_scope(rx);
        assert!(scope.allows("mcp.internal.example"), "no policy: every host");
        tx.send_replace(status("version = 1\n[remote_auth]\nskip_hosts = [\"*.internal.example\"]\n"));
        assert!(!scope.allows("mcp.internal.example"));
        assert!(scope.allows("mcp.example.com"));
        tx.send_replace(status("version = 1\n[remote_auth]\nprobe = false\n"));
        assert!(!scope.allows("mcp.example.com"));
        tx.send_replace(status("version = 1\n"));
        assert!(scope.allows("mcp.internal.example"), "a policy without the table lets the agent probe");
    }
}
