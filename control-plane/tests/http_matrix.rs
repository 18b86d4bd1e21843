//! The role × route × method matrix. The expected access of every route is written here, apart
//! from the router's table: the test fails when the table gains a route this list does not know,
//! when a route's required role is weakened, or when the router stops enforcing the table.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod http_common;

use std::collections::BTreeSet;

use axum::body::Body;
use http::{Method, StatusCode, header};
use http_common::*;
use muster_control_plane::http::{Access, route_table};
use muster_control_plane::store::Role;

/// (method, path, least role; `None` = public).
const EXPECTED: &[(&str, &str, Option<Role>)] = &[
    ("GET", "/healthz", None),
    ("GET", "/static/muster.css", None),
    ("GET", "/static/copy.js", None),
    ("GET", "/", Some(Role::Viewer)),
    ("GET", "/services", Some(Role::Viewer)),
    ("GET", "/servers", Some(Role::Viewer)),
    ("GET", "/servers/list", Some(Role::Viewer)),
    ("GET", "/endpoints", Some(Role::Viewer)),
    ("GET", "/endpoints/{id}", Some(Role::Viewer)),
    ("GET", "/credentials", Some(Role::Viewer)),
    ("GET", "/credentials/locations", Some(Role::Viewer)),
    ("GET", "/login", None),
    ("POST", "/login", None),
    ("POST", "/logout", Some(Role::Viewer)),
    ("GET", "/auth/oidc/start", None),
    ("GET", "/auth/oidc/callback", None),
    ("GET", "/api/v1/openapi.json", None),
    ("GET", "/api/v1/whoami", Some(Role::Viewer)),
    ("GET", "/api/v1/overview", Some(Role::Viewer)),
    ("GET", "/api/v1/services", Some(Role::Viewer)),
    ("GET", "/api/v1/servers", Some(Role::Viewer)),
    ("GET", "/api/v1/servers/list", Some(Role::Viewer)),
    ("GET", "/api/v1/endpoints", Some(Role::Viewer)),
    ("GET", "/api/v1/endpoints/{id}", Some(Role::Viewer)),
    ("GET", "/api/v1/credentials", Some(Role::Viewer)),
    ("GET", "/api/v1/credentials/shared", Some(Role::Viewer)),
    ("GET", "/api/v1/credentials/locations", Some(Role::Viewer)),
    ("GET", "/api/v1/admin/api-tokens", Some(Role::Admin)),
    ("POST", "/api/v1/admin/api-tokens", Some(Role::Admin)),
    ("POST", "/api/v1/admin/api-tokens/{id}/revoke", Some(Role::Admin)),
    ("GET", "/api/v1/admin/users", Some(Role::Admin)),
    ("POST", "/api/v1/admin/users", Some(Role::Admin)),
    ("POST", "/api/v1/admin/agents/{id}/revoke", Some(Role::Admin)),
    ("GET", "/api/v1/admin/audit", Some(Role::Admin)),
    // Operations pages.
    ("GET", "/findings", Some(Role::Viewer)),
    ("GET", "/findings/detail", Some(Role::Viewer)),
    ("POST", "/findings/decision", Some(Role::Analyst)),
    ("GET", "/policies/edit", Some(Role::Analyst)),
    ("POST", "/policies/edit", Some(Role::Analyst)),
    ("GET", "/policies/draft", Some(Role::Analyst)),
    ("GET", "/policies", Some(Role::Viewer)),
    ("POST", "/policies/publish", Some(Role::Admin)),
    ("GET", "/policies/{version}", Some(Role::Viewer)),
    ("POST", "/policies/{version}/rollback", Some(Role::Admin)),
    ("GET", "/compliance", Some(Role::Viewer)),
    ("GET", "/compliance/endpoints", Some(Role::Viewer)),
    ("GET", "/exceptions", Some(Role::Viewer)),
    ("GET", "/exceptions/{id}", Some(Role::Viewer)),
    ("POST", "/exceptions/{id}/approve", Some(Role::Admin)),
    ("POST", "/exceptions/{id}/deny", Some(Role::Admin)),
    ("GET", "/activity", Some(Role::Viewer)),
    ("GET", "/agents", Some(Role::Viewer)),
    ("POST", "/agents/{id}/revoke", Some(Role::Admin)),
    ("POST", "/agents/tokens", Some(Role::Admin)),
    ("POST", "/agents/tokens/{id}/revoke", Some(Role::Admin)),
    ("GET", "/webhooks", Some(Role::Admin)),
    ("POST", "/webhooks", Some(Role::Admin)),
    ("GET", "/webhooks/{id}", Some(Role::Admin)),
    ("POST", "/webhooks/{id}/delete", Some(Role::Admin)),
    ("GET", "/audit", Some(Role::Admin)),
    ("GET", "/settings", Some(Role::Admin)),
    ("POST", "/settings/users", Some(Role::Admin)),
    ("POST", "/settings/api-tokens", Some(Role::Admin)),
    ("POST", "/settings/api-tokens/{id}/revoke", Some(Role::Admin)),
    // Operations API.
    ("GET", "/api/v1/findings", Some(Role::Viewer)),
    ("POST", "/api/v1/findings/decisions", Some(Role::Analyst)),
    ("GET", "/api/v1/activity", Some(Role::Viewer)),
    ("GET", "/api/v1/agents", Some(Role::Viewer)),
    ("GET", "/api/v1/agents/versions", Some(Role::Viewer)),
    ("GET", "/api/v1/admin/enrollment-tokens", Some(Role::Admin)),
    ("POST", "/api/v1/admin/enrollment-tokens", Some(Role::Admin)),
    ("POST", "/api/v1/admin/enrollment-tokens/{id}/revoke", Some(Role::Admin)),
    ("GET", "/api/v1/admin/webhooks", Some(Role::Admin)),
    ("POST", "/api/v1/admin/webhooks", Some(Role::Admin)),
    ("DELETE", "/api/v1/admin/webhooks/{id}", Some(Role::Admin)),
    ("GET", "/api/v1/admin/webhooks/{id}/deliveries", Some(Role::Admin)),
    // Policies API.
    ("POST", "/api/v1/policies/dry-run", Some(Role::Analyst)),
    ("GET", "/api/v1/policies/draft", Some(Role::Analyst)),
    ("POST", "/api/v1/exception-requests", Some(Role::Viewer)),
    ("GET", "/api/v1/exception-requests", Some(Role::Analyst)),
    ("POST", "/api/v1/exception-requests/{id}/approve", Some(Role::Admin)),
    ("POST", "/api/v1/exception-requests/{id}/deny", Some(Role::Admin)),
    // Policies.
    ("GET", "/api/v1/policies", Some(Role::Viewer)),
    ("POST", "/api/v1/policies", Some(Role::Admin)),
    ("GET", "/api/v1/policies/{version}", Some(Role::Viewer)),
    ("POST", "/api/v1/policies/{version}/rollback", Some(Role::Admin)),
    ("GET", "/api/v1/data-bundles", Some(Role::Viewer)),
    ("POST", "/api/v1/data-bundles", Some(Role::Admin)),
    ("POST", "/api/v1/data-bundles/registry-imports", Some(Role::Admin)),
    // Compliance.
    ("GET", "/api/v1/compliance", Some(Role::Viewer)),
    ("GET", "/api/v1/compliance/endpoints", Some(Role::Viewer)),
    ("GET", "/api/v1/compliance/endpoints/{id}", Some(Role::Viewer)),
    ("GET", "/api/v1/compliance/rules", Some(Role::Viewer)),
    ("GET", "/api/v1/compliance/trend", Some(Role::Viewer)),
    // Exports.
    ("GET", "/api/v1/export/inventory.csv", Some(Role::Viewer)),
    ("GET", "/api/v1/export/cyclonedx.json", Some(Role::Viewer)),
    ("GET", "/api/v1/export/findings.ocsf.jsonl", Some(Role::Viewer)),
    ("GET", "/v0.1/servers", None),
    ("GET", "/v0.1/servers/{name}/versions/{version}", None),
    ("OPTIONS", "/v0.1/servers", None),
    ("OPTIONS", "/v0.1/servers/{name}/versions/{version}", None),
];

