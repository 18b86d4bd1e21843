//! The dry run: what a policy version would do to the fleet as stored, without publishing it.
//!
//! [`dry_run`] parses the text (refusing it with every problem's line and column), evaluates it
//! with `muster_policy::evaluate` on every active endpoint's stored inventory at `now`, and
//! counts with [`Tally`], a pure accumulator: per rule the endpoints, servers and OS accounts it
//! would act on, split by when (now or at a grace deadline) and how many an exception lifts, plus
//! the first [`MAX_HITS`] servers it hits in agent id order. It writes nothing.
//!
//! Speed (a dry run must stay interactive at 100,000 endpoints): servers are read as narrow rows
//! carrying the shape key ingest stored with each (`store::policy_inputs::shape_key`); one server
//! per distinct key is read and decoded in full and `muster_policy::FleetEvaluator` decides its
//! shape's conditions once, for every server of that key; targets and exceptions are decided per
//! instance by the same code `evaluate` runs. The evaluation runs on a blocking thread while
//! the next page of endpoints is read.
//!
//! "Affected" means a violation that is not lifted by an exception (due now or at a deadline);
//! "users" are OS accounts, counted per endpoint (`alice` on two laptops is two accounts), since
//! the inventory knows accounts, not people. Endpoint tags are the ones each agent reported on
//! its host.

use std::collections::{BTreeSet, HashMap, HashSet};

use muster_policy::{Bundle, Decisions, Due, Endpoint, FleetEvaluator, PolicyError, ServerInstance, ShapeConditions};
use muster_proto::v1::InventorySnapshot;
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::policy_inputs::SHAPE_KEY_LEN;
use crate::store::{FullServer, ShapedEndpoint, Store, StoreError};

/// Servers listed per rule; the counts cover all of them.
pub const MAX_HITS: usize = 100;

/// Why a dry run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DryRunError {
    #[error("the policy is not valid: {0}")]
    Invalid(#[from] PolicyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The runtime shut down before the evaluation could run.
    #[error("the dry run was interrupted by shutdown")]
    Interrupted,
}

/// How many endpoints, servers and OS accounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Reach {
    pub endpoints: u64,
    pub servers: u64,
    /// OS accounts, counted per endpoint.
    pub users: u64,
}

/// The result of a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DryRun {
    /// The policy's `name`.
    pub policy: String,
    /// When it was evaluated (RFC 3339); grace periods of an unpublished version count from here.
    pub evaluated_at: String,
    /// Active endpoints and their servers that were evaluated.
    pub evaluated: Reach,
    /// Endpoints, servers and accounts with at least one violation no exception lifts.
    pub affected: Reach,
    /// Servers whose every violation an exception lifts.
    pub excepted_servers: u64,
    /// One entry per rule of the policy, in rule id order (rules that hit nothing included).
    pub rules: Vec<RuleImpact>,
}

/// What one rule would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RuleImpact {
    pub rule: String,
    pub title: String,
    /// `notify`, `require-approval`, `deny-tools`, `quarantine` or `block`.
    pub action: String,
    /// What it would act on (violations not lifted by an exception).
    pub affected: Reach,
    /// Of the affected servers, those whose action applies at once.
    pub due_now: u64,
    /// Of the affected servers, those inside a grace period.
    pub due_later: u64,
    /// Servers breaking the rule with an exception lifting it.
    pub excepted: u64,
    /// The first servers it hits (affected or excepted), in agent id then server id order.
    pub hits: Vec<RuleHit>,
    /// True when `hits` stops before the last server.
    pub truncated: bool,
}

/// One server a rule hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RuleHit {
    pub agent_id: String,
    pub hostname: String,
    pub server_id: String,
    pub server: String,
    pub client: String,
    pub user: String,
    /// The grace deadline (RFC 3339), absent when the action is due now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
    /// The exception lifting the violation, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
}

