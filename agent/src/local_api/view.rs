//! The caller's part of the agent's state: a pure function from the published [`AgentView`] and
//! the admitted [`Caller`] to the `LocalStatus` message. Everything a caller can see is chosen
//! here, so the rule "each user sees only their own" is tested without a socket.

use std::collections::{BTreeMap, BTreeSet};

use muster_proto::local::v1 as local;
use muster_proto::v1::{Finding, InventorySnapshot, McpServer};
use sha2::{Digest, Sha256};

use super::AgentView;
use super::caller::{Caller, owned_users};

/// The caller's status. `revision` is the view's: equal revisions give equal answers.
pub fn status_for(view: &AgentView, caller: &Caller) -> local::LocalStatus {
    let c = &view.connection;
    let snapshot = view.snapshot.as_deref();
    let agent = local::AgentState {
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        connection: c.state as i32,
        server: c.server.clone(),
        last_acknowledged_unix: c.last_acknowledged_unix,
        last_error: c.last_error.clone(),
        scanned_at_unix: snapshot.map_or(0, |s| s.scanned_at_unix),
        queued_reports: c.queued_reports,
    };
    let mut status = local::LocalStatus {
        revision: view.revision,
        caller: Some(local::Caller { uid: caller.uid, user: caller.account.clone().unwrap_or_default() }),
        agent: Some(agent),
        ..Default::default()
    };
    if let Some(snapshot) = snapshot {
        fill_inventory(&mut status, snapshot, caller, &view.places, &view.pins);
        fill_policy(&mut status, &view.policy, &owned_users(snapshot, caller));
    }
    status
}

/// The caller's part of the policy's decisions: items about their users' servers only.
fn fill_policy(status: &mut local::LocalStatus, policy: &super::PolicyView, users: &BTreeSet<String>) {
    fn mine<T: Clone>(items: &[(String, T)], users: &BTreeSet<String>) -> Vec<T> {
        items.iter().filter(|(user, _)| users.contains(user)).map(|(_, item)| item.clone()).collect()
    }
    status.decisions = mine(&policy.decisions, users);
    status.pending_actions = mine(&policy.pending, users);
    status.quarantines = mine(&policy.quarantines, users);
    // The organisation's contact is the same for everyone the agent serves.
    status.contact = policy.contact.clone();
}

fn fill_inventory(
    status: &mut local::LocalStatus,
    snapshot: &InventorySnapshot,
    caller: &Caller,
    places: &super::places::Places,
    pins: &crate::pins::Candidates,
) {
    let users = owned_users(snapshot, caller);
    let mine: Vec<&McpServer> = snapshot.servers.iter().filter(|s| users.contains(&s.user)).collect();
    let by_id: BTreeMap<&str, &McpServer> = mine.iter().map(|s| (s.id.as_str(), *s)).collect();

    let mut clients: BTreeMap<&str, Vec<McpServer>> = BTreeMap::new();
    for s in &mine {
        clients.entry(s.client.as_str()).or_default().push((*s).clone());
    }
    status.clients = clients
        .into_iter()
        .map(|(client, servers)| {
            let places = servers
                .iter()
                .filter_map(|s| {
                    let p = places.get(&s.id)?;
                    Some(local::EntryPlace { server_id: s.id.clone(), line: p.line, column: p.column })
                })
                .collect();
            let pin_candidates = servers
                .iter()
                .filter_map(|s| {
                    let c = pins.get(&s.id)?.as_ref().ok()?;
                    Some(local::PinCandidate {
                        server_id: s.id.clone(),
                        ecosystem: c.plan.ecosystem as i32,
                        package: c.plan.package.clone(),
                        version: c.plan.version.clone(),
                        pinned_spec: c.plan.pinned_spec(),
                    })
                })
                .collect();
            local::ClientServers { client: client.to_string(), servers, places, pin_candidates }
        })
        .collect();

    let mut findings = Vec::new();
    for s in &mine {
        for f in &s.findings {
            let mut f = f.clone();
            if f.server_ids.is_empty() {
                f.server_ids.push(s.id.clone());
            }
            findings.push(finding_view(f, &by_id));
        }
    }
    for f in &snapshot.findings {
        // A host-wide finding is the caller's when it names one of their users, or, naming no
        // user, when every server it is about is theirs (a shadow process of nobody's config is
        // nobody's in particular, so it is not shown to anyone here).
        let theirs = if f.user.is_empty() {
            !f.server_ids.is_empty() && f.server_ids.iter().all(|id| by_id.contains_key(id.as_str()))
        } else {
            users.contains(&f.user)
        };
        if theirs {
            findings.push(finding_view(f.clone(), &by_id));
        }
    }
    // Worst first, then by catalog id and key so the order is stable between answers.
    findings.sort_by_cached_key(|v| {
        let f = v.finding.as_ref();
        (std::cmp::Reverse(f.map_or(0, |f| f.severity)), f.map(|f| f.id.clone()).unwrap_or_default(), v.key.clone())
    });
    status.findings = findings;
    status.problems = snapshot.problems.iter().filter(|p| users.contains(&p.user)).cloned().collect();
}

