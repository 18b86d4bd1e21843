//! The JSON API of policy exception requests: create (any signed-in role; developers' trays file
//! theirs through their agent and the `Exceptions` gRPC service instead), list (analysts), approve with an expiry or deny with a note (admins: an
//! approval publishes a policy version). Handlers call the use-cases of
//! [`crate::exception_requests`] and attach their audit events; they check no role themselves.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ErrorBody;
use super::params::{self, ParamError};
use super::principal::Principal;
use super::roles::Access;
use super::{AppState, Route};
use crate::error::ApiError;
use crate::exception_requests::{self as requests, NewRequest};
use crate::state::unix_now;
use crate::store::Role;
use crate::store::exception_requests::{ExceptionRequestRecord, RequestState};

pub(crate) fn routes() -> Vec<Route> {
    use Access::Role as Needs;
    vec![
        Route::new(Method::POST, "/api/v1/exception-requests", Needs(Role::Viewer), create_request),
        Route::new(Method::GET, "/api/v1/exception-requests", Needs(Role::Analyst), list_requests),
        Route::new(Method::POST, "/api/v1/exception-requests/{id}/approve", Needs(Role::Admin), approve_request),
        Route::new(Method::POST, "/api/v1/exception-requests/{id}/deny", Needs(Role::Admin), deny_request),
    ]
}

/// A request to lift policy rules.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRequest {
    /// Rule ids of the current policy, or `["*"]`.
    pub rules: Vec<String>,
    /// The endpoint (agent id) to cover; at least one of agent_id, server_id, user.
    #[serde(default)]
    pub agent_id: String,
    #[serde(default)]
    pub server_id: String,
    /// The OS user to cover.
    #[serde(default)]
    pub user: String,
    pub reason: String,
}

/// An exception request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ExceptionRequestView {
    pub id: String,
    pub requested_by: String,
    /// RFC 3339.
    pub created_at: String,
    pub rules: Vec<String>,
    pub agent_id: String,
    pub server_id: String,
    pub user: String,
    pub reason: String,
    /// `pending`, `approved` or `denied`.
    pub state: String,
    pub decided_by: String,
    pub decided_at: Option<String>,
    pub note: String,
    /// For an approval: when the exception ends (RFC 3339).
    pub expires_at: Option<String>,
    /// For an approval: the policy version that carries the exception.
    pub policy_version: Option<u64>,
}

impl From<ExceptionRequestRecord> for ExceptionRequestView {
    fn from(r: ExceptionRequestRecord) -> Self {
        let time = crate::timefmt::rfc3339;
        ExceptionRequestView {
            id: r.id,
            requested_by: r.requested_by,
            created_at: time(r.created_at),
            rules: r.rules,
            agent_id: r.agent_id,
            server_id: r.server_id,
            user: r.user,
            reason: r.reason,
            state: r.state.as_str().to_string(),
            decided_by: r.decided_by,
            decided_at: r.decided_at.map(time),
            note: r.note,
            expires_at: r.expires_at.map(time),
            policy_version: r.policy_version,
        }
    }
}

/// Records a pending exception request by the caller.
#[utoipa::path(post, path = "/api/v1/exception-requests", tag = "policies", request_body = CreateRequest,
    responses((status = 201, description = "The pending request", body = ExceptionRequestView),
              (status = 400, description = "Invalid request (unknown rule, nothing to cover, no reason)", body = ErrorBody)))]
pub(crate) async fn create_request(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<CreateRequest>,
) -> Result<Response, ApiError> {
    let new = NewRequest {
        rules: body.rules,
        agent_id: body.agent_id,
        server_id: body.server_id,
        user: body.user,
        reason: body.reason,
    };
    match requests::create(state.cp.store.as_ref(), state.cp.as_ref(), &principal.name, &new, unix_now()).await {
        Ok((record, event)) => {
            let mut response = (StatusCode::CREATED, Json(ExceptionRequestView::from(record))).into_response();
            response.extensions_mut().insert(event);
            Ok(response)
        }
        Err(error) => Err(error.into()),
    }
}

