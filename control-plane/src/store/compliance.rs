//! The storage of policy compliance, one supertrait of [`super::Store`] implemented by both
//! backends from the same portable SQL (`compliance_sql.rs`): what each endpoint's last policy
//! report said (written by ingest, in its transaction, from an
//! [`ingest::policy::ComplianceWrite`](crate::ingest::policy::ComplianceWrite)), the reads of the
//! compliance pages and API, and the hourly trend rows.
//!
//! What "current" means (the published version to compare against) is the compliance use-case's
//! (`crate::compliance`): every query here takes the version it compares with. Revoked agents
//! have no rows: revocation deletes them (`agents_sql.rs`), so no read joins the agents table.

use serde::Serialize;
use utoipa::ToSchema;

use super::StoreError;
use super::read::Page;

/// Which endpoints the compliance list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComplianceQuery {
    /// Only endpoints with at least one action in this state (`muster.v1.PolicyActionState`).
    pub state: Option<i32>,
    /// Only endpoints where this rule is broken (combined with `state`: in that state).
    pub rule: Option<String>,
    /// Only endpoints on (`Some(true)`) or not on (`Some(false)`) `current_version`.
    pub on_current: Option<bool>,
    /// Only endpoints with at least one violation.
    pub violating: bool,
    /// The current published version (0: none).
    pub current_version: u64,
    /// Opaque keyset cursor (hostname, agent id).
    pub cursor: Option<String>,
    /// Page size; 0 means the default.
    pub limit: u32,
}

/// Action counts by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct StateTotals {
    pub pending: u64,
    pub applied: u64,
    pub failed: u64,
    pub excepted: u64,
    pub not_in_force: u64,
}

/// One endpoint's compliance, as its agent last reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ComplianceEndpoint {
    pub agent_id: String,
    pub hostname: String,
    /// The version the agent's decisions come from (0: it holds no policy).
    pub applied_version: u64,
    /// The highest version the agent received and verified.
    pub acked_version: u64,
    /// Whether `applied_version` is the current published version.
    pub on_current: bool,
    /// When the agent evaluated the policy (unix seconds).
    pub evaluated_at: i64,
    /// When the report carrying this state was stored (unix seconds).
    pub reported_at: i64,
    /// Actions no exception lifts.
    pub violations: u64,
    /// Why the agent refused the last bundle it was offered (empty when none).
    pub refusal: String,
    /// The data bundle version the agent analyses with (its built-in data's when it holds
    /// none; 0 from agents that predate it).
    pub data_version: u64,
    /// The last data bundle the agent refused (0: none) and its reason.
    pub data_refused_version: u64,
    pub data_refusal: String,
    pub actions: StateTotals,
}

/// One action on one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ComplianceAction {
    pub server_id: String,
    /// The server's name and client as last reported (empty when the server is gone).
    pub server_name: String,
    pub client: String,
    pub rule_id: String,
    /// `notify`, `require-approval`, `deny-tools`, `quarantine` or `block`.
    pub action: String,
    /// Named after its enum, as every wire-enum field is (the API dialect).
    #[serde(with = "muster_proto::words::policy_action_state")]
    #[schema(value_type = crate::words::ActionState)]
    pub action_state: i32,
    /// For a failed action the agent's reason, for an excepted one the exception id.
    pub detail: String,
    /// When the grace period ends (absent: due now).
    pub due_at: Option<i64>,
}

/// One endpoint with each action of its last report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EndpointCompliance {
    pub endpoint: ComplianceEndpoint,
    /// Sorted by server id and rule id; at most [`MAX_ENDPOINT_ACTIONS`].
    pub actions: Vec<ComplianceAction>,
    /// Whether the endpoint has more actions than are listed.
    pub truncated: bool,
}

/// The most actions one endpoint's detail lists.
pub const MAX_ENDPOINT_ACTIONS: u32 = 2000;

/// One rule across the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RuleCompliance {
    pub rule_id: String,
    /// The action the rule asks for (several, comma-separated, when endpoints on different
    /// versions disagree).
    pub action: String,
    /// Endpoints where the rule is broken (in any state).
    pub endpoints: u64,
    /// Server actions by state.
    pub servers: StateTotals,
    /// Endpoints with at least one action of this rule in each state.
    pub endpoints_by_state: StateTotals,
}

/// The fleet at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ComplianceTotals {
    /// Endpoints whose agent reported a policy state.
    pub endpoints: u64,
    /// Of those, on the current version.
    pub on_current: u64,
    /// Of those, the ones that acknowledged the current version.
    pub acked_current: u64,
    /// Of those, the ones holding no policy at all.
    pub without_policy: u64,
    /// Endpoints with at least one violation.
    pub violating: u64,
    /// Endpoints whose agent refused the last bundle offered.
    pub refusing: u64,
    /// Actions by state across the fleet.
    pub actions: StateTotals,
}

/// One point of the trend: the fleet as counted in one hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TrendPoint {
    /// Start of the hour, unix seconds (UTC).
    pub hour: i64,
    pub policy_version: u64,
    pub endpoints: u64,
    pub on_current: u64,
    pub violating: u64,
    pub actions: StateTotals,
}

/// The storage of compliance. Every method is atomic.
#[async_trait::async_trait]
pub trait ComplianceStore: Send + Sync {
    /// Fleet totals, comparing with `current_version`.
    async fn compliance_totals(&self, current_version: u64) -> Result<ComplianceTotals, StoreError>;
    /// One page of endpoints by hostname.
    async fn compliance_endpoints(&self, query: &ComplianceQuery) -> Result<Page<ComplianceEndpoint>, StoreError>;
    /// One endpoint with its actions; None when its agent never reported a policy state.
    async fn endpoint_compliance(
        &self,
        agent_id: &str,
        current_version: u64,
    ) -> Result<Option<EndpointCompliance>, StoreError>;
    /// One page of rules by id (`cursor`: the last rule id of the previous page).
    async fn compliance_rules(&self, cursor: Option<&str>, limit: u32) -> Result<Vec<RuleCompliance>, StoreError>;
    /// Counts the fleet now and writes the row of the hour holding `now`.
    async fn record_compliance_trend(&self, current_version: u64, now: i64) -> Result<TrendPoint, StoreError>;
    /// The trend rows from the hour holding `since` on, oldest first.
    async fn compliance_trend(&self, since: i64) -> Result<Vec<TrendPoint>, StoreError>;
}

/// The start of the hour holding `at`.
pub fn hour_start(at: i64) -> i64 {
    at - at.rem_euclid(3600)
}
