//! The dashboard and API listener: one axum [`Router`] built from one route table.
//!
//! Every route is declared once as a [`Route`] (method, path, required [`Access`], handler) in a
//! feature module's `routes()` list; [`router`] builds the axum router from those lists only, so a
//! route cannot exist without an access rule, and [`route_table`] gives tests the same list to
//! enumerate. Requests pass, outermost first: security headers ([`security`]), CORS for
//! allowlisted origins on `/api/v1`, authentication (session cookie or bearer token,
//! [`auth`]), the audit log of state-changing requests ([`audit`]), then the route's access
//! check (role, then CSRF for cookie sessions), then the handler.
//!
//! This module does not open sockets: [`crate::serve`] serves the router on a listener
//! ([`listener`] adds TLS).

pub mod api;
pub mod audit;
pub mod auth;
pub mod compliance_api;
pub mod data_bundles_api;
pub(crate) mod error;
pub mod exception_requests_api;
pub mod exports;
pub mod fleet_api;
pub mod inventory_api;
pub mod listener;
pub mod mcp_registry_api;
pub mod openapi;
pub mod pages;
pub mod params;
pub mod policies_api;
pub mod policy_preview_api;
pub mod principal;
pub mod redirect;
pub mod roles;
pub mod security;

use std::sync::Arc;

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter, on};
use http::Method;

pub use self::principal::{AuthMethod, ClientAddr, Principal};
pub use self::roles::Access;
use crate::state::ControlPlane;
pub use crate::store::Role;

/// What every handler gets: the control plane and the in-memory access state (login throttle,
/// pending single-sign-on flows). Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub cp: Arc<ControlPlane>,
    pub(crate) access: Arc<auth::AccessRuntime>,
}

/// One route: the single place its method, path and required access are declared.
#[derive(Debug)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    handler: MethodRouter<AppState>,
}

impl Route {
    /// A route answering `method` on `path` (axum path syntax, e.g. `/api/v1/items/{id}`).
    pub fn new<H, T>(method: Method, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let handler = match MethodFilter::try_from(method.clone()) {
            Ok(filter) => on(filter, handler),
            // An extension method axum cannot route: the path answers 405, never another method.
            Err(_) => MethodRouter::new(),
        };
        Self { method, path, access, handler }
    }

    pub fn spec(&self) -> RouteSpec {
        RouteSpec { method: self.method.clone(), path: self.path, access: self.access }
    }
}

/// A route without its handler, for tests and documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

/// Every route of the listener. Feature modules add theirs here.
fn routes() -> Vec<Route> {
    let mut routes = Vec::new();
    routes.extend(pages::routes());
    routes.extend(auth::login::routes());
    routes.extend(api::routes());
    routes.extend(fleet_api::routes());
    routes.extend(exports::routes());
    routes.extend(inventory_api::routes());
    routes.extend(policy_preview_api::routes());
    routes.extend(policies_api::routes());
    routes.extend(data_bundles_api::routes());
    routes.extend(exception_requests_api::routes());
    routes.extend(compliance_api::routes());
    routes.extend(mcp_registry_api::routes());
    routes.extend(openapi::routes());
    routes
}

/// The route table the router is built from.
pub fn route_table() -> Vec<RouteSpec> {
    routes().iter().map(Route::spec).collect()
}

/// The HTTP routes; a plain function so tests can drive it without a socket.
pub fn router(cp: Arc<ControlPlane>) -> Router {
    let state = AppState { access: Arc::new(auth::AccessRuntime::new(&cp.http)), cp };
    let mut router = Router::new();
    for route in routes() {
        let guarded = route
            .handler
            .route_layer(axum::middleware::from_fn_with_state((state.clone(), route.access), roles::require_access));
        router = router.route(route.path, guarded);
    }
    router
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), audit::audit_state_changes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::cors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::security_headers))
        .with_state(state)
}