fn finding_view(finding: Finding, servers: &BTreeMap<&str, &McpServer>) -> local::FindingView {
    let def = crate::findings::catalog::get(&finding.id);
    let named: Vec<&McpServer> = finding.server_ids.iter().filter_map(|id| servers.get(id.as_str()).copied()).collect();
    let mut paths = BTreeSet::new();
    let config_paths =
        named.iter().filter(|s| paths.insert(s.config_path.as_str())).map(|s| s.config_path.clone()).collect();
    local::FindingView {
        key: finding_key(&finding),
        title: def.map(|d| d.title.clone()).unwrap_or_default(),
        remediation: def.map(|d| d.remediation.clone()).unwrap_or_default(),
        server_names: named.iter().map(|s| s.name.clone()).collect(),
        config_paths,
        finding: Some(finding),
    }
}

/// A stable key for one finding on this machine: the catalog id, the servers and what it says.
/// The tray app notifies once per key and snoozes by key.
fn finding_key(f: &Finding) -> String {
    let mut h = Sha256::new();
    for part in std::iter::once(&f.id).chain(&f.server_ids).chain([&f.client, &f.user, &f.message]) {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use muster_proto::local::v1::ConnectionState;
    use muster_proto::v1::{OsUser, Problem, Severity};

    use super::*;
    use crate::local_api::Connection;

    fn server(id: &str, user: &str, client: &str, findings: Vec<Finding>) -> McpServer {
        McpServer {
            id: id.into(),
            name: format!("{id}-name"),
            user: user.into(),
            client: client.into(),
            config_path: format!("/home/{user}/.{client}.json"),
            findings,
            ..Default::default()
        }
    }

    fn finding(id: &str, severity: Severity) -> Finding {
        Finding { id: id.into(), severity: severity as i32, message: format!("{id} message"), ..Default::default() }
    }

    fn view() -> AgentView {
        let snapshot = InventorySnapshot {
            users: vec![
                OsUser { name: "alice".into(), uid: Some(1000), home: "/home/alice".into() },
                OsUser { name: "bob".into(), uid: Some(1001), home: "/home/bob".into() },
            ],
            servers: vec![
                server("a1", "alice", "cursor", vec![finding("MUSTER-SECRET-ENV", Severity::Medium)]),
                server("a2", "alice", "claude-code", vec![finding("MUSTER-SECRET-URL", Severity::High)]),
                server("b1", "bob", "cursor", vec![finding("MUSTER-SECRET-ENV", Severity::Medium)]),
            ],
            findings: vec![
                Finding {
                    user: "bob".into(),
                    client: "cursor".into(),
                    ..finding("MUSTER-LETHAL-TRIFECTA", Severity::High)
                },
                Finding {
                    server_ids: vec!["a1".into(), "b1".into()],
                    ..finding("MUSTER-SECRET-REUSED", Severity::High)
                },
            ],
            problems: vec![
                Problem { user: "alice".into(), path: "/home/alice/.cursor/mcp.json".into(), ..Default::default() },
                Problem { user: "bob".into(), path: "/home/bob/.cursor/mcp.json".into(), ..Default::default() },
            ],
            scanned_at_unix: 42,
            ..Default::default()
        };
        AgentView {
            revision: 7,
            snapshot: Some(Arc::new(snapshot)),
            places: Arc::new(
                [("a1", 3), ("b1", 9)]
                    .map(|(id, line)| (id.to_string(), crate::enforce::quarantine::EntryPlace { line, column: 5 }))
                    .into(),
            ),
            pins: Arc::default(),
            connection: Connection { state: ConnectionState::Connected, ..Connection::default() },
            policy: Arc::new(super::super::PolicyView {
                version: 3,
                decisions: ["alice", "bob"]
                    .map(|u| {
                        let decision = local::PolicyDecision {
                            server_id: format!("{}1", &u[..1]),
                            rule_id: format!("rule-of-{u}"),
                            ..Default::default()
                        };
                        (u.to_string(), decision)
                    })
                    .to_vec(),
                pending: vec![(
                    "bob".into(),
                    local::PendingAction { server_id: "b1".into(), deadline_unix: 99, ..Default::default() },
                )],
                quarantines: vec![(
                    "alice".into(),
                    local::Quarantine { server_id: "a9".into(), server_name: "gone".into(), ..Default::default() },
                )],
                contact: Some(local::Contact { name: "Platform security".into(), ..Default::default() }),
            }),
        }
    }

    #[test]
    fn a_caller_sees_the_policy_decisions_about_their_own_servers_only() {
        let alice = status_for(&view(), &Caller { uid: 1000, account: Some("alice".into()) });
        assert_eq!(alice.decisions.iter().map(|d| d.rule_id.as_str()).collect::<Vec<_>>(), ["rule-of-alice"]);
        assert!(alice.pending_actions.is_empty());
        assert_eq!(alice.quarantines.iter().map(|q| q.server_name.as_str()).collect::<Vec<_>>(), ["gone"]);
        let bob = status_for(&view(), &Caller { uid: 1001, account: Some("bob".into()) });
        assert_eq!(bob.decisions.iter().map(|d| d.rule_id.as_str()).collect::<Vec<_>>(), ["rule-of-bob"]);
        assert_eq!(bob.pending_actions.iter().map(|p| p.deadline_unix).collect::<Vec<_>>(), [99]);
        assert!(bob.quarantines.is_empty());
        // The organisation's contact is everyone's.
        assert_eq!(alice.contact.as_ref().map(|c| c.name.as_str()), Some("Platform security"));
        assert_eq!(bob.contact, alice.contact);
    }

    #[test]
    fn a_caller_sees_their_own_servers_findings_and_problems_only() {
        let alice = Caller { uid: 1000, account: Some("alice".into()) };
        let status = status_for(&view(), &alice);
        let servers: Vec<&str> = status.clients.iter().flat_map(|c| c.servers.iter().map(|s| s.id.as_str())).collect();
        assert_eq!(servers, ["a2", "a1"], "grouped by client id: claude-code before cursor");
        assert_eq!(status.clients.iter().map(|c| c.client.as_str()).collect::<Vec<_>>(), ["claude-code", "cursor"]);
        let ids: Vec<&str> = status.findings.iter().map(|f| f.finding.as_ref().map_or("", |f| f.id.as_str())).collect();
        // The reuse finding names bob's server too, so it is not wholly alice's: not shown.
        assert_eq!(ids, ["MUSTER-SECRET-URL", "MUSTER-SECRET-ENV"], "worst first, bob's trifecta absent");
        assert_eq!(status.problems.len(), 1);
        assert_eq!(status.problems[0].user, "alice");
        assert_eq!(status.revision, 7);
        assert_eq!(status.agent.as_ref().map(|a| a.scanned_at_unix), Some(42));
    }

    #[test]
    fn a_caller_gets_the_places_of_their_own_servers_only() {
        let alice = status_for(&view(), &Caller { uid: 1000, account: Some("alice".into()) });
        let places: Vec<(&str, u32, u32)> = alice
            .clients
            .iter()
            .flat_map(|c| c.places.iter().map(|p| (p.server_id.as_str(), p.line, p.column)))
            .collect();
        assert_eq!(places, [("a1", 3, 5)], "a2 has no known place; b1 is bob's");
        let cursor = alice.clients.iter().find(|c| c.client == "cursor").expect("cursor");
        assert!(cursor.places.iter().all(|p| cursor.servers.iter().any(|s| s.id == p.server_id)));
    }

    #[test]
    fn findings_carry_the_catalog_remediation_and_where_to_fix_them() {
        let alice = Caller { uid: 1000, account: None };
        let status = status_for(&view(), &alice);
        let env = status.findings.iter().find(|f| f.finding.as_ref().is_some_and(|f| f.id == "MUSTER-SECRET-ENV"));
        let env = env.expect("alice's env finding");
        assert!(env.remediation.contains("rotate the credential"), "{}", env.remediation);
        assert!(!env.title.is_empty());
        assert_eq!(env.server_names, ["a1-name"]);
        assert_eq!(env.config_paths, ["/home/alice/.cursor.json"]);
        assert_eq!(env.finding.as_ref().map(|f| f.server_ids.clone()), Some(vec!["a1".to_string()]));
        assert_eq!(env.key.len(), 24);
    }

    #[test]
    fn an_unknown_caller_sees_no_inventory_and_the_policy_lists_are_empty() {
        let stranger = Caller { uid: 4242, account: Some("mallory".into()) };
        let status = status_for(&view(), &stranger);
        assert!(status.clients.is_empty() && status.findings.is_empty() && status.problems.is_empty());
        assert!(status.decisions.is_empty() && status.pending_actions.is_empty());
        assert!(status.quarantines.is_empty() && status.exception_requests.is_empty());
        assert_eq!(status.agent.map(|a| a.connection), Some(ConnectionState::Connected as i32));
    }

    #[test]
    fn finding_keys_are_stable_and_distinguish_servers() {
        let a = Finding { server_ids: vec!["s1".into()], ..finding("MUSTER-SECRET-ENV", Severity::Medium) };
        let b = Finding { server_ids: vec!["s2".into()], ..a.clone() };
        assert_eq!(finding_key(&a), finding_key(&a.clone()));
        assert_ne!(finding_key(&a), finding_key(&b));
    }
}
