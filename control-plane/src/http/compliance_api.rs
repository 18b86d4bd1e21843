//! The JSON API of policy compliance under `/api/v1/compliance` (viewer and up): the fleet's
//! totals against the current published version, the endpoint list filtered by action state,
//! rule and version, one endpoint's actions, per-rule counts and the hourly trend. Every handler
//! calls the use-cases of [`crate::compliance`], as the Compliance pages do; nothing here writes.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use http::Method;

use super::error::ErrorBody;
use super::params::{self, CompliancePageParams, ComplianceParams, NoParams, TrendParams};
use super::roles::Access;
use super::{AppState, Route};
use crate::compliance::{self, EndpointView, Summary};
use crate::error::ApiError;
use crate::state::unix_now;
use crate::store::Role;
use crate::store::compliance::{ComplianceEndpoint, RuleCompliance, TrendPoint};
use crate::store::read::Page;

pub(crate) fn routes() -> Vec<Route> {
    let viewer = Access::Role(Role::Viewer);
    vec![
        Route::new(Method::GET, "/api/v1/compliance", viewer, summary),
        Route::new(Method::GET, "/api/v1/compliance/endpoints", viewer, endpoints),
        Route::new(Method::GET, "/api/v1/compliance/endpoints/{id}", viewer, endpoint),
        Route::new(Method::GET, "/api/v1/compliance/rules", viewer, rules),
        Route::new(Method::GET, "/api/v1/compliance/trend", viewer, trend),
    ]
}

/// The fleet's compliance with the current published version.
#[utoipa::path(get, path = "/api/v1/compliance", tag = "compliance",
    responses((status = 200, description = "Fleet totals", body = Summary),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn summary(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Summary>, ApiError> {
    params::parse::<NoParams>(query.as_deref())?;
    Ok(Json(compliance::summary(state.cp.store.as_ref()).await?))
}

/// Endpoints whose agent reported a policy state, by hostname.
#[utoipa::path(get, path = "/api/v1/compliance/endpoints", tag = "compliance", params(ComplianceParams),
    responses((status = 200, description = "One page of endpoints", body = Page<ComplianceEndpoint>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn endpoints(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<ComplianceEndpoint>>, ApiError> {
    let params: ComplianceParams = params::parse(query.as_deref())?;
    Ok(Json(compliance::endpoints(state.cp.store.as_ref(), params.filter()?).await?))
}

/// One endpoint's policy state with each action (at most 2,000).
#[utoipa::path(get, path = "/api/v1/compliance/endpoints/{id}", tag = "compliance",
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 200, description = "The endpoint's policy state", body = EndpointView),
              (status = 400, description = "Invalid argument", body = ErrorBody),
              (status = 404, description = "The agent reported no policy state", body = ErrorBody)))]
pub(crate) async fn endpoint(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<EndpointView>, ApiError> {
    params::parse::<NoParams>(query.as_deref())?;
    Ok(Json(compliance::endpoint(state.cp.store.as_ref(), &id).await?))
}

/// Every rule some endpoint breaks, by rule id, with its actions counted by state.
#[utoipa::path(get, path = "/api/v1/compliance/rules", tag = "compliance", params(CompliancePageParams),
    responses((status = 200, description = "One page of rules", body = Page<RuleCompliance>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn rules(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<RuleCompliance>>, ApiError> {
    let params: CompliancePageParams = params::parse(query.as_deref())?;
    let (cursor, limit) = params.query()?;
    Ok(Json(compliance::rules(state.cp.store.as_ref(), cursor.as_deref(), limit).await?))
}

/// The fleet's compliance per hour, oldest first (one point per hour the rollup task ran in).
#[utoipa::path(get, path = "/api/v1/compliance/trend", tag = "compliance", params(TrendParams),
    responses((status = 200, description = "Hourly points", body = Vec<TrendPoint>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn trend(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<TrendPoint>>, ApiError> {
    let params: TrendParams = params::parse(query.as_deref())?;
    Ok(Json(compliance::trend(state.cp.store.as_ref(), params.days()?, unix_now()).await?))
}
