//! Storage: one [`Store`] trait, a SQLite backend (embedded default, WAL) and a PostgreSQL
//! backend chosen by database URL, with forward-only migrations per dialect.
//!
//! **Invariant:** this module is the only place that speaks SQL. Both backends share the portable
//! statements in `sql.rs`; only connection setup and migrations differ. The same conformance
//! suite (`tests/store_conformance.rs`) runs against both.

pub mod access;
mod agents_sql;
pub mod compliance;
mod compliance_sql;
pub mod data_bundles;
mod data_bundles_sql;
pub mod exception_requests;
mod exception_requests_sql;
pub mod exports;
mod exports_sql;
mod ingest_sql;
mod inventory_sql;
pub mod policies;
mod policies_sql;
pub mod policy_inputs;
mod policy_inputs_sql;
mod portable;
mod postgres;
#[cfg(feature = "testing")]
mod postgres_testing;
pub mod read;
mod sql;
mod sqlite;
mod tokens_sql;
#[cfg(feature = "testing")]
pub mod upgrade_fixture;

use std::sync::Arc;

pub use self::access::{
    AccessStore, AccountSource, ApiTokenRecord, AuditEntry, AuditOutcome, AuditRecord, NewApiToken, NewSession,
    RemoveUser, Role, SessionRecord, UserRecord,
};
pub use self::compliance::ComplianceStore;
pub use self::data_bundles::DataBundleStore;
pub use self::exception_requests::ExceptionRequestStore;
pub use self::exports::ExportStore;
pub use self::policies::PolicyStore;
pub use self::policy_inputs::{FullServer, PolicyInputs, ShapedEndpoint, ShapedServer, StoredEndpoint};
pub use self::postgres::PostgresStore;
pub use self::sqlite::SqliteStore;
use crate::ingest::{ChangeKind, IngestOutcome, Report};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot connect to database {url}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot create or restrict database file {path}")]
    DatabaseFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot migrate database")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error")]
    Sql(#[from] sqlx::Error),
    #[error("unsupported database url {0} (expected sqlite:// or postgres://)")]
    UnsupportedUrl(String),
    #[error("enrollment token refused: {0}")]
    TokenRefused(TokenRefusal),
    #[error("agent {0} is not enrolled")]
    UnknownAgent(String),
    #[error("agent {0} is revoked")]
    AgentRevoked(String),
    #[error("sequence {0} cannot be stored exactly (the largest is {max})", max = crate::ingest::MAX_SEQUENCE)]
    SequenceOutOfRange(u64),
    #[error("invalid page cursor {0}")]
    InvalidCursor(String),
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
}

/// Why an enrollment token could not be used (logged, never told to the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Unknown,
    Revoked,
    Expired,
    Exhausted,
}

impl std::fmt::Display for TokenRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Unknown => "unknown",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Exhausted => "no uses left",
        })
    }
}

