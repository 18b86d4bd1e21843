//! The JSON API of fleet operations under `/api/v1`: findings and their decisions (acknowledge,
//! waive, clear), change activity, agents, and the admin endpoints for enrollment tokens and
//! webhooks with their delivery log.
//!
//! Writes go through the use-cases (`crate::findings`, `crate::enroll::admin`,
//! `crate::webhook::admin`) that the pages and the CLI call too; the query parsers and list views
//! here are shared with the pages. Handlers never check roles (the route table does) nor write
//! audit rows (they attach the use-case's `crate::audit::AuditEvent`).

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{Method, StatusCode};
use muster_proto::v1::Severity;
use muster_proto::words::WireWord as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::params::{self, ActivityParams, AgentParams, FindingParams, NoParams, online_since};
use super::principal::Principal;
use super::roles::Access;
use super::{AppState, Route};
use crate::error::{ApiError, ErrorCode};
use crate::findings::{DecisionAction, decision_audit};
use crate::state::unix_now;
use crate::store::Role;
use crate::store::exports::DeliveryAttempt;
use crate::store::read::{ActivityEvent, AgentQuery, AgentRow, FindingKey, FindingView, Page, VersionCount};

pub(crate) fn routes() -> Vec<Route> {
    use Access::Role as Needs;
    vec![
        Route::new(Method::GET, "/api/v1/findings", Needs(Role::Viewer), list_findings),
        Route::new(Method::POST, "/api/v1/findings/decisions", Needs(Role::Analyst), post_decision),
        Route::new(Method::GET, "/api/v1/activity", Needs(Role::Viewer), list_activity),
        Route::new(Method::GET, "/api/v1/agents", Needs(Role::Viewer), list_agents),
        Route::new(Method::GET, "/api/v1/agents/versions", Needs(Role::Viewer), list_agent_versions),
        Route::new(Method::GET, "/api/v1/admin/enrollment-tokens", Needs(Role::Admin), list_enrollment_tokens),
        Route::new(Method::POST, "/api/v1/admin/enrollment-tokens", Needs(Role::Admin), create_enrollment_token),
        Route::new(
            Method::POST,
            "/api/v1/admin/enrollment-tokens/{id}/revoke",
            Needs(Role::Admin),
            revoke_enrollment_token,
        ),
        Route::new(Method::GET, "/api/v1/admin/webhooks", Needs(Role::Admin), list_webhooks),
        Route::new(Method::POST, "/api/v1/admin/webhooks", Needs(Role::Admin), post_webhook),
        Route::new(Method::DELETE, "/api/v1/admin/webhooks/{id}", Needs(Role::Admin), delete_webhook),
        Route::new(Method::GET, "/api/v1/admin/webhooks/{id}/deliveries", Needs(Role::Admin), list_deliveries),
    ]
}

// ---------------------------------------------------------------------------------------------
// Findings

