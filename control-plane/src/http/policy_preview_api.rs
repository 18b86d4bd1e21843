//! The JSON API of the policy previews: `POST /api/v1/policies/dry-run` (what a policy text
//! would do to the stored fleet) and `GET /api/v1/policies/draft` (an allowlist drafted from
//! what the fleet runs). Both call the use-cases of `crate::policy_preview`, as the policy pages
//! and `muster-server policy diff` do; neither writes anything. Analysts and admins only: each
//! call reads every endpoint's servers, which is not a viewer's everyday read.

use axum::Json;
use axum::extract::{RawQuery, State};
use http::Method;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::params::{self, NoParams};
use super::roles::Access;
use super::{AppState, Route};
use crate::error::{ApiError, ErrorCode};
use crate::policy_preview::draft::{self, Draft, DraftError};
use crate::policy_preview::dry_run::{self, DryRun, DryRunError};
use crate::state::unix_now;
use crate::store::Role;

pub(crate) fn routes() -> Vec<Route> {
    use Access::Role as Needs;
    vec![
        Route::new(Method::POST, "/api/v1/policies/dry-run", Needs(Role::Analyst), post_dry_run),
        Route::new(Method::GET, "/api/v1/policies/draft", Needs(Role::Analyst), get_draft),
    ]
}

/// A policy text to evaluate.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DryRunRequest {
    /// The policy file's text (TOML, `docs/policies.md`).
    pub policy: String,
}

impl From<DryRunError> for ApiError {
    fn from(error: DryRunError) -> Self {
        match error {
            DryRunError::Invalid(e) => Self::new(ErrorCode::InvalidArgument, invalid_message(&e)),
            DryRunError::Store(e) => Self::from(e),
            DryRunError::Interrupted => Self::new(ErrorCode::Unavailable, "the server is shutting down"),
        }
    }
}

impl From<DraftError> for ApiError {
    fn from(error: DraftError) -> Self {
        match error {
            DraftError::Store(e) => Self::from(e),
            other => Self::internal(&other),
        }
    }
}

/// Every problem of a refused policy as `line:column: message`, separated by `; `.
pub(crate) fn invalid_message(error: &muster_policy::PolicyError) -> String {
    let problems: Vec<String> = error.diagnostics.iter().map(ToString::to_string).collect();
    format!("policy refused: {}", problems.join("; "))
}

/// Evaluates a policy text against every active endpoint's stored inventory, as the agents
/// would, and says what it would do, by rule. Publishes nothing.
#[utoipa::path(post, path = "/api/v1/policies/dry-run", tag = "policies", request_body = DryRunRequest,
    responses((status = 200, description = "What the policy would do", body = DryRun),
              (status = 400, description = "The policy is not valid (every problem with line:column)", body = ErrorBody)))]
pub(crate) async fn post_dry_run(
    State(state): State<AppState>,
    Json(request): Json<DryRunRequest>,
) -> Result<Json<DryRun>, ApiError> {
    Ok(Json(dry_run::dry_run(state.cp.store.as_ref(), &request.policy, unix_now()).await?))
}

/// An allowlist policy drafted from what the fleet runs today: exact launch commands and remote
/// hosts, grouped by package and service, with how many endpoints each covers.
#[utoipa::path(get, path = "/api/v1/policies/draft", tag = "policies",
    responses((status = 200, description = "The drafted policy and what it allows", body = Draft),
              (status = 400, description = "Invalid argument", body = ErrorBody)))]
pub(crate) async fn get_draft(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Draft>, ApiError> {
    let _: NoParams = params::parse(query.as_deref())?;
    Ok(Json(draft::draft(state.cp.store.as_ref(), unix_now()).await?))
}
