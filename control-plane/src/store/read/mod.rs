//! Read models: what the dashboard pages and the `/api/v1` list calls show, as typed,
//! serialisable structs, and the [`ReadModels`] trait every store implements.
//!
//! Three layers keep every query cheap at 100,000 endpoints and 2,000,000 servers:
//! facts derived at ingest (service, package, endpoint host, auth mode) stored as columns;
//! `endpoint_summary`, one row of counters per endpoint refreshed at ingest and when a finding is
//! waived; and fleet-wide rollups (`*_rollup`) kept live by ingest, which adds the difference a
//! report makes to its endpoint's contribution in the ingest transaction (`live.rs`), plus
//! `fleet_daily`, written by [`ReadModels::refresh_rollups`], so services, packages, credentials
//! and the 30-day trend are read from small tables that always agree with each other. Lists
//! page with keyset cursors, never OFFSET.
//!
//! Wire enums are stored and held as their protobuf numbers but serialised as words through the
//! proto table (`muster_proto::words`), and documented as such in the OpenAPI document.
//!
//! This module holds types and pure helpers only; the SQL lives in `sql.rs` beside it.

pub(crate) mod activity_sql;
pub(crate) mod agent_list_sql;
pub(crate) mod credentials_sql;
pub(crate) mod endpoints_sql;
mod facts;
pub(crate) mod findings_sql;
pub(crate) mod live;
pub(crate) mod live_sql;
pub(crate) mod overview_sql;
pub(crate) mod rollups_sql;
#[cfg(feature = "testing")]
pub mod seed;
pub(crate) mod servers_sql;
pub(crate) mod sql;
pub(crate) mod summary_sql;

use serde::Serialize;

pub use self::facts::{ADVISORY_FINDINGS, AuthMode, ServerFacts, advisory_id, finding_subject, location_type};
use super::StoreError;
use crate::ingest::ChangeKind;

/// Default and largest page sizes.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 500;

/// One page of a list and the cursor for the next one (None on the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A keyset position: the sort key of the last row shown and its unique id. Opaque to callers
/// (hex text), so it can travel in a URL unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: String,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        hex::encode(format!("{}\u{1f}{}", self.key, self.id))
    }

    pub fn decode(text: &str) -> Result<Self, StoreError> {
        let invalid = || StoreError::InvalidCursor(text.chars().take(64).collect());
        let bytes = hex::decode(text).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (key, id) = text.split_once('\u{1f}').ok_or_else(invalid)?;
        Ok(Self { key: key.to_string(), id: id.to_string() })
    }

    pub(crate) fn int_key(&self) -> Result<i64, StoreError> {
        self.key.parse().map_err(|_| StoreError::InvalidCursor(self.encode()))
    }

    pub(crate) fn int_id(&self) -> Result<i64, StoreError> {
        self.id.parse().map_err(|_| StoreError::InvalidCursor(self.encode()))
    }
}

pub(crate) fn page_limit(limit: u32) -> u32 {
    match limit {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    }
}

/// Turns `limit + 1` fetched rows into a page: the extra row only says another page exists.
pub(crate) fn into_page<T>(mut items: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> Cursor) -> Page<T> {
    let limit = limit as usize;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|last| cursor_of(last).encode())
    } else {
        None
    };
    Page { items, next_cursor }
}

/// `%text%` for LIKE, lower-cased, with LIKE's wildcards escaped by `\`.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `,a,b,` from names, lower-cased: a list one LIKE can test for a whole member.
pub(crate) fn member_key<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut key = String::from(",");
    for name in names {
        key.push_str(&name.to_lowercase().replace(',', " "));
        key.push(',');
    }
    key
}

