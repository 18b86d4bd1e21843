//! OpenID Connect single sign-on through the `openidconnect` crate: authorization code flow with
//! PKCE (S256), `state` and `nonce`.
//!
//! `/auth/oidc/start` discovers the provider (cached for an hour), creates a pending flow (state, nonce,
//! PKCE verifier, where to go next) kept in memory under a random flow id, sets that id in a
//! short-lived cookie and redirects to the provider. `/auth/oidc/callback` takes the flow named by
//! the cookie (so another browser's callback cannot complete it), checks `state`, redeems the code
//! with the verifier, verifies the ID token (signature against the provider's JWKS, issuer,
//! audience, expiry, nonce), maps the configured role claim to a role and starts a session.
//!
//! Pending flows are per process and expire after ten minutes. The HTTP client follows no
//! redirects, so the provider cannot point it elsewhere. Local accounts are never taken over by a
//! single-sign-on login with the same name.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope,
};

use crate::config::OidcConfig;
use crate::store::Role;

/// How long discovery (and the provider's signing keys) are cached.
pub const METADATA_TTL_SECS: i64 = 3600;
/// How long a started login may take.
pub const FLOW_TTL_SECS: i64 = 600;
/// Pending flows kept at most (oldest dropped first), so unauthenticated starts cannot grow memory.
const MAX_PENDING: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("single sign-on is not configured")]
    NotConfigured,
    #[error("invalid single sign-on configuration: {0}")]
    Config(String),
    #[error("cannot discover the identity provider: {0}")]
    Discovery(String),
    #[error("single sign-on flow unknown or expired")]
    UnknownFlow,
    #[error("state does not match the started flow")]
    StateMismatch,
    #[error("the identity provider refused the code: {0}")]
    Exchange(String),
    #[error("the ID token is invalid: {0}")]
    IdToken(String),
    #[error("the ID token has no usable `{0}` claim")]
    MissingClaim(String),
    #[error("no role is mapped for this account")]
    NoRole,
    #[error("no randomness available")]
    Random,
}

/// A login started at the provider and not yet finished.
#[derive(Debug)]
struct PendingFlow {
    state: String,
    nonce: String,
    pkce_verifier: String,
    next: String,
    created_at: i64,
}

/// An account the provider vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    pub username: String,
    pub role: Role,
    pub next: String,
}

/// Single-sign-on state for one router.
#[derive(Debug)]
pub struct OidcRuntime {
    config: OidcConfig,
    metadata: tokio::sync::Mutex<Option<(CoreProviderMetadata, i64)>>,
    http: openidconnect::reqwest::Client,
    pending: Mutex<HashMap<String, PendingFlow>>,
}

impl OidcRuntime {
    pub fn new(config: OidcConfig) -> Self {
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .unwrap_or_default();
        Self { config, metadata: tokio::sync::Mutex::new(None), http, pending: Mutex::new(HashMap::new()) }
    }

    /// The provider's discovery document with its JWKS, re-fetched after [`METADATA_TTL_SECS`] so
    /// signing-key rotation at the provider is picked up without a restart.
    async fn metadata(&self, now: i64) -> Result<CoreProviderMetadata, OidcError> {
        let mut cached = self.metadata.lock().await;
        if let Some((metadata, fetched_at)) = cached.as_ref()
            && now - fetched_at < METADATA_TTL_SECS
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone()).map_err(|e| OidcError::Config(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Discovery(error_chain(&e)))?;
        *cached = Some((metadata.clone(), now));
        Ok(metadata)
    }

