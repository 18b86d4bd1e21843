//! `muster-agent`: the endpoint agent's command line. Parses arguments, sets up logging and
//! calls the library; nothing else lives here.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use muster_agent::platform::{Layout, Os};
use muster_proto::v1::Severity;

#[derive(Parser)]
#[command(name = "muster-agent", version, about = "Finds the MCP servers on this machine and judges their hygiene")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes:
  0  the scan ran (and, with --fail-on, found nothing at or above that severity)
  1  --fail-on was given and a finding at or above that severity exists (the report is printed)
  2  the scan could not run (bad arguments, unreadable --root or --project, invalid data)";

#[derive(Subcommand)]
enum Command {
    /// Scan MCP configuration (every client, user, project and managed scope) and processes.
    #[command(after_help = EXIT_CODES)]
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
    /// Scan only DIR as a project (every client's project files in it; no users, managed
    /// files or processes), as a CI pipeline does on a checked-out repository. SARIF URIs are
    /// relative to DIR.
    #[arg(long, value_name = "DIR", conflicts_with = "root")]
    project: Option<PathBuf>,
    /// Exit with code 1 when a finding of this severity or worse exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<SeverityArg>,
    /// Do not list running processes.
    #[arg(long)]
    no_processes: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Sarif,
}

#[derive(Clone, Copy, ValueEnum)]
enum SeverityArg {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl SeverityArg {
    fn to_proto(self) -> Severity {
        match self {
            SeverityArg::Info => Severity::Info,
            SeverityArg::Low => Severity::Low,
            SeverityArg::Medium => Severity::Medium,
            SeverityArg::High => Severity::High,
            SeverityArg::Critical => Severity::Critical,
        }
    }
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
            // The real, absolute path: config paths and SARIF URIs are written from it.
            let project = match &args.project {
                Some(dir) => {
                    anyhow::ensure!(dir.is_dir(), "--project {} is not a directory", dir.display());
                    Some(std::fs::canonicalize(dir).with_context(|| format!("resolving --project {}", dir.display()))?)
                }
                None => None,
            };
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
                project: project.clone(),
            };
            let inv = muster_agent::scan(&req).context("scan failed")?;
            let mut stdout = std::io::stdout().lock();
            let text = match args.format {
                Format::Json => muster_agent::output::json::render(&inv),
                Format::Sarif => {
                    let root = project.as_deref().map(|p| p.to_string_lossy());
                    muster_agent::output::sarif::render(&inv, root.as_deref())
                }
                Format::Table => {
                    // NO_COLOR (https://no-color.org): present and not empty turns colour off.
                    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
                    let colour = stdout.is_terminal() && !no_color;
                    muster_agent::output::table::render_styled(&inv, colour)
                }
            };
            let code = match args.fail_on {
                Some(threshold) if muster_agent::output::worst_severity(&inv) >= Some(threshold.to_proto()) => {
                    ExitCode::from(1)
                }
                _ => ExitCode::SUCCESS,
            };
            match writeln!(stdout, "{text}") {
                // A closed pipe (`| head`) is the reader's choice, not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(code),
                other => {
                    other.context("writing the report to stdout")?;
                    Ok(code)
                }
            }
        }
    }
}
