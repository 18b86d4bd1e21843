//! Sign-in, sessions, CSRF, API tokens and the audit log, through the router with `oneshot`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod http_common;

use axum::body::Body;
use http::header;
use http_common::*;
use muster_control_plane::config::HttpConfig;
use muster_control_plane::http::auth::throttle::MAX_FAILURES_PER_USER;
use muster_control_plane::state::unix_now;
use muster_control_plane::store::{AuditOutcome, Role};

#[tokio::test]
async fn login_sets_a_strict_http_only_host_cookie_and_logout_revokes_it() {
    let h = Harness::tls().await;
    h.add_user("alice", Role::Analyst).await;
    let response = h.try_login("alice", PASSWORD, "10.0.0.1").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[header::LOCATION], "/");
    let cookie = set_cookies(&response).into_iter().find(|c| c.contains("muster_session=")).unwrap();
    assert!(cookie.starts_with("__Host-muster_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.split("; ").any(|a| a == attribute), "{attribute} missing in {cookie}");
    }
    assert!(!cookie.contains("Domain="), "{cookie}");

    let browser = h.login("alice").await;
    let whoami =
        h.send(get("/api/v1/whoami").header(header::COOKIE, &browser.cookie).body(Body::empty()).unwrap()).await;
    assert_eq!(whoami.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&body_text(whoami).await).unwrap();
    assert_eq!(body, serde_json::json!({"name": "alice", "role": "analyst", "via": "session"}));

    let body = format!("csrf_token={}", browser.csrf);
    let logout = form_post("/logout", &body).header(header::COOKIE, &browser.cookie).body(Body::from(body)).unwrap();
    let response = h.send(logout).await;
    assert_eq!(response.status(), 303);
    assert!(set_cookies(&response).iter().any(|c| c.starts_with("__Host-muster_session=;") && c.contains("Max-Age=0")));
    // The old cookie no longer works: the session was revoked server-side, not just forgotten.
    let after =
        h.send(get("/api/v1/whoami").header(header::COOKIE, &browser.cookie).body(Body::empty()).unwrap()).await;
    assert_eq!(after.status(), 401);
}