pub(crate) fn members(key: &str) -> Vec<String> {
    key.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// The endpoint page's view of the stored processes (`ingest::processes`).
pub(crate) fn process_views(bytes: &[u8]) -> Result<Vec<ProcessView>, muster_proto::prost::DecodeError> {
    Ok(crate::ingest::processes::decode(bytes)?
        .into_iter()
        .map(|p| ProcessView {
            pid: p.pid,
            user: p.user,
            command: std::iter::once(p.exe.as_str())
                .chain(p.args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            parent_client: p.parent_client,
            server_ids: p.server_ids,
            unmanaged: p.unmanaged,
            listeners: p.listeners.iter().map(|l| format!("{} {}:{}", l.protocol, l.address, l.port)).collect(),
            started_at: p.started_unix,
        })
        .collect())
}

/// The first second of the UTC day holding `at`.
pub fn day_start(at: i64) -> i64 {
    at - at.rem_euclid(86_400)
}

// ---------------------------------------------------------------------------------------------
// Overview

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Overview {
    pub endpoints: i64,
    pub endpoints_online: i64,
    pub endpoints_offline: i64,
    pub servers: i64,
    /// Client installations (one MCP client on one endpoint).
    pub clients: i64,
    /// Enterprise services reached, as of the last rollup.
    pub services: i64,
    /// Uses of literal secrets: places a plain-text key is written (one secret in two
    /// configurations is two uses).
    pub literal_secrets: i64,
    /// Distinct literal secrets (distinct keyed fingerprints).
    pub literal_secrets_distinct: i64,
    /// Open high / critical findings (waived ones do not count until their waiver expires).
    pub findings_high: i64,
    pub findings_critical: i64,
    /// Up to 30 days, oldest first.
    pub trend: Vec<DailyPoint>,
    pub rollup_refreshed_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DailyPoint {
    /// Unix seconds at the start of the UTC day.
    pub day: i64,
    pub endpoints: i64,
    pub endpoints_online: i64,
    pub servers: i64,
    pub clients: i64,
    pub services: i64,
    pub literal_secrets: i64,
    pub findings_high: i64,
    pub findings_critical: i64,
}

/// What a rollup refresh did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollupStats {
    /// Endpoint summaries recomputed because a waiver expired.
    pub expired_waiver_endpoints: usize,
}

/// Which reuse of one secret a fingerprint list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FingerprintReuse {
    /// Used on at least `min_hosts` hosts (2 by default): one secret on several machines.
    #[default]
    AcrossHosts,
    /// Used by two or more servers of one host (more uses than hosts).
    WithinHost,
    /// Used more than once anywhere.
    Any,
}

// ---------------------------------------------------------------------------------------------
// Services and server groups

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuthCounts {
    pub oauth: i64,
    /// Credentials from environment variables.
    pub env_reference: i64,
    /// Credentials from a secret manager or credential helper.
    pub secret_manager: i64,
    /// Credentials referenced otherwise (a prompt, a file) or of an unknown kind (older agents).
    pub reference: i64,
    pub literal: i64,
    pub none: i64,
}

/// Remote servers per authentication posture their agents reported (`muster.v1.AuthPosture`),
/// verified or from the configuration alone; servers without a posture count nowhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PostureCounts {
    pub oauth: i64,
    pub oauth_partial: i64,
    pub static_key: i64,
    pub none: i64,
    pub unknown: i64,
}

impl PostureCounts {
    /// Counts one server with the posture of wire number `posture` (0 and unknown numbers: none).
    pub(crate) fn count(&mut self, posture: i64) {
        use muster_proto::v1::AuthPosture;
        let Ok(posture) = i32::try_from(posture).map(AuthPosture::try_from) else { return };
        match posture {
            Ok(AuthPosture::Oauth) => self.oauth += 1,
            Ok(AuthPosture::OauthPartial) => self.oauth_partial += 1,
            Ok(AuthPosture::StaticKey) => self.static_key += 1,
            Ok(AuthPosture::None) => self.none += 1,
            Ok(AuthPosture::Unknown) => self.unknown += 1,
            Ok(AuthPosture::Unspecified) | Err(_) => {}
        }
    }

