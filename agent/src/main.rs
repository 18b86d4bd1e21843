//! `muster-agent`: the endpoint agent's command line. Parses arguments, sets up logging and
//! calls the library (`scan`, `enroll::enroll`, `config`, `daemon::live::run`); nothing else lives
//! here.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

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
    /// Enroll this machine with a control plane (one-time token, pinned CA fingerprint).
    Enroll(EnrollArgs),
    /// Run the agent: scan, watch configuration, report to the control plane when enrolled.
    #[command(after_help = RUN_EXIT_CODES)]
    Run(RunArgs),
    /// Remediation policies, evaluated offline (see docs/policies.md).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Show what the running agent knows about your MCP servers (asks it over its local API).
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),
    /// Disable one of your MCP servers in your own config file, through the running agent
    /// (journalled and backed up; undo with `undo-disable`). The id is in `status --format json`.
    #[command(after_help = FIX_HELP)]
    Disable(FixArgs),
    /// Undo a `disable` of yours: the file comes back as it was, keeping edits made elsewhere in it.
    #[command(after_help = FIX_HELP)]
    UndoDisable(FixArgs),
    /// Pin one of your servers launched as an unpinned package (`npx pkg`, `uvx pkg`) to the
    /// version its client already runs, as your local package cache knows it (`pin_candidates` in
    /// `status --format json`); undo with `undo-pin`. JSON-family and TOML config files.
    #[command(after_help = FIX_HELP)]
    Pin(FixArgs),
    /// Undo a `pin` of yours: the file comes back as it was, keeping edits made elsewhere in it.
    #[command(after_help = FIX_HELP)]
    UndoPin(FixArgs),
    /// The installed configuration file (agent.toml).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Bring back files Muster changed (quarantines, managed files), byte-identical, from the
    /// journal and backups in the state dir; files Muster created are removed.
    #[command(after_help = RESTORE_EXIT_CODES)]
    Restore(RestoreArgs),
    /// Answer an AI client's hook from the decisions the agent last wrote (run by the client).
    #[command(subcommand)]
    Hook(HookCommand),
}

#[derive(Subcommand)]
enum HookCommand {
    /// Cursor's beforeMCPExecution hook: reads the call as JSON on stdin, prints
    /// {"permission": "allow" | "deny", ...}. Fails open: no input within 1.5 s, input that is
    /// not JSON, or no readable decision table answer allow. Always exits 0.
    Cursor {
        /// The decision table [default: muster-hook-table.json beside Cursor's system hooks.json].
        #[arg(long, value_name = "FILE")]
        table: Option<PathBuf>,
    },
    /// Claude Code's policyHelper: prints {"managedSettings": {...}}, the administrator's
    /// managed-settings.json and managed-settings.d/*.json merged with Muster's drop-in. Reads no
    /// stdin and never blocks a launch: always exits 0 with a valid answer (unreadable files are
    /// left out and named on stderr).
    ClaudeCode {
        /// The managed-settings directory [default: Claude Code's on this OS].
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

const RESTORE_EXIT_CODES: &str = "Exit codes:
  0  everything asked for was restored (or nothing needed it)
  1  a file was left alone because it changed since Muster wrote it (its backup is kept), or
     another refusal; each is printed
  2  bad arguments or an unreadable journal";

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["all", "id"])))]
struct RestoreArgs {
    /// Restore every file Muster changed (under --root, only files there).
    #[arg(long)]
    all: bool,
    /// Restore the file of this journal entry (later changes to the same file are undone first).
    id: Option<u64>,
    /// A machine image: DIR stands for that machine's filesystem root.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Operating system of the image given with --root.
    #[arg(long, value_enum, requires = "root")]
    os: Option<OsArg>,
    /// The agent's state dir holding the journal (default: the agent's own; with --root, the
    /// image's `var/lib/muster-agent`).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

const POLICY_APPLY_EXIT_CODES: &str = "Exit codes:
  0  the policy was applied (each action's result is printed: applied, in force, lifted,
     pending for actions this build does not enforce, ...)
  1  an action failed (printed with its reason); nothing else was lost
  2  the policy file was refused (FILE:LINE:COLUMN: message), or the scan could not run";

#[derive(clap::Args)]
struct PolicyApplyArgs {
    /// The policy file (TOML).
    file: PathBuf,
    /// Enforce on a machine image: DIR stands for that machine's filesystem root, and every
    /// write stays under it.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Operating system of the image given with --root.
    #[arg(long, value_enum, requires = "root")]
    os: Option<OsArg>,
    /// Print what would be written; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// The agent's state dir for the journal and backups (default: the agent's own; with --root,
    /// the image's `var/lib/muster-agent`, so every write stays under DIR).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// An endpoint tag to evaluate targets with (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Also configure Claude Code's policyHelper (`muster-agent hook claude-code`) when its
    /// program is installed, as `[enforce] claude_code_policy_helper = true` does for the daemon.
    #[arg(long)]
    claude_code_policy_helper: bool,
}

const POLICY_EXIT_CODES: &str = "Exit codes:
  0  the policy is valid and was evaluated (whatever it decided)
  2  the policy file was refused (every problem is printed as FILE:LINE:COLUMN: message), or
     the scan could not run";

#[derive(Subcommand)]
enum PolicyCommand {
    /// Check a policy file, scan this machine (or the image given with --root) the way `scan`
    /// does, and print what the policy would do to each server. Changes nothing.
    #[command(after_help = POLICY_EXIT_CODES)]
    Check(PolicyCheckArgs),
    /// Enforce a local policy file on this machine (or the image given with --root) with no
    /// control plane: quarantines due now are written, those no rule asks for any more are
    /// lifted. Every change is journalled and undone by `muster-agent restore`.
    #[command(after_help = POLICY_APPLY_EXIT_CODES)]
    Apply(PolicyApplyArgs),
}

#[derive(clap::Args)]
struct PolicyCheckArgs {
    /// The policy file (TOML).
    file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PolicyFormat::Text)]
    format: PolicyFormat,
    /// Scan a machine image: DIR stands for that machine's filesystem root.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Operating system of the image given with --root.
    #[arg(long, value_enum, requires = "root")]
    os: Option<OsArg>,
    /// Do not list running processes.
    #[arg(long)]
    no_processes: bool,
    /// An endpoint tag to evaluate targets with (repeatable), as the installer will set them.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum PolicyFormat {
    Text,
    Json,
}

