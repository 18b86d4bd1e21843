//! Property tests: decisions are a function of (policy, inventory, time) alone. The same input
//! gives the same answer; the order rules, exceptions and servers are written or reported in
//! changes nothing; and an exception lifts what it covers until it expires, never after.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use muster_policy::{
    Decisions, Endpoint, FleetEvaluator, ServerInstance, ShapeConditions, evaluate, parse, shape_bytes,
};
use muster_proto::v1 as pb;
use proptest::prelude::*;

/// Condition bodies covering every condition kind (each valid on its own).
const MATCHES: &[&str] = &[
    "[rule.match]",
    "[rule.match]\nname = [\"git*\", \"fetch\"]",
    "[rule.match]\necosystem = [\"npm\"]\nversion = \"<1.5.0\"",
    "[rule.match]\necosystem = [\"pypi\"]\nversion = \">=0.6,<0.7\"",
    "[rule.match]\nunpinned = true",
    "[rule.match]\ncommand = [\"npx\"]",
    "[rule.match]\ncommand_line = [\"docker run *\"]",
    "[rule.match]\ntransport = [\"sse\"]",
    "[rule.match]\nurl_host = [\"*.example.com\"]",
    "[rule.match]\nplaintext_remote = true",
    "[rule.match]\nservice = [\"github\"]",
    "[rule.match]\nscope = [\"project\"]",
    "[rule.match]\nliteral_credential = true",
    "[rule.match]\nauto_approved = true",
    "[rule.match]\nlistening_nonloopback = true",
    "[rule.match]\nadvisory_severity = \"high\"",
    "[rule.match]\ncommand = [\"npx\"]\n[rule.unless]\npackage = [\"@modelcontextprotocol/*\"]",
    "builtin = \"MUSTER-PKG-UNPINNED\"",
    "builtin = \"MUSTER-SECRET-ENV\"",
];

const TARGETS: &[&str] = &[
    "",
    "[rule.target]\nos = [\"macos\"]",
    "[rule.target]\nuser = [\"dev\"]",
    "[rule.target]\nclient = [\"cursor\", \"claude-code\"]",
    "[rule.target]\nhostname = [\"build-*\"]\ntags = [\"team:*\"]",
];

const ACTIONS: &[&str] = &["notify", "block", "quarantine", "require-approval", "deny-tools"];

#[derive(Debug, Clone)]
struct RuleSpec {
    action: usize,
    grace: Option<u32>,
    condition: usize,
    target: usize,
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (0..ACTIONS.len(), proptest::option::of(0u32..40), 0..MATCHES.len(), 0..TARGETS.len())
        .prop_map(|(action, grace, condition, target)| RuleSpec { action, grace, condition, target })
}

fn rule_text(i: usize, r: &RuleSpec) -> String {
    let action = ACTIONS[r.action];
    let tools = if action == "deny-tools" { "tools = [\"delete_repository\"]\n" } else { "" };
    let grace = r.grace.map(|d| format!("grace = \"{d}d\"\n")).unwrap_or_default();
    // Body after the rule's own keys: a `builtin` key must come before any table.
    let (keys, tables) = match MATCHES[r.condition].strip_prefix("builtin") {
        Some(rest) => (format!("builtin{rest}\n"), String::new()),
        None => (String::new(), format!("{}\n", MATCHES[r.condition])),
    };
    format!(
        "[[rule]]\nid = \"rule-{i:03}\"\naction = \"{action}\"\n{tools}{grace}{keys}{tables}{}\n",
        TARGETS[r.target]
    )
}

#[derive(Debug, Clone)]
struct ExceptionSpec {
    rule: usize,
    scope: usize,
    expires_offset: i64,
}

