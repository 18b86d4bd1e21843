//! The audit log of the HTTP listener: one middleware records every state-changing request
//! (any method but GET, HEAD, OPTIONS) on a known route, whatever its outcome, plus any response a
//! handler marked with an [`AuditDetail`] (such as the single-sign-on callback, a GET that signs a
//! user in). Who (principal or the name a login tried), what (the handler's action name, else
//! `METHOD /route/{pattern}`), when, source address and outcome (from the status) go to the store.
//!
//! Handlers give richer entries by inserting an [`AuditDetail`] into their response's extensions;
//! they never write audit rows themselves. [`record`] is for actions outside HTTP (the CLI).

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::Method;

use super::AppState;
use super::auth::{ClientAddr, Principal};
use crate::state::unix_now;
use crate::store::{AuditEntry, AuditOutcome, Store};

/// What a handler tells the audit log about its action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditDetail {
    pub action: String,
    pub target: String,
    /// Overrides the actor when no principal exists yet (a login names the account it tried).
    pub actor: Option<String>,
    pub detail: String,
}

impl AuditDetail {
    pub fn new(action: &str, target: &str) -> Self {
        Self { action: action.to_string(), target: target.to_string(), ..Self::default() }
    }

    pub fn actor(mut self, actor: &str) -> Self {
        self.actor = Some(actor.to_string());
        self
    }

    pub fn detail(mut self, detail: &str) -> Self {
        self.detail = detail.to_string();
        self
    }
}

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
    let detail = response.extensions_mut().remove::<AuditDetail>();
    let Some(route) = route else { return response };
    if !changes_state && detail.is_none() {
        return response;
    }
    let detail = detail.unwrap_or_default();
    let entry = AuditEntry {
        at: unix_now(),
        actor: principal.or(detail.actor).unwrap_or_else(|| "anonymous".to_string()),
        action: if detail.action.is_empty() { format!("{method} {route}") } else { detail.action },
        target: detail.target,
        source_addr: addr.to_string(),
        outcome: outcome_of(response.status()),
        detail: detail.detail,
    };
    record(state.cp.store.as_ref(), &entry).await;
    response
}

/// Appends `entry`; a failure is logged (with the entry) rather than failing the action.
pub async fn record(store: &dyn Store, entry: &AuditEntry) {
    if let Err(error) = store.append_audit(entry).await {
        tracing::error!(
            error = %error,
            actor = %entry.actor,
            action = %entry.action,
            target = %entry.target,
            outcome = entry.outcome.as_str(),
            "cannot write audit entry"
        );
    }
}