    pub(crate) fn minus(&self, other: &Self) -> Self {
        Self {
            oauth: self.oauth - other.oauth,
            oauth_partial: self.oauth_partial - other.oauth_partial,
            static_key: self.static_key - other.static_key,
            none: self.none - other.none,
            unknown: self.unknown - other.unknown,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ServiceRow {
    pub service: String,
    pub servers: i64,
    pub endpoints: i64,
    pub users: i64,
    /// Servers per authentication mode: the configuration's credentials, and where the agent
    /// verified a remote server's posture, that posture (OAuth or none).
    pub auth: AuthCounts,
    /// Remote servers per posture reported by their agents.
    pub remote_auth: PostureCounts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// A registry package: ecosystem and name.
    Package,
    /// A remote endpoint host.
    Remote,
}

impl GroupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Package => "package",
            Self::Remote => "remote",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "package" => Some(Self::Package),
            "remote" => Some(Self::Remote),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ServerGroup {
    pub kind: GroupKind,
    /// `unspecified` for remote groups.
    #[serde(with = "muster_proto::words::ecosystem")]
    #[schema(value_type = crate::words::Ecosystem)]
    pub ecosystem: i32,
    /// Package name, or the remote host.
    pub name: String,
    pub servers: i64,
    pub endpoints: i64,
    pub pinned_servers: i64,
    pub unpinned_servers: i64,
    pub versions: Vec<String>,
    pub advisories: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerGroupQuery {
    pub kind: Option<GroupKind>,
    pub ecosystem: Option<i32>,
    pub name_contains: Option<String>,
    /// Only groups with at least one advisory.
    pub with_advisories: bool,
    pub cursor: Option<String>,
    pub limit: u32,
}

/// Filters of the server list (one row per MCP server on one endpoint); every filter is exact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerQuery {
    pub service: Option<String>,
    /// With `package`: the package's ecosystem; without it, any ecosystem.
    pub ecosystem: Option<i32>,
    /// Registry package name.
    pub package: Option<String>,
    /// Package version (with `package`).
    pub version: Option<String>,
    /// Remote endpoint host.
    pub remote: Option<String>,
    pub client: Option<String>,
    /// OS user, as reported.
    pub user: Option<String>,
    pub agent_id: Option<String>,
    pub cursor: Option<String>,
    pub limit: u32,
}

/// One MCP server on one endpoint, where it is configured and what it reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ServerRow {
    pub agent_id: String,
    pub hostname: String,
    pub server_id: String,
    pub name: String,
    pub client: String,
    pub user: String,
    #[serde(with = "muster_proto::words::scope")]
    #[schema(value_type = crate::words::Scope)]
    pub scope: i32,
    pub config_path: String,
    #[serde(with = "muster_proto::words::transport")]
    #[schema(value_type = crate::words::Transport)]
    pub transport: i32,
    pub service: String,
    /// `unspecified` when the server runs no known package.
    #[serde(with = "muster_proto::words::ecosystem")]
    #[schema(value_type = crate::words::Ecosystem)]
    pub package_ecosystem: i32,
    pub package_name: String,
    pub package_version: String,
    pub pinned: bool,
    pub endpoint_host: String,
    /// `oauth`, `reference`, `literal` or `none`.
    pub auth: String,
}

// ---------------------------------------------------------------------------------------------
// Endpoints

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointSort {
    /// Hostname, A to Z.
    #[default]
    Hostname,
    /// Most recently seen first.
    LastSeen,
    /// Most severe open finding first, then most open findings.
    Findings,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointQuery {
    /// Substring of the hostname or of a user name, case-insensitive.
    pub search: Option<String>,
    /// Exact user name, case-insensitive.
    pub user: Option<String>,
    pub os: Option<i32>,
    /// Some(true): seen at or after `online_since`; Some(false): not.
    pub online: Option<bool>,
    pub online_since: i64,
    /// Only endpoints with an open finding at least this severe.
    pub min_severity: Option<i32>,
    pub client: Option<String>,
    /// Exact endpoint tag.
    pub tag: Option<String>,
    /// Only endpoints with a server reaching this enterprise service (exact).
    pub service: Option<String>,
    /// Only endpoints with a server running this registry package (exact name; with
    /// `ecosystem`, of that ecosystem; with `version`, that exact version).
    pub package: Option<String>,
    pub ecosystem: Option<i32>,
    pub version: Option<String>,
    /// Only endpoints with a server calling this remote host (exact).
    pub remote: Option<String>,
    /// Only endpoints with a remote server of this reported posture (`muster.v1.AuthPosture`).
    pub auth_posture: Option<i32>,
    pub sort: EndpointSort,
    pub cursor: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EndpointRow {
    pub agent_id: String,
    pub hostname: String,
    #[serde(with = "muster_proto::words::os")]
    #[schema(value_type = crate::words::Os)]
    pub os: i32,
    pub last_seen_at: Option<i64>,
    pub online: bool,
    pub users: Vec<String>,
    pub clients: Vec<String>,
    /// The endpoint tags IT set in the agent's config file, in the order configured.
    pub tags: Vec<String>,
    pub servers: i64,
    pub literal_secrets: i64,
    pub open_findings: i64,
    pub findings_high: i64,
    pub findings_critical: i64,
    /// `unspecified` when the endpoint has no open finding.
    #[serde(with = "muster_proto::words::severity")]
    #[schema(value_type = crate::words::Severity)]
    pub max_severity: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EndpointDetail {
    pub endpoint: EndpointRow,
    pub agent_version: String,
    pub agent_status: String,
    pub cert_not_after: i64,
    pub os_version: String,
    pub arch: String,
    pub scanned_at: i64,
    pub servers: Vec<ServerView>,
    /// MCP server processes running at the last report that sent processes.
    pub processes: Vec<ProcessView>,
    pub findings: Vec<FindingView>,
    /// Newest first, at most [`HISTORY_LIMIT`].
    pub history: Vec<ActivityEvent>,
}

pub const HISTORY_LIMIT: u32 = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ServerView {
    pub server_id: String,
    pub name: String,
    pub client: String,
    pub user: String,
    #[serde(with = "muster_proto::words::transport")]
    #[schema(value_type = crate::words::Transport)]
    pub transport: i32,
    pub command: String,
    pub url: String,
    pub service: String,
    /// `unspecified` when the server runs no known package.
    #[serde(with = "muster_proto::words::ecosystem")]
    #[schema(value_type = crate::words::Ecosystem)]
    pub package_ecosystem: i32,
    pub package_name: String,
    pub package_version: String,
    pub pinned: bool,
    pub endpoint_host: String,
    /// How the server authenticates: `literal`, `reference` (from its configuration), `oauth` or
    /// `none` (verified by the agent where it asked the remote server, else guessed from the
    /// configuration).
    pub auth: String,
    /// A remote server's posture as its agent reported it; `unspecified` when it did not judge
    /// one (local servers, older agents).
    #[serde(with = "muster_proto::words::auth_posture")]
    #[schema(value_type = crate::words::AuthPosture)]
    pub auth_posture: i32,
    /// The posture comes from the server's answers (false: from the configuration alone).
    pub auth_verified: bool,
    /// What an `oauth_partial` server lacks (`pkce_s256`, `authorization_servers`, ...).
    pub auth_missing: Vec<String>,
    /// Why the posture is what it is, in the agent's words (`unreachable: connection refused`).
    pub auth_reason: String,
    pub literal_secrets: i64,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    #[serde(with = "muster_proto::words::scope")]
    #[schema(value_type = crate::words::Scope)]
    pub scope: i32,
    /// The configuration file the server was read from, and the project it applies to (empty
    /// for user-wide and managed entries).
    pub config_path: String,
    pub project: String,
    /// Names of the environment variables and headers the entry sets (never their values).
    pub env_names: Vec<String>,
    pub header_names: Vec<String>,
    /// Credentials the agent found in the entry, with their keyed fingerprints.
    pub credentials: Vec<ServerCredential>,
}

/// A credential of one server: where in the entry, what it is, and its keyed fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ServerCredential {
    /// `env:NAME`, `header:NAME`, `arg:N` or `url`.
    pub location: String,
    pub kind: String,
    pub provider: String,
    #[serde(with = "muster_proto::words::credential_source")]
    #[schema(value_type = crate::words::CredentialSource)]
    pub source: i32,
    /// For a reference: where the secret is kept (`environment`, `secret_manager`, `prompt`,
    /// `file`); `unspecified` for a literal and for an agent too old to say.
    #[serde(with = "muster_proto::words::reference_kind")]
    #[schema(value_type = crate::words::ReferenceKind)]
    pub reference_kind: i32,
    /// Empty for a reference (the value is not in the file).
    pub fingerprint: String,
}

/// An MCP server process the agent saw running, with the servers it matched and the sockets it
/// listens on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProcessView {
    pub pid: u32,
    pub user: String,
    /// The executable and its arguments, masked by the agent.
    pub command: String,
    /// The client that started it, when known.
    pub parent_client: String,
    /// Ids of the configured servers it runs (empty: no configuration starts it).
    pub server_ids: Vec<String>,
    /// Started by no known client.
    pub unmanaged: bool,
    /// `protocol address:port`, e.g. `tcp 0.0.0.0:8080`.
    pub listeners: Vec<String>,
    pub started_at: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Credentials

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SecretGroup {
    pub provider: String,
    pub kind: String,
    /// `env`, `header`, `arg`, `url` or `other`.
    pub location_type: String,
    pub secrets: i64,
    pub endpoints: i64,
}

/// The fleet's literal secrets counted two ways, kept live in the ingest transaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SecretTotals {
    /// Distinct secrets: distinct keyed fingerprints.
    pub distinct: i64,
    /// Uses: places a literal secret is written (one secret in two configurations is two uses).
    pub uses: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SharedFingerprint {
    pub fingerprint: String,
    pub provider: String,
    pub kind: String,
    pub hosts: i64,
    pub servers: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FingerprintQuery {
    /// Seen on at least this many hosts (1 or more; 0 counts as 1).
    pub min_hosts: i64,
    /// Which reuse to list.
    pub reuse: FingerprintReuse,
    /// Start of the fingerprint (hex, case-insensitive).
    pub prefix: Option<String>,
    pub provider: Option<String>,
    pub cursor: Option<String>,
    pub limit: u32,
}

/// Filters of the credential locations (one row per credential of one server); exact matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialQuery {
    /// The whole keyed fingerprint (lower-case hex).
    pub fingerprint: Option<String>,
    pub provider: Option<String>,
    pub kind: Option<String>,
    /// `literal` or `reference` (wire number).
    pub source: Option<i32>,
    /// `env`, `header`, `arg`, `url` or `other`.
    pub location_type: Option<String>,
    pub agent_id: Option<String>,
    pub cursor: Option<String>,
    pub limit: u32,
}

/// One credential in one server's entry on one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CredentialLocation {
    pub agent_id: String,
    pub hostname: String,
    pub server_id: String,
    pub server_name: String,
    pub client: String,
    pub user: String,
    pub config_path: String,
    /// `env:NAME`, `header:NAME`, `arg:N` or `url`.
    pub location: String,
    pub location_type: String,
    pub kind: String,
    pub provider: String,
    #[serde(with = "muster_proto::words::credential_source")]
    #[schema(value_type = crate::words::CredentialSource)]
    pub source: i32,
    /// For a reference: where the secret is kept; `unspecified` for a literal and for an agent
    /// too old to say.
    #[serde(with = "muster_proto::words::reference_kind")]
    #[schema(value_type = crate::words::ReferenceKind)]
    pub reference_kind: i32,
    /// Empty for a reference.
    pub fingerprint: String,
}

// ---------------------------------------------------------------------------------------------
// Findings

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// Seen and accepted as a finding to fix; it still counts.
    Acknowledged,
    /// Accepted risk: it does not count until the decision expires.
    Waived,
}

impl DecisionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledged => "acknowledged",
            Self::Waived => "waived",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "acknowledged" => Some(Self::Acknowledged),
            "waived" => Some(Self::Waived),
            _ => None,
        }
    }
}

