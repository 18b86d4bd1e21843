//! Policy preview benchmark: the dry run (`muster-server policy diff`, `POST
//! /api/v1/policies/dry-run`) and the draft from observation against a seeded database (see
//! `seed_fleet`, whose servers carry the `muster.v1.McpServer` an agent would have sent), each
//! timed end to end through the use-case, plus the dry run's narrow read alone (every server's
//! instance fields and stored shape key) and, with `--full-read`, every server decoded in full.
//!
//! ```text
//! cargo run --release -p muster-control-plane --features testing --example policy_bench -- \
//!     --database-url sqlite:///tmp/fleet.db [--iterations 5] [--no-draft] [--full-read]
//! ```

use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Parser;
use muster_control_plane::policy_preview::{draft, dry_run, for_each_endpoint};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 5)]
    iterations: usize,
    /// Time the dry run only (the draft takes minutes at 100,000 endpoints).
    #[arg(long)]
    no_draft: bool,
    /// Also time reading and decoding every stored server in full (what the dry run did before
    /// shape keys; the draft still reads so).
    #[arg(long)]
    full_read: bool,
    /// The seed's clock.
    #[arg(long, default_value_t = 1_800_000_000)]
    now: i64,
}

/// A policy of the size a security team starts with: an allowlist, supply-chain rules with
/// version ranges, a targeted rule and exceptions.
const POLICY: &str = r#"
version = 1
name = "bench"

[[rule]]
id = "only-approved-packages"
action = "block"
grace = "14d"
[rule.match]
transport = ["stdio"]
[rule.unless]
package = ["@mcp/server-1", "@mcp/server-2*", "@mcp/server-3?"]

[[rule]]
id = "only-approved-remotes"
action = "block"
[rule.match]
transport = ["http", "sse", "ws"]
[rule.unless]
url_host = ["mcp1.*.example.com", "mcp2*.github.example.com"]

[[rule]]
id = "old-server-7"
action = "quarantine"
[rule.match]
ecosystem = ["npm"]
package = ["@mcp/server-7"]
version = "<1.4.0"

[[rule]]
id = "literal-github"
action = "notify"
[rule.match]
literal_credential = true
credential_provider = ["github"]

[[rule]]
id = "vulnerable"
action = "block"
builtin = "MUSTER-PKG-VULNERABLE"
[rule.target]
os = ["macos", "windows"]

[[rule]]
id = "unpinned"
action = "notify"
builtin = "MUSTER-PKG-UNPINNED"

[[exception]]
id = "lab"
rules = ["*"]
endpoint = "build-00*"
reason = "lab machines"
approver = "sec"
expires = 2030-01-01T00:00:00Z
"#;

fn stats(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<28} min {:>9.1} ms  median {:>9.1} ms  max {:>9.1} ms  ({} runs)",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        times.len()
    );
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let store = muster_control_plane::store::open(&args.database_url).await?;
    let mut read = Vec::new();
    let mut runs = Vec::new();
    let mut drafts = Vec::new();
    let mut last = None;
    let mut narrow = Vec::new();
    let mut keys = std::collections::HashSet::new();
    let mut servers = 0usize;
    for _ in 0..args.iterations {
        // The dry run's own reads: narrow rows of every server (instance fields, shape key).
        let started = Instant::now();
        let mut after = String::new();
        (servers, keys) = (0, std::collections::HashSet::new());
        loop {
            let page = store.policy_shaped_endpoints(&after, 500).await?;
            for e in &page {
                servers += e.servers.len();
                keys.extend(e.servers.iter().map(|s| s.shape_key));
            }
            match page.last() {
                Some(last) if page.len() == 500 => after = last.agent_id.clone(),
                _ => break,
            }
        }
        narrow.push(started.elapsed());
        if args.full_read {
            let started = Instant::now();
            for_each_endpoint(store.as_ref(), |_, _| {}).await?;
            read.push(started.elapsed());
        }
        let started = Instant::now();
        last = Some(dry_run::dry_run(store.as_ref(), POLICY, args.now).await?);
        runs.push(started.elapsed());
        if args.no_draft {
            continue;
        }
        let started = Instant::now();
        let d = draft::draft(store.as_ref(), args.now).await?;
        drafts.push(started.elapsed());
        eprintln!("draft of {} groups", d.groups.len());
    }
    // How much the stored keys share: distinct shapes among the servers (None: no current key).
    println!(
        "servers {servers}; distinct shape keys: {} (servers without a current key: {})",
        keys.len(),
        keys.contains(&None)
    );
    if let Some(run) = last {
        println!(
            "evaluated {} endpoints / {} servers; affected {} endpoints, {} servers, {} users",
            run.evaluated.endpoints,
            run.evaluated.servers,
            run.affected.endpoints,
            run.affected.servers,
            run.affected.users
        );
    }
    stats("narrow read (all servers)", narrow);
    if !read.is_empty() {
        stats("full read + decode", read);
    }
    stats("dry run (use-case)", runs);
    if !drafts.is_empty() {
        stats("draft (use-case)", drafts);
    }
    Ok(())
}
