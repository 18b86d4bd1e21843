//! Policy push benchmark: publish → received and verified by N simulated agents, each with its
//! own key, certificate, mTLS connection and `Policy.Watch` stream, against an in-process control
//! plane on 127.0.0.1:0. A load tool, not a test:
//!
//! ```text
//! cargo run --release -p muster-control-plane --features testing --example policy_push_bench -- \
//!     --agents 10000 [--rounds 3] [--ack-reports] [--database-url postgres://...]
//! ```
//!
//! The control plane runs in this process; the agents run in worker processes (this program
//! started again with `--worker`, `--agents-per-process` agents each), so no process holds both
//! ends of every connection (10,000 agents in one process need 20,000 descriptors, more than a
//! hard limit of 20,000 allows) and the agents' TLS and signature work is not this process's.
//!
//! Setup (not timed): every worker enrolls its agents over gRPC (its own P-256 key and
//! certificate each), opens each agent's mTLS channel, sends a first report and opens its
//! `Policy.Watch` stream, then says `ready`. Then each round publishes a new policy version
//! through the same use-case as `muster-server policy apply` (`policies::publish`) and times, per
//! agent, from the start of the publish call to the moment that agent has the bundle of that
//! version on its stream and has verified its Ed25519 signature with the key it was given at
//! enrollment (what the agent does before it accepts a bundle). With `--ack-reports` each agent
//! then sends a report carrying `PolicyReport.acked_version` (an empty delta) and the time to that
//! report's answer is measured too: the control plane has committed the report carrying the
//! acknowledgement. Times cross processes as wall-clock nanoseconds (`SystemTime`, one machine,
//! one clock).
//!
//! With `--database-url` the database must be empty (a fresh one); without it SQLite in a temp
//! dir. The agents share this machine's cores with the control plane (and the database), which
//! real agents do not: the figures are pessimistic for that reason.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::sync::{Semaphore, mpsc};

#[derive(Debug, Parser)]
struct Args {
    /// Number of simulated agents.
    #[arg(long, default_value_t = 10_000)]
    agents: usize,
    /// Agents per worker process.
    #[arg(long, default_value_t = 5_000)]
    agents_per_process: usize,
    /// Policy versions published, one after the other, each timed on its own.
    #[arg(long, default_value_t = 3)]
    rounds: u64,
    /// Enrollments (TLS handshakes) in flight at once during setup, per worker.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// After verifying a bundle, each agent reports `PolicyReport.acked_version`.
    #[arg(long)]
    ack_reports: bool,
    /// Database URL (a fresh, empty database); default SQLite in a temp dir.
    #[arg(long)]
    database_url: Option<String>,
    /// Internal: run as a worker holding agents (started by the bench itself).
    #[arg(long, hide = true)]
    worker: bool,
    /// Internal (worker): the control plane's gRPC address.
    #[arg(long, hide = true)]
    addr: Option<std::net::SocketAddr>,
    /// Internal (worker): the control plane's CA certificate, PEM file.
    #[arg(long, hide = true)]
    ca_file: Option<std::path::PathBuf>,
    /// Internal (worker): the enrollment token, in the environment so it is not on a command line.
    #[arg(long, hide = true, env = "PUSH_BENCH_TOKEN")]
    token: Option<String>,
    /// Internal (worker): the number of the worker's first agent (host names stay distinct).
    #[arg(long, hide = true, default_value_t = 0)]
    first: usize,
}

/// What an agent tells the bench: it verified version `version` at `verified` and, with
/// `--ack-reports`, had the report carrying the acknowledgement answered at `acked` (wall-clock
/// nanoseconds since the Unix epoch).
struct Receipt {
    version: u64,
    verified: u128,
    acked: Option<u128>,
}

fn policy(round: u64) -> String {
    format!(
        "version = 1\nname = \"push-bench\"\n\n[[rule]]\nid = \"no-sse\"\naction = \"block\"\n[rule.match]\ntransport = [\"sse\"]\n\n\
         [[rule]]\nid = \"round-{round}\"\naction = \"notify\"\n[rule.match]\npackage = [\"@bench/round-{round}\"]\n"
    )
}

fn wall_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default()
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

fn ensure_open_files(wanted: u64, what: &str) -> Result<u64> {
    let open_files = raise_open_files(wanted)?;
    anyhow::ensure!(
        open_files >= wanted,
        "the open-file limit is {open_files}: too low for {what} (raise the hard limit, e.g. ulimit -Hn, or lower --agents-per-process)"
    );
    Ok(open_files)
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
    if args.worker { worker(args).await } else { bench(args).await }
}

