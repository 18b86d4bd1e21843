//! Single sign-on against a fake OpenID provider served in-process on 127.0.0.1:0: discovery
//! document, JWKS, and a token endpoint that checks the PKCE verifier against the challenge of
//! the authorization request and signs an ID token with a test RSA key
//! (`fixtures/oidc/test_rsa_key.pem`, generated for these tests only).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod http_common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::routing::{get as get_route, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use http::{StatusCode, header};
use http_common::*;
use muster_control_plane::config::{HttpConfig, OidcConfig};
use muster_control_plane::store::Role;
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::{JsonWebKeyId, PrivateSigningKey as _};
use sha2::Digest as _;

const CLIENT_ID: &str = "muster";
const CLIENT_SECRET: &str = "client-secret";

/// What the provider knows about one issued code.
#[derive(Clone, Debug)]
struct Grant {
    challenge: String,
    nonce: String,
    email: String,
    groups: Vec<String>,
}

#[derive(Default)]
struct Provider {
    issuer: String,
    grants: HashMap<String, Grant>,
    /// Verifiers presented at the token endpoint, in order.
    verifiers: Vec<String>,
    token_requests: usize,
}

type Shared = Arc<Mutex<Provider>>;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn signing_key() -> CoreRsaPrivateSigningKey {
    let pem = include_str!("fixtures/oidc/test_rsa_key.pem");
    CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new("test-key".into()))).unwrap()
}

async fn discovery(State(provider): State<Shared>) -> Json<serde_json::Value> {
    let issuer = provider.lock().unwrap().issuer.clone();
    Json(serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks() -> Json<CoreJsonWebKeySet> {
    Json(CoreJsonWebKeySet::new(vec![signing_key().as_verification_key()]))
}

async fn token(
    State(provider): State<Shared>,
    headers: http::HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, Json<serde_json::Value>) {
    let mut provider = provider.lock().unwrap();
    provider.token_requests += 1;
    let refuse = |what: &str| {
        (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": "invalid_grant", "error_description": what})))
    };
    let basic =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
        return refuse("client authentication");
    }
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    provider.verifiers.push(verifier.clone());
    let Some(grant) = form.get("code").and_then(|code| provider.grants.remove(code)) else {
        return refuse("unknown code");
    };
    if b64(&sha2::Sha256::digest(verifier.as_bytes())) != grant.challenge {
        return refuse("PKCE verifier does not match the challenge");
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let header = serde_json::json!({"alg": "RS256", "kid": "test-key", "typ": "JWT"});
    let claims = serde_json::json!({
        "iss": provider.issuer, "aud": CLIENT_ID, "sub": format!("sub-{}", grant.email),
        "iat": now, "exp": now + 300, "nonce": grant.nonce, "email": grant.email, "groups": grant.groups,
    });
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature = signing_key().sign(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, input.as_bytes()).unwrap();
    let id_token = format!("{input}.{}", b64(&signature));
    (
        StatusCode::OK,
        Json(
            serde_json::json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token}),
        ),
    )
}

async fn start_provider() -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let provider: Shared = Arc::new(Mutex::new(Provider { issuer, ..Provider::default() }));
    let app = Router::new()
        .route("/.well-known/openid-configuration", get_route(discovery))
        .route("/jwks", get_route(jwks))
        .route("/token", post(token))
        .with_state(provider.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    provider
}

async fn harness(provider: &Shared) -> Harness {
    let issuer = provider.lock().unwrap().issuer.clone();
    let oidc = OidcConfig {
        issuer,
        client_id: CLIENT_ID.into(),
        client_secret: Some(CLIENT_SECRET.into()),
        redirect_url: "https://muster.test/auth/oidc/callback".into(),
        username_claim: "email".into(),
        role_claim: "groups".into(),
        role_map: [("sec-admins".to_string(), Role::Admin), ("sec".to_string(), Role::Analyst)].into(),
        default_role: None,
    };
    Harness::new(HttpConfig { oidc: Some(oidc), ..HttpConfig::default() }).await
}

/// A started flow: the flow cookie and the authorization request's parameters.
struct Started {
    cookie: String,
    params: HashMap<String, String>,
}

async fn start(h: &Harness, next: &str) -> Started {
    let response = h.send(get(&format!("/auth/oidc/start?next={next}")).body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), 303);
    let location = response.headers()[header::LOCATION].to_str().unwrap().to_string();
    let cookie = set_cookies(&response).into_iter().find(|c| c.contains("muster_oidc_flow=")).unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Lax"), "{cookie}");
    let url = url::Url::parse(&location).unwrap();
    assert!(url.path().ends_with("/authorize"));
    Started { cookie: cookie.split(';').next().unwrap().to_string(), params: url.query_pairs().into_owned().collect() }
}

async fn callback(h: &Harness, started: &Started, code: &str, state: &str) -> http::Response<Body> {
    let uri =
        format!("/auth/oidc/callback?{}", serde_urlencoded::to_string([("code", code), ("state", state)]).unwrap());
    h.send(get(&uri).header(header::COOKIE, &started.cookie).body(Body::empty()).unwrap()).await
}