#[tokio::test]
async fn plain_http_on_loopback_drops_secure_and_the_host_prefix() {
    let h = Harness::new(HttpConfig { tls: false, ..HttpConfig::default() }).await;
    h.add_user("alice", Role::Viewer).await;
    let response = h.try_login("alice", PASSWORD, "127.0.0.1").await;
    let cookie = set_cookies(&response).into_iter().find(|c| c.contains("muster_session=")).unwrap();
    assert!(cookie.starts_with("muster_session=") && !cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let h = Harness::tls().await;
    h.add_user("alice", Role::Viewer).await;
    let wrong = h.try_login("alice", "not the password!!", "10.0.0.1").await;
    let unknown = h.try_login("mallory", PASSWORD, "10.0.0.1").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert!(set_cookies(&wrong).iter().all(|c| !c.contains("muster_session=")));
    let (wrong, unknown) = (body_text(wrong).await, body_text(unknown).await);
    assert!(wrong.contains("wrong username or password"));
    // Identical but for the per-form CSRF token.
    let blank = |page: &str| page.replace(&hidden_csrf(page).unwrap(), "T");
    assert_eq!(blank(&wrong), blank(&unknown));
}

#[tokio::test]
async fn repeated_failures_lock_the_username_and_the_address() {
    let h = Harness::tls().await;
    h.add_user("alice", Role::Viewer).await;
    for _ in 0..MAX_FAILURES_PER_USER {
        assert_eq!(h.try_login("alice", "wrong password!!", "10.0.0.1").await.status(), 401);
    }
    // Even the right password is refused now, from any address, with a clear message.
    let locked = h.try_login("alice", PASSWORD, "10.9.9.9").await;
    assert_eq!(locked.status(), 429);
    assert!(body_text(locked).await.contains("too many failed sign-in attempts"));
    // An unknown name is locked the same way (no user enumeration).
    for _ in 0..MAX_FAILURES_PER_USER {
        h.try_login("nobody", "wrong password!!", "10.0.0.2").await;
    }
    assert_eq!(h.try_login("nobody", "wrong password!!", "10.0.0.3").await.status(), 429);
    // Per address: many names from one address.
    h.add_user("bob", Role::Viewer).await;
    for i in 0..20 {
        h.try_login(&format!("guess{i}"), "wrong password!!", "10.6.6.6").await;
    }
    assert_eq!(h.try_login("bob", PASSWORD, "10.6.6.6").await.status(), 429);
    assert_eq!(h.try_login("bob", PASSWORD, "10.0.0.4").await.status(), 303);
}

#[tokio::test]
async fn csrf_token_is_required_on_state_changing_session_requests() {
    let h = Harness::tls().await;
    h.add_user("root", Role::Admin).await;
    let browser = h.login("root").await;
    let create = |csrf: Option<&str>| {
        let mut request = http::Request::builder()
            .method("POST")
            .uri("/api/v1/admin/api-tokens")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::COOKIE, &browser.cookie);
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.body(Body::from(r#"{"name":"ci","role":"viewer","ttl":"1d"}"#)).unwrap()
    };
    assert_eq!(h.send(create(None)).await.status(), 403);
    let other = "0".repeat(64);
    assert_eq!(h.send(create(Some(&other))).await.status(), 403);
    // Another session's token is not this session's token.
    let second = h.login("root").await;
    assert_eq!(h.send(create(Some(&second.csrf))).await.status(), 403);
    assert_eq!(h.send(create(Some(&browser.csrf))).await.status(), 201);

    // Forms carry it as a field.
    let bad = "csrf_token=nope".to_string();
    let logout = form_post("/logout", &bad).header(header::COOKIE, &browser.cookie).body(Body::from(bad)).unwrap();
    assert_eq!(h.send(logout).await.status(), 403);
    // The login form needs its pre-session token too (no login CSRF).
    let body = serde_urlencoded::to_string([("username", "root"), ("password", PASSWORD)]).unwrap();
    let login = form_post("/login", &body).body(Body::from(body)).unwrap();
    assert_eq!(h.send(login).await.status(), 403);
}

#[tokio::test]
async fn api_tokens_are_role_scoped_and_refused_when_expired_or_revoked() {
    let h = Harness::tls().await;
    let viewer = h.token(Role::Viewer).await;
    let admin = h.token(Role::Admin).await;
    let bearer = |token: &str| format!("Bearer {token}");
    let create = |token: &str| {
        http::Request::builder()
            .method("POST")
            .uri("/api/v1/admin/api-tokens")
            .header(header::AUTHORIZATION, bearer(token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"name":"ci","role":"viewer","ttl":"1d"}"#))
            .unwrap()
    };
    // Bearer calls need no CSRF token; the role decides.
    assert_eq!(h.send(create(&viewer)).await.status(), 403);
    let created = h.send(create(&admin)).await;
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = serde_json::from_str(&body_text(created).await).unwrap();
    let new_token = created["token"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    let whoami =
        |token: &str| get("/api/v1/whoami").header(header::AUTHORIZATION, bearer(token)).body(Body::empty()).unwrap();
    assert_eq!(h.send(whoami(&new_token)).await.status(), 200);

    // Only the hash is stored.
    let listed = h
        .send(
            get("/api/v1/admin/api-tokens").header(header::AUTHORIZATION, bearer(&admin)).body(Body::empty()).unwrap(),
        )
        .await;
    assert!(!body_text(listed).await.contains(&new_token));

    let revoke = http::Request::builder()
        .method("POST")
        .uri(format!("/api/v1/admin/api-tokens/{id}/revoke"))
        .header(header::AUTHORIZATION, bearer(&admin))
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(revoke).await.status(), 204);
    assert_eq!(h.send(whoami(&new_token)).await.status(), 401);

    // Expired: stored with an expiry in the past.
    let store = h.cp.store.as_ref();
    let expired = muster_control_plane::access::api_tokens::create_api_token(
        store,
        "old",
        Role::Admin,
        std::time::Duration::from_secs(60),
        "test",
        unix_now() - 120,
    )
    .await
    .unwrap();
    assert_eq!(h.send(whoami(&expired.token)).await.status(), 401);
    assert_eq!(h.send(whoami("mst_0000_forged")).await.status(), 401);
    let basic = get("/api/v1/whoami").header(header::AUTHORIZATION, "Basic YTpi").body(Body::empty()).unwrap();
    assert_eq!(h.send(basic).await.status(), 401);
}

#[tokio::test]
async fn state_changes_and_logins_are_audited_with_actor_source_and_outcome() {
    let h = Harness::tls().await;
    h.add_user("root", Role::Admin).await;
    h.try_login("root", "wrong password!!", "10.2.3.4").await;
    let browser = h.login("root").await;
    let request = http::Request::builder()
        .method("POST")
        .uri("/api/v1/admin/api-tokens")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, &browser.cookie)
        .header("x-csrf-token", &browser.csrf)
        .body(Body::from(r#"{"name":"ci","role":"viewer","ttl":"1d"}"#))
        .unwrap();
    let request = with_addr(request, "10.2.3.5");
    assert_eq!(h.send(request).await.status(), 201);
    let viewer = h.token(Role::Viewer).await;
    let denied = http::Request::builder()
        .method("POST")
        .uri("/api/v1/admin/api-tokens/abc/revoke")
        .header(header::AUTHORIZATION, format!("Bearer {viewer}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(denied).await.status(), 403);

    let entries = h.cp.store.list_audit(None, 100).await.unwrap();
    let find = |action: &str, outcome: AuditOutcome| {
        entries
            .iter()
            .find(|e| e.entry.action == action && e.entry.outcome == outcome)
            .unwrap_or_else(|| panic!("no {action} {outcome:?} in {entries:#?}"))
    };
    let failed = find("session.login", AuditOutcome::Denied);
    assert_eq!((failed.entry.actor.as_str(), failed.entry.source_addr.as_str()), ("root", "10.2.3.4"));
    find("session.login", AuditOutcome::Success);
    find("user.create", AuditOutcome::Success);
    let created = find("api_token.create", AuditOutcome::Success);
    assert_eq!((created.entry.actor.as_str(), created.entry.source_addr.as_str()), ("root", "10.2.3.5"));
    assert!(created.entry.detail.contains("role viewer"));
    let refused = find("POST /api/v1/admin/api-tokens/{id}/revoke", AuditOutcome::Denied);
    assert!(refused.entry.actor.starts_with("token:"));
    // The audit API lists newest first and is admin-only.
    let admin = h.token(Role::Admin).await;
    let listed = h
        .send(
            get("/api/v1/admin/audit?limit=2")
                .header(header::AUTHORIZATION, format!("Bearer {admin}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let listed: Vec<serde_json::Value> = serde_json::from_str(&body_text(listed).await).unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed[0]["id"].as_i64() > listed[1]["id"].as_i64());
}

#[tokio::test]
async fn unauthenticated_pages_redirect_to_login_with_a_local_next_only() {
    let h = Harness::tls().await;
    let response = h.send(get("/?tab=1").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[header::LOCATION], "/login?next=%2F%3Ftab%3D1");
    for (next, expected) in
        [("%2Fendpoints", "/endpoints"), ("https%3A%2F%2Fevil.example", "/"), ("%2F%2Fevil.example", "/")]
    {
        let page = body_text(h.send(get(&format!("/login?next={next}")).body(Body::empty()).unwrap()).await).await;
        assert!(page.contains(&format!("name=\"next\" value=\"{expected}\"")), "{next}: {page}");
    }
    // And the login itself redirects only locally, whatever the form says.
    h.add_user("alice", Role::Viewer).await;
    let (cookie, csrf) = h.login_form().await;
    let body = serde_urlencoded::to_string([
        ("username", "alice"),
        ("password", PASSWORD),
        ("csrf_token", csrf.as_str()),
        ("next", "//evil.example/x"),
    ])
    .unwrap();
    let response =
        h.send(form_post("/login", &body).header(header::COOKIE, cookie).body(Body::from(body)).unwrap()).await;
    assert_eq!(response.headers()[header::LOCATION], "/");
}

#[tokio::test]
async fn idle_and_expired_sessions_are_refused_and_cleared() {
    use muster_control_plane::access::sessions;
    use muster_control_plane::store::NewSession;
    let h = Harness::tls().await;
    h.add_user("alice", Role::Viewer).await;
    let now = unix_now();
    let idle = h.cp.http.session_idle.as_secs() as i64;
    // (created, expires): fresh; idle since creation; past its absolute expiry.
    let cases = [(now, now + 3600, 200), (now - idle - 5, now + 3600, 401), (now - 10, now - 1, 401)];
    for (created_at, expires_at, expected) in cases {
        let secret = sessions::random_secret().unwrap();
        let new = NewSession {
            id_hash: sessions::hash_secret(&secret),
            username: "alice".into(),
            created_at,
            expires_at,
            source_addr: "test".into(),
        };
        h.cp.store.create_session(&new).await.unwrap();
        let cookie = format!("__Host-muster_session={secret}");
        let response = h.send(get("/api/v1/whoami").header(header::COOKIE, cookie).body(Body::empty()).unwrap()).await;
        assert_eq!(response.status(), expected, "created {created_at} expires {expires_at}");
        let cleared = set_cookies(&response).iter().any(|c| c.starts_with("__Host-muster_session=;"));
        assert_eq!(cleared, expected == 401);
    }
}

#[tokio::test]
async fn admins_create_users_over_the_api_and_weak_passwords_are_refused() {
    let h = Harness::tls().await;
    let admin = h.token(Role::Admin).await;
    let create = |body: &str| {
        http::Request::builder()
            .method("POST")
            .uri("/api/v1/admin/users")
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let body = format!(r#"{{"username":"dana","role":"analyst","password":"{PASSWORD}"}}"#);
    assert_eq!(h.send(create(&body)).await.status(), 201);
    assert_eq!(h.send(create(&body)).await.status(), 400, "duplicate");
    assert_eq!(h.send(create(r#"{"username":"erin","role":"viewer","password":"short"}"#)).await.status(), 400);
    assert_eq!(h.send(create(&body.replace("dana", "<b>"))).await.status(), 400, "invalid name");
    let browser = h.login("dana").await;
    let whoami =
        h.send(get("/api/v1/whoami").header(header::COOKIE, &browser.cookie).body(Body::empty()).unwrap()).await;
    assert!(body_text(whoami).await.contains("\"role\":\"analyst\""));
    let audit = h.cp.store.list_audit(None, 50).await.unwrap();
    let created: Vec<_> = audit.iter().filter(|r| r.entry.action == "user.create").collect();
    assert_eq!(created.len(), 1, "{audit:#?}");
    assert!(created[0].entry.target == "dana" && created[0].entry.actor.starts_with("token:"));
    // Refused attempts are audited by route, as failures.
    let failed = audit
        .iter()
        .filter(|r| r.entry.action == "POST /api/v1/admin/users" && r.entry.outcome == AuditOutcome::Failure)
        .count();
    assert_eq!(failed, 3, "{audit:#?}");
    let revoke = http::Request::builder()
        .method("POST")
        .uri("/api/v1/admin/agents/no-such-agent/revoke")
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(revoke).await.status(), 404);
}

/// Regression: signing in while the browser still holds a stale session cookie (signed out,
/// expired, revoked) set the new session cookie and then deleted it with a second `Set-Cookie`,
/// so the user landed back on the sign-in page.
#[tokio::test]
async fn sign_in_with_a_stale_session_cookie_keeps_the_new_session() {
    let h = Harness::tls().await;
    h.add_user("alice", Role::Viewer).await;
    // A stale cookie: a session that was signed out (revoked server-side).
    let old = h.login("alice").await;
    let body = format!("csrf_token={}", old.csrf);
    let logout = form_post("/logout", &body).header(header::COOKIE, &old.cookie).body(Body::from(body)).unwrap();
    assert_eq!(h.send(logout).await.status(), 303);

    let (csrf_cookie, csrf) = h.login_form().await;
    let body =
        serde_urlencoded::to_string([("username", "alice"), ("password", PASSWORD), ("csrf_token", &csrf)]).unwrap();
    let request = form_post("/login", &body)
        .header(header::COOKIE, format!("{csrf_cookie}; {}", old.cookie))
        .body(Body::from(body))
        .unwrap();
    let response = h.send(with_addr(request, "10.0.0.1")).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[header::LOCATION], "/");

    // What a browser keeps after applying every Set-Cookie header in order.
    let mut jar = std::collections::BTreeMap::new();
    for line in set_cookies(&response) {
        let (pair, attributes) = line.split_once(';').unwrap_or((&line, ""));
        let (name, value) = pair.split_once('=').unwrap();
        if value.is_empty() || attributes.split(';').any(|a| a.trim() == "Max-Age=0") {
            jar.remove(name);
        } else {
            jar.insert(name.to_string(), value.to_string());
        }
    }
    let session = jar.get("__Host-muster_session").expect("the browser keeps a session cookie after signing in");
    assert_ne!(format!("__Host-muster_session={session}"), old.cookie, "a new session, not the stale one");

    // Following the redirect with that cookie reaches a protected page, signed in.
    let cookie = format!("__Host-muster_session={session}");
    let page = h.send(get("/").header(header::COOKIE, &cookie).body(Body::empty()).unwrap()).await;
    assert_eq!(page.status(), 200);
    assert!(set_cookies(&page).iter().all(|c| !c.starts_with("__Host-muster_session=")), "the session is not cleared");
    let whoami = h.send(get("/api/v1/whoami").header(header::COOKIE, &cookie).body(Body::empty()).unwrap()).await;
    assert_eq!(whoami.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&body_text(whoami).await).unwrap();
    assert_eq!(body["name"], "alice");
}
