//! Judging what discovery found: which credential each server holds and how it is stored
//! ([`credentials`]), which enterprise service it reaches (the catalog), which advisories hit
//! its package, and every finding of the findings catalog ([`rules`], [`trifecta`]).
//!
//! Analysis runs inside the agent on raw values; its output holds no value, only locations,
//! kinds, keyed fingerprints and masked display strings. It does no I/O except the git-ignore
//! check of project files ([`git`]).

pub mod credentials;
pub mod git;
pub mod rules;
pub mod trifecta;

use std::collections::BTreeMap;

use crate::advisories::AdvisoryDb;
use crate::catalog::ServiceCatalog;
use crate::catalog::registry::{RegistryIndex, RegistryMatch};
use crate::discovery::Discovery;
use crate::findings::CompleteCatalog;
use crate::secrets::fingerprint::FleetKey;
use muster_proto::v1 as pb;

/// What analysis needs besides the discovery: the fleet key and the data sets.
pub struct AnalysisContext<'a> {
    pub fleet_key: &'a FleetKey,
    pub catalog: &'a ServiceCatalog,
    pub advisories: &'a AdvisoryDb,
    pub findings: &'a CompleteCatalog,
    /// MCP Registry data from a data bundle (empty without one).
    pub registry: &'a RegistryIndex,
}

/// Everything analysis adds to one server.
#[derive(Clone, Debug, Default)]
pub struct ServerAnalysis {
    pub service: Option<String>,
    pub service_guessed: bool,
    /// The lethal-trifecta legs the server brings by default (see [`rules::service_of`]).
    pub legs: Vec<crate::catalog::Leg>,
    pub credentials: Vec<pb::Credential>,
    pub findings: Vec<pb::Finding>,
    /// Arguments for display, with every detected secret masked.
    pub masked_args: Vec<String>,
    /// The URL for display, with every detected secret masked.
    pub masked_url: Option<String>,
    /// Package and endpoint parsed from the masked values (see
    /// [`credentials::masked_identity`]): what leaves the agent and what messages name.
    pub package: Option<pb::Package>,
    pub endpoint: Option<pb::RemoteEndpoint>,
    /// What the MCP Registry data says about the server, when it names it.
    pub registry: Option<RegistryMatch>,
}

/// The analysis of a whole discovery.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// One entry per `Discovery::servers`, in the same order.
    pub servers: Vec<ServerAnalysis>,
    /// Findings about a client, a user or the machine as a whole.
    pub findings: Vec<pb::Finding>,
}

/// Analyses every server and the discovery as a whole.
pub fn analyse(d: &Discovery, ctx: &AnalysisContext<'_>) -> Analysis {
    let mut servers: Vec<ServerAnalysis> = d
        .servers
        .iter()
        .map(|s| {
            let mut creds = credentials::server_credentials(s, ctx.fleet_key);
            let registry = ctx.registry.lookup(s.package.as_ref(), s.endpoint.as_ref());
            if let Some(hit) = &registry {
                credentials::registry_secrets(s, hit, ctx.fleet_key, &mut creds.credentials);
            }
            let facts = rules::service_of(s, ctx.catalog);
            if let Some(provider) = &facts.credential_provider {
                credentials::name_providers(&mut creds.credentials, provider);
            }
            let (package, endpoint) = credentials::masked_identity(s, &creds.masked_args, creds.masked_url.as_deref());
            ServerAnalysis {
                package,
                endpoint,
                service: facts.service,
                service_guessed: facts.guessed,
                legs: facts.legs,
                credentials: creds.credentials,
                findings: Vec::new(),
                masked_args: creds.masked_args,
                masked_url: creds.masked_url,
                registry,
            }
        })
        .collect();
    let mut findings = Vec::new();
    let git = git::GitIgnoreCache::default();
    for (i, s) in d.servers.iter().enumerate() {
        let source = &d.sources[s.source];
        let f = rules::server_findings(s, source, &servers[i], ctx, &git);
        servers[i].findings = f;
    }
    findings.extend(rules::reuse_findings(d, &servers, ctx.findings));
    findings.extend(rules::process_findings(d, ctx.findings));
    findings.extend(trifecta::findings(d, &servers, ctx.findings));
    // A finding names the servers it is about; client-level ones also carry client and user.
    for (i, s) in d.servers.iter().enumerate() {
        for f in &mut servers[i].findings {
            f.server_ids = vec![s.id.clone()];
            f.client = s.client.to_string();
            f.user = s.user.clone().unwrap_or_default();
        }
    }
    Analysis { servers, findings }
}

/// Counts of findings by severity, for summaries and `--fail-on`.
pub fn severity_counts(inv: &pb::InventorySnapshot) -> BTreeMap<i32, usize> {
    let mut counts = BTreeMap::new();
    for f in inv.findings.iter().chain(inv.servers.iter().flat_map(|s| s.findings.iter())) {
        *counts.entry(f.severity).or_insert(0) += 1;
    }
    counts
}
