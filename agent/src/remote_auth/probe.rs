//! The network half: asks one server, without credentials, what the MCP authorization
//! specification lets a client learn (2025-11-25 and 2026-07-28 revisions), and records the
//! answers as an [`Observation`]. Requests carry no header of the configuration, no cookie and
//! no credential; redirects are never followed; bodies are read up to [`BODY_LIMIT`]. The only
//! HTTP client is `reqwest` (rustls on ring, proxies from `HTTPS_PROXY` / `HTTP_PROXY` /
//! `NO_PROXY`).

use std::collections::BTreeMap;
use std::sync::Arc;

use reqwest::header::{ACCEPT, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Client, Response, StatusCode};
use serde::{Deserialize, Serialize};
use url::Url;

use super::target::ProbeTarget;
use super::{ProbeError, ProbeSettings, Timed};

/// The most of a body the probe reads.
const BODY_LIMIT: usize = 64 * 1024;
/// Hosts probed at once.
const PARALLEL_HOSTS: usize = 8;

/// What a server's answers said.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Observation {
    /// No HTTP answer at all; `reason` is the agent's own words ("connection refused").
    Unreachable {
        reason: String,
    },
    Answered(Answer),
}

/// The answers of a server that answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub initialize: InitReply,
    /// Protected resource metadata (RFC 9728), when found.
    pub resource_metadata: Option<ResourceMetadata>,
    /// The first authorization server's metadata (RFC 8414 / OpenID discovery), when found.
    pub as_metadata: Option<AsMetadata>,
}

/// How the server answered an MCP `initialize` (a GET of the stream for SSE) without credentials.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InitReply {
    /// An MCP answer: a JSON-RPC result, or an opened SSE stream.
    Mcp,
    /// 401 or 403; `bearer` when `WWW-Authenticate` asks for a bearer token.
    Refused { status: u16, bearer: bool },
    /// A redirect (not followed).
    Redirect { status: u16 },
    /// Anything else (a 2xx that is not MCP, 404, 5xx, ...).
    Other { status: u16 },
}

/// Where the protected resource metadata was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Discovery {
    /// The `resource_metadata` parameter of `WWW-Authenticate`.
    Header,
    /// `/.well-known/oauth-protected-resource` (path-inserted or at the root).
    WellKnown,
}

/// What the protected resource metadata says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceMetadata {
    pub discovery: Discovery,
    /// Host of the first authorization server; `None` when none is named.
    pub authorization_server: Option<String>,
    /// `resource` names the probed URL (RFC 9728 section 3.3, the canonical URI of RFC 8707).
    pub resource_matches: bool,
}

/// What the authorization server's metadata offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsMetadata {
    pub pkce_s256: bool,
    pub client_id_metadata_documents: bool,
    pub dynamic_registration: bool,
    pub iss_parameter: bool,
}

/// Probes every target, hosts (scheme, name, port) in parallel, each host's targets in turn
/// within `per_host`.
pub async fn probe_all(
    targets: Vec<ProbeTarget>,
    settings: &ProbeSettings,
    now: i64,
) -> Result<BTreeMap<String, Timed>, ProbeError> {
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.per_request)
        .connect_timeout(settings.per_request)
        .user_agent(concat!("muster-agent/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ProbeError::Client(e.to_string()))?;
    let mut by_host: BTreeMap<String, Vec<ProbeTarget>> = BTreeMap::new();
    for t in targets {
        // A host is an origin's host and port: one slow port does not eat another's time.
        by_host.entry(t.origin()).or_default().push(t);
    }
    let gate = Arc::new(tokio::sync::Semaphore::new(PARALLEL_HOSTS));
    let mut tasks = tokio::task::JoinSet::new();
    for (_, targets) in by_host {
        let client = client.clone();
        let gate = gate.clone();
        let per_host = settings.per_host;
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let mut out = Vec::new();
            let deadline = tokio::time::Instant::now() + per_host;
            for t in targets {
                let observation = match tokio::time::timeout_at(deadline, probe_one(&client, &t)).await {
                    Ok(o) => o,
                    Err(_) => Observation::Unreachable { reason: "timed out".into() },
                };
                out.push((t.key().to_string(), Timed { probed_at: now, observation }));
            }
            out
        });
    }
    let mut answers = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(list) => answers.extend(list),
            Err(e) => tracing::warn!(error = %e, "a remote auth probe task failed"),
        }
    }
    Ok(answers)
}

/// The JSON-RPC `initialize` request a client sends first.
fn initialize_body() -> String {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "muster-agent", "version": env!("CARGO_PKG_VERSION")},
        },
    })
    .to_string()
}

