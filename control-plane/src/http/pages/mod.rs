//! Server-rendered pages (maud, see `docs/adr/0003-html-templates.md`): the shared layout and
//! components, the login page, the inventory pages (one module each: overview, services,
//! servers, endpoints, credentials), and the stylesheet served from the binary. Every value is
//! rendered through maud's escaping; pages carry no inline script or style (the CSP forbids them).
//!
//! A page module has a handler per page; its entry in [`routes`] names the role it needs. Query
//! strings are parsed by `http::params`, shared with the JSON API.

pub mod activity;
pub mod agents;
pub mod audit;
pub mod compliance;
pub mod components;
pub mod credential_locations;
pub mod credentials;
pub mod endpoints;
pub mod exceptions;
pub mod findings;
pub mod layout;
pub mod login;
pub mod ops;
pub mod overview;
pub mod policies;
pub mod policy_versions;
pub mod server_list;
pub mod servers;
pub mod services;
pub mod settings;
pub mod webhooks;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, header};

use super::Route;
use super::roles::Access;
use crate::store::Role;

/// The stylesheet, compiled into the binary (no CDN: control planes run offline).
pub const STYLESHEET: &str = include_str!("../../../assets/muster.css");
pub const STYLESHEET_PATH: &str = "/static/muster.css";
/// The copy buttons' script, the dashboard's only one (same origin, as the CSP demands).
pub const COPY_SCRIPT: &str = include_str!("../../../assets/copy.js");
pub const COPY_SCRIPT_PATH: &str = "/static/copy.js";

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::GET, "/healthz", Access::Public, || async { "ok\n" }),
        Route::new(Method::GET, STYLESHEET_PATH, Access::Public, stylesheet),
        Route::new(Method::GET, COPY_SCRIPT_PATH, Access::Public, copy_script),
        Route::new(Method::GET, "/", Access::Role(Role::Viewer), overview::overview),
        Route::new(Method::GET, "/services", Access::Role(Role::Viewer), services::services),
        Route::new(Method::GET, "/servers", Access::Role(Role::Viewer), servers::servers),
        Route::new(Method::GET, server_list::PATH, Access::Role(Role::Viewer), server_list::server_list),
        Route::new(Method::GET, "/endpoints", Access::Role(Role::Viewer), endpoints::endpoints),
        Route::new(Method::GET, "/endpoints/{id}", Access::Role(Role::Viewer), endpoints::endpoint_detail),
        Route::new(Method::GET, "/credentials", Access::Role(Role::Viewer), credentials::credentials),
        Route::new(
            Method::GET,
            credential_locations::PATH,
            Access::Role(Role::Viewer),
            credential_locations::credential_locations,
        ),
    ]
    .into_iter()
    .chain(findings::routes())
    .chain(policies::routes())
    .chain(policy_versions::routes())
    .chain(compliance::routes())
    .chain(exceptions::routes())
    .chain(activity::routes())
    .chain(agents::routes())
    .chain(webhooks::routes())
    .chain(audit::routes())
    .chain(settings::routes())
    .collect()
}

async fn copy_script() -> Response {
    let mut response = COPY_SCRIPT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

async fn stylesheet() -> Response {
    let mut response = STYLESHEET.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}
