//! The JSON API of fleet operations under `/api/v1`: findings and their decisions (acknowledge,
//! waive, clear), change activity, agents, and the admin endpoints for enrollment tokens and
//! webhooks with their delivery log.
//!
//! The rules shared with the pages live here as plain functions ([`decide`], [`issue_enrollment_token`],
//! [`create_webhook`], the query parsers), so a form and an API call cannot drift apart. Handlers
//! never check roles (the route table does) nor write audit rows (they attach an [`AuditDetail`]).

use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{Method, StatusCode};
use muster_proto::v1::Severity;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::AuditDetail;
use super::auth::Principal;
use super::openapi::ErrorBody;
use super::pages::components::severity_name;
use super::params::{self, ActivityParams, AgentParams, FindingParams, NoParams, online_since};
use super::roles::Access;
use super::{AppState, Route};
use crate::error::{ApiError, ErrorCode};
use crate::state::unix_now;
use crate::store::Role;
use crate::store::exports::DeliveryAttempt;
use crate::store::read::{
    ActivityEvent, AgentQuery, AgentRow, DecisionKind, FindingKey, FindingView, Page, VersionCount,
};

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

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidArgument, message)
}

/// Treats empty query values (an untouched filter field) as absent.
pub(crate) fn non_empty(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
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

/// What an analyst does to a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DecisionAction {
    Acknowledge,
    Waive,
    Clear,
}

impl DecisionAction {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "acknowledge" => Some(Self::Acknowledge),
            "waive" => Some(Self::Waive),
            "clear" => Some(Self::Clear),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledge => "acknowledge",
            Self::Waive => "waive",
            Self::Clear => "clear",
        }
    }
}

/// Longest reason kept with a decision.
pub(crate) const MAX_REASON: usize = 500;

/// Checks and records a decision on `key` for `who`; the audit detail to attach on success.
/// Waiving needs a reason and a future expiry; acknowledging takes an optional reason.
pub(crate) async fn decide(
    state: &AppState,
    who: &str,
    key: &FindingKey,
    action: DecisionAction,
    reason: &str,
    expires_at: Option<i64>,
) -> Result<AuditDetail, ApiError> {
    let now = unix_now();
    let reason = reason.trim();
    if reason.chars().count() > MAX_REASON {
        return Err(invalid(format!("reason: at most {MAX_REASON} characters")));
    }
    if key.agent_id.is_empty() || key.finding_id.is_empty() {
        return Err(invalid("key: agent_id and finding_id are required"));
    }
    let stored = match action {
        DecisionAction::Clear => {
            if !state.cp.store.clear_finding_decision(key, now).await? {
                return Err(ApiError::new(ErrorCode::NotFound, "this finding has no decision to clear"));
            }
            true
        }
        DecisionAction::Acknowledge => {
            if expires_at.is_some_and(|at| at <= now) {
                return Err(invalid("expires_at: must be in the future"));
            }
            state.cp.store.decide_finding(key, DecisionKind::Acknowledged, reason, expires_at, who, now).await?
        }
        DecisionAction::Waive => {
            if reason.is_empty() {
                return Err(invalid("reason: a waiver needs a reason"));
            }
            match expires_at {
                Some(at) if at > now => {}
                Some(_) => return Err(invalid("expires_at: a waiver must expire in the future")),
                None => return Err(invalid("expires_at: a waiver needs an expiry")),
            }
            state.cp.store.decide_finding(key, DecisionKind::Waived, reason, expires_at, who, now).await?
        }
    };
    if !stored {
        return Err(ApiError::new(ErrorCode::NotFound, "no such finding"));
    }
    let mut detail = decision_audit(key, action);
    if !reason.is_empty() || expires_at.is_some() {
        let expiry = expires_at.map(|at| format!(", expires {}", crate::export::rfc3339(at))).unwrap_or_default();
        detail = detail.detail(&format!("reason {reason:?}{expiry}"));
    }
    Ok(detail)
}

