//! The JSON API of signed data bundles under `/api/v1/data-bundles`: the newest bundles
//! (viewer) and, for admins, publishing one. Writes go through the use-case
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
use crate::data_bundles::{self, DataParts};
use crate::error::ApiError;
use crate::state::unix_now;
use crate::store::Role;
use crate::store::data_bundles::DataBundleSummary;

/// How many bundles the list answers (newest first).
const LIST_LIMIT: u32 = 100;

pub(crate) fn routes() -> Vec<Route> {
    use Access::Role as Needs;
    vec![
        Route::new(Method::GET, "/api/v1/data-bundles", Needs(Role::Viewer), list_data_bundles),
        Route::new(Method::POST, "/api/v1/data-bundles", Needs(Role::Admin), publish_data_bundle),
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
        }
    }
}

/// The newest data bundles (at most 100), newest first; the first is the one agents get.
#[utoipa::path(get, path = "/api/v1/data-bundles", tag = "data",
    responses((status = 200, description = "The newest bundles", body = Vec<DataBundleView>),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn list_data_bundles(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<DataBundleView>>, ApiError> {
    params::parse::<NoParams>(query.as_deref())?;
    let rows = data_bundles::history(state.cp.store.as_ref(), LIST_LIMIT).await?;
    Ok(Json(rows.into_iter().map(DataBundleView::from).collect()))
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
    let parts = DataParts { services_toml: request.services_toml, advisories_osv_json: request.advisories_osv_json };
    let published = data_bundles::publish(
        state.cp.store.as_ref(),
        state.cp.as_ref(),
        &parts,
        &principal.name,
        &request.reason,
        unix_now(),
    )
    .await;
    match published {
        Ok((record, event)) => {
            let view = DataBundleView {
                version: record.version,
                parts: record.parts,
                digest: record.digest,
                author: record.author,
                reason: record.reason,
                created_at: record.created_at,
            };
            let mut response = (StatusCode::CREATED, Json(view)).into_response();
            response.extensions_mut().insert(event);
            Ok(response)
        }
        Err(error) => {
            let error = ApiError::from(error);
            let event = data_bundles::refused(&error.message);
            let mut response = error.into_response();
            response.extensions_mut().insert(event);
            Ok(response)
        }
    }
}