async fn probe_one(client: &Client, target: &ProbeTarget) -> Observation {
    let Ok(url) = target.url() else {
        return Observation::Unreachable { reason: "invalid URL".into() };
    };
    let request = if target.sse() {
        client.get(url.clone()).header(ACCEPT, "text/event-stream")
    } else {
        client
            .post(url.clone())
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json")
            .body(initialize_body())
    };
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Observation::Unreachable { reason: describe(&e) },
    };
    let status = response.status();
    let challenge: Vec<String> = response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let session = response.headers().get("mcp-session-id").cloned();
    let initialize = if status.is_success() {
        if is_mcp(response, target.sse()).await { InitReply::Mcp } else { InitReply::Other { status: status.as_u16() } }
    } else if status.is_redirection() {
        InitReply::Redirect { status: status.as_u16() }
    } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        let bearer = challenge.iter().any(|c| c.trim_start().to_ascii_lowercase().starts_with("bearer"));
        InitReply::Refused { status: status.as_u16(), bearer }
    } else {
        InitReply::Other { status: status.as_u16() }
    };
    if initialize == InitReply::Mcp {
        // End the session the initialize opened (the transport's DELETE), so the probe leaves
        // nothing behind; the session id is the server's own, not a credential of the config.
        if let Some(id) = session {
            let _ = client.delete(url.clone()).header("mcp-session-id", id).send().await;
        }
        return Observation::Answered(Answer { initialize, resource_metadata: None, as_metadata: None });
    }
    let header_url = challenge.iter().find_map(|c| resource_metadata_param(c)).and_then(|u| url.join(&u).ok());
    let resource_metadata = find_resource_metadata(client, &url, header_url).await;
    let as_metadata = match resource_metadata.as_ref().and_then(|(_, issuer)| issuer.as_ref()) {
        Some(issuer) => find_as_metadata(client, issuer).await,
        None => None,
    };
    Observation::Answered(Answer { initialize, resource_metadata: resource_metadata.map(|(m, _)| m), as_metadata })
}

/// Whether a 2xx answer is MCP: a JSON-RPC result (plain JSON or in an SSE `data:` line), or for
/// the SSE transport an opened event stream.
async fn is_mcp(response: Response, sse_transport: bool) -> bool {
    let content_type =
        response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if sse_transport {
        return content_type.starts_with("text/event-stream");
    }
    let stream = content_type.starts_with("text/event-stream");
    let Some(body) = read_limited(response, stream).await else { return false };
    let text = String::from_utf8_lossy(&body);
    let is_result = |v: &serde_json::Value| v.get("jsonrpc").is_some() && v.get("result").is_some();
    if stream {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(d.trim()).ok())
            .any(|v| is_result(&v))
    } else {
        serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| is_result(&v))
    }
}

/// Reads a body up to [`BODY_LIMIT`]; an SSE answer is read until its first complete event.
async fn read_limited(mut response: Response, first_event: bool) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while body.len() < BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                // An event stream stays open: stop at the end of its first event.
                if first_event && (body.windows(2).any(|w| w == b"\n\n") || body.windows(4).any(|w| w == b"\r\n\r\n")) {
                    break;
                }
            }
            Ok(None) => break,
            Err(_) => return if body.is_empty() { None } else { Some(body) },
        }
    }
    body.truncate(BODY_LIMIT);
    Some(body)
}

