//! Roles and the one access check every route passes through: role, then CSRF.
//!
//! admin > analyst > viewer: viewers read, analysts also acknowledge and waive findings, admins
//! also manage users, API tokens, agents and webhooks. The check is a `route_layer` added by
//! [`super::router`] to every route from the route table; handlers never check roles themselves.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::AppState;
use super::principal::Principal;
use crate::error::{ApiError, ErrorCode};
use crate::store::Role;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Anyone, signed in or not (login, health, static assets).
    Public,
    /// A signed-in principal with at least this role.
    Role(Role),
}

impl Access {
    /// Whether `principal` may call a route with this access rule.
    pub fn allows(self, principal: Option<&Principal>) -> bool {
        match self {
            Self::Public => true,
            Self::Role(required) => principal.is_some_and(|p| p.role >= required),
        }
    }
}

/// The per-route check: 401 (or a redirect to the login page for browser pages) without a
/// principal, 403 with too small a role.
pub(crate) async fn require_access(
    State((state, access)): State<(AppState, Access)>,
    request: Request,
    next: Next,
) -> Response {
    let principal = request.extensions().get::<Principal>();
    if access.allows(principal) {
        return match super::auth::csrf::check_csrf(&state, request).await {
            Ok(request) => next.run(request).await,
            Err(refusal) => refusal,
        };
    }
    let api = super::error::is_api_path(request.uri().path());
    match principal {
        None if !api && request.method() == http::Method::GET => {
            let path = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let next = serde_urlencoded::to_string([("next", path)]).unwrap_or_default();
            Redirect::to(&format!("/login?{next}")).into_response()
        }
        None => ApiError::new(ErrorCode::Unauthenticated, "sign in required").into_response(),
        Some(_) => ApiError::new(ErrorCode::PermissionDenied, "your role does not allow this").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::principal::AuthMethod;

    fn principal(role: Role) -> Principal {
        Principal { name: "p".into(), role, method: AuthMethod::ApiToken { id: "t".into() } }
    }

    #[test]
    fn roles_are_ordered_by_privilege() {
        assert!(Role::Admin > Role::Analyst && Role::Analyst > Role::Viewer);
        for required in Role::ALL {
            for held in Role::ALL {
                assert_eq!(Access::Role(required).allows(Some(&principal(held))), held >= required);
            }
            assert!(!Access::Role(required).allows(None));
        }
        assert!(Access::Public.allows(None));
    }
}