/// Which requests to list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RequestListParams {
    /// `pending`, `approved` or `denied`; all when absent.
    pub state: Option<String>,
    /// At most this many, newest first (1 to 500, default 100).
    pub limit: Option<u32>,
}

impl RequestListParams {
    fn query(&self) -> Result<(Option<RequestState>, u32), ParamError> {
        let state = match self.state.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => Some(
                RequestState::parse(text)
                    .ok_or_else(|| ParamError(format!("state: `{text}` is not one of pending, approved, denied")))?,
            ),
        };
        let limit = self.limit.unwrap_or(100);
        if !(1..=500).contains(&limit) {
            return Err(ParamError("limit: must be between 1 and 500".into()));
        }
        Ok((state, limit))
    }
}

/// Exception requests, newest first.
#[utoipa::path(get, path = "/api/v1/exception-requests", tag = "policies", params(RequestListParams),
    responses((status = 200, description = "Requests, newest first", body = [ExceptionRequestView]),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn list_requests(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<ExceptionRequestView>>, ApiError> {
    let params: RequestListParams = params::parse(query.as_deref())?;
    let (filter, limit) = params.query()?;
    let list = requests::list(state.cp.store.as_ref(), filter, limit).await?;
    Ok(Json(list.into_iter().map(ExceptionRequestView::from).collect()))
}

/// An approval.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApproveRequest {
    /// When the exception ends: Unix seconds, in the future (as a finding waiver's expiry).
    pub expires_at: i64,
    #[serde(default)]
    pub note: String,
}

/// A denial.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DenyRequest {
    #[serde(default)]
    pub note: String,
}

/// What a decision did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct DecisionOutcome {
    pub id: String,
    /// `approved` or `denied`.
    pub state: String,
    /// For an approval: the policy version published with the exception.
    pub policy_version: Option<u64>,
}

fn refused_with_audit(error: crate::error::ActionError, action: &str, id: &str) -> Response {
    let error = ApiError::from(error);
    let event = crate::audit::AuditEvent::new(action, &format!("exception-request/{id}")).detail(&error.message);
    let mut response = error.into_response();
    response.extensions_mut().insert(event);
    response
}

/// Approves a pending request until `expires_at`: publishes the current policy with the
/// request's exception as a new version.
#[utoipa::path(post, path = "/api/v1/exception-requests/{id}/approve", tag = "policies", request_body = ApproveRequest,
    params(("id" = String, Path, description = "Request id")),
    responses((status = 200, description = "Approved and published", body = DecisionOutcome),
              (status = 400, description = "Not pending, or a bad expiry", body = ErrorBody),
              (status = 404, description = "No such request", body = ErrorBody)))]
pub(crate) async fn approve_request(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<ApproveRequest>,
) -> Response {
    let expires_at = body.expires_at;
    let store = state.cp.store.as_ref();
    match requests::approve(store, state.cp.as_ref(), &id, &principal.name, expires_at, &body.note, unix_now()).await {
        Ok((version, event)) => {
            let outcome = DecisionOutcome { id, state: "approved".into(), policy_version: Some(version) };
            let mut response = Json(outcome).into_response();
            response.extensions_mut().insert(event);
            response
        }
        Err(error) => refused_with_audit(error, "exception_request.approve", &id),
    }
}

/// Denies a pending request.
#[utoipa::path(post, path = "/api/v1/exception-requests/{id}/deny", tag = "policies", request_body = DenyRequest,
    params(("id" = String, Path, description = "Request id")),
    responses((status = 200, description = "Denied", body = DecisionOutcome),
              (status = 400, description = "Not pending", body = ErrorBody),
              (status = 404, description = "No such request", body = ErrorBody)))]
pub(crate) async fn deny_request(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<DenyRequest>,
) -> Response {
    match requests::deny(state.cp.store.as_ref(), state.cp.as_ref(), &id, &principal.name, &body.note, unix_now()).await
    {
        Ok(event) => {
            let outcome = DecisionOutcome { id, state: "denied".into(), policy_version: None };
            let mut response = Json(outcome).into_response();
            response.extensions_mut().insert(event);
            response
        }
        Err(error) => refused_with_audit(error, "exception_request.deny", &id),
    }
}
