//! Who is calling, as every handler sees it: the [`Principal`] the authentication middleware
//! (`super::auth`) puts into a request, how it signed in, the TCP peer ([`ClientAddr`]), and the
//! name of the CSRF field forms carry. Types only: no middleware, no handler, no page.

use std::net::SocketAddr;

use axum::extract::FromRequestParts;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::serve::IncomingStream;
use http::request::Parts;

use crate::error::{ApiError, ErrorCode};
use crate::store::Role;

/// The header an API client sends a session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field pages send a session's CSRF token in.
pub const CSRF_FIELD: &str = "csrf_token";

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

pub(crate) fn client_addr(extensions: &http::Extensions) -> ClientAddr {
    extensions.get::<ConnectInfo<ClientAddr>>().map(|info| info.0).unwrap_or(ClientAddr(None))
}
