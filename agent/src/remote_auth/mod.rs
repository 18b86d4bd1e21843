//! Remote servers' authentication, verified: for every server that reaches an `http(s)` URL the
//! agent asks the server, without any credential, how it authenticates (the MCP authorization
//! specification's discovery: an MCP `initialize`, protected resource metadata per RFC 9728, the
//! authorization server's metadata per RFC 8414 / OpenID discovery), classifies the answers
//! (`oauth`, `oauth_partial`, `static_key`, `none`, `unknown`) and raises the findings that follow.
//!
//! The probe URL is built from the *wire* endpoint (scheme, host, port, path parsed again from
//! the masked URL), never from the raw configuration: userinfo, query and fragment are dropped,
//! and a path the masking touched is not probed at all, so no credential of the configuration can
//! be sent. No header, cookie or environment value of the configuration is read here.
//! This module does not decide *whether* to probe (the binary and the daemon do, from `--offline`
//! and `agent.toml`), and does no discovery or credential detection of its own. `scan` waits for
//! [`probe_and_annotate`]; the daemon uses [`BackgroundProber`], which never delays a scan.

mod background;
mod cache;
mod classify;
mod probe;
mod target;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use muster_proto::v1 as pb;

use crate::findings::{CompleteCatalog, FindingId};

pub use background::BackgroundProber;
pub use cache::ProbeCache;
pub use classify::judge;
pub use probe::{Answer, AsMetadata, Discovery, InitReply, Observation, ResourceMetadata};
pub use target::{ProbeTarget, Skip};

/// How the agent probes.
#[derive(Clone, Debug)]
pub struct ProbeSettings {
    /// All probes of one host (every URL on it, every request) end within this time.
    pub per_host: Duration,
    /// Each single request ends within this time.
    pub per_request: Duration,
    /// Where answers are kept for `max_age` (the state dir); `None` keeps nothing.
    pub cache_dir: Option<PathBuf>,
    /// How long a kept answer is used instead of asking again.
    pub max_age: Duration,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            per_host: Duration::from_secs(10),
            per_request: Duration::from_secs(5),
            cache_dir: None,
            max_age: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// Why the agent could not even start probing.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("building the HTTP client: {0}")]
    Client(String),
}

/// An answer and when it was collected (Unix seconds).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Timed {
    pub probed_at: i64,
    pub observation: Observation,
}

/// Probes every remote server of `inv` that is not answered from the cache, then annotates the
/// inventory (see [`annotate`]). `now` is Unix seconds.
pub async fn probe_and_annotate(
    inv: &mut pb::InventorySnapshot,
    settings: &ProbeSettings,
    catalog: &CompleteCatalog,
    now: i64,
) -> Result<(), ProbeError> {
    let answers = probe_inventory(inv, settings, now).await?;
    annotate(inv, &answers, None, catalog);
    Ok(())
}

/// Collects answers for every probe target of `inv`: kept ones younger than `max_age`, the rest
/// asked now (and kept, when there is a cache dir).
pub async fn probe_inventory(
    inv: &pb::InventorySnapshot,
    settings: &ProbeSettings,
    now: i64,
) -> Result<BTreeMap<String, Timed>, ProbeError> {
    let targets: BTreeSet<ProbeTarget> =
        inv.servers.iter().filter_map(|s| ProbeTarget::of(s).and_then(Result::ok)).collect();
    let mut cache = settings.cache_dir.as_deref().map(ProbeCache::load).unwrap_or_default();
    let max_age = i64::try_from(settings.max_age.as_secs()).unwrap_or(i64::MAX);
    let mut answers = BTreeMap::new();
    let mut wanted = Vec::new();
    for t in targets {
        match cache.fresh(t.key(), now, max_age) {
            Some(kept) => {
                answers.insert(t.key().to_string(), kept.clone());
            }
            None => wanted.push(t),
        }
    }
    if !wanted.is_empty() {
        let fresh = probe::probe_all(wanted, settings, now).await?;
        for (key, timed) in fresh {
            cache.put(&key, timed.clone());
            answers.insert(key, timed);
        }
        cache.retain_younger(now, max_age);
        if let Some(dir) = &settings.cache_dir
            && let Err(e) = cache.save(dir)
        {
            tracing::warn!(error = %e, "remote auth answers not kept");
        }
    }
    Ok(answers)
}

/// Sets `endpoint.auth` on every server with a remote endpoint and adds the findings that follow
/// from it. `answers` are keyed by [`ProbeTarget::key`]; a server without an answer is judged
/// from its configuration, with `not_probed` (e.g. "offline") as the reason.
pub fn annotate(
    inv: &mut pb::InventorySnapshot,
    answers: &BTreeMap<String, Timed>,
    not_probed: Option<&str>,
    catalog: &CompleteCatalog,
) {
    for server in &mut inv.servers {
        let Some(target) = ProbeTarget::of(server) else { continue };
        let config_key = !server.credentials.is_empty();
        let auth = match &target {
            Ok(t) => match answers.get(t.key()) {
                Some(timed) => judge(Some(timed), None, config_key),
                None => judge(None, Some(not_probed.unwrap_or("not probed")), config_key),
            },
            Err(skip) => judge(None, Some(skip.reason()), config_key),
        };
        let mut auth = auth;
        crate::inventory::scrub_remote_auth(&mut auth);
        let findings = findings_of(server, &auth, catalog);
        server.findings.extend(findings);
        if let Some(endpoint) = server.endpoint.as_mut() {
            endpoint.auth = Some(auth);
        }
    }
}

fn findings_of(server: &pb::McpServer, auth: &pb::RemoteAuth, catalog: &CompleteCatalog) -> Vec<pb::Finding> {
    let mut out = Vec::new();
    let name = &server.name;
    let posture = pb::AuthPosture::try_from(auth.posture).unwrap_or_default();
    if auth.verified && posture == pb::AuthPosture::None {
        out.push(
            catalog
                .def(FindingId::RemoteNoAuth)
                .to_finding(format!("remote server {name:?} answered an MCP initialize without any credential")),
        );
    }
    let oauth = matches!(posture, pb::AuthPosture::Oauth | pb::AuthPosture::OauthPartial);
    let has_as_metadata = oauth && !auth.missing.iter().any(|m| m == classify::MISSING_AS_METADATA);
    if has_as_metadata && !auth.pkce_s256 {
        out.push(catalog.def(FindingId::RemoteOauthNoPkce).to_finding(format!(
            "remote server {name:?} uses OAuth whose authorization server does not offer PKCE with S256"
        )));
    }
    if has_as_metadata && auth.dynamic_registration && !auth.client_id_metadata_documents {
        out.push(catalog.def(FindingId::RemoteOauthDcrOnly).to_finding(format!(
            "remote server {name:?} uses OAuth whose authorization server registers clients only dynamically"
        )));
    }
    out
}
