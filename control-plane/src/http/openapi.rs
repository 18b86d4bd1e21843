//! The OpenAPI 3.1 document of the JSON API, built by `utoipa` from the `#[utoipa::path]`
//! annotations on the `/api/v1` handlers and the `ToSchema` types they return, and served at
//! `GET /api/v1/openapi.json`.
//!
//! Every `/api/v1` handler is listed in [`ApiDoc`]; `tests/http_openapi.rs` checks that the
//! document and the route table name the same routes, and `tests/api_dialect.rs` walks every GET
//! operation in it. Wire enums are documented as string schemas whose `enum` is the proto word
//! table (`crate::words`), never as integers. This module does not decide access (the
//! route table does); it only describes the two ways to authenticate.

use axum::Json;
use axum::extract::RawQuery;
use http::Method;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::ErrorBody;
use super::roles::Access;
use super::{
    Route, api, compliance_api, data_bundles_api, exception_requests_api, fleet_api, inventory_api, mcp_registry_api,
    params, policies_api, policy_preview_api,
};
use crate::error::ApiError;

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

pub(crate) fn routes() -> Vec<Route> {
    vec![Route::new(Method::GET, OPENAPI_PATH, Access::Public, openapi_json)]
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Muster control plane API",
        description = "Read the MCP server inventory of the fleet and administer the control plane. \
                       Authenticate with an API token (`Authorization: Bearer mst_api_...`) or a dashboard \
                       session cookie (state-changing calls then need the `x-csrf-token` header).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        api::whoami,
        api::list_tokens,
        api::create_token,
        api::revoke_token,
        api::list_users,
        api::create_user,
        api::revoke_agent,
        api::list_audit,
        inventory_api::overview,
        inventory_api::services,
        inventory_api::servers,
        inventory_api::server_list,
        inventory_api::endpoints,
        inventory_api::endpoint_detail,
        inventory_api::credentials,
        inventory_api::shared_credentials,
        inventory_api::credential_locations,
        fleet_api::list_findings,
        fleet_api::post_decision,
        fleet_api::list_activity,
        fleet_api::list_agents,
        fleet_api::list_agent_versions,
        fleet_api::list_enrollment_tokens,
        fleet_api::create_enrollment_token,
        fleet_api::revoke_enrollment_token,
        fleet_api::list_webhooks,
        fleet_api::post_webhook,
        fleet_api::delete_webhook,
        fleet_api::list_deliveries,
        policies_api::list_policies,
        policies_api::get_policy,
        policies_api::publish_policy,
        policies_api::rollback_policy,
        data_bundles_api::list_data_bundles,
        data_bundles_api::publish_data_bundle,
        data_bundles_api::import_registry,
        crate::http::exports::inventory_csv,
        crate::http::exports::cyclonedx_json,
        crate::http::exports::findings_ocsf,
        policy_preview_api::post_dry_run,
        exception_requests_api::create_request,
        exception_requests_api::list_requests,
        exception_requests_api::approve_request,
        exception_requests_api::deny_request,
        policy_preview_api::get_draft,
        compliance_api::summary,
        compliance_api::endpoints,
        compliance_api::endpoint,
        compliance_api::rules,
        compliance_api::trend,
        mcp_registry_api::list_servers,
        mcp_registry_api::get_version,
    ),
    components(schemas(
        ErrorBody,
        crate::words::Os,
        crate::words::Transport,
        crate::words::Ecosystem,
        crate::words::Severity,
        crate::words::ActionState,
        crate::words::Scope,
        crate::words::CredentialSource,
        crate::words::ReferenceKind,
        crate::words::AuthPosture,
        params::StatusParam,
        params::SortParam,
        params::KindParam,
        params::FindingStateParam,
        params::ChangeKindParam,
        params::RangeParam,
        crate::ingest::activity::FieldChange,
        params::AgentStatusParam,
        params::VersionStateParam,
        params::ReuseParam,
        params::LocationTypeParam,
    )),
    modifiers(&Authentication),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "account", description = "The caller"),
        (name = "inventory", description = "Endpoints, MCP servers, services and credentials (viewer)"),
        (name = "admin", description = "Users, API tokens, agents and the audit log (admin)"),
        (name = "findings", description = "Findings, and acknowledging or waiving them (analyst)"),
        (name = "activity", description = "The fleet's change events"),
        (name = "agents", description = "Agents and, for admins, enrollment tokens"),
        (name = "webhooks", description = "Signed webhooks on new high and critical findings and their delivery log (admin)"),
        (name = "policies", description = "Remediation policy versions, publishing and rolling back (admin); dry runs, drafts and exception requests"),
        (name = "compliance", description = "What the agents report about the policy they enforce: per endpoint, per rule, and the hourly trend"),
        (name = "data", description = "Signed data bundles (service catalog, advisories, MCP Registry data) pushed to agents; publishing and registry imports are admin"),
        (name = "exports", description = "CSV, CycloneDX 1.6 and OCSF exports of the inventory"),
        (name = "registry", description = "The MCP Registry (v0.1) of the servers the published policy allows; public, read-only, rate-limited"),
    )
)]
pub struct ApiDoc;

/// Adds the two security schemes: bearer API tokens and the session cookie.
struct Authentication;

impl Modify for Authentication {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token created by an admin"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "muster_session",
                "The dashboard session (named `__Host-muster_session` under TLS)",
            ))),
        );
    }
}

/// The document as a value (what the route serves).
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn openapi_json(RawQuery(query): RawQuery) -> Result<Json<utoipa::openapi::OpenApi>, ApiError> {
    params::parse::<params::NoParams>(query.as_deref())?;
    Ok(Json(document()))
}
