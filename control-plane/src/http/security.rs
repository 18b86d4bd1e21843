//! Response hardening on every response, and CORS only where configured.
//!
//! - A strict Content-Security-Policy: scripts, styles and images only from this origin, no inline
//!   script or style, no plugins, no framing, no `<base>`, forms only to this origin.
//! - `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, and HSTS under TLS.
//! - CORS: no CORS header at all unless `http.cors_origins` lists origins; then only those origins
//!   get them, only on `/api/v1`, and a preflight from any other origin is refused (403).
//!   Credentials (cookies) are never allowed cross-origin: API callers use bearer tokens.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};

use super::AppState;

/// `style-src` and `img-src` fall back to `default-src 'self'`, so inline styles are refused too.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
pub const HSTS: &str = "max-age=31536000";
const CORS_PREFIX: &str = "/api/v1/";
const CORS_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
const CORS_HEADERS: &str = "authorization, content-type";

pub(crate) async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.cp.http.tls {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    response
}

pub(crate) async fn cors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let allowlist = &state.cp.http.cors_origins;
    let origin = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string);
    let is_preflight = request.method() == Method::OPTIONS
        && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        && origin.is_some();
    let in_scope = request.uri().path().starts_with(CORS_PREFIX);
    let allowed = origin.filter(|origin| in_scope && allowlist.iter().any(|allowed| allowed == origin));
    if is_preflight {
        let Some(origin) = allowed else {
            return (StatusCode::FORBIDDEN, "cross-origin request refused").into_response();
        };
        let mut response = StatusCode::NO_CONTENT.into_response();
        set_cors_headers(&mut response, &origin);
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(CORS_METHODS));
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(CORS_HEADERS));
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        return response;
    }
    let mut response = next.run(request).await;
    if let Some(origin) = allowed {
        set_cors_headers(&mut response, &origin);
    }
    response
}

fn set_cors_headers(response: &mut Response, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.append(header::VARY, HeaderValue::from_static("origin"));
    }
}
