//! The control plane's shared state: store, PKI, limits (with the per-agent rate and work buckets
//! and the fair ingest queue), and the in-process revocation channel that closes a revoked
//! agent's open streams.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::broadcast;

use crate::admission::IngestQueue;
use crate::admission::rate::RateLimiter;
use crate::agents::status::AgentStatusCache;
use crate::config::{HttpConfig, Limits, ServerConfig};
use crate::enroll::{IssuedToken, TokenError};
use crate::pki::{Pki, PkiError};
use crate::store::{DynStore, IngestEntry, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create data directory {path}")]
    DataDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug)]
pub struct ControlPlane {
    pub store: DynStore,
    /// Where the gRPC layer hands reports to ingest: the store itself, except in the test control
    /// plane, which records and holds reports there (`crate::testing`).
    pub(crate) ingest: Arc<dyn IngestEntry>,
    pub pki: Arc<Pki>,
    pub limits: Limits,
    /// The dashboard and API listener's settings (TLS, CORS, sessions, single sign-on).
    pub http: HttpConfig,
    pub(crate) rate: RateLimiter,
    /// Work units per agent (see `crate::ingest::limits`), beside the request count in `rate`.
    pub(crate) work_rate: RateLimiter,
    /// Fair admission of reports to ingest.
    pub ingest_queue: IngestQueue,
    /// Agent statuses seen by this process, so authorising a report reads no database.
    pub(crate) agents: AgentStatusCache,
    revocations: broadcast::Sender<String>,
    ingest_events: broadcast::Sender<crate::ingest::IngestEvent>,
    /// The newest policy version published through this process, for the Watch streams.
    pub(crate) policy_updates: tokio::sync::watch::Sender<Option<Arc<crate::policies::SignedPolicy>>>,
    /// The newest data bundle this process knows, signed once, for the Watch streams.
    pub(crate) data_updates: tokio::sync::watch::Sender<Option<Arc<muster_proto::v1::DataBundle>>>,
}

impl ControlPlane {
    pub fn new(store: DynStore, pki: Arc<Pki>, limits: Limits) -> Arc<Self> {
        Self::with_http(store, pki, limits, HttpConfig::default())
    }

    pub fn with_http(store: DynStore, pki: Arc<Pki>, limits: Limits, http: HttpConfig) -> Arc<Self> {
        let ingest = Arc::new(store.clone());
        Self::with_ingest(store, ingest, pki, limits, http)
    }

    /// Like [`Self::with_http`], with reports ingested through `ingest` (a decorator around the
    /// store's ingest) instead of the store directly.
    pub(crate) fn with_ingest(
        store: DynStore,
        ingest: Arc<dyn IngestEntry>,
        pki: Arc<Pki>,
        limits: Limits,
        http: HttpConfig,
    ) -> Arc<Self> {
        let (revocations, _) = broadcast::channel(256);
        // Consumers that fall behind lose events, not ingest speed (see `crate::webhook`).
        let (ingest_events, _) = broadcast::channel(1024);
        let rate = RateLimiter::new(u64::from(limits.agent_burst), u64::from(limits.agent_requests_per_minute));
        let work_rate = RateLimiter::new(limits.agent_work_burst, limits.agent_work_per_minute);
        let ingest_queue = IngestQueue::new(limits.ingest_work_capacity);
        Arc::new(Self {
            store,
            ingest,
            pki,
            limits,
            http,
            rate,
            work_rate,
            ingest_queue,
            agents: AgentStatusCache::default(),
            revocations,
            ingest_events,
            policy_updates: tokio::sync::watch::Sender::new(None),
            data_updates: tokio::sync::watch::Sender::new(None),
        })
    }

    /// Creates the data dir (`0700`), loads or creates the PKI, opens and migrates the database.
    pub async fn open(config: &ServerConfig) -> Result<Arc<Self>, OpenError> {
        create_data_dir(&config.data_dir)
            .map_err(|source| OpenError::DataDir { path: config.data_dir.clone(), source })?;
        let pki = Pki::load_or_create(&config.data_dir, &config.tls_names)?;
        let store = crate::store::open(&config.database_url).await?;
        Ok(Self::with_http(store, Arc::new(pki), config.limits, config.http.clone()))
    }

    /// Creates an enrollment token without limits or an audit event, for tests and tools; admins
    /// issue them through [`crate::enroll::admin::issue`].
    pub async fn create_token(&self, max_uses: u32, ttl: Duration) -> Result<IssuedToken, TokenError> {
        crate::enroll::create_token(self.store.as_ref(), max_uses, ttl, unix_now()).await
    }

    /// Revokes an agent, unaudited: its next request is refused and its open streams close now.
    /// For tests and tools; admins revoke through [`crate::agents::revoke`].
    pub async fn revoke_agent(&self, agent_id: &str) -> Result<bool, StoreError> {
        crate::agents::revoke_unaudited(self.store.as_ref(), self, agent_id, unix_now()).await
    }