const STATUS_HELP: &str = "The agent's socket: /run/muster-agent/local.sock for the system agent (run as root),
$XDG_RUNTIME_DIR/muster-agent/local.sock for an agent run as a user; MUSTER_AGENT_SOCKET or
--socket name another. Without --socket the user's own agent is tried first, then the system one.

Exit codes:
  0  the agent answered
  1  no agent is running at the socket, or it refused to answer this user
  2  bad arguments";

#[derive(clap::Args)]
struct StatusArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    format: StatusFormat,
    /// The agent's socket (see below for the default).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
}

const FIX_HELP: &str = "The agent's socket is found as for `status`.

Exit codes:
  0  done
  1  no agent is running, or it refused (not your server, not your file, edited since)
  2  bad arguments";

#[derive(clap::Args)]
struct FixArgs {
    /// The server's id (`id` in `muster-agent status --format json`).
    server_id: String,
    /// The agent's socket.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum StatusFormat {
    Text,
    Json,
}

const RUN_EXIT_CODES: &str = "Exit codes:
  0  stopped, or (--once) the report was acknowledged
  1  (--once) the report was not acknowledged or was rejected
  2  the agent could not run (bad arguments, unusable state directory)
  78 the --config file is invalid, or enrolling from it was refused (a service manager should
     not restart the agent for this: the file must be fixed first)";

/// Exit code for a bad config file or a refused enrollment (sysexits' EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

#[derive(Subcommand)]
enum ConfigCommand {
    /// Load the file, report every problem at once, print the settings (never the token).
    /// Exit code 1 when the file has problems.
    Check {
        /// The file [default: /etc/muster/agent.toml; macOS /Library/Application
        /// Support/Muster/agent.toml; Windows %ProgramData%\Muster\agent.toml].
        file: Option<PathBuf>,
    },
    /// Write a config file that enrolls with SERVER (what installers run with their properties,
    /// e.g. the MSI's SERVER_URL). An existing file is kept unless --force; the new file is
    /// checked first and written 0600.
    Write {
        /// Control plane address, https://HOST:PORT (repeatable: tried in order).
        #[arg(long = "server", value_name = "URL", required = true)]
        servers: Vec<String>,
        /// SHA-256 of the fleet CA certificate, 64 hex digits.
        #[arg(long, value_name = "SHA256HEX")]
        ca_fingerprint: String,
        /// Enrollment token, written inline (remove it after enrolling, or use a token file).
        #[arg(long, value_name = "TOKEN")]
        token: Option<String>,
        /// Endpoint tags, separated by commas or spaces (repeatable), e.g. `team:payments,ring:canary`
        /// (the MSI's TAGS property). Each 1-64 characters of a-z, 0-9 and -_.:/.
        #[arg(long = "tags", value_name = "LIST")]
        tags: Vec<String>,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
        file: PathBuf,
    },
}

