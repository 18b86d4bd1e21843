//! Benchmark: an idle agent daemon. Starts a real `muster-agent run` (enrolled with an in-process
//! control plane, on a synthetic image), waits until its first snapshot is stored, lets it settle,
//! then samples `/proc/PID/status` (VmRSS) and `/proc/PID/stat` (utime + stime, all threads)
//! once a second for `--duration`. Prints RSS (mean, max) and CPU time as a percentage of one
//! core over the window; goals RSS < 15 MB, CPU < 0.1 %. Linux only (reads /proc).
//!
//! ```text
//! cargo build --release -p muster-agent
//! cargo run --release -p muster-control-plane --features testing --example agent_idle -- --duration 10m
//! ```

#[path = "support/agent_process.rs"]
mod agent_process;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use clap::Parser;
use muster_control_plane::testing::TestControlPlane;

/// Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on every Linux target).
const USER_HZ: f64 = 100.0;

#[derive(Debug, Parser)]
struct Args {
    /// How long to sample after settling.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// How long to let the agent settle after its first snapshot is stored.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    settle: Duration,
    /// The agent binary [default: target/release/muster-agent of this workspace].
    #[arg(long)]
    agent_bin: Option<PathBuf>,
    /// Extra arguments for `muster-agent run`.
    #[arg(long = "agent-arg", allow_hyphen_values = true)]
    agent_args: Vec<String>,
}

/// CPU ticks (user + system, all threads) of a process.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).context("malformed /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}

/// A `/proc/PID/status` value in kB.
fn status_kb(pid: u32, key: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|line| line.starts_with(key)).with_context(|| format!("no {key}"))?;
    Ok(line.split_whitespace().nth(1).context("no value")?.parse()?)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let agent_process::Running { work, cp, agent_id, child, .. } =
        agent_process::start(args.agent_bin.clone(), &args.agent_args).await?;
    let pid = child.id();
    let result = measure(&args, &cp, &agent_id, pid).await;
    let mut child = child;
    if let Ok(Some(status)) = child.try_wait() {
        let log = std::fs::read_to_string(work.path().join("agent.log")).unwrap_or_default();
        eprintln!("the agent exited during the measurement ({status}); its log:\n{log}");
    }
    agent_process::stop(child);
    cp.stop().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    result
}

async fn measure(args: &Args, cp: &TestControlPlane, agent_id: &str, pid: u32) -> Result<()> {
    agent_process::wait_for_servers(cp, agent_id, Duration::from_millis(50), Duration::from_secs(30), |servers| {
        servers.len() >= 6
    })
    .await
    .context("first snapshot")?;
    tokio::time::sleep(args.settle).await;

    let (start, start_ticks) = (Instant::now(), cpu_ticks(pid)?);
    let mut rss = Vec::new();
    let mut next = tokio::time::Instant::now();
    while start.elapsed() < args.duration {
        rss.push(status_kb(pid, "VmRSS:")?);
        next += Duration::from_secs(1);
        tokio::time::sleep_until(next).await;
    }
    let (elapsed, ticks) = (start.elapsed(), cpu_ticks(pid)? - start_ticks);
    let cpu_seconds = ticks as f64 / USER_HZ;
    let mean_kb = rss.iter().sum::<u64>() as f64 / rss.len().max(1) as f64;
    let max_kb = rss.iter().copied().max().unwrap_or_default();
    let threads = status_kb(pid, "Threads:").unwrap_or_default();
    let stored = cp.store().agent(agent_id).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "agent idle: {:.0} s sampled after {:.0} s settling | RSS mean {:.1} MB, max {:.1} MB, peak (VmHWM) {:.1} MB | \
         CPU {:.2} s = {:.3} % of one core | {threads} threads | last sequence {}",
        elapsed.as_secs_f64(),
        args.settle.as_secs_f64(),
        mean_kb / 1024.0,
        max_kb as f64 / 1024.0,
        status_kb(pid, "VmHWM:").unwrap_or_default() as f64 / 1024.0,
        cpu_seconds,
        cpu_seconds / elapsed.as_secs_f64() * 100.0,
        stored.map(|a| a.last_sequence).unwrap_or_default(),
    );
    Ok(())
}
