//! Who is calling: the [`authenticate`] middleware turns a bearer API token or a session cookie
//! into a [`Principal`] in the request extensions, and the login, logout and single-sign-on
//! routes create and end sessions.
//!
//! It does not decide what a principal may do: the route table's [`crate::http::Access`] does.
//! A bad bearer token is refused at once (401); a bad or stale session cookie only means "not
//! signed in" and is cleared, unless the response itself starts a new session (signing in over
//! a stale cookie).

pub mod accounts;
pub mod csrf;
pub mod oidc;
pub mod password;
pub mod session;
pub mod throttle;
pub mod tokens;

use std::net::SocketAddr;

use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::serve::IncomingStream;
use axum::{Extension, Form};
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode, header};
use serde::Deserialize;

use self::session::{LOGIN_CSRF_COOKIE, OIDC_FLOW_COOKIE, SESSION_COOKIE};
use super::audit::AuditDetail;
use super::roles::Access;
use super::{AppState, Route};
use crate::config::HttpConfig;
use crate::error::{ApiError, ErrorCode};
use crate::state::unix_now;
use crate::store::{AccountSource, NewSession, Role};

/// How a principal proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// A browser session; state-changing requests need `csrf_token`.
    Session { id_hash: String, csrf_token: String },
    /// An API token (`Authorization: Bearer`); exempt from CSRF.
    ApiToken { id: String },
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The username, or `token:<id>` for API tokens (what the audit log records).
    pub name: String,
    pub role: Role,
    pub method: AuthMethod,
}

impl Principal {
    /// The CSRF token pages must embed in forms (`None` for API tokens).
    pub fn csrf_token(&self) -> Option<&str> {
        match &self.method {
            AuthMethod::Session { csrf_token, .. } => Some(csrf_token),
            AuthMethod::ApiToken { .. } => None,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "sign in required"))
    }
}

/// The TCP peer of a request (`unknown` when served without connection info, as in `oneshot`
/// tests). Forwarding headers are not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<SocketAddr>);

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(addr) => write!(f, "{}", addr.ip()),
            None => f.write_str("unknown"),
        }
    }
}

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Self(Some(*stream.remote_addr()))
    }
}

impl Connected<IncomingStream<'_, super::listener::TlsListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, super::listener::TlsListener>) -> Self {
        Self(Some(*stream.remote_addr()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(client_addr(&parts.extensions))
    }
}

fn client_addr(extensions: &http::Extensions) -> ClientAddr {
    extensions.get::<ConnectInfo<ClientAddr>>().map(|info| info.0).unwrap_or(ClientAddr(None))
}

/// In-memory access state of one router.
#[derive(Debug)]
pub struct AccessRuntime {
    pub throttle: throttle::LoginThrottle,
    pub oidc: Option<oidc::OidcRuntime>,
}

impl AccessRuntime {
    pub fn new(config: &HttpConfig) -> Self {
        Self { throttle: throttle::LoginThrottle::default(), oidc: config.oidc.clone().map(oidc::OidcRuntime::new) }
    }
}

/// Resolves the request's [`Principal`] (if any) into its extensions.
pub(crate) async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let tls = state.cp.http.tls;
    let now = unix_now();
    let store = state.cp.store.as_ref();
    if let Some(value) = request.headers().get(header::AUTHORIZATION) {
        let refused = || ApiError::new(ErrorCode::Unauthenticated, "invalid, expired or revoked API token");
        let Some(token) = value.to_str().ok().and_then(tokens::bearer_token) else {
            return refused().into_response();
        };
        let record = match store.use_api_token(&session::hash_secret(token), now).await {
            Ok(record) => record,
            Err(error) => return ApiError::from(error).into_response(),
        };
        match record.filter(|record| tokens::usable(record, now)) {
            Some(record) => {
                request.extensions_mut().insert(Principal {
                    name: format!("token:{}", record.id),
                    role: record.role,
                    method: AuthMethod::ApiToken { id: record.id },
                });
            }
            None => return refused().into_response(),
        }
        return next.run(request).await;
    }
    let Some(session_id) = session::read_cookie(request.headers(), SESSION_COOKIE, tls) else {
        return next.run(request).await;
    };
    let id_hash = session::hash_secret(&session_id);
    let record = match store.session(&id_hash).await {
        Ok(record) => record,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let idle = i64::try_from(state.cp.http.session_idle.as_secs()).unwrap_or(i64::MAX);
    match record.filter(|record| session::judge(record, now, idle) == session::SessionState::Valid) {
        Some(record) => {
            if let Err(error) = session::touch(store, &record, now).await {
                return ApiError::from(error).into_response();
            }
            request.extensions_mut().insert(Principal {
                name: record.username,
                role: record.role,
                method: AuthMethod::Session { id_hash, csrf_token: session::csrf_token(&session_id) },
            });
            next.run(request).await
        }
        None => {
            let mut response = next.run(request).await;
            // A response that starts a new session (sign-in over a stale cookie) already sets
            // the cookie; deleting it after that would undo the sign-in.
            if !sets_cookie(&response, SESSION_COOKIE, tls) {
                append_cookie(&mut response, &session::set_cookie(SESSION_COOKIE, "", 0, tls));
            }
            response
        }
    }
}

