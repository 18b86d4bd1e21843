//! `muster-server`: parses arguments, sets up tracing, loads the configuration and calls into the
//! `muster_control_plane` library. No logic lives here beyond printing results.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};
use muster_control_plane::access::{accounts, api_tokens};
use muster_control_plane::audit::{self, AuditEvent};
use muster_control_plane::config::{self, Overrides, ServerConfig};
use muster_control_plane::error::ActionError;
use muster_control_plane::state::unix_now;
use muster_control_plane::store::{AuditOutcome, DynStore, Role, Store};
use muster_control_plane::{ControlPlane, agents as agent_admin, data_bundles, enroll, policies, quickstart};

/// Muster control plane: enrolls agents and stores their MCP inventory.
#[derive(Debug, Parser)]
#[command(name = "muster-server", version)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// TOML config file (`version = 1`); also MUSTER_CONFIG.
    #[arg(long, global = true, env = "MUSTER_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (PKI, SQLite database); default ./muster-data.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH (default, in the data dir) or postgres://...
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// gRPC (agent) listen address, default 127.0.0.1:7443.
    #[arg(long, global = true)]
    grpc_listen: Option<String>,
    /// HTTP listen address, default 127.0.0.1:7080.
    #[arg(long, global = true)]
    http_listen: Option<String>,
    /// Name on the server certificate (repeatable); default localhost, 127.0.0.1, ::1, hostname.
    #[arg(long = "tls-name", global = true)]
    tls_names: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the control plane.
    Serve,
    /// Set up ./muster-data, start the server and enroll the local agent.
    Quickstart,
    /// Enrollment tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Enrolled agents.
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Dashboard accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens for automation (`Authorization: Bearer`).
    #[command(subcommand, name = "api-token")]
    ApiToken(ApiTokenCommand),
    /// Remediation policies (docs/policies.md).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Signed data bundles: the service catalog and advisories agents analyse with.
    #[command(subcommand)]
    Data(DataCommand),
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Publish a data bundle (admin action, audited as `cli`): `services.toml`,
    /// `advisories.osv.json` and/or `credentials.toml` from DIR, or this release's built-in data. Agents connected to a
    /// running server receive it within seconds and use it when it verifies and parses; a
    /// malformed part is refused here, stores nothing and exits with status 2.
    Publish {
        /// A directory holding `services.toml`, `advisories.osv.json` and/or `credentials.toml`.
        #[arg(required_unless_present = "from_builtin", conflicts_with = "from_builtin")]
        dir: Option<std::path::PathBuf>,
        /// Publish the data built into this release.
        #[arg(long)]
        from_builtin: bool,
        /// Why this bundle is published (kept in the history and the audit log).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Import MCP Registry data (admin action, audited as `cli`) and publish it as the next data
    /// bundle, keeping the current bundle's catalog and advisories: a `server.json` document, an
    /// array of them or a registry list response (`/v0.1/servers`), from FILE or an http(s) URL.
    /// A malformed document is refused with its place, stores nothing and exits with status 2.
    ImportRegistry {
        /// A file, or an http:// or https:// URL the server can reach.
        source: String,
        /// Why this import is published (kept in the history and the audit log).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// List data bundles, newest first.
    History,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Check a policy file: every problem is printed as FILE:LINE:COLUMN: message and the
    /// command exits with status 2; a valid file prints its rules and exceptions. Needs no
    /// configuration or database.
    Check { file: std::path::PathBuf },
    /// Dry-run a policy file against the stored fleet: what it would do to which endpoints,
    /// servers and users, by rule. Changes nothing; an invalid file exits with status 2 as
    /// `check` does.
    Diff {
        file: std::path::PathBuf,
        /// `text` for people, `json` for tools (the `POST /api/v1/policies/dry-run` answer).
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Publish a policy file as the next version (admin action, audited as `cli`); agents
    /// connected to a running server receive it within seconds. A refused file prints every
    /// problem as FILE:LINE:COLUMN: message, stores nothing and exits with status 2.
    Apply {
        file: std::path::PathBuf,
        /// Why this version is published (kept in the history and the audit log).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Publish an earlier version's text again, as a new version.
    Rollback {
        version: u64,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// List policy versions, newest first.
    History,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a local account; the password is read from standard input (first line).
    Add {
        name: String,
        #[arg(long)]
        role: Role,
    },
    /// List accounts.
    List,
    /// Set a new password for a local account (read from standard input, first line); ends the
    /// account's open sessions.
    Passwd { name: String },
    /// Remove an account and its sessions (never the last admin).
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
enum ApiTokenCommand {
    /// Create a token; it is printed once and stored only hashed.
    Create {
        #[arg(long)]
        role: Role,
        /// Lifetime, e.g. 30d, 12h (at most 366d).
        #[arg(long, value_parser = humantime::parse_duration)]
        ttl: Duration,
        /// A label saying what uses the token.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once and stored only hashed.
    Create {
        /// How many agents may enroll with it (0 = unlimited).
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// Lifetime, e.g. 30m, 24h, 7d.
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
enum AgentsCommand {
    /// List enrolled agents.
    List,
    /// Revoke an agent: its next request is refused and its streams close.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Load the configuration, report every problem, print the result.
    Check,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Command::Policy(PolicyCommand::Check { file }) = &cli.command {
        let code = policy_check(file)?;
        std::process::exit(code);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal: never in a log file or the journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let mut config = load_config(&cli.global)?;
    if matches!(cli.command, Command::Quickstart)
        && cli.global.config.is_none()
        && config.http_listen.ip().is_loopback()
    {
        // The newcomer's dashboard on this machine opens without a certificate warning: plain HTTP,
        // which the configuration allows only on loopback. A config file decides otherwise.
        config.http.tls = false;
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(run(cli.command, config))
}

fn load_config(global: &GlobalArgs) -> Result<ServerConfig> {
    let text = match &global.config {
        Some(path) => Some(std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?),
        None => None,
    };
    let env: BTreeMap<String, String> = std::env::vars().filter(|(key, _)| key.starts_with("MUSTER_")).collect();
    let overrides = Overrides {
        data_dir: global.data_dir.clone(),
        database_url: global.database_url.clone(),
        grpc_listen: global.grpc_listen.clone(),
        http_listen: global.http_listen.clone(),
        tls_names: (!global.tls_names.is_empty()).then(|| global.tls_names.clone()),
    };
    Ok(config::load(text.as_deref(), &env, &overrides)?)
}

async fn run(command: Command, config: ServerConfig) -> Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Quickstart => {
            let agent = quickstart::agent_binary_next_to_current_exe();
            quickstart::quickstart(&config, agent.as_deref(), shutdown_signal()).await?;
            Ok(())
        }
        Command::Config(ConfigCommand::Check) => {
            println!("configuration ok");
            println!("  data_dir     = {}", config.data_dir.display());
            println!("  database_url = {}", config.database_url);
            println!("  grpc_listen  = {}", config.grpc_listen);
            println!("  http_listen  = {}", config.http_listen);
            println!("  tls_names    = {}", config.tls_names.join(", "));
            println!("  limits       = {:?}", config.limits);
            println!("  http.tls     = {}", config.http.tls);
            println!("  http.oidc    = {}", config.http.oidc.as_ref().map_or("off", |oidc| oidc.issuer.as_str()));
            Ok(())
        }
        Command::Token(command) => token(command, &config).await,
        Command::Agents(command) => agents(command, &config).await,
        Command::User(command) => user(command, &config).await,
        Command::ApiToken(command) => api_token(command, &config).await,
        // Handled in `main` before any configuration is loaded.
        Command::Policy(PolicyCommand::Check { file }) => std::process::exit(policy_check(&file)?),
        Command::Policy(command) => policy(command, &config).await,
        Command::Data(command) => data(command, &config).await,
    }
}

async fn serve(config: ServerConfig) -> Result<()> {
    let state = ControlPlane::open(&config).await?;
    let grpc = bind(config.grpc_listen).await?;
    let http = bind(config.http_listen).await?;
    tracing::info!(
        grpc = %grpc.local_addr()?,
        http = %http.local_addr()?,
        ca_fingerprint = %state.pki.ca_fingerprint(),
        "muster-server listening"
    );
    muster_control_plane::serve(state, grpc, http, shutdown_signal()).await?;
    Ok(())
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))
}

async fn open_store(config: &ServerConfig) -> Result<muster_control_plane::store::DynStore> {
    muster_control_plane::state::create_data_dir(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    Ok(muster_control_plane::store::open(&config.database_url).await?)
}

async fn token(command: TokenCommand, config: &ServerConfig) -> Result<()> {
    let store = open_store(config).await?;
    match command {
        TokenCommand::Create { uses, ttl } => {
            let (token, event) = as_cli(
                &store,
                "enrollment_token.create",
                "",
                enroll::admin::issue(store.as_ref(), uses, ttl, unix_now()),
            )
            .await?;
            record(store.as_ref(), event).await;
            let uses = if token.max_uses == 0 { "unlimited".to_string() } else { token.max_uses.to_string() };
            eprintln!(
                "token {} (uses: {uses}, expires {}); shown only now:",
                token.id,
                muster_control_plane::timefmt::rfc3339(token.expires_at)
            );
            println!("{}", token.token);
        }
        TokenCommand::List => {
            println!("{:<18} {:>9} {:<22} STATUS", "ID", "USES", "EXPIRES");
            let now = unix_now();
            for token in store.list_tokens().await? {
                let max = if token.max_uses == 0 { "∞".to_string() } else { token.max_uses.to_string() };
                let status = match token.revoked_at {
                    Some(_) => "revoked",
                    None if token.expires_at <= now => "expired",
                    None if token.max_uses != 0 && token.uses >= token.max_uses => "used up",
                    None => "active",
                };
                println!(
                    "{:<18} {:>9} {:<22} {status}",
                    token.id,
                    format!("{}/{max}", token.uses),
                    muster_control_plane::timefmt::rfc3339(token.expires_at)
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let event =
                as_cli(&store, "enrollment_token.revoke", &id, enroll::admin::revoke(store.as_ref(), &id, unix_now()))
                    .await?;
            record(store.as_ref(), event).await;
            println!("token {id} revoked");
        }
    }
    Ok(())
}

async fn agents(command: AgentsCommand, config: &ServerConfig) -> Result<()> {
    let store = open_store(config).await?;
    match command {
        AgentsCommand::List => {
            println!("{:<36} {:<8} {:<20} {:<10} {:>8} LAST SEEN", "ID", "STATUS", "HOSTNAME", "VERSION", "SEQ");
            for agent in store.list_agents().await? {
                println!(
                    "{:<36} {:<8} {:<20} {:<10} {:>8} {}",
                    agent.id,
                    agent.status.as_str(),
                    agent.hostname,
                    agent.agent_version,
                    agent.last_sequence,
                    agent
                        .last_seen_at
                        .map(muster_control_plane::timefmt::rfc3339)
                        .unwrap_or_else(|| "never".to_string())
                );
            }
        }
        AgentsCommand::Revoke { id } => {
            // No agent is served by this process: a running server refuses the agent's next
            // request and closes its streams within seconds.
            let revoked = agent_admin::revoke(store.as_ref(), &agent_admin::NoListener, &id, unix_now());
            let event = as_cli(&store, "agent.revoke", &id, revoked).await?;
            record(store.as_ref(), event).await;
            println!("agent {id} revoked");
        }
    }
    Ok(())
}

async fn user(command: UserCommand, config: &ServerConfig) -> Result<()> {
    let store = open_store(config).await?;
    match command {
        UserCommand::Add { name, role } => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password).context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let created = accounts::create_user(store.as_ref(), CLI_ACTOR, &name, role, password, unix_now());
            let event = as_cli(&store, "user.create", &name, created).await?;
            record(store.as_ref(), event).await;
            println!("user {name} added with role {role}");
        }
        UserCommand::Passwd { name } => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password).context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let changed = accounts::set_password(store.as_ref(), CLI_ACTOR, &name, password, unix_now());
            let event = as_cli(&store, "user.passwd", &name, changed).await?;
            record(store.as_ref(), event).await;
            println!("password of user {name} changed; its open sessions are ended");
        }
        UserCommand::Remove { name } => {
            let removed = accounts::remove_user(store.as_ref(), CLI_ACTOR, &name);
            let event = as_cli(&store, "user.remove", &name, removed).await?;
            record(store.as_ref(), event).await;
            println!("user {name} removed");
        }
        UserCommand::List => {
            println!("{:<32} {:<8} {:<6} STATUS", "USERNAME", "ROLE", "SOURCE");
            for user in store.list_users().await? {
                let status = if user.disabled_at.is_some() { "disabled" } else { "active" };
                println!("{:<32} {:<8} {:<6} {status}", user.username, user.role, user.source.as_str());
            }
        }
    }
    Ok(())
}

async fn api_token(command: ApiTokenCommand, config: &ServerConfig) -> Result<()> {
    let store = open_store(config).await?;
    let now = unix_now();
    match command {
        ApiTokenCommand::Create { role, ttl, name } => {
            let issued = api_tokens::issue(store.as_ref(), CLI_ACTOR, &name, role, ttl, now);
            let (token, event) = as_cli(&store, "api_token.create", "", issued).await?;
            record(store.as_ref(), event).await;
            eprintln!(
                "API token {} (role {role}, expires {}); shown only now:",
                token.id,
                muster_control_plane::timefmt::rfc3339(token.expires_at)
            );
            println!("{}", token.token);
        }
        ApiTokenCommand::List => {
            println!("{:<18} {:<8} {:<22} {:<8} NAME", "ID", "ROLE", "EXPIRES", "STATUS");
            for token in store.list_api_tokens().await? {
                let status = match token.revoked_at {
                    Some(_) => "revoked",
                    None if token.expires_at <= now => "expired",
                    None => "active",
                };
                println!(
                    "{:<18} {:<8} {:<22} {status:<8} {}",
                    token.id,
                    token.role,
                    muster_control_plane::timefmt::rfc3339(token.expires_at),
                    token.name
                );
            }
        }
        ApiTokenCommand::Revoke { id } => {
            let event = as_cli(&store, "api_token.revoke", &id, api_tokens::revoke(store.as_ref(), &id, now)).await?;
            record(store.as_ref(), event).await;
            println!("API token {id} revoked");
        }
    }
    Ok(())
}

async fn policy(command: PolicyCommand, config: &ServerConfig) -> Result<()> {
    let store = open_store(config).await?;
    let now = unix_now();
    match command {
        // Normally handled in `main` before any configuration is loaded.
        PolicyCommand::Check { file } => std::process::exit(policy_check(&file)?),
        PolicyCommand::Diff { file, format } => std::process::exit(policy_diff(&file, format, store).await?),
        PolicyCommand::Apply { file, reason } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let published = policies::publish(store.as_ref(), &policies::NoListener, &text, CLI_ACTOR, &reason, now);
            match published.await {
                Ok((version, event)) => {
                    record(store.as_ref(), event).await;
                    println!("published policy version {} (digest {})", version.version, version.digest);
                }
                Err(error) => {
                    let event = policies::publish_audit("policy.publish").refused(&error.to_string());
                    audit::record(store.as_ref(), &event.entry(CLI_ACTOR, "local", AuditOutcome::Failure, now)).await;
                    if let ActionError::Invalid(message) = &error {
                        // `line:column: message` lines after the first become FILE:LINE:COLUMN.
                        let mut lines = message.lines();
                        let head = lines.next().unwrap_or_default();
                        for line in lines {
                            eprintln!("{}:{line}", file.display());
                        }
                        eprintln!("error: {} refused: {head}; nothing was published", file.display());
                        std::process::exit(2);
                    }
                    return Err(error.into());
                }
            }
        }
        PolicyCommand::Rollback { version, reason } => {
            let rolled = policies::rollback(store.as_ref(), &policies::NoListener, version, CLI_ACTOR, &reason, now);
            match rolled.await {
                Ok((record_, event)) => {
                    record(store.as_ref(), event).await;
                    println!("published version {version}'s text as version {}", record_.version);
                }
                Err(error) => {
                    let event = policies::publish_audit("policy.rollback").refused(&error.to_string());
                    audit::record(store.as_ref(), &event.entry(CLI_ACTOR, "local", AuditOutcome::Failure, now)).await;
                    return Err(error.into());
                }
            }
        }
        PolicyCommand::History => {
            println!("{:>8} {:<22} {:<16} {:<20} REASON", "VERSION", "PUBLISHED", "AUTHOR", "NAME");
            let mut before = None;
            loop {
                let page = policies::history(store.as_ref(), before, 500).await?;
                let Some(last) = page.last() else { break };
                before = Some(last.version);
                for v in &page {
                    let published =
                        v.published_at.map_or_else(|| "draft".to_string(), muster_control_plane::timefmt::rfc3339);
                    println!("{:>8} {published:<22} {:<16} {:<20} {}", v.version, v.author, v.name, v.reason);
                }
            }
        }
    }
    Ok(())
}

async fn data(command: DataCommand, config: &ServerConfig) -> Result<()> {
    let store = open_store(config).await?;
    let now = unix_now();
    match command {
        DataCommand::Publish { dir, from_builtin, reason } => {
            let parts = match (&dir, from_builtin) {
                (_, true) => Ok(data_bundles::DataParts::builtin()),
                (Some(dir), false) => data_bundles::DataParts::from_dir(dir),
                (None, false) => Err(ActionError::invalid("give a directory or --from-builtin")),
            };
            let published = match parts {
                Ok(parts) => {
                    data_bundles::publish(store.as_ref(), &data_bundles::NoListener, &parts, CLI_ACTOR, &reason, now)
                        .await
                }
                Err(error) => Err(error),
            };
            match published {
                Ok((bundle, event)) => {
                    record(store.as_ref(), event).await;
                    println!("published data bundle {} ({}; digest {})", bundle.version, bundle.parts, bundle.digest);
                }
                Err(error) => {
                    let event = data_bundles::refused(&error.to_string());
                    audit::record(store.as_ref(), &event.entry(CLI_ACTOR, "local", AuditOutcome::Failure, now)).await;
                    if let ActionError::Invalid(message) = &error {
                        eprintln!("error: {message}; nothing was published");
                        std::process::exit(2);
                    }
                    return Err(error.into());
                }
            }
        }
        DataCommand::ImportRegistry { source, reason } => {
            let imported = match read_registry(&source).await {
                Ok(registry) => {
                    data_bundles::import_registry(
                        store.as_ref(),
                        &data_bundles::NoListener,
                        &source,
                        &registry,
                        CLI_ACTOR,
                        &reason,
                        now,
                    )
                    .await
                }
                Err(error) => Err(error),
            };
            match imported {
                Ok((bundle, event)) => {
                    record(store.as_ref(), event).await;
                    println!("published data bundle {} ({}; digest {})", bundle.version, bundle.parts, bundle.digest);
                }
                Err(error) => {
                    let event = data_bundles::import_refused(&error.to_string());
                    audit::record(store.as_ref(), &event.entry(CLI_ACTOR, "local", AuditOutcome::Failure, now)).await;
                    if let ActionError::Invalid(message) = &error {
                        eprintln!("error: {message}; nothing was published");
                        std::process::exit(2);
                    }
                    return Err(error.into());
                }
            }
        }
        DataCommand::History => {
            println!("{:>12} {:<22} {:<22} {:<16} REASON", "VERSION", "PUBLISHED", "PARTS", "AUTHOR");
            let refusals = data_bundles::refusals(store.as_ref()).await?;
            for b in data_bundles::history(store.as_ref(), 500).await? {
                let published = muster_control_plane::timefmt::rfc3339(b.created_at);
                println!("{:>12} {published:<22} {:<22} {:<16} {}", b.version, b.parts, b.author, b.reason);
                for r in refusals.iter().filter(|r| r.refused_version == b.version) {
                    println!("{:>12} refused by {} ({}): {}", "", r.hostname, r.agent_id, r.reason);
                }
            }
        }
    }
    Ok(())
}

/// Reads and normalises registry data from a file or an http(s) URL; every problem (unreadable,
/// unreachable, malformed) is an invalid argument, so the command exits with status 2.
async fn read_registry(source: &str) -> Result<data_bundles::registry::RegistryData, ActionError> {
    use data_bundles::registry;
    let refused = |e: &dyn std::fmt::Display| ActionError::invalid(format!("registry import refused: {e}"));
    if source.starts_with("http://") || source.starts_with("https://") {
        return registry::fetch_registry(source).await.map_err(|e| refused(&e));
    }
    let bytes = std::fs::read(source).map_err(|e| ActionError::invalid(format!("cannot read {source}: {e}")))?;
    registry::parse(source, &bytes).map_err(|e| refused(&e))
}

/// The actor of every audit row a command writes (its source address is `local`).
const CLI_ACTOR: &str = "cli";

/// Records a use-case's audit event as done by the CLI.
async fn record(store: &dyn Store, event: AuditEvent) {
    audit::record(store, &event.entry(CLI_ACTOR, "local", AuditOutcome::Success, unix_now())).await;
}

/// Awaits a use-case; a refusal is audited as a failure of `action` on `target` (as the HTTP
/// listener audits a refused request) and becomes the command's error.
async fn as_cli<T>(
    store: &DynStore,
    action: &str,
    target: &str,
    outcome: impl std::future::Future<Output = Result<T, ActionError>>,
) -> Result<T> {
    match outcome.await {
        Ok(value) => Ok(value),
        Err(error) => {
            let event = AuditEvent::new(action, target).detail(&error.to_string());
            audit::record(store.as_ref(), &event.entry(CLI_ACTOR, "local", AuditOutcome::Failure, unix_now())).await;
            Err(error.into())
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// `policy check FILE`: 0 when the file is valid, 2 with every problem's place when it is not.
fn policy_check(file: &std::path::Path) -> Result<i32> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    match muster_policy::parse(&text) {
        Ok(bundle) => {
            let name = if bundle.name().is_empty() { "(unnamed)" } else { bundle.name() };
            println!(
                "policy {name} ok: {} rule(s), {} exception(s)",
                bundle.rule_ids().count(),
                bundle.exception_ids().count()
            );
            for id in bundle.rule_ids() {
                println!("  rule {id}");
            }
            for id in bundle.exception_ids() {
                println!("  exception {id}");
            }
            Ok(0)
        }
        Err(e) => {
            for d in &e.diagnostics {
                eprintln!("{}:{d}", file.display());
            }
            eprintln!("error: {} refused ({} problem(s))", file.display(), e.diagnostics.len());
            Ok(2)
        }
    }
}

/// `policy diff FILE`: the dry run against the stored fleet; 2 when the file is not valid.
async fn policy_diff(file: &std::path::Path, format: OutputFormat, store: DynStore) -> Result<i32> {
    use muster_control_plane::policy_preview::dry_run::{self, DryRunError};
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    match dry_run::dry_run(store.as_ref(), &text, unix_now()).await {
        Ok(run) => {
            match format {
                OutputFormat::Text => print!("{}", dry_run::render_text(&run)),
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&run)?),
            }
            Ok(0)
        }
        Err(DryRunError::Invalid(e)) => {
            for d in &e.diagnostics {
                eprintln!("{}:{d}", file.display());
            }
            eprintln!("error: {} refused ({} problem(s))", file.display(), e.diagnostics.len());
            Ok(2)
        }
        Err(DryRunError::Store(e)) => Err(e.into()),
        Err(e @ DryRunError::Interrupted) => Err(e.into()),
    }
}
