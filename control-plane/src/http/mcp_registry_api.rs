//! The MCP Registry routes (`/v0.1/servers`, `/v0.1/servers/{name}/versions/{version}`): the
//! servers the policy in force allows, in the registry format, for clients pointed at this URL
//! by their vendor console (see `crate::mcp_registry` and docs/policies.md).
//!
//! Public, as registry reads are (the clients fetch it without a dashboard login), read-only,
//! and rate-limited per client address because each call walks the stored fleet. Responses
//! carry the CORS headers GitHub requires of a private registry (any origin, `GET, OPTIONS`;
//! nothing here depends on cookies), and `OPTIONS` answers preflights. Unknown query parameters are refused as
//! everywhere else; `updated_since` and `include_deleted` are not offered.

use std::time::Instant;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, header};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ErrorBody;
use super::params;
use super::principal::ClientAddr;
use super::roles::Access;
use super::{AppState, Route};
use crate::error::{ApiError, ErrorCode};
use crate::mcp_registry::{self, RegistryError, ServerList, ServerResponse};
use crate::state::unix_now;

/// Where the list is served.
pub const SERVERS_PATH: &str = "/v0.1/servers";
/// Where one version is served (`latest` for the latest).
pub const VERSION_PATH: &str = "/v0.1/servers/{name}/versions/{version}";

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::GET, SERVERS_PATH, Access::Public, list_servers),
        Route::new(Method::GET, VERSION_PATH, Access::Public, get_version),
        Route::new(Method::OPTIONS, SERVERS_PATH, Access::Public, preflight),
        Route::new(Method::OPTIONS, VERSION_PATH, Access::Public, preflight),
    ]
}

/// Query parameters of the list.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// `metadata.nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Entries per page, 1 to 100 (default 30).
    pub limit: Option<usize>,
    /// Substring of the name or description, case-insensitive.
    pub search: Option<String>,
    /// `latest`: only the latest version of each server.
    pub version: Option<String>,
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::Store(e) => Self::from(e),
            e @ (RegistryError::Limit | RegistryError::Version) => Self::new(ErrorCode::InvalidArgument, e.to_string()),
            other => Self::internal(&other),
        }
    }
}

/// Refuses a caller that has used up its reads.
fn check_rate(state: &AppState, addr: ClientAddr) -> Result<(), ApiError> {
    if state.access.registry_reads.allow(&addr.to_string(), Instant::now()) {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::ResourceExhausted, "too many registry reads; retry in a minute"))
    }
}

/// The CORS headers GitHub documents for a private registry, on every answer.
fn with_cors(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, OPTIONS"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Authorization, Content-Type"));
    response
}

/// A browser's CORS preflight: no body, the CORS headers.
async fn preflight() -> Response {
    with_cors(http::StatusCode::NO_CONTENT.into_response())
}

/// The MCP servers the published policy allows, as an MCP Registry (v0.1) list. No login.
#[utoipa::path(get, path = "/v0.1/servers", tag = "registry", params(ListParams), security(()),
    responses((status = 200, description = "One page of allowed servers", body = ServerList),
              (status = 400, description = "Invalid argument", body = ErrorBody),
              (status = 429, description = "Too many reads from this address", body = ErrorBody)))]
pub(crate) async fn list_servers(
    State(state): State<AppState>,
    addr: ClientAddr,
    RawQuery(query): RawQuery,
) -> Response {
    with_cors(list(&state, addr, query.as_deref()).await.into_response())
}

async fn list(state: &AppState, addr: ClientAddr, query: Option<&str>) -> Result<Json<ServerList>, ApiError> {
    let params: ListParams = params::parse(query)?;
    let latest_only = match params.version.as_deref() {
        None => false,
        Some("latest") => true,
        Some(_) => return Err(RegistryError::Version.into()),
    };
    check_rate(state, addr)?;
    let catalog = mcp_registry::catalog(state.cp.store.as_ref(), unix_now()).await?;
    Ok(Json(catalog.page(params.cursor.as_deref(), params.limit, latest_only, params.search.as_deref())?))
}

/// One allowed server at one version (`latest` for its latest). No login.
#[utoipa::path(get, path = "/v0.1/servers/{name}/versions/{version}", tag = "registry", security(()),
    params(("name" = String, Path, description = "The server's name, URL-encoded (`local.muster%2F...`)"),
           ("version" = String, Path, description = "A version, or `latest`")),
    responses((status = 200, description = "The server", body = ServerResponse),
              (status = 400, description = "Invalid argument", body = ErrorBody),
              (status = 404, description = "Not served (unknown, or not allowed by the policy)", body = ErrorBody),
              (status = 429, description = "Too many reads from this address", body = ErrorBody)))]
pub(crate) async fn get_version(
    State(state): State<AppState>,
    addr: ClientAddr,
    Path((name, version)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    with_cors(one(&state, addr, &name, &version, query.as_deref()).await.into_response())
}

async fn one(
    state: &AppState,
    addr: ClientAddr,
    name: &str,
    version: &str,
    query: Option<&str>,
) -> Result<Json<ServerResponse>, ApiError> {
    let _: params::NoParams = params::parse(query)?;
    check_rate(state, addr)?;
    let catalog = mcp_registry::catalog(state.cp.store.as_ref(), unix_now()).await?;
    let found = if version == "latest" { catalog.latest(name) } else { catalog.version(name, version) };
    found.cloned().map(Json).ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such server version in the registry"))
}