#[derive(clap::Args)]
struct EnrollArgs {
    /// Control plane address, https://HOST:PORT.
    #[arg(long, value_name = "URL")]
    server: String,
    /// One-time enrollment token (`muster-server token create`). Visible to other local users
    /// in the process list while enrolling; prefer --token-file on shared machines.
    #[arg(long, value_name = "TOKEN", required_unless_present = "token_file", conflicts_with = "token_file")]
    token: Option<String>,
    /// Read the enrollment token from this file (surrounding whitespace is ignored).
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// SHA-256 of the fleet CA certificate (DER), 64 hex digits, as the control plane prints it.
    #[arg(long, value_name = "SHA256HEX")]
    ca_fingerprint: String,
    /// Where to keep keys and state [default: /var/lib/muster-agent as root, else
    /// $XDG_STATE_HOME/muster-agent or ~/.local/state/muster-agent].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The installed configuration file: control plane, enrollment token, scan and watch
    /// settings, log level. Not enrolled yet: the agent enrolls from it first. Flags given here
    /// win over the file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Scan once, report, wait for the acknowledgement and exit (1 if not acknowledged).
    #[arg(long)]
    once: bool,
    /// Where keys and state are kept (see `enroll --help`).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Scan a machine image: DIR stands for that machine's filesystem root.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Operating system of the image given with --root.
    #[arg(long, value_enum, requires = "root")]
    os: Option<OsArg>,
    /// How often processes (and configuration) are re-listed, e.g. 30s, 5m [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    process_interval: Option<Duration>,
    /// How often a full snapshot replaces deltas, e.g. 6h [default: 6h].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    full_interval: Option<Duration>,
    /// Wait after a configuration change before rescanning [default: 300ms].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    debounce: Option<Duration>,
    /// Serve the local API (for `muster-agent status` and the tray app) on this socket
    /// [default: /run/muster-agent/local.sock as root, else $XDG_RUNTIME_DIR/muster-agent/
    /// local.sock, else local.sock in the state dir].
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Do not ask remote servers how they authenticate (wins over `[scan] probe_remote_auth`).
    #[arg(long)]
    offline: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    muster_agent::daemon::parse_duration(s)
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
    /// State directory whose fingerprint key to use (default: the agent's, for live scans).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Do not ask remote servers how they authenticate (by default every http(s) server URL
    /// is probed without credentials, answers kept a day in the state dir); their posture is
    /// then judged from the configuration alone.
    #[arg(long)]
    offline: bool,
    /// How long all probes of one host may take (default 10s); a request ends within 5s or
    /// this, whichever is shorter.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "offline")]
    probe_timeout: Option<Duration>,
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
    // Installed as Claude Code's policyHelper under its own name (Windows, where the helper must
    // be an .exe run without arguments): answer as the helper.
    let invoked_as = std::env::args_os().next().map(PathBuf::from);
    if invoked_as.as_deref().and_then(Path::file_stem).is_some_and(|s| {
        s.eq_ignore_ascii_case(muster_agent::enforce::client_policy::claude_code_helper::HELPER_BINARY_STEM)
    }) {
        return claude_code_helper(None);
    }
    let cli = Cli::parse();
    // The config file is read before logging starts: its log_level is the default filter.
    let config = match &cli.command {
        Command::Run(RunArgs { config: Some(path), .. }) => match muster_agent::config::load_file(path) {
            Ok(config) => Some(config),
            Err(problems) => {
                eprintln!("error: {problems}");
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        _ => None,
    };
    let default_filter = config.as_ref().map_or("warn", |c| c.log_level.as_str());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MUSTER_LOG").unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal: never in a log file or the journal.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(cli, config) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn layout(root: Option<&PathBuf>, os: Option<OsArg>) -> anyhow::Result<Layout> {
    Ok(match root {
        Some(root) => {
            anyhow::ensure!(root.is_dir(), "--root {} is not a directory", root.display());
            let os = match os {
                Some(OsArg::Linux) => Os::Linux,
                Some(OsArg::Macos) => Os::Macos,
                Some(OsArg::Windows) => Os::Windows,
                None => Os::current(),
            };
            Layout::image(root.clone(), os)
        }
        None => Layout::live(),
    })
}

/// The relocating variables of the agent's own environment (nothing else is read).
fn relocating_env() -> muster_agent::platform::EnvMap {
    std::env::vars().filter(|(k, _)| muster_agent::platform::RELOCATING_VARS.contains(&k.as_str())).collect()
}

fn state_dir(arg: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match arg {
        Some(dir) => Ok(dir),
        None => {
            let mut env = relocating_env();
            if let Ok(v) = std::env::var("XDG_STATE_HOME") {
                env.insert("XDG_STATE_HOME".into(), v);
            }
            muster_agent::state::default_state_dir(muster_agent::state::running_as_root(), &env)
                .context("no --state-dir given and no HOME to derive one from")
        }
    }
}

/// Longer than any rescan interval anyone sets, so the scan thread is never torn down and rebuilt.
const BLOCKING_THREAD_KEEP_ALIVE: Duration = Duration::from_secs(7 * 24 * 3600);

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // One thread: the daemon is one loop, and an idle agent should cost next to nothing. Scans
    // run on one blocking thread that is kept between them: with tokio's default keep-alive
    // (10 s) every 30 s rescan started a fresh thread, and each one left about 200 kB of anonymous
    // memory behind (measured with /proc/PID/smaps), so an idle daemon's RSS kept growing.
    tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(1)
        .thread_keep_alive(BLOCKING_THREAD_KEEP_ALIVE)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Completes on Ctrl-C or (Unix) SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `hook claude-code`: the policyHelper's answer on stdout, notes on stderr, always exit 0 (a
/// helper that fails stops Claude Code from starting).
fn claude_code_helper(dir: Option<PathBuf>) -> ExitCode {
    use muster_agent::enforce::client_policy::{claude_code, claude_code_helper};
    let dir = dir.unwrap_or_else(|| PathBuf::from(claude_code::managed_dir(Os::current())));
    let answer = claude_code_helper::helper_answer(&dir);
    for note in &answer.notes {
        eprintln!("muster policyHelper: {note}");
    }
    // A closed stdout leaves Claude Code with nothing to read either way; the exit stays 0.
    let _ = std::io::stdout().lock().write_all(&answer.stdout);
    ExitCode::SUCCESS
}

/// Resolves on the first Ctrl-C or SIGTERM, however many times it is awaited: enrollment on first
/// start and the daemon after it both stop on the same signal.
fn shared_shutdown() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    rx
}

async fn stopped(mut rx: tokio::sync::watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens after it sent.
    let _ = rx.wait_for(|stop| *stop).await;
}

fn run(cli: Cli, config: Option<muster_agent::config::AgentConfig>) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Hook(HookCommand::Cursor { table }) => {
            use muster_agent::enforce::client_policy::cursor;
            let table = table.unwrap_or_else(|| PathBuf::from(cursor::table_file(Os::current())));
            let answer = cursor::run_hook(std::io::stdin(), &table, cursor::INPUT_DEADLINE);
            let text = serde_json::to_string(&answer).context("rendering the answer")?;
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Hook(HookCommand::ClaudeCode { dir }) => Ok(claude_code_helper(dir)),
        Command::Config(ConfigCommand::Check { file }) => {
            let path = file.unwrap_or_else(|| {
                let env = std::env::vars().filter(|(k, _)| k.eq_ignore_ascii_case("ProgramData")).collect();
                muster_agent::config::default_path(Os::current(), &env)
            });
            match muster_agent::config::load_file(&path) {
                Ok(config) => {
                    println!("configuration ok: {}", path.display());
                    print!("{}", muster_agent::config::describe(&config));
                    Ok(ExitCode::SUCCESS)
                }
                Err(problems) => {
                    eprintln!("error: {problems}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Enroll(args) => {
            let pin: muster_agent::enroll::pin::CaFingerprint =
                args.ca_fingerprint.parse().context("--ca-fingerprint")?;
            let token = match (args.token, &args.token_file) {
                (Some(t), _) => zeroize::Zeroizing::new(t),
                (None, Some(path)) => {
                    let text = zeroize::Zeroizing::new(
                        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
                    );
                    zeroize::Zeroizing::new(text.trim().to_string())
                }
                (None, None) => anyhow::bail!("give --token or --token-file"),
            };
            anyhow::ensure!(!token.is_empty(), "the enrollment token is empty");
            let state = muster_agent::state::StateDir::open(&state_dir(args.state_dir)?)?;
            let params = muster_agent::enroll::EnrollParams {
                server: args.server,
                token,
                ca_fingerprint: pin,
                host: muster_agent::inventory::host(&Layout::live(), &[]),
            };
            let identity = runtime()?.block_on(muster_agent::enroll::enroll(&params, &state))?;
            println!(
                "enrolled as agent {} with {}; state in {}",
                identity.agent_id,
                identity.server,
                state.path().display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Write { servers, ca_fingerprint, token, tags, force, file }) => {
            if file.exists() && !force {
                println!("kept the existing {}", file.display());
                return Ok(ExitCode::SUCCESS);
            }
            // An installer passes an empty property as an empty argument: no token.
            let token = token.filter(|t| !t.is_empty());
            // Tags cannot hold a comma or a space, so splitting on them loses nothing.
            let tags: Vec<String> = tags
                .iter()
                .flat_map(|list| list.split([',', ' ', '\t']))
                .filter(|tag| !tag.is_empty())
                .map(str::to_string)
                .collect();
            let text = match muster_agent::config::minimal(&servers, &ca_fingerprint, token.as_deref(), &tags) {
                Ok(text) => text,
                Err(problems) => {
                    eprintln!("error: {problems}");
                    return Ok(ExitCode::from(1));
                }
            };
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            muster_agent::state::write_atomic(&file, text.as_bytes())
                .with_context(|| format!("writing {}", file.display()))?;
            println!("wrote {}", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => {
            use muster_agent::config::first_start::{self, FirstStart};
            use muster_agent::daemon::live::{RunOptions, RunOutcome};
            let config = config.unwrap_or_default();
            let dir = state_dir(args.state_dir.or(config.state_dir.clone()))?;
            let state = muster_agent::state::StateDir::open(&dir)?;
            let layout = layout(args.root.as_ref(), args.os)?;
            let runtime = runtime()?;
            let _guard = runtime.enter();
            let shutdown = shared_shutdown();
            if let Some(cp) = &config.control_plane {
                let host = muster_agent::inventory::host(&layout, &config.tags);
                let start =
                    first_start::ensure_enrolled(cp, &state, host, Default::default(), stopped(shutdown.clone()));
                match runtime.block_on(start) {
                    Ok(FirstStart::Stopped) => return Ok(ExitCode::SUCCESS),
                    Ok(FirstStart::AlreadyEnrolled | FirstStart::Enrolled(_)) => {}
                    Err(e) => {
                        eprintln!("error: {e}");
                        return Ok(ExitCode::from(EXIT_CONFIG));
                    }
                }
            }
            // After enrollment: an enrolled agent fingerprints with the fleet's key.
            let key = state.fingerprint_key()?;
            use muster_agent::local_api::caller::Access;
            let local_api = (!args.once).then(|| {
                let is_root = muster_agent::state::running_as_root();
                let socket = args.socket.clone().unwrap_or_else(|| {
                    muster_proto::local::socket::server_socket(is_root, &socket_env())
                        .unwrap_or_else(|| dir.join(muster_proto::local::socket::SOCKET_FILE))
                });
                muster_agent::daemon::live::LocalApiOptions {
                    socket,
                    access: Access::for_agent_uid(muster_agent::state::effective_uid()),
                }
            });
            let opts = RunOptions {
                state_dir: dir,
                scan: muster_agent::ScanRequest {
                    layout,
                    env: relocating_env(),
                    processes: config.scan.processes,
                    fleet_key: Some(key),
                    project: None,
                    tags: config.tags.clone(),
                },
                settings: muster_agent::daemon::Settings {
                    debounce: args.debounce.unwrap_or(config.watch.debounce),
                    rescan_interval: args.process_interval.unwrap_or(config.scan.interval),
                    full_interval: args.full_interval.unwrap_or(config.scan.full_interval),
                    ..Default::default()
                },
                watch: config.watch.enabled,
                once: args.once,
                once_attempts: 5,
                local_api,
                probe_remote_auth: config.scan.probe_remote_auth && !args.offline,
                enforce: config.enforce,
                writer_options: writer_options(config.claude_code_policy_helper),
            };
            let outcome = runtime.block_on(muster_agent::daemon::live::run(opts, stopped(shutdown)))?;
            Ok(match outcome {
                RunOutcome::Done => ExitCode::SUCCESS,
                RunOutcome::NotEnrolled => {
                    eprintln!("not enrolled: the inventory was kept locally only (run `muster-agent enroll`)");
                    ExitCode::SUCCESS
                }
                RunOutcome::NotAcknowledged => {
                    eprintln!("error: the control plane did not acknowledge the report; it stays queued");
                    ExitCode::from(1)
                }
                RunOutcome::Rejected(reason) => {
                    eprintln!("error: {reason}");
                    ExitCode::from(1)
                }
            })
        }
        Command::Policy(PolicyCommand::Check(args)) => policy_check(&args),
        Command::Policy(PolicyCommand::Apply(args)) => policy_apply(&args),
        Command::Restore(args) => restore(&args),
        Command::Status(args) => status(args),
        Command::Disable(args) => fix(args, FixKind::Disable),
        Command::UndoDisable(args) => fix(args, FixKind::UndoDisable),
        Command::Pin(args) => fix(args, FixKind::Pin),
        Command::UndoPin(args) => fix(args, FixKind::UndoPin),
        Command::Scan(args) => {
            // The real, absolute path: config paths and SARIF URIs are written from it.
            let project = match &args.project {
                Some(dir) => {
                    anyhow::ensure!(dir.is_dir(), "--project {} is not a directory", dir.display());
                    Some(std::fs::canonicalize(dir).with_context(|| format!("resolving --project {}", dir.display()))?)
                }
                None => None,
            };
            let layout = layout(args.root.as_ref(), args.os)?;
            // Fingerprints use the agent's key (the fleet's once enrolled) when a state dir is
            // given, or for a live scan; an image or project scan without --state-dir uses a
            // throwaway key.
            let dir = match (&args.state_dir, layout.is_image() || project.is_some()) {
                (Some(d), _) => Some(d.clone()),
                (None, false) => state_dir(None).ok(),
                (None, true) => None,
            };
            // Probe answers are kept in the given state dir, else in the agent's own when it
            // exists (the URLs are reached from this machine, whatever is scanned).
            let cache_dir = args.state_dir.clone().or_else(|| state_dir(None).ok().filter(|d| d.is_dir()));
            let fleet_key = dir.and_then(|d| match muster_agent::state::StateDir::open(&d).and_then(|s| s.fingerprint_key()) {
                Ok(k) => Some(k),
                Err(e) => {
                    tracing::warn!(error = %e, "no stored fingerprint key; fingerprints are valid for this scan only");
                    None
                }
            });
            let req = muster_agent::ScanRequest {
                layout,
                env: relocating_env(),
                processes: !args.no_processes,
                fleet_key,
                project: project.clone(),
                tags: Vec::new(),
            };
            let mut inv = muster_agent::scan(&req).context("scan failed")?;
            let findings = muster_agent::findings::catalog::FindingsCatalog::bundled()
                .map_err(|e| anyhow::anyhow!("bundled findings catalog: {e}"))?;
            if args.offline {
                muster_agent::remote_auth::annotate(
                    &mut inv,
                    &Default::default(),
                    Some("not probed: offline"),
                    &Default::default(),
                    findings,
                );
            } else {
                let mut settings = muster_agent::remote_auth::ProbeSettings { cache_dir, ..Default::default() };
                if let Some(t) = args.probe_timeout {
                    settings.per_host = t;
                    settings.per_request = settings.per_request.min(t);
                }
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("starting the probe runtime")?;
                let now = muster_agent::state::now_unix();
                runtime
                    .block_on(muster_agent::remote_auth::probe_and_annotate(&mut inv, &settings, findings, now))
                    .context("probing remote servers")?;
            }
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

/// A policy file, or `None` after printing every problem with its place.
fn load_policy(file: &std::path::Path) -> anyhow::Result<Option<muster_policy::Bundle>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    match muster_policy::parse(&text) {
        Ok(b) => Ok(Some(b)),
        Err(e) => {
            for d in &e.diagnostics {
                eprintln!("{}:{d}", file.display());
            }
            eprintln!("error: {} refused ({} problem(s))", file.display(), e.diagnostics.len());
            Ok(None)
        }
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The state dir enforcement journals in: `--state-dir`, else for an image the image's own
/// (`DIR/var/lib/muster-agent`, so that with `--root` every write stays under DIR), else the
/// agent's.
fn enforce_state_dir(arg: Option<PathBuf>, root: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    match (arg, root) {
        (Some(dir), _) => Ok(dir),
        (None, Some(root)) => Ok(root.join("var/lib/muster-agent")),
        (None, None) => state_dir(None),
    }
}

/// `policy apply`: scan, evaluate, enforce through the file-safety layer, print each result.
fn policy_apply(args: &PolicyApplyArgs) -> anyhow::Result<ExitCode> {
    let Some(bundle) = load_policy(&args.file)? else { return Ok(ExitCode::from(2)) };
    let layout = layout(args.root.as_ref(), args.os)?;
    let req = muster_agent::ScanRequest {
        layout: layout.clone(),
        env: relocating_env(),
        processes: false,
        fleet_key: None,
        project: None,
        tags: args.tags.clone(),
    };
    let (inv, identities) = muster_agent::scan_for_enforcement(&req).context("scan failed")?;
    let dir = enforce_state_dir(args.state_dir.clone(), args.root.as_ref())?;
    let keeper = if args.dry_run {
        None
    } else {
        let keeper = muster_agent::enforce::FileKeeper::open(&dir)
            .with_context(|| format!("opening the enforcement journal in {}", dir.display()))?;
        Some(match &args.root {
            Some(root) => keeper.confined_to(root)?,
            None => keeper,
        })
    };
    // The "not in force" checks look at the agent's own environment only on a live machine, and
    // only at the variables they name (plus who the user is).
    let probe = muster_agent::enforce::client_policy::FsProbe {
        env: if layout.is_image() {
            Default::default()
        } else {
            std::env::vars()
                .filter(|(k, _)| {
                    muster_agent::enforce::client_policy::SHADOW_VARS.contains(&k.as_str())
                        || muster_agent::platform::RELOCATING_VARS.contains(&k.as_str())
                })
                .collect()
        },
    };
    let ctx = muster_agent::enforce::apply::ApplyContext {
        layout: &layout,
        tags: &args.tags,
        now: now_unix(),
        state_dir: &dir,
        keeper: keeper.as_ref(),
        identities: &identities,
        probe: &probe,
        writer_options: writer_options(args.claude_code_policy_helper),
        // A file given on the command line: evaluated as no endpoint in particular.
        agent_id: "",
    };
    let reports = muster_agent::enforce::apply::apply(&bundle, &inv, &ctx)?;
    let mut out = String::new();
    for r in &reports {
        out.push_str(&muster_agent::enforce::apply::render_line(r));
        out.push('\n');
    }
    if reports.is_empty() {
        out.push_str("nothing to enforce\n");
    }
    std::io::stdout().lock().write_all(out.as_bytes()).context("writing to stdout")?;
    let failed = reports.iter().any(|r| matches!(r.state, muster_agent::enforce::apply::ActionState::Failed(_)));
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn writer_options(claude_code_policy_helper: bool) -> muster_agent::enforce::client_policy::WriterOptions {
    use muster_agent::enforce::client_policy::{PolicyHelper, WriterOptions};
    WriterOptions {
        claude_code_policy_helper: if claude_code_policy_helper { PolicyHelper::On } else { PolicyHelper::Off },
    }
}

/// `restore`: undo journalled changes, newest first, printing each.
fn restore(args: &RestoreArgs) -> anyhow::Result<ExitCode> {
    let dir = enforce_state_dir(args.state_dir.clone(), args.root.as_ref())?;
    let _ = args.os;
    let keeper = muster_agent::enforce::FileKeeper::open(&dir)
        .with_context(|| format!("opening the enforcement journal in {}", dir.display()))?;
    let root = match &args.root {
        Some(r) => Some(std::fs::canonicalize(r).with_context(|| format!("resolving --root {}", r.display()))?),
        None => None,
    };
    let (undone, mut refused) = match args.id {
        Some(id) => match keeper.restore(id) {
            Ok(ids) => (ids, Vec::new()),
            Err(e) => (Vec::new(), vec![anyhow::Error::from(e)]),
        },
        None => {
            let under = |t: &muster_agent::enforce::Touch| root.as_ref().is_none_or(|r| t.real_path.starts_with(r));
            // Quarantines first, by lifting (which also works in files edited since); then the
            // rest, never undoing a lift (that would put its quarantine back).
            let mut undone = Vec::new();
            let mut refused = Vec::new();
            for (key, outcome) in muster_agent::enforce::quarantine::lift_all(&keeper, under)? {
                match outcome {
                    muster_agent::enforce::quarantine::Outcome::Lifted(ids) => undone.extend(ids),
                    muster_agent::enforce::quarantine::Outcome::Failed(why) => {
                        refused.push(anyhow::anyhow!("{key}: {why}"))
                    }
                    other => refused.push(anyhow::anyhow!("{key}: {other:?}")),
                }
            }
            let (ids, errors) = keeper.restore_where(|t| under(t) && !t.key.starts_with("lift:"))?;
            undone.extend(ids);
            refused.extend(errors.into_iter().map(anyhow::Error::from));
            (undone, refused)
        }
    };
    // What a client-policy writer owned went with its restored files: forget it too, so a later
    // apply does not think it still owns a file.
    if let Err(why) = muster_agent::enforce::client_policy::write::forget_restored(&dir, &keeper) {
        refused.push(anyhow::anyhow!("client-policy ownership records: {why}"));
    }
    let touches = keeper.touches()?;
    let mut out = String::new();
    for id in &undone {
        if let Some(t) = touches.iter().find(|t| t.id == *id) {
            out.push_str(&format!("restored {id}\t{}\n", t.real_path.display()));
        }
    }
    if undone.is_empty() && refused.is_empty() {
        out.push_str("nothing to restore\n");
    }
    std::io::stdout().lock().write_all(out.as_bytes()).context("writing to stdout")?;
    for e in &refused {
        eprintln!("error: {e}");
    }
    Ok(if refused.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `policy check`: refuse a broken file with every problem's place, else scan and evaluate.
fn policy_check(args: &PolicyCheckArgs) -> anyhow::Result<ExitCode> {
    let Some(bundle) = load_policy(&args.file)? else { return Ok(ExitCode::from(2)) };
    // Policies look at no fingerprint, so the scan uses a throwaway key and reads no state.
    let req = muster_agent::ScanRequest {
        layout: layout(args.root.as_ref(), args.os)?,
        env: relocating_env(),
        processes: !args.no_processes,
        fleet_key: None,
        project: None,
        tags: args.tags.clone(),
    };
    let inv = muster_agent::scan(&req).context("scan failed")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let endpoint = muster_policy::Endpoint { inventory: &inv, agent_id: "", tags: &args.tags };
    let decisions = muster_policy::evaluate(&bundle, &endpoint, now);
    let out = match args.format {
        PolicyFormat::Text => muster_policy::render_text(&decisions),
        PolicyFormat::Json => serde_json::to_string_pretty(&decisions).context("rendering the decisions")? + "\n",
    };
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        other => other.map(|()| ExitCode::SUCCESS).context("writing to stdout"),
    }
}

/// The variables that place the local API's socket (nothing else is read).
fn socket_env() -> std::collections::BTreeMap<String, String> {
    ["XDG_RUNTIME_DIR", muster_proto::local::socket::SOCKET_ENV]
        .into_iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect()
}

/// `muster-agent status`: one `GetStatus` call to the running agent.
#[cfg(unix)]
fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    use muster_agent::local_api::render;
    use muster_proto::local::client;
    let candidates = match args.socket {
        Some(path) => vec![path],
        None => muster_proto::local::socket::client_candidates(&socket_env()),
    };
    let answer = runtime()?.block_on(async {
        let (path, mut client) = client::connect_first(&candidates).await?;
        let status = client.get_status(muster_proto::local::v1::GetStatusRequest {}).await;
        Ok::<_, client::ConnectError>((path, status))
    });
    let status = match answer {
        Ok((_, Ok(status))) => status.into_inner(),
        Ok((path, Err(refused))) => {
            eprintln!("error: the Muster agent at {} did not answer: {}", path.display(), refused.message());
            return Ok(ExitCode::from(1));
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let text = match args.format {
        StatusFormat::Json => render::json(&status),
        StatusFormat::Text => render::text(&status),
    };
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// Which one-click fix a CLI call asks for.
#[derive(Clone, Copy)]
enum FixKind {
    Disable,
    UndoDisable,
    Pin,
    UndoPin,
}

/// `muster-agent disable` / `undo-disable` / `pin` / `undo-pin`: one call to the running agent.
#[cfg(unix)]
fn fix(args: FixArgs, kind: FixKind) -> anyhow::Result<ExitCode> {
    use muster_proto::local::client;
    use muster_proto::local::v1::{DisableServerRequest, PinVersionRequest, UndoDisableRequest, UndoPinRequest};
    let candidates = match args.socket {
        Some(path) => vec![path],
        None => muster_proto::local::socket::client_candidates(&socket_env()),
    };
    let server_id = args.server_id;
    let answer = runtime()?.block_on(async {
        let (_, mut client) = client::connect_first(&candidates).await?;
        let id = server_id.clone();
        let done = match kind {
            FixKind::Disable => client
                .disable_server(DisableServerRequest { server_id: id })
                .await
                .map(|_| format!("disabled {server_id}")),
            FixKind::UndoDisable => client
                .undo_disable(UndoDisableRequest { server_id: id })
                .await
                .map(|_| format!("undone: re-enabled {server_id}")),
            FixKind::Pin => client.pin_version(PinVersionRequest { server_id: id }).await.map(|r| {
                let pin = r.into_inner().pin.unwrap_or_default();
                format!("pinned {server_id}: {} {}", pin.package, pin.version)
            }),
            FixKind::UndoPin => {
                client.undo_pin(UndoPinRequest { server_id: id }).await.map(|_| format!("undone: unpinned {server_id}"))
            }
        };
        Ok::<_, client::ConnectError>(done)
    });
    match answer {
        Ok(Ok(said)) => {
            println!("{said}");
            Ok(ExitCode::SUCCESS)
        }
        Ok(Err(refused)) => {
            eprintln!("error: {}", refused.message());
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

#[cfg(not(unix))]
fn fix(_args: FixArgs, _kind: FixKind) -> anyhow::Result<ExitCode> {
    eprintln!("error: the local API is not available on this platform yet");
    Ok(ExitCode::from(1))
}

#[cfg(not(unix))]
fn status(_args: StatusArgs) -> anyhow::Result<ExitCode> {
    eprintln!("error: the local API is not available on this platform yet");
    Ok(ExitCode::from(1))
}
