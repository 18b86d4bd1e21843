//! Fleet simulator: many agents in one process, each with its own key and certificate, enrolled
//! over gRPC and then reporting a realistic inventory (a full snapshot, then deltas) to an
//! in-process control plane on 127.0.0.1:0 over mTLS. Prints throughput and client-side latency
//! percentiles. A load tool, not a test:
//!
//! ```text
//! cargo run --release -p muster-control-plane --features testing --example fleet_sim -- \
//!     --agents 1000 --reports-per-agent 5 [--rate 2000] [--database-url postgres://...]
//! ```
//!
//! With `--database-url` the database must be empty (a fresh one); without it SQLite in a temp dir.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use clap::Parser;
use muster_control_plane::config::Limits;
use muster_control_plane::testing::{AgentKey, TestControlPlane, channel};
use muster_proto::v1::enrollment_client::EnrollmentClient;
use muster_proto::v1::inventory_client::InventoryClient;
use muster_proto::v1::{
    ConfigSource, Credential, EnrollRequest, Finding, Host, InventoryDelta, InventorySnapshot, McpServer, OsUser,
    ReportRequest, report_request,
};
use tokio::sync::Semaphore;

#[derive(Debug, Parser)]
struct Args {
    /// Number of simulated agents.
    #[arg(long, default_value_t = 500)]
    agents: usize,
    /// Reports per agent: one full snapshot, the rest deltas.
    #[arg(long, default_value_t = 5)]
    reports_per_agent: u64,
    /// Servers in each agent's inventory.
    #[arg(long, default_value_t = 12)]
    servers_per_agent: usize,
    /// Reports in flight at once across the fleet (closed loop: each finished report lets the
    /// next one go, so this measures the most the control plane can take).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Open loop instead: reports are due at this fleet-wide rate (reports/s), as from a fleet
    /// reporting on a schedule, whatever the control plane's speed. Latency then counts from the
    /// moment a report was due, so a control plane that falls behind shows it in the percentiles.
    #[arg(long)]
    rate: Option<f64>,
    /// Database URL (a fresh, empty database); default SQLite in a temp dir.
    #[arg(long)]
    database_url: Option<String>,
}

struct SimAgent {
    id: String,
    client: InventoryClient<muster_proto::tonic::transport::Channel>,
}

