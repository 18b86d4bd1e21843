//! `evaluate` benchmark: a 50-server inventory against a 200-rule bundle (every condition kind,
//! targets, grace periods, 20 exceptions). Prints the median, p99 and max of one `evaluate`
//! call over many runs; the goal is < 1 ms. Also prints how long compiling the bundle takes.
//!
//! Run: `cargo bench -p muster-policy --bench evaluate`. Figures go in docs/benchmarks.md.
//! `-- --runs N` changes the number of timed runs (and the warm-up to N/25), e.g. to count
//! instructions per call under callgrind, where the machine's load does not matter.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use muster_policy::{Endpoint, evaluate, parse};

const CONDITIONS: &[&str] = &[
    "[rule.match]\nname = [\"git*\", \"fetch-{i}\"]",
    "[rule.match]\necosystem = [\"npm\"]\npackage = [\"@modelcontextprotocol/*\"]\nversion = \"<1.{i}.0 || >=9\"",
    "[rule.match]\necosystem = [\"pypi\"]\nversion = \">=0.{i},<0.99\"",
    "[rule.match]\necosystem = [\"oci\"]\nversion = \"v{i}.*\"",
    "[rule.match]\nunpinned = true\npackage = [\"*-{i}\", \"@scope-{i}/*\"]",
    "[rule.match]\ncommand = [\"npx\", \"/opt/tool-{i}/*\"]",
    "[rule.match]\ncommand_line = [\"docker run *image-{i}*\"]",
    "[rule.match]\ntransport = [\"sse\"]\nurl_host = [\"*.vendor-{i}.example\"]",
    "[rule.match]\nurl_scheme = [\"http\"]\nurl_host = [\"host-{i}.corp.example\"]\nurl_path = [\"/mcp/*\"]",
    "[rule.match]\nplaintext_remote = true",
    "[rule.match]\nservice = [\"service-{i}\", \"github\"]",
    "[rule.match]\nscope = [\"project\"]\nclient = [\"client-{i}\", \"cursor\"]",
    "[rule.match]\ncredential_provider = [\"provider-{i}\"]\ncredential_kind = [\"*-pat\"]",
    "[rule.match]\nauto_approved_tool = [\"delete_*\", \"tool-{i}\"]",
    "[rule.match]\nlistening_nonloopback = true",
    "[rule.match]\nadvisory_severity = \"high\"",
    "[rule.match]\ncommand = [\"npx\"]\n[rule.unless]\npackage = [\"@allowed-{i}/*\", \"@modelcontextprotocol/*\"]",
    "builtin = \"MUSTER-SECRET-ENV\"",
];

const TARGETS: &[&str] = &[
    "",
    "[rule.target]\nos = [\"macos\", \"linux\"]",
    "[rule.target]\nuser = [\"dev\", \"team-{i}-*\"]",
    "[rule.target]\nhostname = [\"dev-*\"]\ntags = [\"team:*\"]",
];

const ACTIONS: &[&str] = &["notify", "block", "quarantine", "require-approval"];

fn bundle_text() -> String {
    let mut t = String::from("version = 1\nname = \"bench\"\npublished_at = 2027-01-10T00:00:00Z\n");
    for i in 0..200 {
        let cond = CONDITIONS[i % CONDITIONS.len()].replace("{i}", &i.to_string());
        let target = TARGETS[i % TARGETS.len()].replace("{i}", &i.to_string());
        let grace = if i % 3 == 0 { "grace = \"14d\"\n" } else { "" };
        let (keys, tables) = match cond.strip_prefix("builtin") {
            Some(rest) => (format!("builtin{rest}\n"), String::new()),
            None => (String::new(), format!("{cond}\n")),
        };
        t.push_str(&format!(
            "[[rule]]\nid = \"rule-{i:03}\"\naction = \"{}\"\n{grace}{keys}{tables}{target}\n",
            ACTIONS[i % ACTIONS.len()]
        ));
    }
    for i in 0..20 {
        t.push_str(&format!(
            "[[exception]]\nid = \"ex-{i:02}\"\nrules = [\"rule-{:03}\"]\nserver = \"*-{i}\"\nreason = \"r\"\napprover = \"a\"\nexpires = 2030-01-01T00:00:00Z\n",
            i * 7
        ));
    }
    t
}

fn main() {
    // 50 servers: the laptop's nine, repeated with distinct ids, names and users.
    let base = support::laptop();
    let mut inv = base.clone();
    inv.servers = (0..50)
        .map(|i| {
            let mut s = base.servers[i % base.servers.len()].clone();
            s.id = format!("{i:032x}");
            s.name = format!("{}-{i}", s.name);
            s
        })
        .collect();
    let text = bundle_text();

    let started = Instant::now();
    let bundle = parse(&text).unwrap_or_else(|e| panic!("{:#?}", e.diagnostics));
    let compile = started.elapsed();
    assert_eq!(bundle.rule_ids().count(), 200);

    let endpoint = Endpoint { inventory: &inv, agent_id: "agent-1", tags: &[] };
    let now = 1_800_000_000;
    let d = evaluate(&bundle, &endpoint, now);
    let violations: usize = d.servers.iter().map(|s| s.violations.len()).sum();
    assert_eq!(d.servers.len(), 50);
    assert!(violations > 50, "the bench must exercise matching rules, got {violations} violations");

    let args: Vec<String> = std::env::args().collect();
    let runs: usize =
        args.iter().position(|a| a == "--runs").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(5_000);
    for _ in 0..runs / 25 {
        black_box(evaluate(black_box(&bundle), black_box(&endpoint), now));
    }
    let runs = runs.max(1);
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        black_box(evaluate(black_box(&bundle), black_box(&endpoint), now));
        times.push(t.elapsed());
    }
    times.sort();
    let pct = |p: f64| times[((runs as f64 * p) as usize).min(runs - 1)];
    println!(
        "evaluate: 50 servers x 200 rules ({violations} violations): median {:?}, p99 {:?}, max {:?} over {runs} runs; compiling the bundle {:?}",
        pct(0.5),
        pct(0.99),
        times[runs - 1],
        compile
    );
}
