//! The lethal trifecta per client and user: when the *enabled* servers one client runs for one
//! user together bring access to private data, exposure to untrusted content and a way to
//! communicate externally, a prompt injection in the untrusted content can exfiltrate the private
//! data. The finding names the servers behind each leg. Legs come from the service catalog
//! (default tools only; "maybe" legs do not count) or, for unknown servers, from a name guess.
//! Servers of a project only count inside that project, together with the user-wide ones.

use std::collections::BTreeMap;

use super::ServerAnalysis;
use crate::catalog::Leg;
use crate::discovery::Discovery;
use crate::findings::{CompleteCatalog, FindingDef, FindingId};
use muster_proto::v1 as pb;

/// Servers (id, name) behind each leg.
type LegServers = BTreeMap<&'static str, Vec<(String, String)>>;

const LEGS: [Leg; 3] = [Leg::PrivateData, Leg::UntrustedContent, Leg::ExternalCommunication];

/// The servers one client runs for one user: those that apply everywhere (user and managed
/// files, `project` unset) and, per project, those that apply only inside it.
#[derive(Default)]
struct ClientServers {
    everywhere: LegServers,
    per_project: BTreeMap<String, LegServers>,
}

fn complete(legs: &LegServers) -> bool {
    LEGS.iter().all(|l| legs.contains_key(l.as_str()))
}

fn merged(a: &LegServers, b: &LegServers) -> LegServers {
    let mut out = a.clone();
    for (leg, servers) in b {
        out.entry(leg).or_default().extend(servers.iter().cloned());
    }
    out
}

/// One finding per (user, client, context) whose enabled servers cover all three legs. A
/// context is "everywhere" (servers from user and managed files) or one project (those plus the
/// project's own servers): servers of two different projects never run together, so they never
/// make a trifecta together.
pub fn findings(d: &Discovery, analyses: &[ServerAnalysis], findings: &CompleteCatalog) -> Vec<pb::Finding> {
    let def = findings.def(FindingId::LethalTrifecta);
    let mut groups: BTreeMap<(String, &str), ClientServers> = BTreeMap::new();
    // Each server's legs were read from the catalog once, with its service (`rules::service_of`).
    for (s, analysis) in d.servers.iter().zip(analyses).filter(|(s, _)| !s.raw.disabled) {
        let key = (s.user.clone().unwrap_or_default(), s.client);
        let project = s.project.clone().or_else(|| d.sources.get(s.source).and_then(|src| src.project.clone()));
        let group = groups.entry(key).or_default();
        let legs = match project {
            Some(p) => group.per_project.entry(p).or_default(),
            None => &mut group.everywhere,
        };
        for &leg in &analysis.legs {
            legs.entry(leg.as_str()).or_default().push((s.id.clone(), s.raw.name.clone()));
        }
    }
    let mut out = Vec::new();
    for ((user, client), group) in groups {
        // A trifecta everywhere is reported once, not again for every project.
        let contexts: Vec<(Option<String>, LegServers)> = if complete(&group.everywhere) {
            vec![(None, group.everywhere.clone())]
        } else {
            group
                .per_project
                .iter()
                .map(|(p, legs)| (Some(p.clone()), merged(&group.everywhere, legs)))
                .filter(|(_, legs)| complete(legs))
                .collect()
        };
        for (project, legs) in contexts {
            out.push(finding(def, &user, client, project.as_deref(), &legs));
        }
    }
    out
}

fn finding(def: &FindingDef, user: &str, client: &str, project: Option<&str>, legs: &LegServers) -> pb::Finding {
    let describe = |leg: Leg| {
        let mut names: Vec<&str> = legs[leg.as_str()].iter().map(|(_, n)| n.as_str()).collect();
        names.sort();
        names.dedup();
        format!("{} ({})", leg.as_str().replace('_', " "), names.join(", "))
    };
    // No user: managed configuration, or the project of a `--project` scan.
    let (who, place) = match (user.is_empty(), project) {
        (false, Some(p)) => (format!("user {user}"), format!(" in project {p}")),
        (false, None) => (format!("user {user}"), String::new()),
        (true, Some(p)) => ("the scanned project".to_string(), format!(" {p}")),
        (true, None) => ("managed configuration".to_string(), String::new()),
    };
    let mut f = def.to_finding(format!(
        "{client} for {who}{place} runs servers that together bring all three legs: {}; {}; {}",
        describe(Leg::PrivateData),
        describe(Leg::UntrustedContent),
        describe(Leg::ExternalCommunication)
    ));
    let mut ids: Vec<String> = legs.values().flatten().map(|(id, _)| id.clone()).collect();
    ids.sort();
    ids.dedup();
    f.server_ids = ids;
    f.client = client.to_string();
    f.user = user.to_string();
    f
}