/// Whether `response` already has a `Set-Cookie` for cookie `base` (by its TLS-dependent name).
fn sets_cookie(response: &Response, base: &str, tls: bool) -> bool {
    let prefix = format!("{}=", session::cookie_name(base, tls));
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

/// Whether `path` is a local path (`/...`, not `//host` or `/\host`, no backslash or control
/// character): the only kind of target a redirect after a form may go to.
pub fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(|c| c == '\\' || c.is_control())
}

/// A `next` target only if it is a local path (see [`is_local_path`]); else `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if is_local_path(path) => path.to_string(),
        _ => "/".to_string(),
    }
}

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::GET, "/login", Access::Public, login_page),
        Route::new(Method::POST, "/login", Access::Public, login),
        Route::new(Method::POST, "/logout", Access::Role(Role::Viewer), logout),
        Route::new(Method::GET, "/auth/oidc/start", Access::Public, oidc_start),
        Route::new(Method::GET, "/auth/oidc/callback", Access::Public, oidc_callback),
    ]
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(
    State(state): State<AppState>,
    Query(query): Query<NextQuery>,
    request_headers: http::HeaderMap,
) -> Response {
    let tls = state.cp.http.tls;
    let (csrf, fresh) = match session::read_cookie(&request_headers, LOGIN_CSRF_COOKIE, tls) {
        Some(token) => (token, false),
        None => match session::random_secret() {
            Ok(token) => (token, true),
            Err(error) => return ApiError::internal(&error).into_response(),
        },
    };
    let next = safe_next(query.next.as_deref());
    let page = super::pages::login::login_page(&super::pages::login::LoginView {
        csrf_token: &csrf,
        next: &next,
        error: None,
        sso: state.access.oidc.is_some(),
    });
    let mut response = page.into_response();
    if fresh {
        append_cookie(&mut response, &session::set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, tls));
    }
    response
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    csrf_token: String,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Shown for every failed password login, whether or not the account exists.
pub const WRONG_CREDENTIALS: &str = "wrong username or password";

