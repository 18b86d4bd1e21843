//! Read-model benchmark: runs every page's and API list call's query against a seeded database
//! (see `seed_fleet`) many times and prints p50 / p95 / max per query. First pages, deep pages
//! reached through real cursors, typical filters and endpoint detail.
//!
//! ```text
//! cargo run --release -p muster-control-plane --features testing --example read_bench -- \
//!     --database-url sqlite:///tmp/fleet.db [--iterations 50]
//! ```

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use clap::Parser;
use muster_control_plane::ingest::ChangeKind;
use muster_control_plane::store::DynStore;
use muster_control_plane::store::read::{
    ActivityQuery, AgentQuery, EndpointQuery, EndpointSort, FindingQuery, FindingStateFilter, FingerprintQuery,
    GroupKind, ServerGroupQuery,
};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 50)]
    iterations: usize,
    /// The seed's clock.
    #[arg(long, default_value_t = 1_800_000_000)]
    now: i64,
    /// Pages to walk (500 rows each) before timing the "deep" cases.
    #[arg(long, default_value_t = 100)]
    deep_pages: usize,
    /// Only run cases whose name contains this.
    #[arg(long)]
    only: Option<String>,
}

struct Bench {
    iterations: usize,
    only: Option<String>,
    worst: Duration,
}

