//! The JSON API of signed data bundles under `/api/v1/data-bundles`: the newest bundles
//! (viewer) and, for admins, publishing one or importing MCP Registry data as the next one
//! (`POST /api/v1/data-bundles/registry-imports`). Writes go through the use-case
//! (`crate::data_bundles`) that `muster-server data publish` calls too; handlers translate JSON
//! and attach the returned audit event.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::params::{self, NoParams};
use super::principal::Principal;
use super::roles::Access;
use super::{AppState, Route};
use crate::audit::AuditEvent;
use crate::data_bundles::{self, DataParts};
use crate::error::{ActionError, ApiError};
use crate::state::unix_now;
use crate::store::Role;
use crate::store::data_bundles::{DataBundleRecord, DataBundleSummary};

/// How many bundles the list answers (newest first).
const LIST_LIMIT: u32 = 100;

pub(crate) fn routes() -> Vec<Route> {
    use Access::Role as Needs;
    vec![
        Route::new(Method::GET, "/api/v1/data-bundles", Needs(Role::Viewer), list_data_bundles),
        Route::new(Method::POST, "/api/v1/data-bundles", Needs(Role::Admin), publish_data_bundle),
        Route::new(Method::POST, "/api/v1/data-bundles/registry-imports", Needs(Role::Admin), import_registry),
    ]
}

/// One published data bundle, without its document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct DataBundleView {
    /// Unix seconds of publication, strictly increasing.
    pub version: u64,
    /// The parts it carries, comma-separated (`services,advisories`).
    pub parts: String,
    /// SHA-256 of the signed document, lower-case hex.
    pub digest: String,
    pub author: String,
    pub reason: String,
    pub created_at: i64,
    /// Agents whose last refused bundle is this one, with their own reason (in the list only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused_by: Vec<DataRefusalView>,
}

/// An agent that refused a bundle: its last report says so.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct DataRefusalView {
    pub agent_id: String,
    pub hostname: String,
    /// The bundle version the agent analyses with (its built-in data's when it holds none).
    pub data_version: u64,
    /// The agent's own reason.
    pub reason: String,
    pub reported_at: i64,
}

impl From<DataBundleSummary> for DataBundleView {
    fn from(b: DataBundleSummary) -> Self {
        Self {
            version: b.version,
            parts: b.parts,
            digest: b.digest,
            author: b.author,
            reason: b.reason,
            created_at: b.created_at,
            refused_by: Vec::new(),
        }
    }
}

/// The newest data bundles (at most 100), newest first; the first is the one agents get. Each
/// lists the agents whose last refused bundle it is, and why.
#[utoipa::path(get, path = "/api/v1/data-bundles", tag = "data",
    responses((status = 200, description = "The newest bundles", body = Vec<DataBundleView>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn list_data_bundles(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<DataBundleView>>, ApiError> {
    params::parse::<NoParams>(query.as_deref())?;
    let rows = data_bundles::history(state.cp.store.as_ref(), LIST_LIMIT).await?;
    let mut refusals = data_bundles::refusals(state.cp.store.as_ref()).await?;
    let views = rows
        .into_iter()
        .map(|row| {
            let version = row.version;
            let mut view = DataBundleView::from(row);
            view.refused_by = refusals
                .extract_if(.., |r| r.refused_version == version)
                .map(|r| DataRefusalView {
                    agent_id: r.agent_id,
                    hostname: r.hostname,
                    data_version: r.data_version,
                    reason: r.reason,
                    reported_at: r.reported_at,
                })
                .collect();
            view
        })
        .collect();
    Ok(Json(views))
}

/// A data bundle to publish: at least one part.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublishDataRequest {
    /// The service catalog (`services.toml`).
    #[serde(default)]
    pub services_toml: Option<String>,
    /// The advisory bundle (an OSV JSON array).
    #[serde(default)]
    pub advisories_osv_json: Option<String>,
    /// Credential formats (`credentials.toml`), merged by agents over their built-in ones.
    #[serde(default)]
    pub credentials_toml: Option<String>,
    /// Why it is published (history and audit log).
    #[serde(default)]
    pub reason: String,
}

/// Publish a data bundle; agents get it over their policy stream. A malformed part answers 400
/// naming every problem and stores nothing.
#[utoipa::path(post, path = "/api/v1/data-bundles", tag = "data", request_body = PublishDataRequest,
    responses((status = 201, description = "The published bundle", body = DataBundleView),
        (status = 400, description = "The bundle was refused", body = ErrorBody)))]
pub(crate) async fn publish_data_bundle(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(request): Json<PublishDataRequest>,
) -> Result<Response, ApiError> {
    let parts = DataParts {
        services_toml: request.services_toml,
        advisories_osv_json: request.advisories_osv_json,
        registry_json: None,
        credentials_toml: request.credentials_toml,
    };
    let published = data_bundles::publish(
        state.cp.store.as_ref(),
        state.cp.as_ref(),
        &parts,
        &principal.name,
        &request.reason,
        unix_now(),
    )
    .await;
    respond(published, data_bundles::refused)
}

/// MCP Registry data to import: a `server.json` document, an array of them or a registry list
/// response, as JSON.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegistryImportRequest {
    /// The registry document (any of the three shapes).
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
    /// Where it came from (kept in the audit log), e.g. the registry URL it was fetched from.
    #[serde(default)]
    pub source: String,
    /// Why it is published (history and audit log).
    #[serde(default)]
    pub reason: String,
}

/// Import MCP Registry data and publish it as the next data bundle, keeping the current
/// bundle's catalog and advisories. A malformed document answers 400 naming the document index
/// and JSON path of the problem and stores nothing.
#[utoipa::path(post, path = "/api/v1/data-bundles/registry-imports", tag = "data", request_body = RegistryImportRequest,
    responses((status = 201, description = "The published bundle", body = DataBundleView),
        (status = 400, description = "The import was refused", body = ErrorBody)))]
pub(crate) async fn import_registry(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(request): Json<RegistryImportRequest>,
) -> Result<Response, ApiError> {
    let source = if request.source.trim().is_empty() { "request" } else { request.source.trim() };
    let imported = match data_bundles::registry::from_value(source, &request.document) {
        Ok(registry) => {
            data_bundles::import_registry(
                state.cp.store.as_ref(),
                state.cp.as_ref(),
                source,
                &registry,
                &principal.name,
                &request.reason,
                unix_now(),
            )
            .await
        }
        Err(error) => Err(ActionError::invalid(format!("registry import refused: {error}"))),
    };
    respond(imported, data_bundles::import_refused)
}

/// The response of a publishing use-case, with its audit event (or the refusal's).
fn respond(
    published: Result<(DataBundleRecord, AuditEvent), ActionError>,
    refused: fn(&str) -> AuditEvent,
) -> Result<Response, ApiError> {
    match published {
        Ok((record, event)) => {
            let view = DataBundleView {
                version: record.version,
                parts: record.parts,
                digest: record.digest,
                author: record.author,
                reason: record.reason,
                created_at: record.created_at,
                refused_by: Vec::new(),
            };
            let mut response = (StatusCode::CREATED, Json(view)).into_response();
            response.extensions_mut().insert(event);
            Ok(response)
        }
        Err(error) => {
            let error = ApiError::from(error);
            let event = refused(&error.message);
            let mut response = error.into_response();
            response.extensions_mut().insert(event);
            Ok(response)
        }
    }
}