async fn login(State(state): State<AppState>, addr: ClientAddr, Form(form): Form<LoginForm>) -> Response {
    let now = unix_now();
    let addr_text = addr.to_string();
    let username = form.username.trim().to_string();
    let next = safe_next(form.next.as_deref());
    let audit = |detail: &str| AuditDetail::new("session.login", &username).actor(&username).detail(detail);
    let retry = |status: StatusCode, message: &str| {
        let page = super::pages::login::login_page(&super::pages::login::LoginView {
            csrf_token: &form.csrf_token,
            next: &next,
            error: Some(message),
            sso: state.access.oidc.is_some(),
        });
        (status, page).into_response()
    };
    if let Some(wait) = state.access.throttle.locked(&username, &addr_text, now) {
        let minutes = (wait + 59) / 60;
        let message = format!("too many failed sign-in attempts; try again in {minutes} minute(s)");
        let mut response = retry(StatusCode::TOO_MANY_REQUESTS, &message);
        response.extensions_mut().insert(audit("rate limited"));
        return response;
    }
    let user = match state.cp.store.user(&username).await {
        Ok(user) => user,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let password = form.password.clone();
    let verified = tokio::task::spawn_blocking(move || match user {
        Some(user) if user.source == AccountSource::Local && user.disabled_at.is_none() => {
            let ok = user.password_hash.as_deref().is_some_and(|hash| password::verify_password(&password, hash));
            ok.then_some(user)
        }
        _ => {
            password::verify_dummy(&password);
            None
        }
    })
    .await
    .ok()
    .flatten();
    let Some(user) = verified else {
        state.access.throttle.record_failure(&username, &addr_text, now);
        let mut response = retry(StatusCode::UNAUTHORIZED, WRONG_CREDENTIALS);
        response.extensions_mut().insert(audit("wrong username or password"));
        return response;
    };
    state.access.throttle.record_success(&username);
    let mut response = match start_session(&state, &user.username, &addr_text, &next, now).await {
        Ok(response) => response,
        Err(error) => return error.into_response(),
    };
    response.extensions_mut().insert(audit("password"));
    response
}

/// Creates a session for `username` and redirects to `next` with its cookie set.
async fn start_session(
    state: &AppState,
    username: &str,
    addr: &str,
    next: &str,
    now: i64,
) -> Result<Response, ApiError> {
    let tls = state.cp.http.tls;
    let session_id = session::random_secret().map_err(|e| ApiError::internal(&e))?;
    let ttl = state.cp.http.session_ttl.as_secs();
    state
        .cp
        .store
        .create_session(&NewSession {
            id_hash: session::hash_secret(&session_id),
            username: username.to_string(),
            created_at: now,
            expires_at: now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
            source_addr: addr.to_string(),
        })
        .await?;
    let mut response = Redirect::to(next).into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    append_cookie(&mut response, &session::set_cookie(SESSION_COOKIE, &session_id, ttl, tls));
    append_cookie(&mut response, &session::set_cookie(LOGIN_CSRF_COOKIE, "", 0, tls));
    Ok(response)
}

async fn logout(State(state): State<AppState>, Extension(principal): Extension<Principal>) -> Response {
    let tls = state.cp.http.tls;
    if let AuthMethod::Session { id_hash, .. } = &principal.method
        && let Err(error) = state.cp.store.revoke_session(id_hash, unix_now()).await
    {
        return ApiError::from(error).into_response();
    }
    let mut response = Redirect::to("/login").into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    append_cookie(&mut response, &session::set_cookie(SESSION_COOKIE, "", 0, tls));
    response.extensions_mut().insert(AuditDetail::new("session.logout", &principal.name));
    response
}

async fn oidc_start(State(state): State<AppState>, Query(query): Query<NextQuery>) -> Response {
    let Some(oidc) = state.access.oidc.as_ref() else {
        return ApiError::new(ErrorCode::NotFound, "single sign-on is not configured").into_response();
    };
    let next = safe_next(query.next.as_deref());
    match oidc.start(&next, unix_now()).await {
        Ok((flow_id, url)) => {
            let mut response = Redirect::to(&url).into_response();
            let ttl = u64::try_from(oidc::FLOW_TTL_SECS).unwrap_or(600);
            append_cookie(&mut response, &session::set_cookie_lax(OIDC_FLOW_COOKIE, &flow_id, ttl, state.cp.http.tls));
            response
        }
        Err(error) => {
            tracing::warn!(error = %error, "single sign-on start failed");
            ApiError::new(ErrorCode::Unavailable, "single sign-on is unavailable").into_response()
        }
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

impl std::fmt::Debug for CallbackQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackQuery").field("error", &self.error).finish_non_exhaustive()
    }
}

async fn oidc_callback(
    State(state): State<AppState>,
    addr: ClientAddr,
    Query(query): Query<CallbackQuery>,
    headers: http::HeaderMap,
) -> Response {
    let tls = state.cp.http.tls;
    let Some(oidc) = state.access.oidc.as_ref() else {
        return ApiError::new(ErrorCode::NotFound, "single sign-on is not configured").into_response();
    };
    let now = unix_now();
    let clear_flow = session::set_cookie(OIDC_FLOW_COOKIE, "", 0, tls);
    let refuse = |message: &str, detail: &str| {
        let mut response = ApiError::new(ErrorCode::PermissionDenied, message).into_response();
        append_cookie(&mut response, &clear_flow);
        response.extensions_mut().insert(AuditDetail::new("session.login_oidc", "").detail(detail));
        response
    };
    let (Some(flow_id), Some(code), Some(returned_state)) =
        (session::read_cookie(&headers, OIDC_FLOW_COOKIE, tls), query.code, query.state)
    else {
        let detail = query.error.unwrap_or_else(|| "incomplete callback".to_string());
        return refuse("single sign-on failed", &format!("provider or browser error: {detail}"));
    };
    let identity = match oidc.finish(&flow_id, &code, &returned_state, now).await {
        Ok(identity) => identity,
        Err(error) => {
            tracing::warn!(error = %error, "single sign-on refused");
            return refuse("single sign-on failed", &error.to_string());
        }
    };
    match state.cp.store.upsert_oidc_user(&identity.username, identity.role, now).await {
        Ok(true) => {}
        Ok(false) => return refuse("single sign-on failed", "a local account has this name"),
        Err(error) => return ApiError::from(error).into_response(),
    }
    let mut response = match start_session(&state, &identity.username, &addr.to_string(), &identity.next, now).await {
        Ok(response) => response,
        Err(error) => return error.into_response(),
    };
    // This response ends a navigation the provider started, so browsers would not send the new
    // SameSite=Strict cookie along a redirect; a page of ours that moves on (meta refresh, no
    // script) starts a same-site navigation that does send it.
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().remove(header::LOCATION);
    *response.body_mut() = axum::body::Body::from(super::pages::login::continue_page(&identity.next).into_string());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    append_cookie(&mut response, &clear_flow);
    response.extensions_mut().insert(
        AuditDetail::new("session.login_oidc", &identity.username)
            .actor(&identity.username)
            .detail(&format!("role {}", identity.role)),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_accepts_only_local_paths() {
        assert_eq!(safe_next(Some("/endpoints?page=2")), "/endpoints?page=2");
        for bad in ["https://evil.example/", "//evil.example", "/\\evil.example", "evil", "/a\\b", "/a\nb", ""] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