/// The audit entry of a decision on `key` (callers add the refusal's message when it fails).
pub(crate) fn decision_audit(key: &FindingKey, action: DecisionAction) -> AuditDetail {
    let target = if key.subject.is_empty() {
        format!("{}/{}/{}", key.agent_id, key.server_id, key.finding_id)
    } else {
        format!("{}/{}/{}/{}", key.agent_id, key.server_id, key.finding_id, key.subject)
    };
    AuditDetail::new(&format!("finding.{}", action.as_str()), &target)
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
    let detail = match decide(
        &state,
        &principal.name,
        &request.key,
        request.action,
        &request.reason,
        request.expires_at,
    )
    .await
    {
        Ok(detail) => detail,
        Err(error) => {
            let audit = decision_audit(&request.key, request.action).detail(&error.message);
            let mut response = error.into_response();
            response.extensions_mut().insert(audit);
            return Ok(response);
        }
    };
    let new_state = match request.action {
        DecisionAction::Acknowledge => "acknowledged",
        DecisionAction::Waive => "waived",
        DecisionAction::Clear => "open",
    };
    let mut response = Json(DecisionResult { key: request.key, state: new_state }).into_response();
    response.extensions_mut().insert(detail);
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Activity

/// One page of change events for `params` (shared with the activity page): a host filter that
/// names no known agent is an empty page.
pub(crate) async fn activity(state: &AppState, params: &ActivityParams) -> Result<Page<ActivityEvent>, ApiError> {
    let (mut query, host) = params.query()?;
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

/// Longest lifetime of an enrollment token.
pub(crate) const MAX_ENROLLMENT_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

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

/// Validates and creates an enrollment token; the secret is only in the return value.
pub(crate) async fn issue_enrollment_token(
    state: &AppState,
    request: &CreateEnrollmentToken,
) -> Result<CreatedEnrollmentToken, ApiError> {
    let ttl = humantime::parse_duration(request.ttl.trim())
        .map_err(|_| invalid("ttl: expected a duration such as 24h or 7d"))?;
    if ttl < Duration::from_secs(60) || ttl > MAX_ENROLLMENT_TTL {
        return Err(invalid("ttl: between 1 minute and 90 days"));
    }
    if request.max_uses > 100_000 {
        return Err(invalid("max_uses: at most 100000 (0 for unlimited)"));
    }
    let issued = state.cp.create_token(request.max_uses, ttl).await.map_err(|error| ApiError::internal(&error))?;
    Ok(CreatedEnrollmentToken {
        id: issued.id,
        token: issued.token,
        max_uses: issued.max_uses,
        expires_at: issued.expires_at,
    })
}

pub(crate) fn enrollment_token_audit(created: &CreatedEnrollmentToken) -> AuditDetail {
    AuditDetail::new("enrollment_token.create", &created.id).detail(&format!(
        "max uses {}, expires {}",
        created.max_uses,
        crate::export::rfc3339(created.expires_at)
    ))
}

/// Create an enrollment token.
#[utoipa::path(post, path = "/api/v1/admin/enrollment-tokens", tag = "agents", request_body = CreateEnrollmentToken,
    responses((status = 201, description = "The token, shown once", body = CreatedEnrollmentToken)))]
pub(crate) async fn create_enrollment_token(
    State(state): State<AppState>,
    Json(request): Json<CreateEnrollmentToken>,
) -> Result<Response, ApiError> {
    let created = issue_enrollment_token(&state, &request).await?;
    let detail = enrollment_token_audit(&created);
    let mut response = (StatusCode::CREATED, Json(created)).into_response();
    response.extensions_mut().insert(detail);
    Ok(response)
}

pub(crate) async fn revoke_enrollment(state: &AppState, id: &str) -> Result<AuditDetail, ApiError> {
    if !state.cp.store.revoke_token(id, unix_now()).await? {
        return Err(ApiError::new(ErrorCode::NotFound, "no active enrollment token with this id"));
    }
    Ok(AuditDetail::new("enrollment_token.revoke", id))
}

/// Revoke an enrollment token.
#[utoipa::path(post, path = "/api/v1/admin/enrollment-tokens/{id}/revoke", tag = "agents",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No active token with this id")))]
pub(crate) async fn revoke_enrollment_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let detail = revoke_enrollment(&state, &id).await?;
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
            min_severity: severity_name(w.min_severity),
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

/// Validates and registers a webhook endpoint; the secret is only in the return value.
pub(crate) async fn create_webhook(state: &AppState, request: &CreateWebhook) -> Result<CreatedWebhook, ApiError> {
    let min = match non_empty(&request.min_severity).as_deref() {
        None | Some("high") => Severity::High,
        Some("critical") => Severity::Critical,
        Some(_) => return Err(invalid("min_severity: high or critical")),
    };
    let url = request.url.trim();
    if url.len() > 2000 {
        return Err(invalid("url: at most 2000 characters"));
    }
    let webhook = crate::webhook::register(state.cp.store.as_ref(), url, min).await.map_err(|error| match error {
        crate::webhook::WebhookError::InvalidUrl(_) => invalid("url: an absolute http or https URL"),
        crate::webhook::WebhookError::Store(error) => ApiError::from(error),
        other => ApiError::internal(&other),
    })?;
    Ok(CreatedWebhook {
        id: webhook.id.clone(),
        url: webhook.url.clone(),
        min_severity: severity_name(webhook.min_severity),
        secret: webhook.secret.clone(),
    })
}

pub(crate) fn webhook_audit(created: &CreatedWebhook) -> AuditDetail {
    // The host only: receivers such as chat services carry their own secret in the URL path.
    let host = reqwest::Url::parse(&created.url).ok().and_then(|url| url.host_str().map(str::to_string));
    AuditDetail::new("webhook.create", &created.id).detail(&format!(
        "host {}, min severity {}",
        host.unwrap_or_default(),
        created.min_severity
    ))
}

/// Register a webhook endpoint for new high / critical findings.
#[utoipa::path(post, path = "/api/v1/admin/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, description = "The endpoint and its secret, shown once", body = CreatedWebhook)))]
pub(crate) async fn post_webhook(
    State(state): State<AppState>,
    Json(request): Json<CreateWebhook>,
) -> Result<Response, ApiError> {
    let created = create_webhook(&state, &request).await?;
    let detail = webhook_audit(&created);
    let mut response = (StatusCode::CREATED, Json(created)).into_response();
    response.extensions_mut().insert(detail);
    Ok(response)
}

pub(crate) async fn remove_webhook(state: &AppState, id: &str) -> Result<AuditDetail, ApiError> {
    if !state.cp.store.delete_webhook(id).await? {
        return Err(ApiError::new(ErrorCode::NotFound, "no webhook with this id"));
    }
    Ok(AuditDetail::new("webhook.delete", id))
}

/// Delete a webhook endpoint and its delivery log.
#[utoipa::path(delete, path = "/api/v1/admin/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such webhook")))]
pub(crate) async fn delete_webhook(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let detail = remove_webhook(&state, &id).await?;
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
