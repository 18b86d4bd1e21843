//! The JSON API under `/api/v1`: the caller's identity and the admin endpoints for API tokens,
//! users, agent revocation and the audit log. Writes go through the use-cases (`crate::access`,
//! `crate::agents`); handlers translate JSON and attach the returned audit event. Errors are
//! [`ApiError`]s (JSON, status from the error-code table).

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::params::{self, AuditParams, NoParams};
use super::principal::{AuthMethod, Principal};
use super::roles::Access;
use super::{AppState, Route};
use crate::access::{accounts, api_tokens};
use crate::error::ApiError;
use crate::state::unix_now;
use crate::store::Role;

pub(crate) fn routes() -> Vec<Route> {
    use Access::Role as Needs;
    vec![
        Route::new(Method::GET, "/api/v1/whoami", Needs(Role::Viewer), whoami),
        Route::new(Method::GET, "/api/v1/admin/api-tokens", Needs(Role::Admin), list_tokens),
        Route::new(Method::POST, "/api/v1/admin/api-tokens", Needs(Role::Admin), create_token),
        Route::new(Method::POST, "/api/v1/admin/api-tokens/{id}/revoke", Needs(Role::Admin), revoke_token),
        Route::new(Method::GET, "/api/v1/admin/users", Needs(Role::Admin), list_users),
        Route::new(Method::POST, "/api/v1/admin/users", Needs(Role::Admin), create_user),
        Route::new(Method::POST, "/api/v1/admin/agents/{id}/revoke", Needs(Role::Admin), revoke_agent),
        Route::new(Method::GET, "/api/v1/admin/audit", Needs(Role::Admin), list_audit),
    ]
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WhoAmI {
    name: String,
    role: Role,
    via: &'static str,
}

/// The caller's identity: name, role and how it signed in.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "account",
    responses((status = 200, description = "The caller", body = WhoAmI), (status = 400, description = "Invalid argument", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
pub(crate) async fn whoami(
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Result<Json<WhoAmI>, ApiError> {
    params::parse::<NoParams>(query.as_deref())?;
    let via = match principal.method {
        AuthMethod::Session { .. } => "session",
        AuthMethod::ApiToken { .. } => "api_token",
    };
    Ok(Json(WhoAmI { name: principal.name, role: principal.role, via }))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenView {
    id: String,
    name: String,
    role: Role,
    created_by: String,
    created_at: i64,
    expires_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

/// Every API token (never the token itself).
#[utoipa::path(get, path = "/api/v1/admin/api-tokens", tag = "admin",
    responses((status = 200, description = "API tokens", body = [TokenView]), (status = 400, description = "Invalid argument", body = ErrorBody),
        (status = 403, description = "Role too small", body = ErrorBody)))]
pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    params::parse::<NoParams>(query.as_deref())?;
    let tokens = state.cp.store.list_api_tokens().await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| TokenView {
                id: t.id,
                name: t.name,
                role: t.role,
                created_by: t.created_by,
                created_at: t.created_at,
                expires_at: t.expires_at,
                last_used_at: t.last_used_at,
                revoked_at: t.revoked_at,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateToken {
    name: String,
    role: Role,
    /// A duration such as `30d` or `12h`.
    ttl: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedToken {
    id: String,
    /// Shown only in this response.
    token: String,
    role: Role,
    expires_at: i64,
}

/// Issues an API token; the token is in this response only.
#[utoipa::path(post, path = "/api/v1/admin/api-tokens", tag = "admin", request_body = CreateToken,
    responses((status = 201, description = "The new token", body = CreatedToken), (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(request): Json<CreateToken>,
) -> Result<Response, ApiError> {
    let ttl = api_tokens::parse_ttl(&request.ttl)?;
    let (issued, audit) =
        api_tokens::issue(state.cp.store.as_ref(), &principal.name, &request.name, request.role, ttl, unix_now())
            .await?;
    let mut response = (
        StatusCode::CREATED,
        Json(CreatedToken {
            id: issued.id.clone(),
            token: issued.token,
            role: issued.role,
            expires_at: issued.expires_at,
        }),
    )
        .into_response();
    response.extensions_mut().insert(audit);
    Ok(response)
}

/// Revokes an API token.
#[utoipa::path(post, path = "/api/v1/admin/api-tokens/{id}/revoke", tag = "admin",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "Not found", body = ErrorBody)))]
pub(crate) async fn revoke_token(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let audit = api_tokens::revoke(state.cp.store.as_ref(), &id, unix_now()).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.extensions_mut().insert(audit);
    Ok(response)
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserView {
    username: String,
    role: Role,
    source: &'static str,
    created_at: i64,
    disabled: bool,
}

/// Every local and single-sign-on user.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    responses((status = 200, description = "Users", body = [UserView]), (status = 400, description = "Invalid argument", body = ErrorBody),
        (status = 403, description = "Role too small", body = ErrorBody)))]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<UserView>>, ApiError> {
    params::parse::<NoParams>(query.as_deref())?;
    let users = state.cp.store.list_users().await?;
    Ok(Json(
        users
            .into_iter()
            .map(|u| UserView {
                username: u.username,
                role: u.role,
                source: u.source.as_str(),
                created_at: u.created_at,
                disabled: u.disabled_at.is_some(),
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateUser {
    username: String,
    role: Role,
    password: String,
}

impl std::fmt::Debug for CreateUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUser").field("username", &self.username).field("role", &self.role).finish_non_exhaustive()
    }
}

/// Adds a local user with a password.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin", request_body = CreateUser,
    responses((status = 201, description = "Created"), (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(request): Json<CreateUser>,
) -> Result<Response, ApiError> {
    let CreateUser { username, role, password } = request;
    let audit =
        accounts::create_user(state.cp.store.as_ref(), &principal.name, &username, role, password, unix_now()).await?;
    let mut response = StatusCode::CREATED.into_response();
    response.extensions_mut().insert(audit);
    Ok(response)
}

/// Revokes an agent: its certificate is refused from now on.
#[utoipa::path(post, path = "/api/v1/admin/agents/{id}/revoke", tag = "admin",
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "Not found", body = ErrorBody)))]
pub(crate) async fn revoke_agent(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let audit = crate::agents::revoke(state.cp.store.as_ref(), state.cp.as_ref(), &id, unix_now()).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.extensions_mut().insert(audit);
    Ok(response)
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditView {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    target: String,
    source_addr: String,
    outcome: &'static str,
    detail: String,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(AuditParams),
    responses((status = 200, description = "Audit records", body = [AuditView]), (status = 400, description = "Invalid argument", body = ErrorBody),
        (status = 403, description = "Role too small", body = ErrorBody)))]
pub(crate) async fn list_audit(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<AuditView>>, ApiError> {
    let (before, limit) = params::parse::<AuditParams>(query.as_deref())?.query()?;
    let records = state.cp.store.list_audit(before, limit).await?;
    Ok(Json(
        records
            .into_iter()
            .map(|r| AuditView {
                id: r.id,
                at: r.entry.at,
                actor: r.entry.actor,
                action: r.entry.action,
                target: r.entry.target,
                source_addr: r.entry.source_addr,
                outcome: r.entry.outcome.as_str(),
                detail: r.entry.detail,
            })
            .collect(),
    ))
}