    fn client(&self, metadata: &CoreProviderMetadata) -> Result<OidcClient, OidcError> {
        let redirect =
            RedirectUrl::new(self.config.redirect_url.clone()).map_err(|e| OidcError::Config(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a login: returns (flow id for the cookie, provider URL to redirect to).
    pub async fn start(&self, next: &str, now: i64) -> Result<(String, String), OidcError> {
        let metadata = self.metadata(now).await?;
        let client = self.client(&metadata)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge);
        for scope in ["profile", "email"] {
            request = request.add_scope(Scope::new(scope.to_string()));
        }
        let (url, state, nonce) = request.url();
        let flow_id = crate::access::sessions::random_secret().map_err(|_| OidcError::Random)?;
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.retain(|_, flow| now - flow.created_at < FLOW_TTL_SECS);
        if pending.len() >= MAX_PENDING
            && let Some(oldest) = pending.iter().min_by_key(|(_, flow)| flow.created_at).map(|(id, _)| id.clone())
        {
            pending.remove(&oldest);
        }
        pending.insert(
            flow_id.clone(),
            PendingFlow {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                next: next.to_string(),
                created_at: now,
            },
        );
        Ok((flow_id, url.to_string()))
    }

    /// Finishes a login for the flow `flow_id` with the provider's `code` and `state`. The flow is
    /// used up whatever the outcome.
    pub async fn finish(&self, flow_id: &str, code: &str, state: &str, now: i64) -> Result<OidcIdentity, OidcError> {
        let flow = {
            let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            pending.remove(flow_id)
        };
        let flow = flow.filter(|flow| now - flow.created_at < FLOW_TTL_SECS).ok_or(OidcError::UnknownFlow)?;
        if !crate::access::sessions::same_secret(&flow.state, state) {
            return Err(OidcError::StateMismatch);
        }
        let metadata = self.metadata(now).await?;
        let client = self.client(&metadata)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Exchange(error_chain(&e)))?;
        use openidconnect::TokenResponse as _;
        let id_token = response.id_token().ok_or_else(|| OidcError::IdToken("missing".to_string()))?;
        id_token
            .claims(&client.id_token_verifier(), &Nonce::new(flow.nonce))
            .map_err(|e| OidcError::IdToken(error_chain(&e)))?;
        // The signature and standard claims are verified above; read the configured claims from
        // the same (verified) payload.
        let payload = jwt_payload(&id_token.to_string())?;
        let username = claim_strings(&payload, &self.config.username_claim)
            .into_iter()
            .next()
            .filter(|name| !name.is_empty() && name.len() <= 200)
            .ok_or_else(|| OidcError::MissingClaim(self.config.username_claim.clone()))?;
        let role =
            map_role(&self.config, &claim_strings(&payload, &self.config.role_claim)).ok_or(OidcError::NoRole)?;
        Ok(OidcIdentity { username, role, next: flow.next })
    }
}

type OidcClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The most privileged role any of `values` maps to, else the default role.
pub fn map_role(config: &OidcConfig, values: &[String]) -> Option<Role> {
    values.iter().filter_map(|value| config.role_map.get(value)).copied().max().or(config.default_role)
}

fn jwt_payload(jwt: &str) -> Result<serde_json::Value, OidcError> {
    let part = jwt.split('.').nth(1).ok_or_else(|| OidcError::IdToken("not a JWS".to_string()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| OidcError::IdToken(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| OidcError::IdToken(e.to_string()))
}

/// A claim as strings: a string, or the strings of an array.
fn claim_strings(payload: &serde_json::Value, claim: &str) -> Vec<String> {
    match payload.get(claim) {
        Some(serde_json::Value::String(value)) => vec![value.clone()],
        Some(serde_json::Value::Array(values)) => {
            values.iter().filter_map(|v| v.as_str()).map(str::to_string).collect()
        }
        _ => Vec::new(),
    }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OidcConfig {
        OidcConfig {
            issuer: "https://idp.example".into(),
            client_id: "muster".into(),
            client_secret: None,
            redirect_url: "https://muster.example/auth/oidc/callback".into(),
            username_claim: "email".into(),
            role_claim: "groups".into(),
            role_map: [("sec-admins".to_string(), Role::Admin), ("sec".to_string(), Role::Analyst)].into(),
            default_role: None,
        }
    }

    #[test]
    fn the_most_privileged_mapped_role_wins_and_unmapped_accounts_get_none() {
        let groups = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(map_role(&config(), &groups(&["sec", "sec-admins"])), Some(Role::Admin));
        assert_eq!(map_role(&config(), &groups(&["sec", "staff"])), Some(Role::Analyst));
        assert_eq!(map_role(&config(), &groups(&["staff"])), None);
        let with_default = OidcConfig { default_role: Some(Role::Viewer), ..config() };
        assert_eq!(map_role(&with_default, &groups(&["staff"])), Some(Role::Viewer));
    }

    #[test]
    fn claims_are_read_as_strings_or_string_arrays() {
        let payload = serde_json::json!({"email": "a@b", "groups": ["x", 3, "y"]});
        assert_eq!(claim_strings(&payload, "email"), ["a@b"]);
        assert_eq!(claim_strings(&payload, "groups"), ["x", "y"]);
        assert!(claim_strings(&payload, "missing").is_empty());
    }
}