/// Identifies a finding across re-ingests (finding rows are replaced, this is not): the key a
/// decision is stored under, so a decision applies to exactly one finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FindingKey {
    pub agent_id: String,
    /// Empty for findings about a client or user as a whole.
    pub server_id: String,
    pub finding_id: String,
    /// Tells findings with the same agent, server and finding id apart (see [`finding_subject`]):
    /// the finding uid of a host-wide finding, the advisory id of a package advisory finding;
    /// empty, and then left out of JSON, for other server findings.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FindingDecision {
    pub kind: DecisionKind,
    pub reason: String,
    /// None: until revoked.
    pub expires_at: Option<i64>,
    pub decided_by: String,
    pub decided_at: i64,
    /// False once `expires_at` has passed: the finding is open again.
    pub active: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingStateFilter {
    /// No active decision, or only an acknowledgement (acknowledged findings still count).
    Counting,
    /// No active decision at all.
    Open,
    Acknowledged,
    Waived,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingQuery {
    pub min_severity: Option<i32>,
    pub owasp: Option<String>,
    pub service: Option<String>,
    pub client: Option<String>,
    pub user: Option<String>,
    pub agent_id: Option<String>,
    /// Catalog id (the rule), matched without regard to case.
    pub finding_id: Option<String>,
    /// Exactly this server of the endpoint (with `agent_id`): the finding pages' lookup.
    pub server_id: Option<String>,
    /// Exactly this decision subject (with `agent_id`, `server_id`, `finding_id`).
    pub subject: Option<String>,
    /// Hostname substring, case-insensitive.
    pub host: Option<String>,
    /// Substring of the message, the rule id, the hostname or the server name, case-insensitive.
    pub text: Option<String>,
    pub state: Option<FindingStateFilter>,
    /// The clock decisions are judged against.
    pub now: i64,
    pub cursor: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FindingView {
    /// Row id: stable until the endpoint re-reports this server's findings.
    pub id: i64,
    pub key: FindingKey,
    pub hostname: String,
    #[serde(with = "muster_proto::words::severity")]
    #[schema(value_type = crate::words::Severity)]
    pub severity: i32,
    pub owasp: String,
    pub message: String,
    pub service: String,
    pub client: String,
    pub user: String,
    pub advisory: String,
    /// The server's name and the config file it was read from (empty for host-wide findings).
    pub server_name: String,
    pub config_path: String,
    /// From the findings catalog: what the finding is and how to fix it (empty for an id this
    /// server's catalog does not know).
    pub title: String,
    pub remediation: String,
    pub decision: Option<FindingDecision>,
}

// ---------------------------------------------------------------------------------------------
// Activity and agents

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityQuery {
    pub kind: Option<ChangeKind>,
    pub client: Option<String>,
    pub agent_id: Option<String>,
    /// Inclusive lower / exclusive upper bound on the event time.
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub cursor: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ActivityEvent {
    pub id: i64,
    pub agent_id: String,
    pub hostname: String,
    pub server_id: String,
    pub server_name: String,
    pub client: String,
    /// `appeared`, `changed` or `disappeared` (a server); `finding_appeared` or
    /// `finding_resolved` (a finding of `server_id`, or host-wide when it is empty).
    #[serde(serialize_with = "serialize_kind")]
    #[schema(value_type = String)]
    pub kind: ChangeKind,
    pub sequence: i64,
    /// Unix seconds.
    pub at: i64,
    /// For `changed`: what changed, field by field (names, never values).
    pub changes: Vec<crate::ingest::activity::FieldChange>,
    /// For finding events: the catalog id, its title and the severity.
    pub finding_id: String,
    pub finding_title: String,
    #[serde(with = "muster_proto::words::severity")]
    #[schema(value_type = String)]
    pub severity: i32,
}

fn serialize_kind<S: serde::Serializer>(kind: &ChangeKind, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(kind.as_str())
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentQuery {
    /// `active` or `revoked`.
    pub status: Option<String>,
    pub version: Option<String>,
    /// Hostname substring, case-insensitive.
    pub search: Option<String>,
    pub online_since: i64,
    pub cursor: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AgentRow {
    pub id: String,
    pub hostname: String,
    pub status: String,
    pub agent_version: String,
    pub cert_serial: String,
    pub cert_not_after: i64,
    pub enrolled_at: i64,
    pub enrolled_with_token: String,
    pub last_seen_at: Option<i64>,
    pub online: bool,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VersionCount {
    pub version: String,
    pub agents: i64,
}

/// Queries behind every page and API list call. Implemented by both stores with the same SQL.
#[async_trait::async_trait]
pub trait ReadModels: Send + Sync {
    /// Live counters from `endpoint_summary` and `agents`, the services count and the trend from
    /// the last rollup. Online means seen at or after `online_since`.
    async fn overview(&self, now: i64, online_since: i64) -> Result<Overview, StoreError>;
    async fn services(&self) -> Result<Vec<ServiceRow>, StoreError>;
    async fn server_groups(&self, query: &ServerGroupQuery) -> Result<Page<ServerGroup>, StoreError>;
    async fn endpoints(&self, query: &EndpointQuery) -> Result<Page<EndpointRow>, StoreError>;
    /// Servers one by one across the fleet (by endpoint id, then server id).
    async fn server_list(&self, query: &ServerQuery) -> Result<Page<ServerRow>, StoreError>;
    /// Credentials one by one with the server and endpoint holding each (by endpoint id, server
    /// id, location).
    async fn credential_locations(&self, query: &CredentialQuery) -> Result<Page<CredentialLocation>, StoreError>;
    async fn endpoint_detail(
        &self,
        agent_id: &str,
        online_since: i64,
        now: i64,
    ) -> Result<Option<EndpointDetail>, StoreError>;
    async fn secret_groups(&self) -> Result<Vec<SecretGroup>, StoreError>;
    /// Distinct literal secrets and their uses, read from one live row.
    async fn secret_totals(&self) -> Result<SecretTotals, StoreError>;
    async fn shared_fingerprints(&self, query: &FingerprintQuery) -> Result<Page<SharedFingerprint>, StoreError>;
    async fn findings(&self, query: &FindingQuery) -> Result<Page<FindingView>, StoreError>;
    /// Records (or replaces) a decision on a finding and recounts its endpoint. `who` is the
    /// acting user or token, as the audit trail names it. Returns false when no such finding is
    /// stored.
    async fn decide_finding(
        &self,
        key: &FindingKey,
        kind: DecisionKind,
        reason: &str,
        expires_at: Option<i64>,
        who: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Removes a decision; returns false when there was none.
    async fn clear_finding_decision(&self, key: &FindingKey, now: i64) -> Result<bool, StoreError>;
    async fn activity(&self, query: &ActivityQuery) -> Result<Page<ActivityEvent>, StoreError>;
    async fn agents_page(&self, query: &AgentQuery) -> Result<Page<AgentRow>, StoreError>;
    async fn agent_versions(&self) -> Result<Vec<VersionCount>, StoreError>;
    /// Writes today's trend point and recounts endpoints whose waivers expired since the last
    /// refresh: what only the passing of time changes. The fleet-wide rollups are not touched:
    /// ingest keeps them live.
    async fn refresh_rollups(&self, now: i64, online_since: i64) -> Result<RollupStats, StoreError>;
    /// Recomputes every fleet-wide rollup from the stored inventory in one transaction. Ingest
    /// keeps them up to date; this is for inventories written around ingest (the benchmark seed)
    /// and runs once after the migration that made the rollups live.
    async fn rebuild_rollups(&self) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let cursor = Cursor { key: "host,with\u{1f}odd".into(), id: "id-1".into() };
        // The separator inside the key would be ambiguous; split_once takes the first, so keys
        // must not hold it. Hostnames cannot, ids are uuids.
        let plain = Cursor { key: "laptop-7".into(), id: "00000000-0000".into() };
        assert_eq!(Cursor::decode(&plain.encode()).unwrap(), plain);
        assert_ne!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        assert!(matches!(Cursor::decode("zz"), Err(StoreError::InvalidCursor(_))));
        assert!(matches!(Cursor::decode(&hex::encode("no separator")), Err(StoreError::InvalidCursor(_))));
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("Lap_1%"), "%lap\\_1\\%%");
        assert_eq!(member_key(["Alice", "bob"]), ",alice,bob,");
        assert_eq!(members(",alice,bob,"), vec!["alice".to_string(), "bob".to_string()]);
        assert_eq!(members(","), Vec::<String>::new());
    }

    #[test]
    fn pages_hold_at_most_the_limit() {
        let page = into_page(vec![1, 2, 3], 2, |n| Cursor { key: n.to_string(), id: n.to_string() });
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(Cursor::decode(page.next_cursor.as_deref().unwrap()).unwrap().key, "2");
        let last = into_page(vec![1, 2], 2, |n| Cursor { key: n.to_string(), id: n.to_string() });
        assert_eq!(last.next_cursor, None);
        assert_eq!((page_limit(0), page_limit(10_000)), (DEFAULT_PAGE, MAX_PAGE));
        assert_eq!(day_start(86_400 * 3 + 5), 86_400 * 3);
    }
}
