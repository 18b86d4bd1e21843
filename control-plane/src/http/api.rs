//! The JSON API under `/api/v1`: for now the caller's identity and the admin endpoints for API
//! tokens, users and the audit log. Inventory endpoints plug in here as [`Route`]s with the role
//! each needs; errors are [`ApiError`]s (JSON, status from the error-code table).

use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::AuditDetail;
use super::auth::tokens::{self, ApiTokenError};
use super::auth::{AuthMethod, Principal};
use super::openapi::ErrorBody;
use super::params::{self, AuditParams, NoParams};
use super::roles::Access;
use super::{AppState, Route};
use crate::error::{ApiError, ErrorCode};
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
    let (issued, audit) = issue_api_token(&state, &principal, &request.name, request.role, &request.ttl).await?;
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

/// Validates and creates an API token for `principal`: the token and its audit detail. Shared by
/// [`create_token`] and the settings page.
pub(crate) async fn issue_api_token(
    state: &AppState,
    principal: &Principal,
    name: &str,
    role: Role,
    ttl: &str,
) -> Result<(tokens::IssuedApiToken, AuditDetail), ApiError> {
    let ttl: Duration = humantime::parse_duration(ttl.trim())
        .map_err(|_| ApiError::new(ErrorCode::InvalidArgument, "ttl: expected a duration such as 30d"))?;
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::new(ErrorCode::InvalidArgument, "name: 1 to 100 characters"));
    }
    let issued = tokens::create_api_token(state.cp.store.as_ref(), name, role, ttl, &principal.name, unix_now())
        .await
        .map_err(|error| match error {
            ApiTokenError::Ttl => ApiError::new(ErrorCode::InvalidArgument, error.to_string()),
            ApiTokenError::Store(error) => ApiError::from(error),
            other => ApiError::internal(&other),
        })?;
    let detail = format!("role {}, name {name}", issued.role);
    let audit = AuditDetail::new("api_token.create", &issued.id).detail(&detail);
    Ok((issued, audit))
}

/// Revokes an API token.
#[utoipa::path(post, path = "/api/v1/admin/api-tokens/{id}/revoke", tag = "admin",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "Not found", body = ErrorBody)))]
pub(crate) async fn revoke_token(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let audit = revoke_api_token(&state, &id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.extensions_mut().insert(audit);
    Ok(response)
}

/// Revokes an API token; the audit detail on success. Shared with the settings page.
pub(crate) async fn revoke_api_token(state: &AppState, id: &str) -> Result<AuditDetail, ApiError> {
    if !state.cp.store.revoke_api_token(id, unix_now()).await? {
        return Err(ApiError::new(ErrorCode::NotFound, "no active API token with this id"));
    }
    Ok(AuditDetail::new("api_token.revoke", id))
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
    let audit = add_user(&state, &principal, &username, role, password).await?;
    let mut response = StatusCode::CREATED.into_response();
    response.extensions_mut().insert(audit);
    Ok(response)
}

/// Creates a local account (argon2id off the async workers); the audit detail on success.
/// Shared by [`create_user`] and the settings page.
pub(crate) async fn add_user(
    state: &AppState,
    principal: &Principal,
    username: &str,
    role: Role,
    password: String,
) -> Result<AuditDetail, ApiError> {
    use super::auth::accounts::{AccountError, add_hashed_user};
    use super::auth::password::{PasswordError, hash_password};
    // argon2id takes tens of milliseconds: off the async workers.
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|error| match error {
            PasswordError::Hash(_) => ApiError::internal(&error),
            other => ApiError::new(ErrorCode::InvalidArgument, other.to_string()),
        })?;
    match add_hashed_user(state.cp.store.as_ref(), username, role, hash, unix_now()).await {
        Ok(()) => {
            let detail = format!("role {role}, by {}", principal.name);
            Ok(AuditDetail::new("user.create", username).detail(&detail))
        }
        Err(AccountError::Store(error)) => Err(ApiError::from(error)),
        Err(error) => Err(ApiError::new(ErrorCode::InvalidArgument, error.to_string())),
    }
}

/// Revokes an agent: its certificate is refused from now on.
#[utoipa::path(post, path = "/api/v1/admin/agents/{id}/revoke", tag = "admin",
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "Not found", body = ErrorBody)))]
pub(crate) async fn revoke_agent(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let audit = revoke_agent_by_id(&state, &id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.extensions_mut().insert(audit);
    Ok(response)
}

/// Revokes an agent through the control plane, which also closes its open streams; the audit
/// detail on success. Shared by [`revoke_agent`] and the agents page.
pub(crate) async fn revoke_agent_by_id(state: &AppState, id: &str) -> Result<AuditDetail, ApiError> {
    if !state.cp.revoke_agent(id).await? {
        return Err(ApiError::new(ErrorCode::NotFound, "no active agent with this id"));
    }
    Ok(AuditDetail::new("agent.revoke", id))
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
