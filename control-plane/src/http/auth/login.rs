//! Signing in and out: the login form (password, with the login throttle), logout, and single
//! sign-on (OIDC with PKCE). Sessions are started and ended through `crate::access::sessions`,
//! single-sign-on accounts through `crate::access::accounts`; the pages are `super::super::pages::login`.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use http::{HeaderValue, Method, StatusCode, header};
use serde::Deserialize;

use super::cookies::{self, LOGIN_CSRF_COOKIE, OIDC_FLOW_COOKIE, SESSION_COOKIE};
use super::{append_cookie, oidc};
use crate::access::{accounts, sessions};
use crate::audit::AuditEvent;
use crate::error::{ApiError, ErrorCode};
use crate::http::pages::login::{LoginView, continue_page, login_page as render_login};
use crate::http::principal::{AuthMethod, ClientAddr, Principal};
use crate::http::redirect::safe_next;
use crate::http::roles::Access;
use crate::http::{AppState, Route};
use crate::state::unix_now;
use crate::store::Role;

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
    let (csrf, fresh) = match cookies::read_cookie(&request_headers, LOGIN_CSRF_COOKIE, tls) {
        Some(token) => (token, false),
        None => match sessions::random_secret() {
            Ok(token) => (token, true),
            Err(error) => return ApiError::internal(&error).into_response(),
        },
    };
    let next = safe_next(query.next.as_deref());
    let page =
        render_login(&LoginView { csrf_token: &csrf, next: &next, error: None, sso: state.access.oidc.is_some() });
    let mut response = page.into_response();
    if fresh {
        append_cookie(&mut response, &cookies::set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, tls));
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
    let audit = |detail: &str| AuditEvent::new("session.login", &username).actor(&username).detail(detail);
    let retry = |status: StatusCode, message: &str| {
        let page = render_login(&LoginView {
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
    let verified =
        match accounts::verify_password_login(state.cp.store.as_ref(), &username, form.password.clone()).await {
            Ok(verified) => verified,
            Err(error) => return ApiError::from(error).into_response(),
        };
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
    let ttl = state.cp.http.session_ttl.as_secs();
    let session_id = sessions::start(state.cp.store.as_ref(), username, addr, ttl, now).await?;
    let mut response = Redirect::to(next).into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    append_cookie(&mut response, &cookies::set_cookie(SESSION_COOKIE, &session_id, ttl, tls));
    append_cookie(&mut response, &cookies::set_cookie(LOGIN_CSRF_COOKIE, "", 0, tls));
    Ok(response)
}

async fn logout(State(state): State<AppState>, Extension(principal): Extension<Principal>) -> Response {
    let tls = state.cp.http.tls;
    if let AuthMethod::Session { id_hash, .. } = &principal.method
        && let Err(error) = sessions::end(state.cp.store.as_ref(), id_hash, unix_now()).await
    {
        return ApiError::from(error).into_response();
    }
    let mut response = Redirect::to("/login").into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    append_cookie(&mut response, &cookies::set_cookie(SESSION_COOKIE, "", 0, tls));
    response.extensions_mut().insert(AuditEvent::new("session.logout", &principal.name));
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
            append_cookie(&mut response, &cookies::set_cookie_lax(OIDC_FLOW_COOKIE, &flow_id, ttl, state.cp.http.tls));
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
    let clear_flow = cookies::set_cookie(OIDC_FLOW_COOKIE, "", 0, tls);
    let refuse = |message: &str, detail: &str| {
        let mut response = ApiError::new(ErrorCode::PermissionDenied, message).into_response();
        append_cookie(&mut response, &clear_flow);
        response.extensions_mut().insert(AuditEvent::new("session.login_oidc", "").detail(detail));
        response
    };
    let (Some(flow_id), Some(code), Some(returned_state)) =
        (cookies::read_cookie(&headers, OIDC_FLOW_COOKIE, tls), query.code, query.state)
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
    match accounts::sign_in_oidc_user(state.cp.store.as_ref(), &identity.username, identity.role, now).await {
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
    *response.body_mut() = axum::body::Body::from(continue_page(&identity.next).into_string());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    append_cookie(&mut response, &clear_flow);
    response.extensions_mut().insert(
        AuditEvent::new("session.login_oidc", &identity.username)
            .actor(&identity.username)
            .detail(&format!("role {}", identity.role)),
    );
    response
}