async fn get_json(client: &Client, url: Url) -> Option<serde_json::Map<String, serde_json::Value>> {
    let response = client.get(url).header(ACCEPT, "application/json").send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body = read_limited(response, false).await?;
    match serde_json::from_slice(&body).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The protected resource metadata, from the header's URL first, then the path-inserted and the
/// root well-known URIs (the specification's order), with the first authorization server's URL.
async fn find_resource_metadata(
    client: &Client,
    url: &Url,
    header_url: Option<Url>,
) -> Option<(ResourceMetadata, Option<Url>)> {
    let mut candidates: Vec<(Discovery, Url)> = Vec::new();
    if let Some(u) = header_url {
        candidates.push((Discovery::Header, u));
    }
    let path = url.path().trim_end_matches('/');
    if !path.is_empty() {
        candidates
            .push((Discovery::WellKnown, with_path(url, &format!("/.well-known/oauth-protected-resource{path}"))));
    }
    candidates.push((Discovery::WellKnown, with_path(url, "/.well-known/oauth-protected-resource")));
    for (discovery, candidate) in candidates {
        let Some(doc) = get_json(client, candidate).await else { continue };
        if !doc.contains_key("resource") && !doc.contains_key("authorization_servers") {
            continue;
        }
        let issuer = doc
            .get("authorization_servers")
            .and_then(|v| v.as_array())
            .and_then(|a| a.first())
            .and_then(|v| v.as_str())
            .and_then(|s| Url::parse(s).ok())
            .filter(|u| matches!(u.scheme(), "https" | "http"));
        let resource_matches = doc
            .get("resource")
            .and_then(|v| v.as_str())
            .and_then(|s| Url::parse(s).ok())
            .is_some_and(|r| same_resource(&r, url));
        let metadata = ResourceMetadata {
            discovery,
            authorization_server: issuer.as_ref().and_then(|u| u.host_str().map(str::to_string)),
            resource_matches,
        };
        return Some((metadata, issuer));
    }
    None
}

/// RFC 9728's `resource` names the server: same origin, and the same path or a prefix of it
/// (a server identified by its origin serves its MCP endpoint under it).
fn same_resource(resource: &Url, url: &Url) -> bool {
    let r_path = resource.path().trim_end_matches('/');
    resource.origin() == url.origin() && url.path().trim_end_matches('/').starts_with(r_path)
}

/// The authorization server's metadata in the specification's order: for an issuer with a path
/// RFC 8414 path-inserted, OpenID path-inserted, OpenID path-appended; without, RFC 8414 then
/// OpenID.
async fn find_as_metadata(client: &Client, issuer: &Url) -> Option<AsMetadata> {
    let path = issuer.path().trim_end_matches('/');
    let candidates = if path.is_empty() {
        vec![
            with_path(issuer, "/.well-known/oauth-authorization-server"),
            with_path(issuer, "/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            with_path(issuer, &format!("/.well-known/oauth-authorization-server{path}")),
            with_path(issuer, &format!("/.well-known/openid-configuration{path}")),
            with_path(issuer, &format!("{path}/.well-known/openid-configuration")),
        ]
    };
    for candidate in candidates {
        let Some(doc) = get_json(client, candidate).await else { continue };
        if !doc.contains_key("issuer") && !doc.contains_key("authorization_endpoint") {
            continue;
        }
        let flag = |key: &str| doc.get(key).and_then(|v| v.as_bool()).unwrap_or(false);
        let pkce_s256 = doc
            .get("code_challenge_methods_supported")
            .and_then(|v| v.as_array())
            .is_some_and(|a| a.iter().any(|m| m.as_str() == Some("S256")));
        return Some(AsMetadata {
            pkce_s256,
            client_id_metadata_documents: flag("client_id_metadata_document_supported"),
            dynamic_registration: doc
                .get("registration_endpoint")
                .and_then(|v| v.as_str())
                .is_some_and(|s| !s.is_empty()),
            iss_parameter: flag("authorization_response_iss_parameter_supported"),
        });
    }
    None
}

fn with_path(base: &Url, path: &str) -> Url {
    let mut u = base.clone();
    u.set_path(path);
    u.set_query(None);
    u.set_fragment(None);
    u
}

/// The `resource_metadata` auth-param of a `WWW-Authenticate` value (RFC 9728 section 5.1),
/// quoted or a token.
fn resource_metadata_param(challenge: &str) -> Option<String> {
    let lower = challenge.to_ascii_lowercase();
    let at = lower.find("resource_metadata")?;
    let rest = challenge[at + "resource_metadata".len()..].trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    if let Some(quoted) = rest.strip_prefix('"') {
        quoted.find('"').map(|end| quoted[..end].to_string())
    } else {
        let end = rest.find(|c: char| c == ',' || c.is_whitespace()).unwrap_or(rest.len());
        (end > 0).then(|| rest[..end].to_string())
    }
}

/// A transport error in the agent's own words (reqwest's text can quote the URL).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        let text = format!("{e:?}").to_ascii_lowercase();
        if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
            "TLS handshake failed".into()
        } else if text.contains("dns") || text.contains("resolve") || text.contains("lookup") {
            "name not resolved".into()
        } else if text.contains("refused") {
            "connection refused".into()
        } else {
            "connection failed".into()
        }
    } else {
        "request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_metadata_parameter_is_read_quoted_or_bare() {
        let h = r#"Bearer realm="mcp", resource_metadata="https://a.example/.well-known/oauth-protected-resource", scope="x""#;
        assert_eq!(
            resource_metadata_param(h).as_deref(),
            Some("https://a.example/.well-known/oauth-protected-resource")
        );
        assert_eq!(
            resource_metadata_param("Bearer resource_metadata=https://b/x, scope=y").as_deref(),
            Some("https://b/x")
        );
        assert_eq!(resource_metadata_param("Bearer realm=\"x\""), None);
    }

    #[test]
    fn a_resource_names_the_server_by_origin_or_path_prefix() {
        let u = |s: &str| Url::parse(s).unwrap_or_else(|_| unreachable!("test URL"));
        assert!(same_resource(&u("https://a.example/mcp"), &u("https://a.example/mcp")));
        assert!(same_resource(&u("https://a.example"), &u("https://a.example/mcp")));
        assert!(!same_resource(&u("https://b.example/mcp"), &u("https://a.example/mcp")));
        assert!(!same_resource(&u("https://a.example/other"), &u("https://a.example/mcp")));
    }
}