    /// The newest published version this process knows, as a stream of changes.
    pub(crate) fn subscribe_policies(
        &self,
    ) -> tokio::sync::watch::Receiver<Option<Arc<crate::policies::SignedPolicy>>> {
        self.policy_updates.subscribe()
    }

    /// The newest data bundle this process knows, as a stream of changes.
    pub(crate) fn subscribe_data(&self) -> tokio::sync::watch::Receiver<Option<Arc<muster_proto::v1::DataBundle>>> {
        self.data_updates.subscribe()
    }

    pub(crate) fn subscribe_revocations(&self) -> broadcast::Receiver<String> {
        self.revocations.subscribe()
    }

    /// Tells subscribers about a committed report; never blocks ingest.
    pub fn publish_ingest(&self, event: crate::ingest::IngestEvent) {
        // No receivers only means nobody listens (no webhook worker running).
        let _ = self.ingest_events.send(event);
    }

    pub fn subscribe_ingest(&self) -> broadcast::Receiver<crate::ingest::IngestEvent> {
        self.ingest_events.subscribe()
    }
}

impl crate::policies::PolicyListener for ControlPlane {
    fn policy_published(&self, version: &crate::store::policies::PolicyVersionRecord) {
        if version.published_at.is_none() {
            return;
        }
        // Keeps the newest only: a stream that missed a version sends the newer one anyway.
        let newer = self.policy_updates.borrow().as_ref().is_none_or(|held| held.version < version.version);
        if !newer {
            return;
        }
        let signed = Arc::new(crate::policies::SignedPolicy {
            version: version.version,
            bundle: crate::policies::signed_bundle(&self.pki, version),
        });
        self.policy_updates.send_if_modified(|current| {
            let newer = current.as_ref().is_none_or(|held| held.version < signed.version);
            if newer {
                *current = Some(signed.clone());
            }
            newer
        });
    }
}

impl crate::data_bundles::DataBundleListener for ControlPlane {
    fn data_bundle_published(&self, bundle: &crate::store::data_bundles::DataBundleRecord) {
        // Keeps the newest only, signed once for every stream.
        if self.data_updates.borrow().as_ref().is_some_and(|held| held.version >= bundle.version) {
            return;
        }
        let signed = Arc::new(crate::data_bundles::signed(&self.pki, bundle));
        self.data_updates.send_if_modified(|current| {
            let newer = current.as_ref().is_none_or(|held| held.version < signed.version);
            if newer {
                *current = Some(signed.clone());
            }
            newer
        });
    }
}

impl crate::agents::RevocationListener for ControlPlane {
    fn agent_revoked(&self, agent_id: &str) {
        self.agents.mark_revoked(agent_id);
        // No receivers only means no open streams.
        let _ = self.revocations.send(agent_id.to_string());
    }
}

/// Creates the data dir with mode `0700` (whatever the umask), or takes group and other
/// permissions away from an existing one: it holds the CA key and, on SQLite, the database.
pub fn create_data_dir(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        if !path.exists() {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path)?;
            // The umask may have taken bits away at creation: set the mode exactly.
            return std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
        }
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
            tracing::info!(path = %path.display(), from = format!("{mode:04o}"), "data dir permissions tightened to owner only");
        }
        Ok(())
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(path)
}

pub fn unix_now() -> i64 {
    crate::pki::unix_seconds(SystemTime::now())
}

/// Resolves once `stop` is true (or its sender is gone). Holds no borrow of the value across an
/// await, so futures using it stay `Send`.
pub(crate) async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await.map(|_| ());
}

/// How often a serving control plane re-reads the current version, to push versions published
/// by another process (`muster-server policy apply`, another replica on the same PostgreSQL).
pub const CURRENT_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Keeps `state`'s current policy version and data bundle up to date with the store until
/// `stop`: at once, then every [`CURRENT_POLL`]. Versions published through this process reach
/// the streams without it.
pub async fn follow_store(state: std::sync::Arc<ControlPlane>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(CURRENT_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stopped(&mut stop) => return,
            _ = tick.tick() => {
                match state.store.current_policy().await {
                    Ok(Some(record)) => crate::policies::PolicyListener::policy_published(&*state, &record),
                    Ok(None) => {}
                    Err(error) => tracing::warn!(error = %error, "cannot read the current policy"),
                }
                follow_data(&state).await;
            }
        }
    }
}

/// Takes the store's current data bundle when it is newer than the one this process holds (one
/// small query for the version first, so the document is read only when it changed).
pub(crate) async fn follow_data(state: &ControlPlane) {
    let held = state.data_updates.borrow().as_ref().map_or(0, |b| b.version);
    match state.store.last_data_bundle_version().await {
        Ok(last) if last > held => match state.store.current_data_bundle().await {
            Ok(Some(record)) => crate::data_bundles::DataBundleListener::data_bundle_published(state, &record),
            Ok(None) => {}
            Err(error) => tracing::warn!(error = %error, "cannot read the current data bundle"),
        },
        Ok(_) => {}
        Err(error) => tracing::warn!(error = %error, "cannot read the current data bundle"),
    }
}
