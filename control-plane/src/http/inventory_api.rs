//! The inventory JSON API under `/api/v1` (viewer and up): overview, services, server groups,
//! the server list, endpoints and their detail, credentials and their locations. Each call takes the same query parameters as its
//! page ([`super::params`]) and answers the read model's types as JSON; lists answer
//! `{"items": [...], "next_cursor": ...}` (`next_cursor` is null on the last page, and always
//! for the short unpaged lists). Names are returned exactly as stored: JSON escaping is the
//! client's protection, never HTML escaping here.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use http::Method;

use super::error::ErrorBody;
use super::params::{
    self, CredentialLocationParams, EndpointParams, NoParams, ServerListParams, ServerParams, SharedParams,
    online_since,
};
use super::roles::Access;
use super::{AppState, Route};
use crate::error::{ApiError, ErrorCode};
use crate::state::unix_now;
use crate::store::Role;
use crate::store::read::{
    CredentialLocation, EndpointDetail, EndpointRow, Overview, Page, SecretGroup, ServerGroup, ServerRow, ServiceRow,
    SharedFingerprint,
};

pub(crate) fn routes() -> Vec<Route> {
    let viewer = Access::Role(Role::Viewer);
    vec![
        Route::new(Method::GET, "/api/v1/overview", viewer, overview),
        Route::new(Method::GET, "/api/v1/services", viewer, services),
        Route::new(Method::GET, "/api/v1/servers", viewer, servers),
        Route::new(Method::GET, "/api/v1/servers/list", viewer, server_list),
        Route::new(Method::GET, "/api/v1/endpoints", viewer, endpoints),
        Route::new(Method::GET, "/api/v1/endpoints/{id}", viewer, endpoint_detail),
        Route::new(Method::GET, "/api/v1/credentials", viewer, credentials),
        Route::new(Method::GET, "/api/v1/credentials/shared", viewer, shared_credentials),
        Route::new(Method::GET, "/api/v1/credentials/locations", viewer, credential_locations),
    ]
}

/// Fleet counters and the 30-day trend (oldest day first).
#[utoipa::path(get, path = "/api/v1/overview", tag = "inventory",
    responses((status = 200, description = "Fleet counters", body = Overview), (status = 401, description = "Not signed in", body = ErrorBody)))]
pub(crate) async fn overview(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Overview>, ApiError> {
    params::parse::<NoParams>(query.as_deref())?;
    let now = unix_now();
    Ok(Json(state.cp.store.overview(now, online_since(now)).await?))
}

/// Enterprise services the fleet's MCP servers reach, with servers per authentication mode.
#[utoipa::path(get, path = "/api/v1/services", tag = "inventory",
    responses((status = 200, description = "Every service (one page)", body = Page<ServiceRow>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn services(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<ServiceRow>>, ApiError> {
    params::parse::<NoParams>(query.as_deref())?;
    Ok(Json(Page { items: state.cp.store.services().await?, next_cursor: None }))
}

/// MCP servers grouped by registry package or remote host: versions, pinning, advisories.
#[utoipa::path(get, path = "/api/v1/servers", tag = "inventory", params(ServerParams),
    responses((status = 200, description = "A page of server groups", body = Page<ServerGroup>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn servers(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<ServerGroup>>, ApiError> {
    let params: ServerParams = params::parse(query.as_deref())?;
    Ok(Json(state.cp.store.server_groups(&params.query()?).await?))
}

/// MCP servers one by one (a server on one endpoint), filtered exactly by service, package and
/// version, remote host, client, user or endpoint; paged by endpoint id, then server id.
#[utoipa::path(get, path = "/api/v1/servers/list", tag = "inventory", params(ServerListParams),
    responses((status = 200, description = "A page of servers", body = Page<ServerRow>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn server_list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<ServerRow>>, ApiError> {
    let params: ServerListParams = params::parse(query.as_deref())?;
    Ok(Json(state.cp.store.server_list(&params.query()?).await?))
}

/// Endpoints (enrolled machines): search, filter, sort and page.
#[utoipa::path(get, path = "/api/v1/endpoints", tag = "inventory", params(EndpointParams),
    responses((status = 200, description = "A page of endpoints", body = Page<EndpointRow>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn endpoints(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<EndpointRow>>, ApiError> {
    let params: EndpointParams = params::parse(query.as_deref())?;
    let now = unix_now();
    Ok(Json(state.cp.store.endpoints(&params.query(online_since(now))?).await?))
}

/// One endpoint: host facts, MCP servers, findings and change history.
#[utoipa::path(get, path = "/api/v1/endpoints/{id}", tag = "inventory",
    params(("id" = String, Path, description = "Agent id")),
    responses((status = 200, description = "The endpoint", body = EndpointDetail), (status = 404, description = "Not found", body = ErrorBody)))]
pub(crate) async fn endpoint_detail(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<EndpointDetail>, ApiError> {
    params::parse::<NoParams>(query.as_deref())?;
    let now = unix_now();
    match state.cp.store.endpoint_detail(&id, online_since(now), now).await? {
        Some(detail) => Ok(Json(detail)),
        None => Err(ApiError::new(ErrorCode::NotFound, "no endpoint with this id")),
    }
}

/// Literal secrets by provider, kind and location type (counts only, never values).
#[utoipa::path(get, path = "/api/v1/credentials", tag = "inventory",
    responses((status = 200, description = "Every secret group (one page)", body = Page<SecretGroup>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn credentials(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<SecretGroup>>, ApiError> {
    params::parse::<NoParams>(query.as_deref())?;
    Ok(Json(Page { items: state.cp.store.secret_groups().await?, next_cursor: None }))
}

/// Credential fingerprints seen on several hosts: one secret reused across machines.
#[utoipa::path(get, path = "/api/v1/credentials/shared", tag = "inventory", params(SharedParams),
    responses((status = 200, description = "A page of shared fingerprints", body = Page<SharedFingerprint>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn shared_credentials(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<SharedFingerprint>>, ApiError> {
    let params: SharedParams = params::parse(query.as_deref())?;
    Ok(Json(state.cp.store.shared_fingerprints(&params.query()?).await?))
}

/// Every place a credential is used: one row per credential of one server (endpoint, server,
/// config file, location), filtered exactly by fingerprint, provider, kind, source, location
/// type or endpoint. Names and fingerprints only, never values.
#[utoipa::path(get, path = "/api/v1/credentials/locations", tag = "inventory", params(CredentialLocationParams),
    responses((status = 200, description = "A page of credential locations", body = Page<CredentialLocation>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn credential_locations(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<CredentialLocation>>, ApiError> {
    let params: CredentialLocationParams = params::parse(query.as_deref())?;
    Ok(Json(state.cp.store.credential_locations(&params.query()?).await?))
}
