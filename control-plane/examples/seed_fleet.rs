//! Seeds a fresh database with a synthetic fleet for the read-model benchmark
//! (`store::read::seed`): 100,000 endpoints and 2,000,000 servers by default, with credentials,
//! findings, change events, endpoint summaries and rollups in realistic proportions.
//!
//! ```text
//! cargo run --release -p muster-control-plane --features testing --example seed_fleet -- \
//!     --database-url sqlite:///tmp/fleet.db [--endpoints 100000 --servers-per-endpoint 20]
//! ```
//!
//! The database must be new (SQLite: a missing file; PostgreSQL: an empty database).

use std::time::Instant;

use anyhow::{Context as _, Result};
use clap::Parser;
use muster_control_plane::store::read::seed::{FleetSpec, seed};

#[derive(Debug, Parser)]
struct Args {
    /// Database URL: sqlite://PATH (created) or postgres://... (an empty database).
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 100_000)]
    endpoints: usize,
    #[arg(long, default_value_t = 20)]
    servers_per_endpoint: usize,
    /// Unix time the data is relative to; the bench must use the same.
    #[arg(long, default_value_t = 1_800_000_000)]
    now: i64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let spec = FleetSpec {
        endpoints: args.endpoints,
        servers_per_endpoint: args.servers_per_endpoint,
        now: args.now,
        ..FleetSpec::default()
    };
    let started = Instant::now();
    let report = seed(&args.database_url, &spec).await.context("seeding")?;
    for (table, rows) in &report.rows {
        println!("{table:<18} {rows:>10} rows");
    }
    println!(
        "inserts {:.1}s, analyze {:.1}s, rollups {:.1}s, total {:.1}s",
        report.insert_time.as_secs_f64(),
        report.analyze_time.as_secs_f64(),
        report.rollup_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
