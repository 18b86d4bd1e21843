//! The HTTP listener. For now only `/healthz`; the dashboard and admin API come with a later
//! issue. Errors here will use the same code table as gRPC (`crate::error`).

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::state::ControlPlane;

/// The HTTP routes; a plain function so tests can drive it without a socket.
pub fn router(_state: Arc<ControlPlane>) -> Router {
    Router::new().route("/healthz", get(|| async { "ok\n" }))
}
