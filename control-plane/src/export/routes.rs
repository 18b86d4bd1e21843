//! HTTP handlers of the exports and their entries in the route table (viewer access; the route
//! table's access layer authenticates and checks roles, these handlers check neither).
//! Fleet-wide CSV and OCSF stream host by host, so memory stays bounded by one endpoint; errors
//! before the first byte are answered with the shared error table, a store error mid-stream ends
//! the response early (and is logged).

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use futures_util::stream;
use http::{HeaderValue, Method, header};

use super::{ExportError, ExportHost, cyclonedx, fleet_agent_ids, load_host};
use crate::error::{ApiError, ErrorCode};
use crate::http::params::{self, NoParams};
use crate::http::{Access, AppState, Route};
use crate::state::unix_now;
use crate::store::{DynStore, Role};

pub const INVENTORY_CSV_PATH: &str = "/api/v1/export/inventory.csv";
pub const CYCLONEDX_JSON_PATH: &str = "/api/v1/export/cyclonedx.json";
pub const FINDINGS_OCSF_PATH: &str = "/api/v1/export/findings.ocsf.jsonl";

/// The three export routes, readable by every signed-in role.
pub(crate) fn routes() -> Vec<Route> {
    let viewer = Access::Role(Role::Viewer);
    vec![
        Route::new(Method::GET, INVENTORY_CSV_PATH, viewer, inventory_csv),
        Route::new(Method::GET, CYCLONEDX_JSON_PATH, viewer, cyclonedx_json),
        Route::new(Method::GET, FINDINGS_OCSF_PATH, viewer, findings_ocsf),
    ]
}

fn error_response(error: ApiError) -> Response {
    error.into_response()
}

fn attachment(content_type: &'static str, filename: &'static str, body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

type Render = fn(&mut Vec<u8>, &ExportHost) -> Result<(), ExportError>;

/// `prefix` then each enrolled host rendered by `render`, one chunk per host.
async fn stream_fleet(store: DynStore, prefix: Vec<u8>, render: Render) -> Result<Body, ApiError> {
    let ids = fleet_agent_ids(store.as_ref()).await?;
    let hosts = stream::iter(ids).then(move |agent_id| {
        let store = store.clone();
        async move {
            let mut chunk = Vec::new();
            match load_host(store.as_ref(), &agent_id).await {
                Ok(Some(host)) => render(&mut chunk, &host).map_err(|error| {
                    tracing::error!(agent_id = %agent_id, error = %error, "export failed mid-stream");
                    std::io::Error::other("export failed")
                })?,
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(agent_id = %agent_id, error = %error, "export failed mid-stream");
                    return Err(std::io::Error::other("export failed"));
                }
            }
            Ok::<_, std::io::Error>(Bytes::from(chunk))
        }
    });
    let body = stream::once(async move { Ok(Bytes::from(prefix)) }).chain(hosts);
    Ok(Body::from_stream(body))
}

/// Every server on every endpoint as CSV (RFC 4180, one row per server).
#[utoipa::path(get, path = "/api/v1/export/inventory.csv", tag = "exports",
    responses((status = 200, description = "The fleet inventory", content_type = "text/csv"),
        (status = 400, description = "Invalid argument", body = crate::http::openapi::ErrorBody)))]
pub async fn inventory_csv(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    if let Err(error) = params::parse::<NoParams>(query.as_deref()) {
        return error_response(error.into());
    }
    let state = state.cp;
    let mut header = Vec::new();
    if let Err(error) = super::csv::write_header(&mut header) {
        return error_response(ApiError::internal(&error));
    }
    match stream_fleet(state.store.clone(), header, |out, host| super::csv::write_host(out, host)).await {
        Ok(body) => attachment("text/csv; charset=utf-8", "muster-inventory.csv", body),
        Err(error) => error_response(error),
    }
}

/// Every finding on every endpoint, one OCSF Detection Finding (class 2004) per line.
#[utoipa::path(get, path = "/api/v1/export/findings.ocsf.jsonl", tag = "exports",
    responses((status = 200, description = "OCSF JSON lines", content_type = "application/x-ndjson"),
        (status = 400, description = "Invalid argument", body = crate::http::openapi::ErrorBody)))]
pub async fn findings_ocsf(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    if let Err(error) = params::parse::<NoParams>(query.as_deref()) {
        return error_response(error.into());
    }
    let state = state.cp;
    match stream_fleet(state.store.clone(), Vec::new(), |out, host| super::ocsf::write_host(out, host)).await {
        Ok(body) => attachment("application/x-ndjson", "muster-findings.ocsf.jsonl", body),
        Err(error) => error_response(error),
    }
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CycloneDxQuery {
    /// An agent id: the BOM of that endpoint only.
    pub endpoint: Option<String>,
}

/// The CycloneDX 1.6 BOM of the fleet, or of one endpoint with `?endpoint=AGENT_ID`.
#[utoipa::path(get, path = "/api/v1/export/cyclonedx.json", tag = "exports", params(CycloneDxQuery),
    responses((status = 200, description = "CycloneDX 1.6 JSON", content_type = "application/vnd.cyclonedx+json"),
        (status = 400, description = "Invalid argument", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "No inventory for this endpoint")))]
pub async fn cyclonedx_json(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let query: CycloneDxQuery = match params::parse(query.as_deref()) {
        Ok(query) => query,
        Err(error) => return error_response(error.into()),
    };
    let state = state.cp;
    match cyclonedx_document(&state.store, query.endpoint.as_deref()).await {
        Ok(json) => attachment("application/vnd.cyclonedx+json; version=1.6", "muster-inventory.cdx.json", json.into()),
        Err(error) => error_response(error),
    }
}

async fn cyclonedx_document(store: &DynStore, endpoint: Option<&str>) -> Result<Vec<u8>, ApiError> {
    let (subject, hosts) = match endpoint {
        Some(agent_id) => {
            let host = load_host(store.as_ref(), agent_id)
                .await?
                .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no inventory for this endpoint"))?;
            (cyclonedx::Subject::Endpoint, vec![host])
        }
        None => {
            let mut hosts = Vec::new();
            for agent_id in fleet_agent_ids(store.as_ref()).await? {
                hosts.extend(load_host(store.as_ref(), &agent_id).await?);
            }
            (cyclonedx::Subject::Fleet, hosts)
        }
    };
    let bom = cyclonedx::bom(subject, &hosts, uuid::Uuid::new_v4(), unix_now());
    let mut out = Vec::new();
    cyclonedx::write_bom(&mut out, &bom).map_err(|error| ApiError::internal(&error))?;
    Ok(out)
}