/// The role check's message (CSRF refusals are 403 too, with another message).
const ROLE_REFUSAL: &str = "your role does not allow this";

const ALL_METHODS: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

fn concrete(path: &str) -> String {
    path.replace("{id}", "0123456789abcdef").replace("{version}", "1")
}

#[test]
fn the_route_table_matches_the_expected_access_of_every_route() {
    let table: BTreeSet<(String, String, Access)> =
        route_table().into_iter().map(|r| (r.method.to_string(), r.path.to_string(), r.access)).collect();
    let expected: BTreeSet<(String, String, Access)> = EXPECTED
        .iter()
        .map(|(m, p, role)| (m.to_string(), p.to_string(), role.map_or(Access::Public, Access::Role)))
        .collect();
    assert_eq!(table, expected, "update EXPECTED when adding a route, with the role it needs");
}

/// Who calls: nobody, or a role through a session cookie or an API token.
#[derive(Debug, Clone)]
enum Caller {
    Anonymous,
    Session(Role, Browser),
    Token(Role, String),
}

impl Caller {
    fn role(&self) -> Option<Role> {
        match self {
            Self::Anonymous => None,
            Self::Session(role, _) | Self::Token(role, _) => Some(*role),
        }
    }

    fn request(&self, method: &Method, path: &str) -> http::Request<Body> {
        let mut request =
            http::Request::builder().method(method.clone()).uri(path).header(header::CONTENT_TYPE, "application/json");
        match self {
            Self::Anonymous => {}
            Self::Session(_, browser) => {
                request = request.header(header::COOKIE, &browser.cookie).header("x-csrf-token", &browser.csrf);
            }
            Self::Token(_, token) => request = request.header(header::AUTHORIZATION, format!("Bearer {token}")),
        }
        request.body(Body::from("{}")).unwrap()
    }
}