fn exception_text(i: usize, e: &ExceptionSpec, rules: usize) -> String {
    let rule = if e.rule >= rules { "*".to_string() } else { format!("rule-{:03}", e.rule) };
    let scope = ["server = \"git*\"", "user = \"dev\"", "endpoint = \"dev-laptop-*\"", "server_id = \"s05\""][e.scope];
    format!(
        "[[exception]]\nid = \"ex-{i:02}\"\nrules = [\"{rule}\"]\n{scope}\nreason = \"r\"\napprover = \"a\"\nexpires = {}\n",
        muster_policy::time::format_unix(NOW + e.expires_offset)
    )
}

fn exception_spec() -> impl Strategy<Value = ExceptionSpec> {
    (0usize..12, 0usize..4, -200_000i64..200_000).prop_map(|(rule, scope, expires_offset)| ExceptionSpec {
        rule,
        scope,
        expires_offset,
    })
}

const NOW: i64 = 1_800_000_000;

fn policy(rules: &[(usize, RuleSpec)], exceptions: &[(usize, ExceptionSpec)], rule_count: usize) -> String {
    let mut t = String::from("version = 1\npublished_at = 2027-01-10T00:00:00Z\n");
    for (i, r) in rules {
        t.push_str(&rule_text(*i, r));
    }
    for (i, e) in exceptions {
        t.push_str(&exception_text(*i, e, rule_count));
    }
    t
}

/// The laptop's servers, a random subset with some fields varied.
fn inventory() -> impl Strategy<Value = pb::InventorySnapshot> {
    let base = support::laptop();
    let n = base.servers.len();
    (proptest::collection::vec((any::<bool>(), 0usize..3, 0usize..3, any::<bool>()), n)).prop_map(move |vary| {
        let mut inv = base.clone();
        let mut kept = Vec::new();
        for (s, (keep, client, user, flip_pin)) in inv.servers.iter().zip(vary) {
            if !keep {
                continue;
            }
            let mut s = s.clone();
            if client > 0 {
                s.client = ["claude-code", "cursor", "vscode"][client].to_string();
            }
            if user > 0 && !s.user.is_empty() {
                s.user = ["dev", "ops", "ci"][user].to_string();
            }
            if flip_pin && let Some(p) = s.package.as_mut() {
                p.pinned = !p.pinned;
            }
            kept.push(s);
        }
        inv.servers = kept;
        inv
    })
}

/// One endpoint of a generated fleet: an inventory, a hostname and OS, tags, and which of its
/// servers a process exposes beyond loopback.
fn fleet_endpoint() -> impl Strategy<Value = (pb::InventorySnapshot, Vec<String>)> {
    (inventory(), 0usize..3, 0usize..3, any::<bool>(), proptest::collection::vec(any::<bool>(), 9)).prop_map(
        |(mut inv, hostname, os, tagged, exposed)| {
            let host = inv.host.get_or_insert_with(Default::default);
            host.hostname = ["dev-laptop-1", "build-3", "ops-box"][hostname].to_string();
            host.os = [pb::Os::Macos, pb::Os::Linux, pb::Os::Windows][os] as i32;
            let ids: Vec<String> =
                inv.servers.iter().zip(&exposed).filter(|(_, e)| **e).map(|(s, _)| s.id.clone()).collect();
            inv.processes = vec![pb::McpProcess {
                server_ids: ids,
                listeners: vec![pb::Listener { address: "0.0.0.0".into(), port: 8000, protocol: "tcp".into() }],
                ..Default::default()
            }];
            let tags = if tagged { vec!["team:payments".to_string()] } else { Vec::new() };
            (inv, tags)
        },
    )
}

