//! Policy push benchmark: publish → received and verified by N simulated agents, each with its
//! own key, certificate, mTLS connection and `Policy.Watch` stream, against an in-process control
//! plane on 127.0.0.1:0. A load tool, not a test:
//!
//! ```text
//! cargo run --release -p muster-control-plane --features testing --example policy_push_bench -- \
//!     --agents 10000 [--rounds 3] [--ack-reports] [--database-url postgres://...]
//! ```
//!
//! Setup (not timed): raise the open-file limit to its hard maximum (every agent holds one TCP
//! connection, and both ends live in this process), enroll every agent over gRPC (its own P-256
//! key and certificate), open its mTLS channel and its `Policy.Watch` stream. Then each round
//! publishes a new policy version through the same use-case as `muster-server policy apply`
//! (`policies::publish`) and times, per agent, from the start of the publish call to the moment
//! that agent has the bundle of that version on its stream and has verified its Ed25519 signature
//! with the key it was given at enrollment (what the agent does before it accepts a bundle).
//! With `--ack-reports` each agent then sends a report carrying `PolicyReport.acked_version`
//! (an empty delta) and the time to that report's answer is measured too: the control plane has
//! committed the report carrying the acknowledgement.
//!
//! With `--database-url` the database must be empty (a fresh one); without it SQLite in a temp
//! dir. The agents share this process's cores with the control plane (and the database), which
//! real agents do not: the figures are pessimistic for that reason.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use clap::Parser;
use muster_control_plane::config::Limits;
use muster_control_plane::testing::{AgentKey, TestControlPlane, channel};
use muster_proto::v1::enrollment_client::EnrollmentClient;
use muster_proto::v1::inventory_client::InventoryClient;
use muster_proto::v1::policy_client::PolicyClient;
use muster_proto::v1::{
    EnrollRequest, Host, InventoryDelta, InventorySnapshot, PolicyReport, ReportRequest, WatchRequest, report_request,
};
use tokio::sync::{Semaphore, mpsc};

#[derive(Debug, Parser)]
struct Args {
    /// Number of simulated agents.
    #[arg(long, default_value_t = 10_000)]
    agents: usize,
    /// Policy versions published, one after the other, each timed on its own.
    #[arg(long, default_value_t = 3)]
    rounds: u64,
    /// Enrollments (TLS handshakes) in flight at once during setup.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// After verifying a bundle, each agent reports `PolicyReport.acked_version`.
    #[arg(long)]
    ack_reports: bool,
    /// Database URL (a fresh, empty database); default SQLite in a temp dir.
    #[arg(long)]
    database_url: Option<String>,
}

/// What an agent tells the bench: it verified version `version` at `at`; `acked` when the report
/// carrying the acknowledgement was answered.
struct Receipt {
    version: u64,
    verified: Instant,
    acked: Option<Instant>,
}

fn policy(round: u64) -> String {
    format!(
        "version = 1\nname = \"push-bench\"\n\n[[rule]]\nid = \"no-sse\"\naction = \"block\"\n[rule.match]\ntransport = [\"sse\"]\n\n\
         [[rule]]\nid = \"round-{round}\"\naction = \"notify\"\n[rule.match]\npackage = [\"@bench/round-{round}\"]\n"
    )
}