fn server(agent: usize, n: usize, revision: u64) -> McpServer {
    let client = ["cursor", "claude-desktop", "vscode", "windsurf"][n % 4];
    McpServer {
        id: format!("{agent:06}-{n:03}"),
        name: format!("server-{n}"),
        client: client.into(),
        user: "alice".into(),
        scope: 1,
        config_path: format!("/home/alice/.{client}/mcp.json"),
        transport: 1,
        command: "npx".into(),
        args: vec!["-y".into(), format!("@acme/mcp-server-{n}@1.{revision}.0")],
        env_names: vec!["API_TOKEN".into(), "LOG_LEVEL".into()],
        credentials: vec![Credential {
            location: "env:API_TOKEN".into(),
            kind: "generic-high-entropy".into(),
            source: 1,
            fingerprint: format!("{:032x}", (agent * 1000 + n) as u128),
            provider: "acme".into(),
            ..Default::default()
        }],
        findings: vec![Finding {
            id: "MUSTER-SECRET-ENV".into(),
            severity: 4,
            owasp: "MCP01".into(),
            message: "literal secret in env".into(),
            server_ids: vec![format!("{agent:06}-{n:03}")],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn snapshot(agent: usize, servers: usize) -> InventorySnapshot {
    InventorySnapshot {
        host: Some(Host { hostname: format!("laptop-{agent}"), os: 2, arch: "aarch64".into(), ..Default::default() }),
        users: vec![OsUser { name: "alice".into(), uid: Some(501), home: "/Users/alice".into() }],
        sources: ["cursor", "claude-desktop", "vscode", "windsurf"]
            .iter()
            .map(|client| ConfigSource {
                path: format!("/home/alice/.{client}/mcp.json"),
                client: (*client).into(),
                client_accepts: true,
                ..Default::default()
            })
            .collect(),
        servers: (0..servers).map(|n| server(agent, n, 0)).collect(),
        scanned_at_unix: 1_700_000_000,
        agent_version: "0.1.0-sim".into(),
        ..Default::default()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    // Closed-loop agents report far faster than real ones: lift the per-agent request and work
    // budgets so the benchmark measures ingest, not the limiter (fair admission still applies).
    let limits = Limits {
        agent_burst: 1_000_000,
        agent_requests_per_minute: 60_000_000,
        agent_work_burst: 1 << 40,
        agent_work_per_minute: 1 << 40,
        ..Limits::default()
    };
    let cp = TestControlPlane::start_with(args.database_url.as_deref(), limits)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("start control plane")?;
    let token = cp.create_token(0, Duration::from_secs(3600)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let anonymous = channel(cp.grpc_addr, cp.ca_pem(), None).await.map_err(|e| anyhow::anyhow!("{e}"))?;

    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let mut enrollments = Vec::new();
    for n in 0..args.agents {
        let gate = gate.clone();
        let mut enroll = EnrollmentClient::new(anonymous.clone());
        let token = token.token.clone();
        let (addr, ca) = (cp.grpc_addr, cp.ca_pem().to_string());
        enrollments.push(tokio::spawn(async move {
            let _permit = gate.acquire().await?;
            let key = AgentKey::generate().map_err(|e| anyhow::anyhow!("{e}"))?;
            let response = enroll
                .enroll(EnrollRequest {
                    token,
                    csr_der: key.csr_der,
                    agent_version: "0.1.0-sim".into(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            let channel = channel(addr, &ca, Some((&response.certificate_chain_pem, &key.key_pem)))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            anyhow::Ok((n, SimAgent { id: response.agent_id, client: InventoryClient::new(channel) }))
        }));
    }
    let mut agents = Vec::new();
    for enrollment in enrollments {
        agents.push(enrollment.await??);
    }
    println!("enrolled {} agents (own certificate each) in {:.1?}", agents.len(), started.elapsed());

    let started = Instant::now();
    let fleet = agents.len();
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let mut tasks = Vec::new();
    for (n, mut agent) in agents {
        let gate = gate.clone();
        let (servers, reports, rate) = (args.servers_per_agent, args.reports_per_agent, args.rate);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for sequence in 1..=reports {
                let body = if sequence == 1 {
                    report_request::Body::Full(snapshot(n, servers))
                } else {
                    let changed = (sequence as usize) % servers.max(1);
                    report_request::Body::Delta(InventoryDelta {
                        upserted_servers: vec![server(n, changed, sequence)],
                        ..Default::default()
                    })
                };
                let request = ReportRequest {
                    agent_id: agent.id.clone(),
                    sequence,
                    base_sequence: sequence - 1,
                    body: Some(body),
                    policy: None,
                };
                let (_permit, sent) = match rate {
                    Some(rate) => {
                        // Report `sequence` of agent `n` is due at its slot in the fleet-wide schedule.
                        let slot = (sequence - 1) as f64 * fleet as f64 + n as f64;
                        let due = start + Duration::from_secs_f64(slot / rate);
                        tokio::time::sleep_until(due).await;
                        (None, due)
                    }
                    None => (Some(gate.acquire().await?), tokio::time::Instant::now()),
                };
                let ack = agent.client.report(request).await?.into_inner();
                latencies.push(sent.elapsed());
                anyhow::ensure!(ack.acked_sequence == sequence && !ack.resync_required, "unexpected ack {ack:?}");
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let backend = if args.database_url.is_some() { "postgres" } else { "sqlite" };
    let mode = match args.rate {
        Some(rate) => format!("open loop, due at {rate:.0}/s"),
        None => format!("closed loop, {} in flight", args.concurrency),
    };
    println!(
        "| {backend} | {mode} | {} agents | {} reports | {:.0} reports/s | p50 {:.1?} | p99 {:.1?} | max {:.1?} |",
        args.agents,
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
    );
    cp.stop().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}
