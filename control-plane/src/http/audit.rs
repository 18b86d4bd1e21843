//! The audit log of the HTTP listener: one middleware records every state-changing request
//! (any method but GET, HEAD, OPTIONS) on a known route, whatever its outcome, plus any response a
//! handler marked with an [`AuditEvent`] (such as the single-sign-on callback, a GET that signs a
//! user in). Who (principal or the name a login tried), what (the handler's action name, else
//! `METHOD /route/{pattern}`), when, source address and outcome (from the status) go to the store.
//!
//! Handlers give richer entries by inserting the [`AuditEvent`] a use-case returned into their
//! response's extensions; they never write audit rows themselves.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::Method;

use super::AppState;
use super::principal::{ClientAddr, Principal};
use crate::audit::{AuditEvent, record};
use crate::state::unix_now;
use crate::store::AuditOutcome;

/// The outcome an HTTP status stands for.
pub fn outcome_of(status: http::StatusCode) -> AuditOutcome {
    match status.as_u16() {
        200..=399 => AuditOutcome::Success,
        401 | 403 | 429 => AuditOutcome::Denied,
        _ => AuditOutcome::Failure,
    }
}

pub(crate) async fn audit_state_changes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let changes_state = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_string());
    let principal = request.extensions().get::<Principal>().map(|p| p.name.clone());
    let addr = request
        .extensions()
        .get::<axum::extract::ConnectInfo<ClientAddr>>()
        .map(|info| info.0)
        .unwrap_or(ClientAddr(None));
    let mut response = next.run(request).await;
    let event = response.extensions_mut().remove::<AuditEvent>();
    let Some(route) = route else { return response };
    if !changes_state && event.is_none() {
        return response;
    }
    let mut event = event.unwrap_or_default();
    if event.action.is_empty() {
        event.action = format!("{method} {route}");
    }
    // A signed-in principal is the actor; the event's own actor only stands in without one.
    if let Some(principal) = principal {
        event.actor = Some(principal);
    }
    let entry = event.entry("anonymous", &addr.to_string(), outcome_of(response.status()), unix_now());
    record(state.cp.store.as_ref(), &entry).await;
    response
}