fn grant(provider: &Shared, code: &str, started: &Started, groups: &[&str]) {
    provider.lock().unwrap().grants.insert(
        code.into(),
        Grant {
            challenge: started.params["code_challenge"].clone(),
            nonce: started.params["nonce"].clone(),
            email: "alice@corp.example".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        },
    );
}

#[tokio::test]
async fn sso_login_with_pkce_maps_the_role_claim_and_starts_a_session() {
    let provider = start_provider().await;
    let h = harness(&provider).await;
    let started = start(&h, "%2Fendpoints").await;
    assert_eq!(started.params["response_type"], "code");
    assert_eq!(started.params["client_id"], CLIENT_ID);
    assert_eq!(started.params["code_challenge_method"], "S256");
    assert_eq!(started.params["redirect_uri"], "https://muster.test/auth/oidc/callback");
    assert!(started.params["scope"].split(' ').any(|s| s == "openid"));
    grant(&provider, "code-1", &started, &["staff", "sec-admins"]);

    let response = callback(&h, &started, "code-1", &started.params["state"]).await;
    assert_eq!(response.status(), 200);
    let cookies = set_cookies(&response);
    let session = cookies.iter().find(|c| c.starts_with("__Host-muster_session=") && !c.contains("Max-Age=0")).unwrap();
    assert!(session.contains("SameSite=Strict") && session.contains("HttpOnly"));
    let page = body_text(response).await;
    assert!(page.contains("content=\"0;url=/endpoints\""), "{page}");

    // The verifier sent is the one whose S256 hash was the challenge.
    let verifier = provider.lock().unwrap().verifiers.last().unwrap().clone();
    assert_eq!(b64(&sha2::Sha256::digest(verifier.as_bytes())), started.params["code_challenge"]);

    let cookie = session.split(';').next().unwrap();
    let whoami = h.send(get("/api/v1/whoami").header(header::COOKIE, cookie).body(Body::empty()).unwrap()).await;
    let whoami: serde_json::Value = serde_json::from_str(&body_text(whoami).await).unwrap();
    assert_eq!(whoami["name"], "alice@corp.example");
    assert_eq!(whoami["role"], "admin");
    let audit = h.cp.store.list_audit(None, 10).await.unwrap();
    assert!(audit.iter().any(|r| r.entry.action == "session.login_oidc" && r.entry.actor == "alice@corp.example"));

    // The flow is used up: replaying the callback fails.
    let replay = callback(&h, &started, "code-1", &started.params["state"]).await;
    assert_eq!(replay.status(), 403);
}

#[tokio::test]
async fn wrong_state_is_refused_before_the_code_is_redeemed() {
    let provider = start_provider().await;
    let h = harness(&provider).await;
    let started = start(&h, "%2F").await;
    grant(&provider, "code-2", &started, &["sec"]);
    let response = callback(&h, &started, "code-2", "forged-state").await;
    assert_eq!(response.status(), 403);
    assert!(set_cookies(&response).iter().all(|c| !c.contains("muster_session=") || c.contains("Max-Age=0")));
    assert_eq!(provider.lock().unwrap().token_requests, 0, "the code must not be redeemed");
    // Without the flow cookie (another browser) the right state does not help either.
    let started = start(&h, "%2F").await;
    let uri = format!("/auth/oidc/callback?code=code-2&state={}", started.params["state"]);
    assert_eq!(h.send(get(&uri).body(Body::empty()).unwrap()).await.status(), 403);
}

#[tokio::test]
async fn a_code_bound_to_another_pkce_challenge_is_refused() {
    let provider = start_provider().await;
    let h = harness(&provider).await;
    let victim = start(&h, "%2F").await;
    let attacker = start(&h, "%2F").await;
    // A code issued for the attacker's authorization request, injected into the victim's flow.
    provider.lock().unwrap().grants.insert(
        "stolen".into(),
        Grant {
            challenge: attacker.params["code_challenge"].clone(),
            nonce: victim.params["nonce"].clone(),
            email: "mallory@corp.example".into(),
            groups: vec!["sec-admins".into()],
        },
    );
    let response = callback(&h, &victim, "stolen", &victim.params["state"]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(provider.lock().unwrap().token_requests, 1);
    assert!(h.cp.store.user("mallory@corp.example").await.unwrap().is_none());
}

#[tokio::test]
async fn unmapped_accounts_and_wrong_nonces_are_refused() {
    let provider = start_provider().await;
    let h = harness(&provider).await;
    let started = start(&h, "%2F").await;
    grant(&provider, "code-3", &started, &["staff"]);
    assert_eq!(callback(&h, &started, "code-3", &started.params["state"]).await.status(), 403);

    let started = start(&h, "%2F").await;
    grant(&provider, "code-4", &started, &["sec"]);
    provider.lock().unwrap().grants.get_mut("code-4").unwrap().nonce = "another-nonce".into();
    assert_eq!(callback(&h, &started, "code-4", &started.params["state"]).await.status(), 403);
    assert!(h.cp.store.user("alice@corp.example").await.unwrap().is_none());
}
