//! Who is calling: the [`authenticate`] middleware turns a bearer API token or a session cookie
//! into a [`Principal`] in the request extensions (through `crate::access`, which checks tokens
//! and sessions). The login, logout and single-sign-on routes are [`login`], the cookies
//! [`cookies`], the CSRF check [`csrf`].
//!
//! It does not decide what a principal may do: the route table's [`crate::http::Access`] does.
//! A bad bearer token is refused at once (401); a bad or stale session cookie only means "not
//! signed in" and is cleared, unless the response itself starts a new session (signing in over
//! a stale cookie).

pub mod cookies;
pub mod csrf;
pub mod login;
pub mod oidc;
pub mod throttle;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

use self::cookies::SESSION_COOKIE;
use super::AppState;
use super::principal::{AuthMethod, Principal};
use crate::access::{api_tokens, sessions};
use crate::config::HttpConfig;
use crate::error::{ApiError, ErrorCode};
use crate::state::unix_now;

/// In-memory access state of one router.
#[derive(Debug)]
pub struct AccessRuntime {
    pub throttle: throttle::LoginThrottle,
    pub oidc: Option<oidc::OidcRuntime>,
    /// Reads of the public MCP Registry per client address (each walks the stored fleet).
    pub registry_reads: crate::admission::rate::RateLimiter,
}

/// Registry reads a client address may make at once, and per minute after that.
const REGISTRY_BURST: u64 = 60;
const REGISTRY_PER_MINUTE: u64 = 60;

impl AccessRuntime {
    pub fn new(config: &HttpConfig) -> Self {
        Self {
            throttle: throttle::LoginThrottle::default(),
            oidc: config.oidc.clone().map(oidc::OidcRuntime::new),
            registry_reads: crate::admission::rate::RateLimiter::new(REGISTRY_BURST, REGISTRY_PER_MINUTE),
        }
    }
}

/// Resolves the request's [`Principal`] (if any) into its extensions.
pub(crate) async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let tls = state.cp.http.tls;
    let now = unix_now();
    let store = state.cp.store.as_ref();
    if let Some(value) = request.headers().get(header::AUTHORIZATION) {
        let refused = || ApiError::new(ErrorCode::Unauthenticated, "invalid, expired or revoked API token");
        let Some(token) = value.to_str().ok().and_then(api_tokens::bearer_token) else {
            return refused().into_response();
        };
        match api_tokens::authenticate(store, token, now).await {
            Ok(Some(record)) => {
                request.extensions_mut().insert(Principal {
                    name: format!("token:{}", record.id),
                    role: record.role,
                    method: AuthMethod::ApiToken { id: record.id },
                });
            }
            Ok(None) => return refused().into_response(),
            Err(error) => return ApiError::from(error).into_response(),
        }
        return next.run(request).await;
    }
    let Some(session_id) = cookies::read_cookie(request.headers(), SESSION_COOKIE, tls) else {
        return next.run(request).await;
    };
    let idle = i64::try_from(state.cp.http.session_idle.as_secs()).unwrap_or(i64::MAX);
    match sessions::resume(store, &session_id, now, idle).await {
        Ok(Some(record)) => {
            request.extensions_mut().insert(Principal {
                name: record.username,
                role: record.role,
                method: AuthMethod::Session { id_hash: record.id_hash, csrf_token: sessions::csrf_token(&session_id) },
            });
            next.run(request).await
        }
        Ok(None) => {
            let mut response = next.run(request).await;
            // A response that starts a new session (sign-in over a stale cookie) already sets
            // the cookie; deleting it after that would undo the sign-in.
            if !sets_cookie(&response, SESSION_COOKIE, tls) {
                append_cookie(&mut response, &cookies::set_cookie(SESSION_COOKIE, "", 0, tls));
            }
            response
        }
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// Whether `response` already has a `Set-Cookie` for cookie `base` (by its TLS-dependent name).
fn sets_cookie(response: &Response, base: &str, tls: bool) -> bool {
    let prefix = format!("{}=", cookies::cookie_name(base, tls));
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|value| value.to_str().is_ok_and(|text| text.starts_with(&prefix)))
}

pub(crate) fn append_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}
