//! The lethal trifecta per client and user: when the *enabled* servers one client runs for one
//! user together bring access to private data, exposure to untrusted content and a way to
//! communicate externally, a prompt injection in the untrusted content can exfiltrate the private
//! data. The finding names the servers behind each leg. Legs come from the service catalog
//! (default tools only; "maybe" legs do not count) or, for unknown servers, from a name guess.

use std::collections::BTreeMap;

use super::ServerAnalysis;
use crate::catalog::{Leg, ServiceCatalog};
use crate::discovery::Discovery;
use crate::findings::catalog::FindingsCatalog;
use muster_proto::v1 as pb;

/// Servers (id, name) behind each leg.
type LegServers = BTreeMap<&'static str, Vec<(String, String)>>;

const LEGS: [Leg; 3] = [Leg::PrivateData, Leg::UntrustedContent, Leg::ExternalCommunication];

fn legs_of(s: &crate::discovery::ServerRecord, catalog: &ServiceCatalog) -> Vec<Leg> {
    if let Some(entry) = catalog.lookup(s.package.as_ref(), s.endpoint.as_ref(), s.raw.command.as_deref()) {
        return LEGS.iter().copied().filter(|l| entry.brings(*l)).collect();
    }
    let env_names: Vec<&str> = s.raw.env.iter().map(|(k, _)| k.as_str()).collect();
    let host = s.endpoint.as_ref().map(|e| e.host.as_str());
    catalog.guess(&s.raw.name, &env_names, host).map(|g| g.legs.to_vec()).unwrap_or_default()
}

/// One finding per (user, client) whose enabled servers cover all three legs.
pub fn findings(
    d: &Discovery,
    _analyses: &[ServerAnalysis],
    catalog: &ServiceCatalog,
    findings: &FindingsCatalog,
) -> Vec<pb::Finding> {
    let Some(def) = findings.get("MUSTER-LETHAL-TRIFECTA") else { return Vec::new() };
    // (user, client) -> leg -> servers
    let mut groups: BTreeMap<(String, &str), LegServers> = BTreeMap::new();
    for s in d.servers.iter().filter(|s| !s.raw.disabled) {
        let key = (s.user.clone().unwrap_or_default(), s.client);
        for leg in legs_of(s, catalog) {
            groups
                .entry(key.clone())
                .or_default()
                .entry(leg.as_str())
                .or_default()
                .push((s.id.clone(), s.raw.name.clone()));
        }
    }
    let mut out = Vec::new();
    for ((user, client), legs) in groups {
        if !LEGS.iter().all(|l| legs.contains_key(l.as_str())) {
            continue;
        }
        let describe = |leg: Leg| {
            let mut names: Vec<&str> = legs[leg.as_str()].iter().map(|(_, n)| n.as_str()).collect();
            names.sort();
            names.dedup();
            format!("{} ({})", leg.as_str().replace('_', " "), names.join(", "))
        };
        // Servers without a user are managed ones, or project ones in a `--project` scan.
        let project_only = legs
            .values()
            .flatten()
            .all(|(id, _)| d.servers.iter().find(|s| s.id == *id).is_some_and(|s| s.scope == pb::Scope::Project));
        let who = match (user.is_empty(), project_only) {
            (false, _) => format!("user {user}"),
            (true, false) => "managed configuration".to_string(),
            (true, true) => "the scanned project".to_string(),
        };
        let mut f = def.to_finding(format!(
            "{client} for {who} runs servers that together bring all three legs: {}; {}; {}",
            describe(Leg::PrivateData),
            describe(Leg::UntrustedContent),
            describe(Leg::ExternalCommunication)
        ));
        let mut ids: Vec<String> = legs.values().flatten().map(|(id, _)| id.clone()).collect();
        ids.sort();
        ids.dedup();
        f.server_ids = ids;
        f.client = client.to_string();
        f.user = user;
        out.push(f);
    }
    out
}
