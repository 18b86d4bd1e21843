//! `cargo xtask`: Muster's task runner (rust-analyzer's xtask pattern; the alias is in
//! `.cargo/config.toml`). `cargo xtask dist` builds the agent and the control plane and packages
//! them into `target/dist/`: deb and rpm for the agent and the control plane, an MSI for the agent.
//!
//! Package contents (units, maintainer scripts, example configs) are plain files under
//! `packaging/`, read at run time so they can be reviewed as they ship; this crate only lays them
//! out and calls Debian's `dpkg-deb`, `rpmbuild` and `wixl`. It does not install anything.

#![forbid(unsafe_code)]

mod dist;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "Muster's task runner")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the binaries and the installable packages into target/dist/.
    Dist(dist::DistArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Dist(args) => dist::run(&args, &workspace_root()),
    }
}

/// The workspace root: this crate's parent directory.
fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map_or(manifest.clone(), |p| p.to_path_buf())
}
