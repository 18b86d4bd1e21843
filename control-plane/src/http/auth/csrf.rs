//! CSRF protection: the one check every state-changing request (any method but GET, HEAD,
//! OPTIONS) to a route passes, inside the per-route access layer (`roles::require_access`).
//!
//! - Cookie sessions: the request must carry the session's synchronizer token
//!   ([`crate::access::sessions::csrf_token`]) in the `X-CSRF-Token` header or a `csrf_token` form field.
//! - No credentials at all (the login form): the token must match the pre-session
//!   `muster_login_csrf` cookie (double submit), so another site cannot log a browser in.
//! - Bearer tokens: exempt, since browsers never attach them by themselves.
//!
//! A refusal is 403 and is audited like any other state-changing request.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::Method;

use super::cookies::{self, LOGIN_CSRF_COOKIE};
use crate::access::sessions;
use crate::error::{ApiError, ErrorCode};
use crate::http::AppState;
use crate::http::principal::{AuthMethod, CSRF_FIELD, CSRF_HEADER, Principal};

/// Largest form body read to find the token.
const MAX_FORM_BYTES: usize = 64 * 1024;

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Passes the request on if it is safe, bearer-authenticated or carries the right token; else
/// the 403 response. Called by the per-route check right after the role check, so an anonymous
/// caller of a protected route hears "sign in required", not "bad CSRF token".
pub(crate) async fn check_csrf(state: &AppState, request: Request) -> Result<Request, Response> {
    if is_safe(request.method()) {
        return Ok(request);
    }
    let tls = state.cp.http.tls;
    let expected = match request.extensions().get::<Principal>().map(|p| &p.method) {
        Some(AuthMethod::ApiToken { .. }) => return Ok(request),
        Some(AuthMethod::Session { csrf_token, .. }) => Some(csrf_token.clone()),
        None => cookies::read_cookie(request.headers(), LOGIN_CSRF_COOKIE, tls),
    };
    let (request, presented) = presented_token(request).await?;
    match (expected, presented) {
        (Some(expected), Some(presented)) if sessions::same_secret(&expected, &presented) => Ok(request),
        _ => Err(refusal()),
    }
}

fn refusal() -> Response {
    ApiError::new(ErrorCode::PermissionDenied, "missing or invalid CSRF token; reload the page and try again")
        .into_response()
}

/// The token from the header, or else from a urlencoded form body (which is read and put back).
async fn presented_token(request: Request) -> Result<(Request, Option<String>), Response> {
    if let Some(value) = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        let value = value.to_string();
        return Ok((request, Some(value)));
    }
    let is_form = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((request, None));
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| ApiError::new(ErrorCode::InvalidArgument, "form too large").into_response())?;
    let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|fields| fields.into_iter().find(|(key, _)| key == CSRF_FIELD).map(|(_, value)| value));
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}