#[tokio::test]
async fn every_role_on_every_route_and_method_gets_what_the_table_says() {
    let h = Harness::tls().await;
    let mut callers = vec![Caller::Anonymous];
    for role in Role::ALL {
        let name = format!("user-{role}");
        h.add_user(&name, role).await;
        callers.push(Caller::Session(role, h.login(&name).await));
        callers.push(Caller::Token(role, h.token(role).await));
    }
    let mut checked = 0;
    for (method, path, least) in EXPECTED {
        let method: Method = method.parse().unwrap();
        for caller in &callers {
            // Logout would end the session the next rows use; it is checked last, below.
            if *path == "/logout" {
                continue;
            }
            let response = h.send(caller.request(&method, &concrete(path))).await;
            let status = response.status();
            let role_refusal = body_text(response).await.contains(ROLE_REFUSAL);
            let allowed = least.is_none_or(|least| caller.role().is_some_and(|held| held >= least));
            if allowed {
                // (Anonymous POST /login without a login-form token is refused by CSRF, not by role.)
                assert!(
                    status != StatusCode::UNAUTHORIZED && !role_refusal,
                    "{caller:?} should reach {method} {path}, got {status}"
                );
            } else {
                assert!(role_refusal || status != StatusCode::FORBIDDEN, "{caller:?} on {method} {path}");
                let expected = match caller {
                    Caller::Anonymous if method == Method::GET && !path.starts_with("/api/") => StatusCode::SEE_OTHER,
                    Caller::Anonymous => StatusCode::UNAUTHORIZED,
                    _ => StatusCode::FORBIDDEN,
                };
                assert_eq!(status, expected, "{caller:?} on {method} {path}");
            }
            checked += 1;
        }
        // Methods a path does not declare are not routed anywhere.
        for other in ALL_METHODS.iter().filter(|m| !EXPECTED.iter().any(|(em, ep, _)| ep == path && *em == m.as_str()))
        {
            let admin = &callers[callers.len() - 1];
            let status = h.send(admin.request(other, &concrete(path))).await.status();
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{other} {path}");
        }
    }
    assert!(checked >= (EXPECTED.len() - 1) * callers.len());
    // Logout: anonymous refused, each session allowed.
    assert_eq!(h.send(Caller::Anonymous.request(&Method::POST, "/logout")).await.status(), StatusCode::UNAUTHORIZED);
    for caller in callers.iter().filter(|c| matches!(c, Caller::Session(..))) {
        assert_eq!(h.send(caller.request(&Method::POST, "/logout")).await.status(), StatusCode::SEE_OTHER);
    }
}
