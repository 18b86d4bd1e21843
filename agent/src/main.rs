//! `muster-agent`: the endpoint agent's command line. Parses arguments, sets up logging and
//! calls the library; nothing else lives here.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use muster_agent::platform::{Layout, Os};

#[derive(Parser)]
#[command(name = "muster-agent", version, about = "Finds the MCP servers on this machine and judges their hygiene")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan MCP configuration (every client, user, project and managed scope) and processes.
    Scan(ScanArgs),
}

#[derive(clap::Args)]
struct ScanArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Scan a machine image: DIR stands for that machine's filesystem root.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Operating system of the image given with --root.
    #[arg(long, value_enum, requires = "root")]
    os: Option<OsArg>,
    /// Do not list running processes.
    #[arg(long)]
    no_processes: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum OsArg {
    Linux,
    Macos,
    Windows,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MUSTER_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Scan(args) => {
            let layout = match &args.root {
                Some(root) => {
                    anyhow::ensure!(root.is_dir(), "--root {} is not a directory", root.display());
                    let os = match args.os {
                        Some(OsArg::Linux) => Os::Linux,
                        Some(OsArg::Macos) => Os::Macos,
                        Some(OsArg::Windows) => Os::Windows,
                        None => Os::current(),
                    };
                    Layout::image(root.clone(), os)
                }
                None => Layout::live(),
            };
            let req = muster_agent::ScanRequest {
                layout,
                env: std::env::vars()
                    .filter(|(k, _)| muster_agent::platform::RELOCATING_VARS.contains(&k.as_str()))
                    .collect(),
                processes: !args.no_processes,
                fleet_key: None,
            };
            let inv = muster_agent::scan(&req).context("scan failed")?;
            let text = match args.format {
                Format::Json => muster_agent::output::json::render(&inv),
                Format::Table => muster_agent::output::table::render(&inv),
            };
            let mut stdout = std::io::stdout().lock();
            match writeln!(stdout, "{text}") {
                // A closed pipe (`| head`) is the reader's choice, not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
                other => {
                    other.context("writing the report to stdout")?;
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
    }
}