impl Bench {
    async fn case<F, Fut, T>(&mut self, name: &str, mut run: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, muster_control_plane::store::StoreError>>,
    {
        if self.only.as_deref().is_some_and(|only| !name.contains(only)) {
            return Ok(());
        }
        run().await.with_context(|| format!("{name} (warm-up)"))?;
        let mut times = Vec::with_capacity(self.iterations);
        for _ in 0..self.iterations {
            let started = Instant::now();
            run().await.with_context(|| name.to_string())?;
            times.push(started.elapsed());
        }
        times.sort();
        let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
        let (p50, p95, max) = (at(0.50), at(0.95), times[times.len() - 1]);
        self.worst = self.worst.max(p95);
        let flag = if p95 >= Duration::from_millis(100) { "  MISSES 100 ms" } else { "" };
        println!(
            "| {name:<40} | {:>8.2} | {:>8.2} | {:>8.2} |{flag}",
            p50.as_secs_f64() * 1e3,
            p95.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
        Ok(())
    }
}

/// Walks `pages` pages of 500 and returns the cursor reached (None if the list is shorter).
async fn deep_cursor<F, Fut>(pages: usize, mut page: F) -> Result<Option<String>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Option<String>, muster_control_plane::store::StoreError>>,
{
    let mut cursor = None;
    for _ in 0..pages {
        match page(cursor.clone()).await? {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(cursor)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let store: DynStore = muster_control_plane::store::open(&args.database_url).await.context("open store")?;
    let now = args.now;
    let since = now - 300;
    let mut bench = Bench { iterations: args.iterations, only: args.only.clone(), worst: Duration::ZERO };
    let deep = args.deep_pages;
    println!("| query | p50 ms | p95 ms | max ms |\n|---|---|---|---|");

    bench.case("overview", || store.overview(now, since)).await?;
    bench.case("services", || store.services()).await?;
    let groups_first = ServerGroupQuery::default();
    bench.case("server groups: first page", || store.server_groups(&groups_first)).await?;
    let cursor = deep_cursor(2, |cursor| {
        let store = store.clone();
        async move {
            Ok(store.server_groups(&ServerGroupQuery { cursor, limit: 100, ..Default::default() }).await?.next_cursor)
        }
    })
    .await?;
    let groups_deep = ServerGroupQuery { cursor, ..Default::default() };
    bench.case("server groups: page 3 via cursor", || store.server_groups(&groups_deep)).await?;
    let groups_remote =
        ServerGroupQuery { kind: Some(GroupKind::Remote), name_contains: Some("github".into()), ..Default::default() };
    bench.case("server groups: remote, name filter", || store.server_groups(&groups_remote)).await?;
    let groups_advised = ServerGroupQuery { with_advisories: true, ..Default::default() };
    bench.case("server groups: with advisories", || store.server_groups(&groups_advised)).await?;

    let base = EndpointQuery { online_since: since, ..Default::default() };
    for (label, sort) in [
        ("hostname", EndpointSort::Hostname),
        ("last seen", EndpointSort::LastSeen),
        ("findings", EndpointSort::Findings),
    ] {
        let query = EndpointQuery { sort, ..base.clone() };
        bench.case(&format!("endpoints by {label}: first page"), || store.endpoints(&query)).await?;
        let cursor = deep_cursor(deep, |cursor| {
            let store = store.clone();
            let query = EndpointQuery { cursor, limit: 500, ..query.clone() };
            async move { Ok(store.endpoints(&query).await?.next_cursor) }
        })
        .await?;
        let deep_query = EndpointQuery { cursor, ..query.clone() };
        bench
            .case(&format!("endpoints by {label}: row {}+ via cursor", deep * 500), || store.endpoints(&deep_query))
            .await?;
    }
    let filters: Vec<(&str, EndpointQuery)> = vec![
        ("endpoints: search hostname", EndpointQuery { search: Some("mbp-0421".into()), ..base.clone() }),
        ("endpoints: search rare (no hit)", EndpointQuery { search: Some("zz-nothing".into()), ..base.clone() }),
        ("endpoints: user filter", EndpointQuery { user: Some("user1234".into()), ..base.clone() }),
        ("endpoints: os + online", EndpointQuery { os: Some(3), online: Some(true), ..base.clone() }),
        ("endpoints: offline", EndpointQuery { online: Some(false), ..base.clone() }),
        ("endpoints: critical findings", EndpointQuery { min_severity: Some(5), ..base.clone() }),
        (
            "endpoints: client zed, by findings",
            EndpointQuery { client: Some("zed".into()), sort: EndpointSort::Findings, ..base.clone() },
        ),
    ];
    for (label, query) in &filters {
        bench.case(label, || store.endpoints(query)).await?;
    }
    let ids: Vec<String> = store
        .endpoints(&EndpointQuery { limit: 500, sort: EndpointSort::Findings, ..base.clone() })
        .await?
        .items
        .into_iter()
        .map(|e| e.agent_id)
        .collect();
    let mut next = 0;
    bench
        .case("endpoint detail (riskiest 500, rotating)", || {
            next = (next + 1) % ids.len().max(1);
            let id = ids.get(next).cloned().unwrap_or_default();
            let store = store.clone();
            async move { store.endpoint_detail(&id, since, now).await }
        })
        .await?;

    bench.case("credentials: secret groups", || store.secret_groups()).await?;
    let fingerprints_first = FingerprintQuery::default();
    bench.case("credentials: shared fingerprints", || store.shared_fingerprints(&fingerprints_first)).await?;
    let cursor = deep_cursor(10, |cursor| {
        let store = store.clone();
        async move {
            Ok(store
                .shared_fingerprints(&FingerprintQuery { cursor, limit: 500, ..Default::default() })
                .await?
                .next_cursor)
        }
    })
    .await?;
    let fingerprints_deep = FingerprintQuery { cursor, ..Default::default() };
    bench.case("credentials: fingerprints deep", || store.shared_fingerprints(&fingerprints_deep)).await?;

    let findings = FindingQuery { now, ..Default::default() };
    bench.case("findings: first page", || store.findings(&findings)).await?;
    let cursor = deep_cursor(deep, |cursor| {
        let store = store.clone();
        let query = FindingQuery { cursor, limit: 500, ..findings.clone() };
        async move { Ok(store.findings(&query).await?.next_cursor) }
    })
    .await?;
    let deep_findings = FindingQuery { cursor, ..findings.clone() };
    bench.case(&format!("findings: row {}+ via cursor", deep * 500), || store.findings(&deep_findings)).await?;
    let finding_filters: Vec<(&str, FindingQuery)> = vec![
        ("findings: severity >= high", FindingQuery { min_severity: Some(4), ..findings.clone() }),
        ("findings: owasp MCP07", FindingQuery { owasp: Some("MCP07".into()), ..findings.clone() }),
        ("findings: service okta", FindingQuery { service: Some("okta".into()), ..findings.clone() }),
        ("findings: client cline", FindingQuery { client: Some("cline".into()), ..findings.clone() }),
        ("findings: user", FindingQuery { user: Some("user4242".into()), ..findings.clone() }),
        ("findings: waived", FindingQuery { state: Some(FindingStateFilter::Waived), ..findings.clone() }),
        (
            "findings: open, critical",
            FindingQuery { state: Some(FindingStateFilter::Open), min_severity: Some(5), ..findings.clone() },
        ),
    ];
    for (label, query) in &finding_filters {
        bench.case(label, || store.findings(query)).await?;
    }

    let activity_first = ActivityQuery::default();
    bench.case("activity: first page", || store.activity(&activity_first)).await?;
    let cursor = deep_cursor(deep, |cursor| {
        let store = store.clone();
        async move { Ok(store.activity(&ActivityQuery { cursor, limit: 500, ..Default::default() }).await?.next_cursor) }
    })
    .await?;
    let deep_activity = ActivityQuery { cursor, ..Default::default() };
    bench.case(&format!("activity: row {}+ via cursor", deep * 500), || store.activity(&deep_activity)).await?;
    let activity_filters: Vec<(&str, ActivityQuery)> = vec![
        ("activity: disappeared", ActivityQuery { kind: Some(ChangeKind::Disappeared), ..Default::default() }),
        ("activity: client windsurf", ActivityQuery { client: Some("windsurf".into()), ..Default::default() }),
        ("activity: one endpoint", ActivityQuery { agent_id: ids.first().cloned(), ..Default::default() }),
        ("activity: last 24 h", ActivityQuery { since: Some(now - 86_400), ..Default::default() }),
    ];
    for (label, query) in &activity_filters {
        bench.case(label, || store.activity(query)).await?;
    }

    let agents = AgentQuery { online_since: since, ..Default::default() };
    bench.case("agents: first page", || store.agents_page(&agents)).await?;
    let cursor = deep_cursor(deep, |cursor| {
        let store = store.clone();
        let query = AgentQuery { cursor, limit: 500, ..agents.clone() };
        async move { Ok(store.agents_page(&query).await?.next_cursor) }
    })
    .await?;
    let deep_agents = AgentQuery { cursor, ..agents.clone() };
    bench.case(&format!("agents: row {}+ via cursor", deep * 500), || store.agents_page(&deep_agents)).await?;
    let agents_version = AgentQuery { version: Some("0.2.1".into()), ..agents.clone() };
    bench.case("agents: version filter", || store.agents_page(&agents_version)).await?;
    bench.case("agents: versions", || store.agent_versions()).await?;

    println!("\nworst p95: {:.2} ms", bench.worst.as_secs_f64() * 1e3);
    if args.only.is_none() {
        let started = Instant::now();
        store.refresh_rollups(now, since).await?;
        println!("rollup refresh (background task, not a page): {:.2} s", started.elapsed().as_secs_f64());
    }
    Ok(())
}
