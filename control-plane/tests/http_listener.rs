//! The real HTTP listener: HTTPS with the control plane's certificate by default, the peer address
//! reaching the audit log, and plain HTTP refused off loopback (at config load and at serve).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;

use muster_control_plane::access::accounts;
use muster_control_plane::config::{self, HttpConfig, Overrides};
use muster_control_plane::server::ServeError;
use muster_control_plane::state::unix_now;
use muster_control_plane::store::Role;
use muster_control_plane::testing::{TestControlPlane, https_request};

#[tokio::test]
async fn https_is_served_with_the_control_plane_certificate_and_sees_the_peer() {
    let cp = TestControlPlane::start().await.unwrap();
    accounts::add_local_user(cp.store(), "alice", Role::Viewer, "correct horse battery staple", "test", unix_now())
        .await
        .unwrap();
    let page =
        https_request(cp.http_addr, cp.ca_pem(), "GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.to_lowercase().contains("strict-transport-security: max-age="), "{page}");
    let cookie = page
        .lines()
        .find_map(|line| line.strip_prefix("set-cookie: __Host-muster_login_csrf="))
        .expect("login form cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let body = format!("username=alice&password=wrong+password+here&csrf_token={cookie}");
    let request = format!(
        "POST /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nCookie: __Host-muster_login_csrf={cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let refused = https_request(cp.http_addr, cp.ca_pem(), &request).await.unwrap();
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let audit = cp.store().list_audit(None, 10).await.unwrap();
    let login = audit.iter().find(|r| r.entry.action == "session.login").expect("audited login");
    assert_eq!(login.entry.source_addr, "127.0.0.1");
    cp.stop().await.unwrap();
}

#[tokio::test]
async fn plain_http_is_refused_off_loopback_when_serving() {
    let dir = tempfile::tempdir().unwrap();
    let pki = muster_control_plane::pki::Pki::load_or_create(dir.path(), &["localhost".to_string()]).unwrap();
    let store =
        muster_control_plane::store::open(&format!("sqlite://{}", dir.path().join("m.db").display())).await.unwrap();
    let http = HttpConfig { tls: false, ..HttpConfig::default() };
    let state =
        muster_control_plane::ControlPlane::with_http(store, std::sync::Arc::new(pki), Default::default(), http);
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    // Refused before serving anything; a timeout (not a hang) if that check were gone.
    let serving = muster_control_plane::serve(state, grpc, http, std::future::pending());
    let error = tokio::time::timeout(std::time::Duration::from_secs(20), serving)
        .await
        .expect("serve must refuse at once, not start")
        .unwrap_err();
    assert!(matches!(error, ServeError::HttpListener(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("plain HTTP is only allowed on a loopback address"), "{message}");
}

#[test]
fn plain_http_is_refused_off_loopback_in_the_config() {
    let file = "version = 1\nhttp_listen = \"0.0.0.0:7080\"\n[http]\ntls = false\n";
    let errors = config::load(Some(file), &BTreeMap::new(), &Overrides::default()).unwrap_err();
    assert!(errors.0.iter().any(|p| p.contains("plain HTTP is only allowed on a loopback address")), "{errors}");
    let loopback = "version = 1\nhttp_listen = \"127.0.0.1:7080\"\n[http]\ntls = false\n";
    let config = config::load(Some(loopback), &BTreeMap::new(), &Overrides::default()).unwrap();
    assert!(!config.http.tls);
    assert!(config::load(None, &BTreeMap::new(), &Overrides::default()).unwrap().http.tls, "HTTPS by default");
}

#[test]
fn http_settings_are_checked_together() {
    let file = "version = 1\n[http]\ntls_cert = \"/c.pem\"\ncors_origins = [\"*\", \"https://ops.example/path\"]\n\
                session_idle = \"soon\"\n[http.oidc]\nissuer = \"idp\"\nclient_id = \"\"\nredirect_url = \"https://m/cb\"\n";
    let errors = config::load(Some(file), &BTreeMap::new(), &Overrides::default()).unwrap_err();
    assert_eq!(errors.0.len(), 6, "{errors}");
    let env = BTreeMap::from([(config::ENV_OIDC_CLIENT_SECRET.to_string(), "from-env".to_string())]);
    let file = "version = 1\n[http]\ncors_origins = [\"https://ops.example\"]\n[http.oidc]\nissuer = \"https://idp\"\n\
                client_id = \"muster\"\nredirect_url = \"https://m/auth/oidc/callback\"\n[http.oidc.role_map]\nsec = \"admin\"\n";
    let config = config::load(Some(file), &env, &Overrides::default()).unwrap();
    let oidc = config.http.oidc.unwrap();
    assert_eq!(oidc.client_secret.as_deref(), Some("from-env"));
    assert_eq!(oidc.role_map["sec"], Role::Admin);
    assert_eq!(oidc.role_claim, "groups");
}
