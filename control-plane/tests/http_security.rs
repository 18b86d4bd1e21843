//! Response hardening: CSP and security headers on every page and error, HSTS only under TLS,
//! CORS only for allowlisted origins on /api/v1 (and, without credentials, for any origin on the
//! public read-only MCP Registry under /v0.1/), and names rendered as text.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod http_common;

use axum::body::Body;
use http::{Method, header};
use http_common::*;
use muster_control_plane::access::sessions;
use muster_control_plane::config::HttpConfig;
use muster_control_plane::http::route_table;
use muster_control_plane::state::unix_now;
use muster_control_plane::store::{NewSession, Role};

const CSP: &str = "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn assert_hardened(response: &http::Response<Body>, tls: bool, what: &str) {
    let headers = response.headers();
    assert_eq!(headers.get(header::CONTENT_SECURITY_POLICY).map(|v| v.to_str().unwrap()), Some(CSP), "{what}");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{what}");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer", "{what}");
    assert_eq!(headers.contains_key(header::STRICT_TRANSPORT_SECURITY), tls, "{what}");
    if what.contains(" /v0.1/") {
        // The MCP Registry is public and read-only: any origin may read it, never with
        // credentials (no cookie or token is ever honoured there).
        assert_eq!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).map(|v| v.to_str().unwrap()), Some("*"), "{what}");
        assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS), "{what} allows credentials");
        return;
    }
    assert!(
        !headers.keys().any(|k| k.as_str().starts_with("access-control-")),
        "{what} has CORS headers without an allowlist"
    );
}

#[tokio::test]
async fn every_route_and_error_carries_csp_and_security_headers() {
    for tls in [true, false] {
        let h = Harness::new(HttpConfig { tls, ..HttpConfig::default() }).await;
        h.add_user("alice", Role::Admin).await;
        let browser = h.login("alice").await;
        let token = h.token(Role::Admin).await;
        for route in route_table() {
            let path = route.path.replace("{id}", "x");
            for signed_in in [false, true] {
                let mut request = http::Request::builder()
                    .method(route.method.clone())
                    .uri(&path)
                    .header(header::ORIGIN, "https://evil.example");
                if signed_in {
                    request = request.header(header::COOKIE, &browser.cookie).header("x-csrf-token", &browser.csrf);
                }
                let response = h.send(request.body(Body::empty()).unwrap()).await;
                assert_hardened(&response, tls, &format!("{} {path} signed_in={signed_in}", route.method));
            }
        }
        let missing = h.send(get("/no/such/page").body(Body::empty()).unwrap()).await;
        assert_eq!(missing.status(), 404);
        assert_hardened(&missing, tls, "404");
        let bad_token =
            get("/api/v1/whoami").header(header::AUTHORIZATION, "Bearer mst_x_y").body(Body::empty()).unwrap();
        assert_hardened(&h.send(bad_token).await, tls, "401");
        let ok =
            get("/api/v1/whoami").header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap();
        assert_hardened(&h.send(ok).await, tls, "api");
    }
}

#[tokio::test]
async fn pages_have_no_inline_script_or_style_and_the_stylesheet_is_served() {
    let h = Harness::tls().await;
    h.add_user("alice", Role::Viewer).await;
    let browser = h.login("alice").await;
    for page in ["/login", "/"] {
        let response = h.send(get(page).header(header::COOKIE, &browser.cookie).body(Body::empty()).unwrap()).await;
        let html = body_text(response).await;
        assert!(!html.contains("<script") && !html.contains("style=") && !html.contains("<style"), "{page}: {html}");
        assert!(html.contains("href=\"/static/muster.css\""), "{page}");
    }
    let css = h.send(get("/static/muster.css").body(Body::empty()).unwrap()).await;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert!(body_text(css).await.contains(".topbar"));
}

#[tokio::test]
async fn names_are_rendered_as_text() {
    let h = Harness::tls().await;
    let store = h.cp.store.as_ref();
    for name in ["<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>"] {
        // Single-sign-on names come from the identity provider unchecked.
        assert!(store.upsert_oidc_user(name, Role::Viewer, unix_now()).await.unwrap());
        let secret = sessions::random_secret().unwrap();
        store
            .create_session(&NewSession {
                id_hash: sessions::hash_secret(&secret),
                username: name.to_string(),
                created_at: unix_now(),
                expires_at: unix_now() + 3600,
                source_addr: "test".into(),
            })
            .await
            .unwrap();
        let cookie = format!("__Host-muster_session={secret}");
        let html = body_text(h.send(get("/").header(header::COOKIE, cookie).body(Body::empty()).unwrap()).await).await;
        assert!(!html.contains(name), "{html}");
        assert!(!html.contains("<img") && !html.contains("<script"), "{html}");
        assert!(html.contains("&lt;"), "{html}");
    }
}

fn preflight(path: &str, origin: &str) -> http::Request<Body> {
    http::Request::builder()
        .method(Method::OPTIONS)
        .uri(path)
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn no_cors_without_an_allowlist() {
    let h = Harness::tls().await;
    let token = h.token(Role::Viewer).await;
    let request = get("/api/v1/whoami")
        .header(header::ORIGIN, "https://ops.example")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = h.send(request).await;
    assert_eq!(response.status(), 200);
    assert!(!response.headers().keys().any(|k| k.as_str().starts_with("access-control-")));
    let refused = h.send(preflight("/api/v1/whoami", "https://ops.example")).await;
    assert_eq!(refused.status(), 403);
    assert!(!refused.headers().contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

#[tokio::test]
async fn allowlisted_origins_only_and_only_on_the_api() {
    let http = HttpConfig { cors_origins: vec!["https://ops.example".into()], ..HttpConfig::default() };
    let h = Harness::new(http).await;
    let token = h.token(Role::Viewer).await;
    let call = |origin: &str, path: &str| {
        get(path)
            .header(header::ORIGIN, origin)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let allowed = h.send(call("https://ops.example", "/api/v1/whoami")).await;
    assert_eq!(allowed.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://ops.example");
    assert!(!allowed.headers().contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
    let other = h.send(call("https://evil.example", "/api/v1/whoami")).await;
    assert!(!other.headers().contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    let page = h.send(call("https://ops.example", "/healthz")).await;
    assert!(!page.headers().contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));

    let ok = h.send(preflight("/api/v1/whoami", "https://ops.example")).await;
    assert_eq!(ok.status(), 204);
    assert_eq!(ok.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://ops.example");
    assert!(ok.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap().contains("authorization"));
    for (path, origin) in [
        ("/api/v1/whoami", "https://evil.example"),
        ("/api/v1/whoami", "https://ops.example.evil"),
        ("/login", "https://ops.example"),
    ] {
        let refused = h.send(preflight(path, origin)).await;
        assert_eq!(refused.status(), 403, "{origin} {path}");
        assert!(!refused.headers().contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    }
}
