//! The JSON API of remediation policies under `/api/v1/policies`: the version history, one
//! version with its text, and (admins) publish and roll back. Writes go through the policies
//! use-cases (`crate::policies`) that `muster-server policy apply` calls too; handlers translate
//! JSON and attach the returned audit event. Compliance and dry runs are not here.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::params::{self, NoParams, PolicyHistoryParams};
use super::principal::Principal;
use super::roles::Access;
use super::{AppState, Route};
use crate::error::{ApiError, ErrorCode};
use crate::policies;
use crate::state::unix_now;
use crate::store::Role;
use crate::store::policies::{PolicyVersionRecord, PolicyVersionSummary};
use crate::store::read::{Cursor, Page, into_page};

pub(crate) fn routes() -> Vec<Route> {
    use Access::Role as Needs;
    vec![
        Route::new(Method::GET, "/api/v1/policies", Needs(Role::Viewer), list_policies),
        Route::new(Method::POST, "/api/v1/policies", Needs(Role::Admin), publish_policy),
        Route::new(Method::GET, "/api/v1/policies/{version}", Needs(Role::Viewer), get_policy),
        Route::new(Method::POST, "/api/v1/policies/{version}/rollback", Needs(Role::Admin), rollback_policy),
    ]
}

/// One policy version, without its text.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PolicyVersionView {
    pub version: u64,
    /// The policy's `name`, empty when unnamed.
    pub name: String,
    /// SHA-256 of the canonical document, lower-case hex.
    pub digest: String,
    pub author: String,
    pub reason: String,
    pub created_at: i64,
    /// Absent for a draft.
    pub published_at: Option<i64>,
    /// For a rollback: the version whose text this one republished.
    pub rollback_of: Option<u64>,
}

/// One policy version with its text as written and its canonical document (what agents get).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PolicyVersionDetail {
    #[serde(flatten)]
    pub summary: PolicyVersionView,
    pub text: String,
    pub canonical: String,
}

impl From<PolicyVersionSummary> for PolicyVersionView {
    fn from(v: PolicyVersionSummary) -> Self {
        Self {
            version: v.version,
            name: v.name,
            digest: v.digest,
            author: v.author,
            reason: v.reason,
            created_at: v.created_at,
            published_at: v.published_at,
            rollback_of: v.rollback_of,
        }
    }
}

pub(crate) fn detail(v: PolicyVersionRecord) -> PolicyVersionDetail {
    PolicyVersionDetail {
        canonical: String::from_utf8_lossy(&v.canonical).into_owned(),
        text: v.source_text,
        summary: PolicyVersionView {
            version: v.version,
            name: v.name,
            digest: v.digest,
            author: v.author,
            reason: v.reason,
            created_at: v.created_at,
            published_at: v.published_at,
            rollback_of: v.rollback_of,
        },
    }
}

/// Policy versions, newest first (the current policy is the newest published one).
#[utoipa::path(get, path = "/api/v1/policies", tag = "policies", params(PolicyHistoryParams),
    responses((status = 200, description = "One page of versions", body = Page<PolicyVersionView>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn list_policies(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<PolicyVersionView>>, ApiError> {
    let params: PolicyHistoryParams = params::parse(query.as_deref())?;
    let (before, limit) = params.query()?;
    let rows = policies::history(state.cp.store.as_ref(), before, limit + 1).await?;
    let views = rows.into_iter().map(PolicyVersionView::from).collect();
    Ok(Json(into_page(views, limit, |v: &PolicyVersionView| Cursor {
        key: v.version.to_string(),
        id: v.version.to_string(),
    })))
}

fn version_param(text: &str) -> Result<u64, ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidArgument, "version: a positive whole number"))
}

/// One version with its text.
#[utoipa::path(get, path = "/api/v1/policies/{version}", tag = "policies",
    params(("version" = u64, Path, description = "Version number")),
    responses((status = 200, description = "The version", body = PolicyVersionDetail),
        (status = 400, description = "Invalid argument", body = ErrorBody), (status = 404, description = "No such version", body = ErrorBody)))]
pub(crate) async fn get_policy(
    State(state): State<AppState>,
    Path(version): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<PolicyVersionDetail>, ApiError> {
    params::parse::<NoParams>(query.as_deref())?;
    let version = version_param(&version)?;
    Ok(Json(detail(policies::version(state.cp.store.as_ref(), version).await?)))
}

/// A policy file to publish.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublishRequest {
    /// The policy file (TOML, `docs/policies.md`).
    pub text: String,
    /// Why it is published (history and audit log).
    #[serde(default)]
    pub reason: String,
}

/// Publish a policy file as the next version; a refused file answers 400 with every problem
/// as `line:column: message` and stores nothing.
#[utoipa::path(post, path = "/api/v1/policies", tag = "policies", request_body = PublishRequest,
    responses((status = 201, description = "The published version", body = PolicyVersionDetail),
        (status = 400, description = "The file was refused", body = ErrorBody)))]
pub(crate) async fn publish_policy(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(request): Json<PublishRequest>,
) -> Result<Response, ApiError> {
    let published = policies::publish(
        state.cp.store.as_ref(),
        state.cp.as_ref(),
        &request.text,
        &principal.name,
        &request.reason,
        unix_now(),
    )
    .await;
    answer(published, policies::publish_audit("policy.publish"))
}

/// Why a rollback is made.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RollbackRequest {
    #[serde(default)]
    pub reason: String,
}

/// Publish an earlier version's text again, as the next version.
#[utoipa::path(post, path = "/api/v1/policies/{version}/rollback", tag = "policies", request_body = RollbackRequest,
    params(("version" = u64, Path, description = "The version to return to")),
    responses((status = 201, description = "The published version", body = PolicyVersionDetail),
        (status = 400, description = "Invalid argument", body = ErrorBody), (status = 404, description = "No such version", body = ErrorBody)))]
pub(crate) async fn rollback_policy(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(version): Path<String>,
    Json(request): Json<RollbackRequest>,
) -> Result<Response, ApiError> {
    let version = version_param(&version)?;
    let rolled = policies::rollback(
        state.cp.store.as_ref(),
        state.cp.as_ref(),
        version,
        &principal.name,
        &request.reason,
        unix_now(),
    )
    .await;
    answer(rolled, policies::publish_audit("policy.rollback"))
}

/// 201 with the version and its audit event, or the refusal with a failed audit event.
fn answer(
    outcome: Result<(PolicyVersionRecord, crate::audit::AuditEvent), crate::error::ActionError>,
    audit: policies::PolicyAudit,
) -> Result<Response, ApiError> {
    match outcome {
        Ok((record, event)) => {
            let mut response = (StatusCode::CREATED, Json(detail(record))).into_response();
            response.extensions_mut().insert(event);
            Ok(response)
        }
        Err(error) => {
            let error = ApiError::from(error);
            let event = audit.refused(&error.message);
            let mut response = error.into_response();
            response.extensions_mut().insert(event);
            Ok(response)
        }
    }
}