/// Per-rule counters while the fleet is walked.
#[derive(Debug, Default)]
struct RuleCount {
    endpoints: u64,
    servers: u64,
    users: u64,
    due_now: u64,
    due_later: u64,
    excepted: u64,
    hits: Vec<RuleHit>,
    truncated: bool,
    /// Accounts of the current endpoint already counted for this rule.
    endpoint_users: BTreeSet<String>,
    endpoint_counted: bool,
}

/// The pure accumulator of a dry run: fed every endpoint's decisions once, in agent id order.
#[derive(Debug)]
pub struct Tally {
    rules: Vec<(String, String, String, RuleCount)>,
    evaluated: Reach,
    affected: Reach,
    excepted_servers: u64,
}

impl Tally {
    pub fn new(bundle: &Bundle) -> Self {
        let rules = bundle
            .rule_summaries()
            .map(|(id, title, action)| {
                (id.to_string(), title.to_string(), action.as_str().to_string(), RuleCount::default())
            })
            .collect();
        Tally { rules, evaluated: Reach::default(), affected: Reach::default(), excepted_servers: 0 }
    }

    /// Adds one endpoint's decisions.
    pub fn add(&mut self, agent_id: &str, hostname: &str, decisions: &Decisions) {
        self.evaluated.endpoints += 1;
        let mut accounts = BTreeSet::new();
        let mut affected_accounts = BTreeSet::new();
        let mut endpoint_affected = false;
        for count in self.rules.iter_mut().map(|r| &mut r.3) {
            count.endpoint_users.clear();
            count.endpoint_counted = false;
        }
        for server in &decisions.servers {
            self.evaluated.servers += 1;
            if !server.user.is_empty() {
                accounts.insert(server.user.as_str());
            }
            if server.violations.is_empty() {
                continue;
            }
            if server.allowed() {
                self.excepted_servers += 1;
            } else {
                endpoint_affected = true;
                self.affected.servers += 1;
                if !server.user.is_empty() {
                    affected_accounts.insert(server.user.as_str());
                }
            }
            for v in &server.violations {
                let Ok(at) = self.rules.binary_search_by(|r| r.0.as_str().cmp(v.rule.as_str())) else {
                    continue;
                };
                let count = &mut self.rules[at].3;
                match (&v.exception, v.due) {
                    (Some(_), _) => count.excepted += 1,
                    (None, Due::Now) => count.due_now += 1,
                    (None, Due::At { .. }) => count.due_later += 1,
                }
                if v.exception.is_none() {
                    count.servers += 1;
                    if !count.endpoint_counted {
                        count.endpoint_counted = true;
                        count.endpoints += 1;
                    }
                    if !server.user.is_empty() && count.endpoint_users.insert(server.user.clone()) {
                        count.users += 1;
                    }
                }
                if count.hits.len() < MAX_HITS {
                    count.hits.push(RuleHit {
                        agent_id: agent_id.to_string(),
                        hostname: hostname.to_string(),
                        server_id: server.server_id.clone(),
                        server: server.name.clone(),
                        client: server.client.clone(),
                        user: server.user.clone(),
                        due_at: match v.due {
                            Due::At { unix } => Some(crate::timefmt::rfc3339(unix)),
                            Due::Now => None,
                        },
                        exception: v.exception.as_ref().map(|x| x.exception.clone()),
                    });
                } else {
                    count.truncated = true;
                }
            }
        }
        self.evaluated.users += accounts.len() as u64;
        self.affected.users += affected_accounts.len() as u64;
        self.affected.endpoints += u64::from(endpoint_affected);
    }

    /// The result.
    pub fn finish(self, policy: &str, now: i64) -> DryRun {
        DryRun {
            policy: policy.to_string(),
            evaluated_at: crate::timefmt::rfc3339(now),
            evaluated: self.evaluated,
            affected: self.affected,
            excepted_servers: self.excepted_servers,
            rules: self
                .rules
                .into_iter()
                .map(|(rule, title, action, c)| RuleImpact {
                    rule,
                    title,
                    action,
                    affected: Reach { endpoints: c.endpoints, servers: c.servers, users: c.users },
                    due_now: c.due_now,
                    due_later: c.due_later,
                    excepted: c.excepted,
                    hits: c.hits,
                    truncated: c.truncated,
                })
                .collect(),
        }
    }
}