/// The bench: the control plane, the workers, the rounds.
async fn bench(args: Args) -> Result<()> {
    anyhow::ensure!(args.agents_per_process > 0, "--agents-per-process must be at least 1");
    // One descriptor per agent (the server's end of its connection) plus the database's.
    let open_files = ensure_open_files(args.agents as u64 + 4096, &format!("{} agents", args.agents))?;
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
    let dir = tempfile::tempdir()?;
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, cp.ca_pem())?;

    // Setup: start the workers; each enrolls, connects, reports and watches, then says `ready`.
    let started = Instant::now();
    let (receipts, mut received) = mpsc::unbounded_channel::<Receipt>();
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<()>();
    let mut workers = Vec::new();
    let mut first = 0;
    while first < args.agents {
        let count = args.agents_per_process.min(args.agents - first);
        let mut command = tokio::process::Command::new(std::env::current_exe()?);
        command
            .args(["--worker", "--agents", &count.to_string(), "--first", &first.to_string()])
            .args(["--concurrency", &args.concurrency.to_string()])
            .args(["--addr", &cp.grpc_addr.to_string()])
            .arg("--ca-file")
            .arg(&ca_file)
            .env("PUSH_BENCH_TOKEN", &token.token)
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if args.ack_reports {
            command.arg("--ack-reports");
        }
        let mut child = command.spawn().context("start a worker")?;
        let stdout = child.stdout.take().context("worker stdout")?;
        let (receipts, ready_tx) = (receipts.clone(), ready_tx.clone());
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "ready" {
                    let _ = ready_tx.send(());
                    continue;
                }
                let mut fields = line.split(' ');
                let parsed = (|| {
                    let version = fields.next()?.parse().ok()?;
                    let verified = fields.next()?.parse().ok()?;
                    let acked = fields.next().and_then(|f| f.parse().ok());
                    Some(Receipt { version, verified, acked })
                })();
                match parsed {
                    Some(receipt) => {
                        if receipts.send(receipt).is_err() {
                            break;
                        }
                    }
                    None => eprintln!("worker: {line}"),
                }
            }
        });
        workers.push(child);
        first += count;
    }
    drop((receipts, ready_tx));
    for _ in 0..workers.len() {
        ready_rx.recv().await.context("a worker ended before it was ready (see its output above)")?;
    }
    println!(
        "set up {} agents in {} worker processes (own key, certificate, mTLS connection, first report and Policy.Watch stream each) in {:.1?}; open-file limit {open_files}",
        args.agents,
        workers.len(),
        started.elapsed()
    );

    let backend = if args.database_url.is_some() { "postgres" } else { "sqlite" };
    for round in 1..=args.rounds {
        let text = policy(round);
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
        let started_wall = wall_nanos();
        let started = Instant::now();
        let (record, _audit) =
            muster_control_plane::policies::publish(cp.store(), cp.state.as_ref(), &text, "bench", "push bench", now)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        let published = started.elapsed();
        let since = |at: u128| Duration::from_nanos(at.saturating_sub(started_wall) as u64);
        let mut verified = Vec::with_capacity(args.agents);
        let mut acked = Vec::with_capacity(args.agents);
        while verified.len() < args.agents {
            let receipt = received.recv().await.context("a worker's output ended")?;
            anyhow::ensure!(
                receipt.version == record.version,
                "version {} while waiting for {}",
                receipt.version,
                record.version
            );
            verified.push(since(receipt.verified));
            acked.extend(receipt.acked.map(since));
        }
        anyhow::ensure!(
            !args.ack_reports || acked.len() == args.agents,
            "{} of {} agents sent no acknowledgement time",
            args.agents - acked.len(),
            args.agents
        );
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
    for mut worker in workers {
        let _ = worker.kill().await;
    }
    cp.stop().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// A worker: `--agents` agents against `--addr`; prints `ready` once all are watching, then
/// `VERSION VERIFIED_NS [ACKED_NS]` per bundle per agent.
async fn worker(args: Args) -> Result<()> {
    // One descriptor per agent (its end of the connection) and some to spare.
    ensure_open_files(args.agents as u64 + 1024, &format!("{} agents in one worker", args.agents))?;
    let addr = args.addr.context("--addr")?;
    let ca = std::fs::read_to_string(args.ca_file.as_ref().context("--ca-file")?)?;
    let token = args.token.clone().context("PUSH_BENCH_TOKEN")?;
    let anonymous = channel(addr, &ca, None).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let (receipts, mut received) = mpsc::unbounded_channel::<Receipt>();
    let mut setups = Vec::new();
    for n in args.first..args.first + args.agents {
        let gate = gate.clone();
        let mut enroll = EnrollmentClient::new(anonymous.clone());
        let (token, ca) = (token.clone(), ca.clone());
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
                    let verified = wall_nanos();
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
                        Some(wall_nanos())
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
    println!("ready");
    // One writer thread: drain what is queued, write it in one go, flush (the timestamps were
    // taken before, so writing does not change what is measured).
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        while let Some(receipt) = received.blocking_recv() {
            let mut next = Some(receipt);
            while let Some(receipt) = next {
                match receipt.acked {
                    Some(acked) => writeln!(out, "{} {} {acked}", receipt.version, receipt.verified)?,
                    None => writeln!(out, "{} {}", receipt.version, receipt.verified)?,
                }
                next = received.try_recv().ok();
            }
            out.flush()?;
        }
        Ok(())
    });
    for agent in agents {
        agent.await??;
    }
    writer.join().map_err(|_| anyhow::anyhow!("the writer thread panicked"))??;
    Ok(())
}
