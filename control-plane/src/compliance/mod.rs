//! Policy compliance: what the agents report about the policy they enforce, read for the
//! Compliance pages, `/api/v1/compliance` and anyone else, always compared with the *current*
//! published version (the one agents are being pushed).
//!
//! The use-cases here read; the rows they read are written by ingest (`ingest::policy` plans
//! them, the store executes them in the report's transaction), and the hourly trend row by
//! [`record_trend`], which the rollup task calls. Nothing here sees HTTP or writes an audit
//! event: reading compliance changes nothing.

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ActionError;
use crate::store::Store;
use crate::store::compliance::{
    ComplianceEndpoint, ComplianceQuery, ComplianceTotals, EndpointCompliance, RuleCompliance, TrendPoint,
};
use crate::store::read::{Cursor, Page, into_page, page_limit};

/// The published version agents are compared with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CurrentVersion {
    pub version: u64,
    pub name: String,
    pub published_at: Option<i64>,
}

/// The fleet at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Summary {
    /// Absent while no version was ever published.
    pub current: Option<CurrentVersion>,
    #[serde(flatten)]
    pub totals: ComplianceTotals,
}

/// One endpoint's compliance with the current version beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EndpointView {
    pub current_version: u64,
    #[serde(flatten)]
    pub compliance: EndpointCompliance,
}

/// Which endpoints to list (see [`ComplianceQuery`]; the current version is filled in here).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointFilter {
    pub state: Option<i32>,
    pub rule: Option<String>,
    pub on_current: Option<bool>,
    pub violating: bool,
    pub cursor: Option<String>,
    pub limit: u32,
}

/// The most days of trend one call returns (the rows are hourly).
pub const MAX_TREND_DAYS: u32 = 90;

async fn current(store: &dyn Store) -> Result<Option<CurrentVersion>, ActionError> {
    Ok(store.current_policy().await?.map(|v| CurrentVersion {
        version: v.version,
        name: v.name,
        published_at: v.published_at,
    }))
}

async fn current_number(store: &dyn Store) -> Result<u64, ActionError> {
    Ok(current(store).await?.map_or(0, |c| c.version))
}

/// Fleet totals against the current version.
pub async fn summary(store: &dyn Store) -> Result<Summary, ActionError> {
    let current = current(store).await?;
    let totals = store.compliance_totals(current.as_ref().map_or(0, |c| c.version)).await?;
    Ok(Summary { current, totals })
}

/// One page of endpoints by hostname.
pub async fn endpoints(store: &dyn Store, filter: EndpointFilter) -> Result<Page<ComplianceEndpoint>, ActionError> {
    let query = ComplianceQuery {
        state: filter.state,
        rule: filter.rule,
        on_current: filter.on_current,
        violating: filter.violating,
        current_version: current_number(store).await?,
        cursor: filter.cursor,
        limit: filter.limit,
    };
    Ok(store.compliance_endpoints(&query).await?)
}

/// One endpoint with each action; NotFound when its agent never reported a policy state.
pub async fn endpoint(store: &dyn Store, agent_id: &str) -> Result<EndpointView, ActionError> {
    let current_version = current_number(store).await?;
    match store.endpoint_compliance(agent_id, current_version).await? {
        Some(compliance) => Ok(EndpointView { current_version, compliance }),
        None => Err(ActionError::not_found(format!("no policy state reported by agent {agent_id}"))),
    }
}

/// One page of rules by id, each with its counts by state.
pub async fn rules(store: &dyn Store, cursor: Option<&str>, limit: u32) -> Result<Page<RuleCompliance>, ActionError> {
    let limit = page_limit(limit);
    let after = match cursor {
        Some(text) => Some(Cursor::decode(text)?.key),
        None => None,
    };
    let rows = store.compliance_rules(after.as_deref(), limit + 1).await?;
    Ok(into_page(rows, limit, |r| Cursor { key: r.rule_id.clone(), id: r.rule_id.clone() }))
}

/// The hourly trend of the last `days` days (1 to [`MAX_TREND_DAYS`]) before `now`.
pub async fn trend(store: &dyn Store, days: u32, now: i64) -> Result<Vec<TrendPoint>, ActionError> {
    if !(1..=MAX_TREND_DAYS).contains(&days) {
        return Err(ActionError::invalid(format!("days: expected 1 to {MAX_TREND_DAYS}")));
    }
    Ok(store.compliance_trend(now - i64::from(days) * 86_400).await?)
}

/// Counts the fleet now and keeps it as the trend point of the current hour (the rollup task
/// calls this on its period, so an hour's point is the last count taken in it).
pub async fn record_trend(store: &dyn Store, now: i64) -> Result<TrendPoint, ActionError> {
    let version = current_number(store).await?;
    Ok(store.record_compliance_trend(version, now).await?)
}
