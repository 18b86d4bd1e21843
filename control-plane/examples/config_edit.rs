//! Benchmark: configuration edit → row updated at the control plane. An in-process control plane
//! (SQLite, real mTLS) and a real `muster-agent run` process on a synthetic image; the benchmark
//! rewrites one server's command in `~/.cursor/mcp.json` N times and, after each edit, polls the
//! store until the server row shows the new command. Prints p50/p99/max of edit → stored; goal
//! p99 < 1 s. The agent's debounce (300 ms by default) is part of the figure, as for a user.
//!
//! ```text
//! cargo build --release -p muster-agent
//! cargo run --release -p muster-control-plane --features testing --example config_edit -- --edits 50
//! ```

#[path = "support/agent_process.rs"]
mod agent_process;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    /// Number of edits to time.
    #[arg(long, default_value_t = 50)]
    edits: usize,
    /// The agent binary [default: target/release/muster-agent of this workspace].
    #[arg(long)]
    agent_bin: Option<PathBuf>,
    /// How often the store is polled for the change.
    #[arg(long, default_value = "5ms", value_parser = humantime::parse_duration)]
    poll: Duration,
    /// Pause between one edit arriving and the next edit, so each edit is its own change.
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    gap: Duration,
    /// Extra arguments for `muster-agent run` (e.g. --debounce=100ms).
    #[arg(long = "agent-arg", allow_hyphen_values = true)]
    agent_args: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let agent_process::Running { work, root, cp, agent_id, child } =
        agent_process::start(args.agent_bin.clone(), &args.agent_args).await?;
    let first = agent_process::wait_for_servers(&cp, &agent_id, args.poll, Duration::from_secs(30), |servers| {
        servers.iter().any(|s| s.name == "edited" && s.command == "tool-0")
    })
    .await
    .context("first snapshot");
    let Ok(_) = first else {
        agent_process::stop(child);
        return first.map(|_| ());
    };

    let mut latencies = Vec::with_capacity(args.edits);
    let mut failure = None;
    for n in 1..=args.edits {
        tokio::time::sleep(args.gap).await;
        let command = format!("tool-{n}");
        let edited = Instant::now();
        std::fs::write(root.join(agent_process::EDITED), agent_process::cursor_config(&command))?;
        let stored = agent_process::wait_for_servers(&cp, &agent_id, args.poll, Duration::from_secs(10), |servers| {
            servers.iter().any(|s| s.name == "edited" && s.command == command)
        })
        .await;
        match stored {
            Ok(at) => latencies.push(at - edited),
            Err(error) => {
                failure = Some(error.context(format!("edit {n}")));
                break;
            }
        }
    }
    agent_process::stop(child);
    if let Some(error) = failure {
        let log = std::fs::read_to_string(work.path().join("agent.log")).unwrap_or_default();
        eprintln!("agent log:\n{log}");
        return Err(error);
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "config edit -> stored: {} edits | p50 {:.0} ms | p99 {:.0} ms | max {:.0} ms | min {:.0} ms",
        latencies.len(),
        ms(agent_process::percentile(&latencies, 0.50)),
        ms(agent_process::percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
        ms(latencies.first().copied().unwrap_or_default()),
    );
    cp.stop().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}