/// List findings, most severe first.
#[utoipa::path(get, path = "/api/v1/findings", tag = "findings", params(FindingParams),
    responses((status = 200, description = "One page of findings", body = Page<FindingView>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn list_findings(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<FindingView>>, ApiError> {
    let params: FindingParams = params::parse(query.as_deref())?;
    Ok(Json(state.cp.store.findings(&params.query(unix_now())?).await?))
}

/// A decision on one finding.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionRequest {
    pub key: FindingKey,
    pub action: DecisionAction,
    #[serde(default)]
    pub reason: String,
    /// Unix seconds; required (and in the future) for `waive`.
    pub expires_at: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DecisionResult {
    key: FindingKey,
    /// `acknowledged`, `waived` or `open`.
    state: &'static str,
}

/// Acknowledge, waive or clear a finding.
#[utoipa::path(post, path = "/api/v1/findings/decisions", tag = "findings", request_body = DecisionRequest,
    responses((status = 200, description = "The finding's new state", body = DecisionResult),
        (status = 400, description = "Missing reason or expiry"), (status = 404, description = "No such finding")))]
pub(crate) async fn post_decision(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(request): Json<DecisionRequest>,
) -> Result<Response, ApiError> {
    let decided = crate::findings::decide(
        state.cp.store.as_ref(),
        &principal.name,
        &request.key,
        request.action,
        &request.reason,
        request.expires_at,
        unix_now(),
    )
    .await;
    let detail = match decided {
        Ok(detail) => detail,
        Err(error) => {
            let error = ApiError::from(error);
            let audit = decision_audit(&request.key, request.action).detail(&error.message);
            let mut response = error.into_response();
            response.extensions_mut().insert(audit);
            return Ok(response);
        }
    };
    let new_state = request.action.resulting_state();
    let mut response = Json(DecisionResult { key: request.key, state: new_state }).into_response();
    response.extensions_mut().insert(detail);
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Activity

/// One page of change events for `params` (shared with the activity page): a host filter that
/// names no known agent is an empty page.
pub(crate) async fn activity(state: &AppState, params: &ActivityParams) -> Result<Page<ActivityEvent>, ApiError> {
    let (mut query, host) = params.query(unix_now())?;
    if let Some(host) = host {
        match resolve_host(state, &host).await? {
            Some(id) => query.agent_id = Some(id),
            None => return Ok(Page { items: Vec::new(), next_cursor: None }),
        }
    }
    Ok(state.cp.store.activity(&query).await?)
}

/// The agent a host filter means: an agent id as given, else the agent with that hostname.
async fn resolve_host(state: &AppState, host: &str) -> Result<Option<String>, ApiError> {
    if state.cp.store.agent(host).await?.is_some() {
        return Ok(Some(host.to_string()));
    }
    let query = AgentQuery { search: Some(host.to_string()), limit: 50, ..AgentQuery::default() };
    let page = state.cp.store.agents_page(&query).await?;
    Ok(page.items.into_iter().find(|a| a.hostname.eq_ignore_ascii_case(host)).map(|a| a.id))
}

/// The fleet's change events, newest first.
#[utoipa::path(get, path = "/api/v1/activity", tag = "activity", params(ActivityParams),
    responses((status = 200, description = "One page of change events", body = Page<ActivityEvent>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn list_activity(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<ActivityEvent>>, ApiError> {
    let params: ActivityParams = params::parse(query.as_deref())?;
    Ok(Json(activity(&state, &params).await?))
}

// ---------------------------------------------------------------------------------------------
// Agents

/// Enrolled agents by hostname.
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents", params(AgentParams),
    responses((status = 200, description = "One page of agents", body = Page<AgentRow>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn list_agents(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<AgentRow>>, ApiError> {
    let params: AgentParams = params::parse(query.as_deref())?;
    Ok(Json(state.cp.store.agents_page(&params.query(online_since(unix_now()))?).await?))
}

/// How many agents run each version.
#[utoipa::path(get, path = "/api/v1/agents/versions", tag = "agents",
    responses((status = 200, description = "Agents per version", body = Vec<VersionCount>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn list_agent_versions(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<VersionCount>>, ApiError> {
    params::parse::<NoParams>(query.as_deref())?;
    Ok(Json(state.cp.store.agent_versions().await?))
}

// ---------------------------------------------------------------------------------------------
// Enrollment tokens

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct EnrollmentTokenView {
    pub id: String,
    pub uses: u32,
    /// 0: unlimited.
    pub max_uses: u32,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

pub(crate) async fn enrollment_tokens(state: &AppState) -> Result<Vec<EnrollmentTokenView>, ApiError> {
    let tokens = state.cp.store.list_tokens().await?;
    Ok(tokens
        .into_iter()
        .map(|t| EnrollmentTokenView {
            id: t.id,
            uses: t.uses,
            max_uses: t.max_uses,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
        })
        .collect())
}

/// Enrollment tokens (never the tokens themselves: only their hashes are stored).
#[utoipa::path(get, path = "/api/v1/admin/enrollment-tokens", tag = "agents",
    responses((status = 200, description = "Every enrollment token", body = Vec<EnrollmentTokenView>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn list_enrollment_tokens(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<EnrollmentTokenView>>, ApiError> {
    params::parse::<NoParams>(query.as_deref())?;
    Ok(Json(enrollment_tokens(&state).await?))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateEnrollmentToken {
    /// How many agents may enroll with it; 0 means unlimited.
    pub max_uses: u32,
    /// A duration such as `24h` or `7d` (at most 90 days).
    pub ttl: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedEnrollmentToken {
    pub id: String,
    /// Shown only in this response.
    pub token: String,
    pub max_uses: u32,
    pub expires_at: i64,
}

/// The API's view of a token just issued: the secret is only in this value.
pub(crate) fn created_enrollment_token(issued: crate::enroll::IssuedToken) -> CreatedEnrollmentToken {
    CreatedEnrollmentToken {
        id: issued.id,
        token: issued.token,
        max_uses: issued.max_uses,
        expires_at: issued.expires_at,
    }
}

/// Create an enrollment token.
#[utoipa::path(post, path = "/api/v1/admin/enrollment-tokens", tag = "agents", request_body = CreateEnrollmentToken,
    responses((status = 201, description = "The token, shown once", body = CreatedEnrollmentToken)))]
pub(crate) async fn create_enrollment_token(
    State(state): State<AppState>,
    Json(request): Json<CreateEnrollmentToken>,
) -> Result<Response, ApiError> {
    let ttl = crate::enroll::admin::parse_ttl(&request.ttl)?;
    let (issued, detail) =
        crate::enroll::admin::issue(state.cp.store.as_ref(), request.max_uses, ttl, unix_now()).await?;
    let mut response = (StatusCode::CREATED, Json(created_enrollment_token(issued))).into_response();
    response.extensions_mut().insert(detail);
    Ok(response)
}

/// Revoke an enrollment token.
#[utoipa::path(post, path = "/api/v1/admin/enrollment-tokens/{id}/revoke", tag = "agents",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No active token with this id")))]
pub(crate) async fn revoke_enrollment_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let detail = crate::enroll::admin::revoke(state.cp.store.as_ref(), &id, unix_now()).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.extensions_mut().insert(detail);
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Webhooks

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct WebhookView {
    pub id: String,
    pub url: String,
    /// `high` (high and critical findings) or `critical`.
    pub min_severity: &'static str,
    pub enabled: bool,
    pub created_at: i64,
}

pub(crate) async fn webhooks(state: &AppState) -> Result<Vec<WebhookView>, ApiError> {
    let records = state.cp.store.list_webhooks().await?;
    Ok(records
        .into_iter()
        .map(|w| WebhookView {
            id: w.id,
            url: w.url,
            min_severity: Severity::word_of(w.min_severity),
            enabled: w.enabled,
            created_at: w.created_at,
        })
        .collect())
}

/// Webhook endpoints (their signing secrets are never listed).
#[utoipa::path(get, path = "/api/v1/admin/webhooks", tag = "webhooks",
    responses((status = 200, description = "Every webhook endpoint", body = Vec<WebhookView>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn list_webhooks(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<WebhookView>>, ApiError> {
    params::parse::<NoParams>(query.as_deref())?;
    Ok(Json(webhooks(&state).await?))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateWebhook {
    /// An absolute http(s) URL.
    pub url: String,
    /// `high` (high and critical findings, the default) or `critical`.
    #[serde(default)]
    pub min_severity: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedWebhook {
    pub id: String,
    pub url: String,
    pub min_severity: &'static str,
    /// The HMAC key for `Muster-Signature`; shown only in this response.
    pub secret: String,
}

/// The API's view of an endpoint just registered: the secret is only in this value.
pub(crate) fn created_webhook(webhook: crate::store::exports::NewWebhook) -> CreatedWebhook {
    CreatedWebhook {
        min_severity: Severity::word_of(webhook.min_severity),
        id: webhook.id,
        url: webhook.url,
        secret: webhook.secret,
    }
}

/// Register a webhook endpoint for new high / critical findings.
#[utoipa::path(post, path = "/api/v1/admin/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, description = "The endpoint and its secret, shown once", body = CreatedWebhook)))]
pub(crate) async fn post_webhook(
    State(state): State<AppState>,
    Json(request): Json<CreateWebhook>,
) -> Result<Response, ApiError> {
    let (webhook, detail) =
        crate::webhook::admin::create(state.cp.store.as_ref(), &request.url, request.min_severity.as_deref()).await?;
    let mut response = (StatusCode::CREATED, Json(created_webhook(webhook))).into_response();
    response.extensions_mut().insert(detail);
    Ok(response)
}

/// Delete a webhook endpoint and its delivery log.
#[utoipa::path(delete, path = "/api/v1/admin/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such webhook")))]
pub(crate) async fn delete_webhook(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let detail = crate::webhook::admin::delete(state.cp.store.as_ref(), &id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.extensions_mut().insert(detail);
    Ok(response)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    pub event_id: String,
    pub attempt: u32,
    /// `delivered`, `retrying` or `failed`.
    pub status: &'static str,
    pub response_code: Option<u16>,
    pub latency_ms: u64,
    pub error: String,
    pub attempted_at: i64,
    pub next_retry_at: Option<i64>,
}

/// How many delivery attempts the log shows.
pub(crate) const DELIVERY_LOG_LIMIT: u32 = 200;

/// The latest delivery attempts of one webhook, newest first; None when it does not exist.
pub(crate) async fn deliveries(
    state: &AppState,
    id: &str,
) -> Result<Option<(WebhookView, Vec<DeliveryView>)>, ApiError> {
    let Some(webhook) = webhooks(state).await?.into_iter().find(|w| w.id == id) else {
        return Ok(None);
    };
    let attempts = state.cp.store.list_deliveries(id, DELIVERY_LOG_LIMIT).await?;
    let views = attempts
        .into_iter()
        .rev()
        .map(|a: DeliveryAttempt| DeliveryView {
            event_id: a.event_id,
            attempt: a.attempt,
            status: a.status.as_str(),
            response_code: a.response_code,
            latency_ms: a.latency_ms,
            error: a.error,
            attempted_at: a.attempted_at,
            next_retry_at: a.next_retry_at,
        })
        .collect();
    Ok(Some((webhook, views)))
}

/// The delivery log of one webhook, newest first.
#[utoipa::path(get, path = "/api/v1/admin/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, description = "Latest delivery attempts", body = Vec<DeliveryView>),
        (status = 400, description = "Invalid argument", body = ErrorBody), (status = 404, description = "No such webhook")))]
pub(crate) async fn list_deliveries(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    params::parse::<NoParams>(query.as_deref())?;
    match deliveries(&state, &id).await? {
        Some((_, views)) => Ok(Json(views)),
        None => Err(ApiError::new(ErrorCode::NotFound, "no webhook with this id")),
    }
}