/// The decisions for one stored endpoint: what its agent would decide with the same policy at
/// the same time, with the endpoint tags its agent reported on the host.
pub fn decide(bundle: &Bundle, agent_id: &str, snapshot: &InventorySnapshot, now: i64) -> Decisions {
    muster_policy::evaluate(bundle, &stored_endpoint(agent_id, snapshot), now)
}

fn stored_endpoint<'a>(agent_id: &'a str, snapshot: &'a InventorySnapshot) -> Endpoint<'a> {
    let tags = snapshot.host.as_ref().map_or(&[][..], |h| h.tags.as_slice());
    Endpoint { inventory: snapshot, agent_id, tags }
}

/// Pages read ahead of the evaluation.
const PAGES_AHEAD: usize = 2;

/// One page for the evaluation thread: narrow endpoint rows, plus the servers read in full for
/// it (one per shape key first seen in this page, and those without a current key).
struct ShapedPage {
    endpoints: Vec<ShapedEndpoint>,
    full: Vec<FullServer>,
}

type ShapeKey = [u8; SHAPE_KEY_LEN];

/// The use-case: parses `text` and evaluates it against every active endpoint at `now`.
///
/// Reads each server's narrow row (instance fields and stored shape key) and, per distinct
/// shape key, one server in full, whose conditions then stand for every server of that key
/// (`muster_policy::FleetEvaluator::evaluate_instances`). A server whose key is missing or of an
/// older shape version is read in full on its own. Rows are read page by page, not in one
/// snapshot: a dry run taken while agents report sees each server as one of its reads did.
pub async fn dry_run(store: &dyn Store, text: &str, now: i64) -> Result<DryRun, DryRunError> {
    let bundle = muster_policy::parse(text)?;
    let (pages, mut received) = tokio::sync::mpsc::channel::<ShapedPage>(PAGES_AHEAD);
    let evaluation = tokio::task::spawn_blocking(move || {
        let mut tally = Tally::new(&bundle);
        let evaluator = FleetEvaluator::new(&bundle);
        let mut shapes: HashMap<ShapeKey, ShapeConditions> = HashMap::new();
        while let Some(page) = received.blocking_recv() {
            // This page's servers read on their own, by (agent id, server id).
            let mut own: HashMap<(&str, &str), ShapeConditions> = HashMap::new();
            for full in &page.full {
                let conditions = evaluator.conditions(&full.server, false);
                own.insert((full.agent_id.as_str(), full.server.id.as_str()), conditions.clone());
                if let Some(key) = full.shape_key {
                    shapes.entry(key).or_insert(conditions);
                }
            }
            for endpoint in &page.endpoints {
                let instances: Vec<(ServerInstance<'_>, &ShapeConditions)> = endpoint
                    .servers
                    .iter()
                    .filter_map(|s| {
                        let conditions = own
                            .get(&(endpoint.agent_id.as_str(), s.server_id.as_str()))
                            .or_else(|| s.shape_key.as_ref().and_then(|k| shapes.get(k)))?;
                        let instance =
                            ServerInstance { id: &s.server_id, name: &s.name, client: &s.client, user: &s.user };
                        Some((instance, conditions))
                    })
                    .collect();
                let snapshot = &endpoint.snapshot;
                let hostname = snapshot.host.as_ref().map_or("", |h| h.hostname.as_str());
                let decisions =
                    evaluator.evaluate_instances(&stored_endpoint(&endpoint.agent_id, snapshot), &instances, now);
                tally.add(&endpoint.agent_id, hostname, &decisions);
            }
        }
        tally.finish(bundle.name(), now)
    });
    // The evaluation ends when `pages` is dropped: after the last page, or on a read error.
    let read = read_shaped_pages(store, pages).await;
    let run = match evaluation.await {
        Ok(run) => run,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => return Err(DryRunError::Interrupted),
    };
    read?;
    Ok(run)
}

/// Reads every active endpoint's narrow rows a page at a time, with the servers to read in
/// full, and sends them on until the receiver hangs up.
async fn read_shaped_pages(store: &dyn Store, pages: tokio::sync::mpsc::Sender<ShapedPage>) -> Result<(), StoreError> {
    // Shape keys a server was read in full for (the evaluation knows their conditions).
    let mut served: HashSet<ShapeKey> = HashSet::new();
    let mut after = String::new();
    loop {
        let endpoints = store.policy_shaped_endpoints(&after, super::PAGE).await?;
        let next = match endpoints.last() {
            Some(last) if endpoints.len() == super::PAGE as usize => Some(last.agent_id.clone()),
            _ => None,
        };
        let mut wanted: Vec<(&str, &str)> = Vec::new();
        let mut asked: HashSet<ShapeKey> = HashSet::new();
        for e in &endpoints {
            for s in &e.servers {
                let new_key = s.shape_key.is_some_and(|k| !served.contains(&k) && asked.insert(k));
                if s.shape_key.is_none() || new_key {
                    wanted.push((&e.agent_id, &s.server_id));
                }
            }
        }
        let mut full = store.policy_servers(&wanted).await?;
        served.extend(full.iter().filter_map(|f| f.shape_key));
        // A server changed between the two reads may have come back with another key: the
        // servers of a key still unserved are read on their own (their conditions then come
        // from what each holds now).
        let mut again: Vec<(&str, &str)> = Vec::new();
        for e in &endpoints {
            for s in &e.servers {
                if s.shape_key.is_some_and(|k| !served.contains(&k)) {
                    again.push((&e.agent_id, &s.server_id));
                }
            }
        }
        if !again.is_empty() {
            let mut more = store.policy_servers(&again).await?;
            for f in &mut more {
                // Filed under no key: each stands only for itself.
                f.shape_key = None;
            }
            full.extend(more);
        }
        if pages.send(ShapedPage { endpoints, full }).await.is_err() {
            return Ok(());
        }
        match next {
            Some(next) => after = next,
            None => return Ok(()),
        }
    }
}

/// The dry run as text for people (the CLI's default output).
pub fn render_text(run: &DryRun) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let name = if run.policy.is_empty() { "(unnamed)" } else { run.policy.as_str() };
    let _ = writeln!(
        out,
        "policy {name} would affect {} endpoint(s), {} server(s), {} user(s) of {} endpoint(s), {} server(s) evaluated at {}",
        run.affected.endpoints,
        run.affected.servers,
        run.affected.users,
        run.evaluated.endpoints,
        run.evaluated.servers,
        run.evaluated_at
    );
    if run.excepted_servers > 0 {
        let _ = writeln!(out, "{} server(s) breaking rules are lifted by exceptions", run.excepted_servers);
    }
    for rule in &run.rules {
        let _ = writeln!(
            out,
            "\nrule {} ({}): {} endpoint(s), {} server(s), {} user(s); {} now, {} after grace, {} excepted",
            rule.rule,
            rule.action,
            rule.affected.endpoints,
            rule.affected.servers,
            rule.affected.users,
            rule.due_now,
            rule.due_later,
            rule.excepted
        );
        for hit in &rule.hits {
            let when = match (&hit.exception, &hit.due_at) {
                (Some(x), _) => format!("excepted by {x}"),
                (None, Some(at)) => format!("due {at}"),
                (None, None) => "now".to_string(),
            };
            let user = if hit.user.is_empty() { "-" } else { hit.user.as_str() };
            let _ = writeln!(out, "  {} {} {} {user} [{when}]", hit.hostname, hit.client, hit.server);
        }
        if rule.truncated {
            let _ = writeln!(out, "  ... (first {MAX_HITS} shown)");
        }
    }
    out
}
