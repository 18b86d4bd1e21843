//! Server-rendered pages (maud, see `docs/adr/0003-html-templates.md`): the shared layout, the
//! login page, a placeholder overview, and the stylesheet served from the binary. Every value is
//! rendered through maud's escaping; pages carry no inline script or style (the CSP forbids them).
//!
//! Pages for the inventory (services, servers, endpoints, findings, ...) plug in here: a module
//! with a handler per page and entries in [`routes`] with the role each needs.

pub mod layout;
pub mod login;

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, header};
use maud::html;

use super::auth::Principal;
use super::roles::Access;
use super::{AppState, Route};
use crate::store::Role;

/// The stylesheet, compiled into the binary (no CDN: control planes run offline).
pub const STYLESHEET: &str = include_str!("../../../assets/muster.css");
pub const STYLESHEET_PATH: &str = "/static/muster.css";

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::GET, "/healthz", Access::Public, || async { "ok\n" }),
        Route::new(Method::GET, STYLESHEET_PATH, Access::Public, stylesheet),
        Route::new(Method::GET, "/", Access::Role(Role::Viewer), overview),
    ]
}

async fn stylesheet() -> Response {
    let mut response = STYLESHEET.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

async fn overview(State(_state): State<AppState>, Extension(principal): Extension<Principal>) -> Response {
    let body = html! {
        h1 { "Overview" }
        p.lede { "Signed in as " strong { (principal.name) } " (" (principal.role) ")." }
        section.card {
            h2 { "Fleet" }
            p { "Endpoint, server, credential and finding counts appear here once the read models land." }
        }
    };
    layout::page("Overview", Some(&principal), body).into_response()
}