fn run(text: &str, inv: &pb::InventorySnapshot, now: i64) -> Decisions {
    let bundle = parse(text).unwrap_or_else(|e| panic!("{text}\n{e:?}"));
    evaluate(&bundle, &Endpoint { inventory: inv, agent_id: "agent-1", tags: &[] }, now)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn the_same_input_gives_the_same_decisions(
        rules in proptest::collection::vec(rule_spec(), 1..12),
        exceptions in proptest::collection::vec(exception_spec(), 0..4),
        inv in inventory(),
        now_offset in -3_000_000i64..3_000_000,
    ) {
        let rules: Vec<(usize, RuleSpec)> = rules.into_iter().enumerate().collect();
        let exceptions: Vec<(usize, ExceptionSpec)> = exceptions.into_iter().enumerate().collect();
        let text = policy(&rules, &exceptions, rules.len());
        let now = NOW + now_offset;
        let first = run(&text, &inv, now);
        prop_assert_eq!(&first, &run(&text, &inv, now));
        // The canonical bytes give the same decisions as the file they came from.
        let canonical = String::from_utf8(parse(&text).unwrap().canonical_bytes().to_vec()).unwrap();
        prop_assert_eq!(&first, &run(&canonical, &inv, now));
        // Servers reported in another order: the same decisions, in server id order.
        let mut reversed = inv.clone();
        reversed.servers.reverse();
        prop_assert_eq!(&first, &run(&text, &reversed, now));
        let ids: Vec<&str> = first.servers.iter().map(|s| s.server_id.as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        prop_assert_eq!(ids, sorted);
    }

    #[test]
    fn rule_and_exception_order_change_nothing(
        rules in proptest::collection::vec(rule_spec(), 1..12),
        exceptions in proptest::collection::vec(exception_spec(), 0..4),
        inv in inventory(),
        seed in any::<u64>(),
    ) {
        let rules: Vec<(usize, RuleSpec)> = rules.into_iter().enumerate().collect();
        let exceptions: Vec<(usize, ExceptionSpec)> = exceptions.into_iter().enumerate().collect();
        let n = rules.len();
        let text = policy(&rules, &exceptions, n);
        // A permutation from the seed (rotate and reverse), applied to rules and exceptions.
        let mut r2 = rules.clone();
        r2.rotate_left((seed as usize) % n);
        if seed & 1 == 1 { r2.reverse(); }
        let mut e2 = exceptions.clone();
        e2.reverse();
        let shuffled = policy(&r2, &e2, n);
        prop_assert_eq!(run(&text, &inv, NOW), run(&shuffled, &inv, NOW));
        let (a, b) = (parse(&text).unwrap(), parse(&shuffled).unwrap());
        prop_assert_eq!(a.canonical_bytes(), b.canonical_bytes());
    }

    #[test]
    fn an_exception_lifts_what_it_covers_until_it_expires_and_never_after(
        rules in proptest::collection::vec(rule_spec(), 1..12),
        inv in inventory(),
        expires_offset in -100_000i64..100_000,
        pick in any::<prop::sample::Index>(),
    ) {
        let rules: Vec<(usize, RuleSpec)> = rules.into_iter().enumerate().collect();
        let base = policy(&rules, &[], rules.len());
        let before = run(&base, &inv, NOW);
        let broken: Vec<(&str, &str)> = before
            .servers
            .iter()
            .flat_map(|s| s.violations.iter().map(move |v| (s.server_id.as_str(), v.rule.as_str())))
            .collect();
        prop_assume!(!broken.is_empty());
        let (server, rule) = *pick.get(&broken);
        let expires = NOW + expires_offset;
        let text = format!(
            "{base}[[exception]]\nid = \"lift\"\nrules = [\"{rule}\"]\nserver_id = \"{server}\"\nreason = \"r\"\napprover = \"a\"\nexpires = {}\n",
            muster_policy::time::format_unix(expires)
        );
        let after = run(&text, &inv, NOW);
        for (b, a) in before.servers.iter().zip(&after.servers) {
            prop_assert_eq!(&b.server_id, &a.server_id);
            for (vb, va) in b.violations.iter().zip(&a.violations) {
                prop_assert_eq!(&vb.rule, &va.rule);
                prop_assert_eq!(vb.due, va.due);
                let covered = a.server_id == server && va.rule == rule;
                if covered && NOW < expires {
                    prop_assert_eq!(va.exception.as_ref().map(|l| l.exception.as_str()), Some("lift"));
                } else {
                    prop_assert!(va.exception.is_none(), "{:?} lifted outside its cover or after expiry", va);
                }
            }
        }
        // Once the exception expires the violation stands again, whatever the time after.
        let later = run(&text, &inv, expires.max(NOW));
        let v = later.servers.iter().find(|s| s.server_id == server).unwrap().violations.iter().find(|v| v.rule == rule).unwrap();
        prop_assert!(v.exception.is_none());
    }

    #[test]
    fn the_fleet_evaluator_decides_what_evaluate_decides(
        rules in proptest::collection::vec(rule_spec(), 1..12),
        exceptions in proptest::collection::vec(exception_spec(), 0..4),
        fleet in proptest::collection::vec(fleet_endpoint(), 1..8),
        now_offsets in proptest::collection::vec(-3_000_000i64..3_000_000, 1..3),
    ) {
        let rules: Vec<(usize, RuleSpec)> = rules.into_iter().enumerate().collect();
        let exceptions: Vec<(usize, ExceptionSpec)> = exceptions.into_iter().enumerate().collect();
        let bundle = parse(&policy(&rules, &exceptions, rules.len())).unwrap();
        // One evaluator for the whole fleet and every time: what it remembers of a shape must
        // hold for every endpoint, instance and instant.
        let mut fleet_evaluator = FleetEvaluator::new(&bundle);
        for offset in now_offsets {
            for (i, (inv, tags)) in fleet.iter().enumerate() {
                let agent_id = format!("agent-{i}");
                let endpoint = Endpoint { inventory: inv, agent_id: &agent_id, tags };
                prop_assert_eq!(fleet_evaluator.evaluate(&endpoint, NOW + offset), evaluate(&bundle, &endpoint, NOW + offset));
            }
        }
        // A fleet whose endpoints have no servers has no shapes to remember.
        let servers = fleet.iter().map(|(inv, _)| inv.servers.len()).sum::<usize>();
        prop_assert!(servers == 0 || fleet_evaluator.shapes() > 0);
    }

    /// The control plane's path: servers grouped by `shape_bytes` across the whole fleet, each
    /// group's conditions decided once on its first server and given to every instance.
    #[test]
    fn instances_given_their_shape_conditions_decide_what_evaluate_decides(
        rules in proptest::collection::vec(rule_spec(), 1..12),
        exceptions in proptest::collection::vec(exception_spec(), 0..4),
        fleet in proptest::collection::vec(fleet_endpoint(), 1..8),
        now_offset in -3_000_000i64..3_000_000,
    ) {
        let rules: Vec<(usize, RuleSpec)> = rules.into_iter().enumerate().collect();
        let exceptions: Vec<(usize, ExceptionSpec)> = exceptions.into_iter().enumerate().collect();
        let bundle = parse(&policy(&rules, &exceptions, rules.len())).unwrap();
        let evaluator = FleetEvaluator::new(&bundle);
        let mut shapes: std::collections::BTreeMap<(Vec<u8>, bool), ShapeConditions> = Default::default();
        for (i, (inv, tags)) in fleet.iter().enumerate() {
            let agent_id = format!("agent-{i}");
            let endpoint = Endpoint { inventory: inv, agent_id: &agent_id, tags };
            // Every listener the generator makes is on 0.0.0.0.
            let exposed = |id: &str| inv.processes.iter().any(|p| p.server_ids.iter().any(|s| s == id));
            let conditions: Vec<ShapeConditions> = inv
                .servers
                .iter()
                .map(|s| {
                    let key = (shape_bytes(s), exposed(&s.id));
                    shapes.entry(key).or_insert_with(|| evaluator.conditions(s, exposed(&s.id))).clone()
                })
                .collect();
            let instances: Vec<(ServerInstance<'_>, &ShapeConditions)> =
                inv.servers.iter().map(ServerInstance::of).zip(&conditions).collect();
            prop_assert_eq!(
                evaluator.evaluate_instances(&endpoint, &instances, NOW + now_offset),
                evaluate(&bundle, &endpoint, NOW + now_offset)
            );
        }
    }
}