/// Raises the open-file limit to `wanted` (the hard limit too, which needs privilege) or, failing
/// that, to the hard limit; returns the limit in force.
fn raise_open_files(wanted: u64) -> Result<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if hard < wanted && setrlimit(Resource::Nofile, Rlimit { current: Some(wanted), maximum: Some(wanted) }).is_ok() {
        return Ok(wanted);
    }
    setrlimit(Resource::Nofile, Rlimit { current: limit.maximum, maximum: limit.maximum })
        .context("raise RLIMIT_NOFILE")?;
    Ok(getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn line(what: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "  {what:<22} {} agents  p50 {:>8.1?}  p99 {:>8.1?}  max {:>8.1?}",
        times.len(),
        percentile(&times, 0.50),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or_default()
    );
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    // Two descriptors per agent (both ends of its connection live here) plus the database's.
    let wanted = 2 * args.agents as u64 + 4096;
    let open_files = raise_open_files(wanted)?;
    anyhow::ensure!(
        open_files >= wanted,
        "the open-file limit is {open_files}: too low for {} agents (raise the hard limit, e.g. ulimit -Hn)",
        args.agents
    );
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

    // Setup: enroll, connect, send a first snapshot (so acknowledgements can be deltas), watch.
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let (receipts, mut received) = mpsc::unbounded_channel::<Receipt>();
    let mut setups = Vec::new();
    for n in 0..args.agents {
        let gate = gate.clone();
        let mut enroll = EnrollmentClient::new(anonymous.clone());
        let token = token.token.clone();
        let (addr, ca) = (cp.grpc_addr, cp.ca_pem().to_string());
        let receipts = receipts.clone();
        let ack_reports = args.ack_reports;
        setups.push(tokio::spawn(async move {
            let permit = gate.acquire().await?;
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
            let agent_id = response.agent_id;
            let mut inventory = InventoryClient::new(channel.clone());
            let first = InventorySnapshot {
                host: Some(Host { hostname: format!("laptop-{n}"), os: 2, ..Default::default() }),
                scanned_at_unix: 1_700_000_000,
                agent_version: "0.1.0-sim".into(),
                ..Default::default()
            };
            inventory
                .report(ReportRequest {
                    agent_id: agent_id.clone(),
                    sequence: 1,
                    base_sequence: 0,
                    body: Some(report_request::Body::Full(first)),
                    policy: None,
                })
                .await?;
            let mut stream = PolicyClient::new(channel)
                .watch(WatchRequest { known_version: 0, ..Default::default() })
                .await?
                .into_inner();
            drop(permit);
            let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, response.policy_public_key);
            // The agent's loop: verify each bundle, then (optionally) acknowledge it in a report.
            let agent = tokio::spawn(async move {
                let mut sequence = 1;
                while let Some(bundle) = stream.message().await? {
                    let message =
                        muster_proto::policy_signing_message(bundle.version, bundle.issued_at_unix, &bundle.document);
                    key.verify(&message, &bundle.signature)
                        .map_err(|_| anyhow::anyhow!("bad signature on version {}", bundle.version))?;
                    let verified = Instant::now();
                    let acked = if ack_reports {
                        sequence += 1;
                        let ack = inventory
                            .report(ReportRequest {
                                agent_id: agent_id.clone(),
                                sequence,
                                base_sequence: sequence - 1,
                                body: Some(report_request::Body::Delta(InventoryDelta::default())),
                                policy: Some(PolicyReport { acked_version: bundle.version, ..Default::default() }),
                            })
                            .await?
                            .into_inner();
                        anyhow::ensure!(ack.acked_sequence == sequence, "unexpected ack {ack:?}");
                        Some(Instant::now())
                    } else {
                        None
                    };
                    if receipts.send(Receipt { version: bundle.version, verified, acked }).is_err() {
                        break;
                    }
                }
                anyhow::Ok(())
            });
            anyhow::Ok(agent)
        }));
    }
    drop(receipts);
    let mut agents = Vec::new();
    for setup in setups {
        agents.push(setup.await??);
    }
    println!(
        "set up {} agents (own key, certificate, mTLS connection, first report and Policy.Watch stream each) in {:.1?}; open-file limit {open_files}",
        agents.len(),
        started.elapsed()
    );

    let backend = if args.database_url.is_some() { "postgres" } else { "sqlite" };
    for round in 1..=args.rounds {
        let text = policy(round);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
        let started = Instant::now();
        let (record, _audit) =
            muster_control_plane::policies::publish(cp.store(), cp.state.as_ref(), &text, "bench", "push bench", now)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        let published = started.elapsed();
        let mut verified = Vec::with_capacity(args.agents);
        let mut acked = Vec::with_capacity(args.agents);
        while verified.len() < args.agents {
            let receipt = received.recv().await.context("an agent's stream ended")?;
            anyhow::ensure!(
                receipt.version == record.version,
                "version {} while waiting for {}",
                receipt.version,
                record.version
            );
            verified.push(receipt.verified - started);
            acked.extend(receipt.acked.map(|at| at - started));
        }
        println!(
            "{backend} round {round}: version {} published (stored and signed) in {published:.1?}; all agents by {:.1?}",
            record.version,
            started.elapsed()
        );
        line("received + verified", verified);
        if args.ack_reports {
            line("ack report answered", acked);
        }
    }
    for agent in &agents {
        agent.abort();
    }
    cp.stop().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}
