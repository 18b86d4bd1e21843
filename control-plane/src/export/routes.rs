//! HTTP handlers of the exports, for the router to mount behind its authentication and roles
//! (this module checks neither). Fleet-wide CSV and OCSF stream host by host, so memory stays
//! bounded by one endpoint; errors before the first byte are answered with the shared error
//! table, a store error mid-stream ends the response early (and is logged).

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt as _;
use futures_util::stream;
use http::{HeaderValue, header};

use super::{ExportError, ExportHost, cyclonedx, fleet_agent_ids, load_host};
use crate::error::{ApiError, ErrorCode};
use crate::state::{ControlPlane, unix_now};
use crate::store::DynStore;

pub const INVENTORY_CSV_PATH: &str = "/api/v1/export/inventory.csv";
pub const CYCLONEDX_JSON_PATH: &str = "/api/v1/export/cyclonedx.json";
pub const FINDINGS_OCSF_PATH: &str = "/api/v1/export/findings.ocsf.jsonl";

/// The three export routes with their state, ready to be merged under the router's auth layer.
pub fn router(state: Arc<ControlPlane>) -> Router {
    Router::new()
        .route(INVENTORY_CSV_PATH, get(inventory_csv))
        .route(CYCLONEDX_JSON_PATH, get(cyclonedx_json))
        .route(FINDINGS_OCSF_PATH, get(findings_ocsf))
        .with_state(state)
}

fn error_response(error: ApiError) -> Response {
    let body = serde_json::json!({ "error": error.message }).to_string();
    (error.code.http(), [(header::CONTENT_TYPE, "application/json")], body).into_response()
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

/// `GET /api/v1/export/inventory.csv`: every server on every endpoint.
pub async fn inventory_csv(State(state): State<Arc<ControlPlane>>) -> Response {
    let mut header = Vec::new();
    if let Err(error) = super::csv::write_header(&mut header) {
        return error_response(ApiError::internal(&error));
    }
    match stream_fleet(state.store.clone(), header, |out, host| super::csv::write_host(out, host)).await {
        Ok(body) => attachment("text/csv; charset=utf-8", "muster-inventory.csv", body),
        Err(error) => error_response(error),
    }
}

/// `GET /api/v1/export/findings.ocsf.jsonl`: every finding on every endpoint.
pub async fn findings_ocsf(State(state): State<Arc<ControlPlane>>) -> Response {
    match stream_fleet(state.store.clone(), Vec::new(), |out, host| super::ocsf::write_host(out, host)).await {
        Ok(body) => attachment("application/x-ndjson", "muster-findings.ocsf.jsonl", body),
        Err(error) => error_response(error),
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct CycloneDxQuery {
    /// An agent id: the BOM of that endpoint only.
    pub endpoint: Option<String>,
}

/// `GET /api/v1/export/cyclonedx.json[?endpoint=AGENT_ID]`: the fleet's or one endpoint's BOM.
pub async fn cyclonedx_json(State(state): State<Arc<ControlPlane>>, Query(query): Query<CycloneDxQuery>) -> Response {
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
