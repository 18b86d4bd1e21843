//! Shared harness for the HTTP tests: a control plane on SQLite in a temp dir, its router driven
//! with `oneshot`, and helpers to sign in, mint API tokens and read cookies.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use http::{Request, Response, header};
use muster_control_plane::ControlPlane;
use muster_control_plane::access::{accounts, api_tokens};
use muster_control_plane::config::{HttpConfig, Limits};
use muster_control_plane::http::ClientAddr;
use muster_control_plane::pki::Pki;
use muster_control_plane::state::unix_now;
use muster_control_plane::store::Role;
use tower::ServiceExt as _;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct Harness {
    pub cp: Arc<ControlPlane>,
    pub router: Router,
    _dir: tempfile::TempDir,
}

/// A signed-in browser: its session cookie (`name=value`) and CSRF token.
#[derive(Debug, Clone)]
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

impl Harness {
    pub async fn new(http: HttpConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &["localhost".to_string()]).unwrap();
        let store = muster_control_plane::store::open(&format!("sqlite://{}", dir.path().join("m.db").display()))
            .await
            .unwrap();
        let cp = ControlPlane::with_http(store, Arc::new(pki), Limits::default(), http);
        let router = muster_control_plane::http::router(cp.clone());
        Self { cp, router, _dir: dir }
    }

    pub async fn tls() -> Self {
        Self::new(HttpConfig::default()).await
    }

    pub async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(request).await.unwrap()
    }

    pub async fn add_user(&self, name: &str, role: Role) {
        accounts::add_local_user(self.cp.store.as_ref(), name, role, PASSWORD, "test", unix_now()).await.unwrap();
    }

    pub async fn token(&self, role: Role) -> String {
        let issued = api_tokens::create_api_token(
            self.cp.store.as_ref(),
            "test",
            role,
            Duration::from_secs(3600),
            "test",
            unix_now(),
        )
        .await
        .unwrap();
        issued.token
    }

    /// The login form's pre-session CSRF cookie (`name=value`) and token.
    pub async fn login_form(&self) -> (String, String) {
        let response = self.send(get("/login").body(Body::empty()).unwrap()).await;
        assert_eq!(response.status(), 200);
        let cookie = set_cookies(&response).into_iter().find(|c| c.contains("muster_login_csrf=")).unwrap();
        let pair = cookie.split(';').next().unwrap().to_string();
        let token = pair.split_once('=').unwrap().1.to_string();
        (pair, token)
    }

    /// POSTs the login form from `addr`.
    pub async fn try_login(&self, name: &str, password: &str, addr: &str) -> Response<Body> {
        let (cookie, csrf) = self.login_form().await;
        let body =
            serde_urlencoded::to_string([("username", name), ("password", password), ("csrf_token", &csrf)]).unwrap();
        let request = form_post("/login", &body).header(header::COOKIE, cookie);
        self.send(with_addr(request.body(Body::from(body)).unwrap(), addr)).await
    }

    pub async fn login(&self, name: &str) -> Browser {
        let response = self.try_login(name, PASSWORD, "10.1.1.1").await;
        assert_eq!(response.status(), 303, "login of {name}");
        let cookie = set_cookies(&response).into_iter().find(|c| c.contains("muster_session=")).unwrap();
        let cookie = cookie.split(';').next().unwrap().to_string();
        let page = self.send(get("/").header(header::COOKIE, &cookie).body(Body::empty()).unwrap()).await;
        assert_eq!(page.status(), 200);
        let html = body_text(page).await;
        Browser { csrf: hidden_csrf(&html).expect("csrf token in the page"), cookie }
    }
}

pub fn get(path: &str) -> http::request::Builder {
    Request::builder().method("GET").uri(path)
}

pub fn form_post(path: &str, _body: &str) -> http::request::Builder {
    Request::builder().method("POST").uri(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
}

pub fn with_addr(mut request: Request<Body>, addr: &str) -> Request<Body> {
    let addr: SocketAddr = format!("{addr}:40000").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(ClientAddr(Some(addr))));
    request
}

pub fn set_cookies(response: &Response<Body>) -> Vec<String> {
    response.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

pub async fn body_text(response: Response<Body>) -> String {
    String::from_utf8(to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap()
}

/// The value of the first `name="csrf_token" value="..."` in a page.
pub fn hidden_csrf(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    Some(html[at..].split('"').next()?.to_string())
}