/// A token about to be stored: only its hash, never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub id: String,
    pub token_hash: String,
    /// 0 means unlimited.
    pub max_uses: u32,
    pub expires_at: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub max_uses: u32,
    pub uses: u32,
    pub expires_at: i64,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentStatus {
    Active,
    Revoked,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAgent {
    pub id: String,
    pub hostname: String,
    pub cert_serial: String,
    pub cert_not_after: i64,
    pub agent_version: String,
    pub enrolled_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    pub id: String,
    pub hostname: String,
    /// The current certificate's serial (lower-case hex).
    pub cert_serial: String,
    pub cert_not_after: i64,
    /// The certificate a renewal replaced, still accepted until the agent first calls with the
    /// current one (see ARCHITECTURE.md, "Certificate renewal").
    pub previous_cert_serial: Option<String>,
    pub status: AgentStatus,
    pub agent_version: String,
    pub enrolled_at: i64,
    pub enrolled_with_token: String,
    pub last_seen_at: Option<i64>,
    pub last_sequence: u64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRecord {
    pub agent_id: String,
    pub hostname: String,
    pub os: i32,
    pub os_version: String,
    pub arch: String,
    pub machine_id: String,
    /// Endpoint tags, in the order the agent reported them.
    pub tags: Vec<String>,
    pub scanned_at: i64,
    pub process_count: u32,
    pub problem_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRecord {
    pub server_id: String,
    pub name: String,
    pub client: String,
    pub user: String,
    pub config_path: String,
    pub command: String,
    pub url: String,
    pub content_hash: String,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRecord {
    pub server_id: String,
    pub location: String,
    pub kind: String,
    pub fingerprint: String,
    pub provider: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingRecord {
    /// Empty for findings about a client or user as a whole.
    pub server_id: String,
    pub finding_id: String,
    pub severity: i32,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEventRecord {
    pub server_id: String,
    pub server_name: String,
    pub client: String,
    pub kind: ChangeKind,
    pub sequence: u64,
    pub at: i64,
}

/// Everything stored about one host, for tests and (later) the HTTP API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostInventory {
    pub host: Option<HostRecord>,
    pub users: Vec<String>,
    pub clients: Vec<String>,
    pub source_paths: Vec<String>,
    pub servers: Vec<ServerRecord>,
    pub credentials: Vec<CredentialRecord>,
    pub findings: Vec<FindingRecord>,
}

/// The control plane's storage. Implementations must make every method atomic. The methods of
/// exports and webhooks are grouped in the [`ExportStore`] supertrait, those of policies in
/// [`PolicyStore`].
#[async_trait::async_trait]
pub trait Store:
    AccessStore
    + ExportStore
    + PolicyStore
    + DataBundleStore
    + PolicyInputs
    + ExceptionRequestStore
    + ComplianceStore
    + read::ReadModels
    + Send
    + Sync
    + std::fmt::Debug
{
    async fn create_token(&self, token: &NewToken) -> Result<(), StoreError>;
    async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Returns false when no unrevoked token has that id.
    async fn revoke_token(&self, id: &str, now: i64) -> Result<bool, StoreError>;

    /// Uses one use of the token with this hash and records the agent, in one transaction.
    async fn enroll_agent(&self, token_hash: &str, now: i64, agent: &NewAgent) -> Result<(), StoreError>;
    async fn agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError>;
    async fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError>;
    /// Returns false when no active agent has that id.
    async fn revoke_agent(&self, id: &str, now: i64) -> Result<bool, StoreError>;
    /// Records a renewed certificate as the agent's current one. The certificate it replaces
    /// stays accepted as the previous one until [`Store::confirm_agent_cert`]; when a renewal
    /// was never confirmed, the previous one stays what it was (the certificate still in use).
    async fn renew_agent_cert(&self, id: &str, cert_serial: &str, cert_not_after: i64) -> Result<(), StoreError>;
    /// The agent called with its current certificate `cert_serial`: the previous certificate is
    /// no longer accepted. Returns false when there was nothing to confirm (no pending renewal,
    /// or `cert_serial` is not the current certificate).
    async fn confirm_agent_cert(&self, id: &str, cert_serial: &str) -> Result<bool, StoreError>;
    /// Records a heartbeat; returns the highest stored sequence.
    async fn heartbeat(&self, id: &str, agent_version: &str, now: i64) -> Result<u64, StoreError>;

    /// Applies a report following [`crate::ingest::decide`], in one transaction.
    async fn ingest(&self, agent_id: &str, report: &Report, now: i64) -> Result<IngestOutcome, StoreError>;
    async fn host_inventory(&self, agent_id: &str) -> Result<HostInventory, StoreError>;
    /// The host's server change log (appeared, changed, disappeared) in order; finding events
    /// share the table but are read through the activity feed.
    async fn change_events(&self, agent_id: &str) -> Result<Vec<ChangeEventRecord>, StoreError>;
}

pub type DynStore = Arc<dyn Store>;

/// The door through which the gRPC layer hands a report to ingest: the store's
/// [`Store::ingest`], or a decorator around it. The test control plane records and holds reports
/// here (`crate::testing`), so a new store method never needs a test wrapper.
#[async_trait::async_trait]
pub trait IngestEntry: Send + Sync + std::fmt::Debug {
    async fn ingest_report(&self, agent_id: &str, report: &Report, now: i64) -> Result<IngestOutcome, StoreError>;
}

#[async_trait::async_trait]
impl IngestEntry for DynStore {
    async fn ingest_report(&self, agent_id: &str, report: &Report, now: i64) -> Result<IngestOutcome, StoreError> {
        self.ingest(agent_id, report, now).await
    }
}

/// Opens (creating and migrating as needed) the database named by `url`: `sqlite://PATH` or
/// `postgres://...`.
pub async fn open(url: &str) -> Result<DynStore, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_string()))
    }
}
