//! `muster-server quickstart`: the newcomer's one command. Creates the data dir, SQLite database,
//! CA and a single-use enrollment token, prints the CA fingerprint, starts the server, then
//! enrolls and runs the local agent (`muster-agent` next to this executable) against it, and says
//! when its first report is stored. Without a config file the dashboard is plain HTTP on loopback
//! (`main.rs` decides; the config refuses plain HTTP anywhere else).
//!
//! A re-run on the same data dir resumes: the enrollment token the last run printed is reused while
//! it can still enroll (kept in `quickstart-token` in the data dir, owner-only, beside the CA key),
//! none is minted once the local agent is enrolled, and the first-report line is printed again as
//! soon as the local agent's report is stored (at once when it already is).
//!
//! It does not install services or change anything outside the data dir. When the agent binary is
//! missing it says how to enroll by hand and keeps serving.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::ServerConfig;
use crate::state::{ControlPlane, OpenError};

/// Validity of the token quickstart creates for the local agent.
const TOKEN_TTL: Duration = Duration::from_secs(3600);

/// The last token quickstart printed, in the data dir: a re-run reuses it while it can enroll.
const TOKEN_FILE: &str = "quickstart-token";

/// A saved token is reused only while it has at least this long to live (seconds), so the agent
/// started right after it does not race its expiry.
const TOKEN_REUSE_MARGIN: i64 = 120;

/// Where quickstart's lines go: stdout for the command, a channel in tests.
pub type Say = Arc<dyn Fn(String) + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum QuickstartError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("cannot create enrollment token")]
    Token(#[from] crate::error::ActionError),
    #[error("cannot read the saved enrollment tokens")]
    Tokens(#[from] crate::store::StoreError),
    #[error("cannot save the enrollment token in {path}")]
    SaveToken {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot bind {addr}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start {path}")]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Serve(#[from] crate::server::ServeError),
}

/// `muster-agent` beside the running executable.
pub fn agent_binary_next_to_current_exe() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.with_file_name(format!("muster-agent{}", std::env::consts::EXE_SUFFIX)))
}

/// Binds the configured listeners and runs [`quickstart_on`].
pub async fn quickstart(
    config: &ServerConfig,
    agent_binary: Option<&Path>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), QuickstartError> {
    let bind =
        |addr| async move { TcpListener::bind(addr).await.map_err(|source| QuickstartError::Bind { addr, source }) };
    let grpc = bind(config.grpc_listen).await?;
    let http = bind(config.http_listen).await?;
    quickstart_on(config, agent_binary, grpc, http, shutdown).await
}

/// Quickstart on already bound listeners (tests pass 127.0.0.1:0), printing to stdout.
pub async fn quickstart_on(
    config: &ServerConfig,
    agent_binary: Option<&Path>,
    grpc: TcpListener,
    http: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), QuickstartError> {
    quickstart_saying(config, agent_binary, grpc, http, shutdown, Arc::new(|line| println!("{line}"))).await
}

/// [`quickstart_on`] with its lines sent to `say` (tests read them).
pub async fn quickstart_saying(
    config: &ServerConfig,
    agent_binary: Option<&Path>,
    grpc: TcpListener,
    http: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    say: Say,
) -> Result<(), QuickstartError> {
    macro_rules! say {
        ($($arg:tt)*) => { say(format!($($arg)*)) };
    }
    let state = ControlPlane::open(config).await?;
    let state_dir = config.data_dir.join("agent");
    let already_enrolled = std::fs::read_dir(&state_dir).map(|mut entries| entries.next().is_some()).unwrap_or(false);
    let token = local_token(&state, &config.data_dir, already_enrolled).await?;
    let grpc_port = grpc.local_addr().map(|a| a.port()).unwrap_or(config.grpc_listen.port());
    let http_addr = http.local_addr().unwrap_or(config.http_listen);
    let server_url = format!("https://127.0.0.1:{grpc_port}");
    let fingerprint = state.pki.ca_fingerprint().to_string();
    say!("muster quickstart");
    say!("  data dir:           {}", config.data_dir.display());
    say!("  database:           {}", config.database_url);
    say!("  gRPC (agents):      {server_url}");
    let scheme = if state.http.tls { "https" } else { "http" };
    say!("  dashboard:          {scheme}://localhost:{}/", http_addr.port());
    if state.http.tls {
        say!("                      (certificate from the CA in {})", config.data_dir.join("pki/ca.pem").display());
    }
    match create_admin(&state).await {
        Ok(Some(password)) => say!("  dashboard login:    admin / {password} (shown once)"),
        Ok(None) => say!("  dashboard login:    user admin exists; keeping its password"),
        Err(error) => say!("  dashboard login:    cannot create the admin account: {error}"),
    }
    say!("  CA fingerprint:     {fingerprint}");
    match &token {
        LocalToken::Minted(token) => {
            say!("  enrollment token:   {} (single use, expires in 1h)", token.token);
        }
        LocalToken::Reused { token, expires_at } => {
            let minutes = (expires_at - crate::state::unix_now()).max(0) / 60;
            let unit = if minutes == 1 { "minute" } else { "minutes" };
            say!("  enrollment token:   {token} (the last run's, unused; expires in {minutes} {unit})");
        }
        LocalToken::NotNeeded { .. } => {
            say!(
                "  enrollment token:   none needed, the local agent is enrolled (another laptop: Agents, Add a laptop)"
            );
        }
    }
    let token_text = token.text().map(str::to_string);
    let local_token_id = token.id().map(str::to_string);

    let dashboard = format!("{scheme}://localhost:{}/", http_addr.port());
    let announcer =
        tokio::spawn(announce_first_report(Arc::clone(&state), dashboard, local_token_id, Arc::clone(&say)));
    let server = tokio::spawn(crate::serve(Arc::clone(&state), grpc, http, shutdown));
    let agent = match agent_binary {
        Some(path) if path.is_file() => Some(
            start_agent(path, &server_url, token_text.as_deref(), &fingerprint, &state_dir, already_enrolled, &say)
                .await,
        ),
        other => {
            let shown = other.map(|p| p.display().to_string()).unwrap_or_else(|| "muster-agent".to_string());
            say!("  agent:              {shown} not found; enroll one by hand with");
            say!(
                "    muster-agent enroll --server {server_url} --token {} --ca-fingerprint {fingerprint} --state-dir {}",
                token_text.as_deref().unwrap_or("TOKEN"),
                state_dir.display()
            );
            None
        }
    };
    let mut child = match agent {
        Some(Ok(child)) => child,
        Some(Err(error)) => {
            say!("  agent:              {error}");
            None
        }
        None => None,
    };
    say!("serving; press Ctrl-C to stop");
    let result = match child.as_mut() {
        Some(agent) => {
            let mut server = server;
            tokio::select! {
                result = &mut server => result,
                status = agent.wait() => {
                    match status {
                        Ok(status) => say!("  agent:              exited ({status})"),
                        Err(error) => say!("  agent:              cannot wait for it: {error}"),
                    }
                    server.await
                }
            }
        }
        None => server.await,
    };
    announcer.abort();
    if let Some(mut agent) = child {
        let _ = agent.kill().await;
    }
    match result {
        Ok(served) => served.map_err(QuickstartError::from),
        Err(join) => Err(QuickstartError::Serve(crate::server::ServeError::Join(join))),
    }
}

/// The token quickstart prints for the local agent.
enum LocalToken {
    /// Minted by this run (and saved for the next).
    Minted(crate::enroll::IssuedToken),
    /// The last run's token, still able to enroll.
    Reused { token: String, expires_at: i64 },
    /// The local agent is enrolled and the saved token is spent: none is minted. Keeps the saved
    /// token's id, which names the local agent (`enrolled_with_token`).
    NotNeeded { id: Option<String> },
}

impl LocalToken {
    fn text(&self) -> Option<&str> {
        match self {
            Self::Minted(t) => Some(&t.token),
            Self::Reused { token, .. } => Some(token),
            Self::NotNeeded { .. } => None,
        }
    }

    fn id(&self) -> Option<&str> {
        match self {
            Self::Minted(t) => Some(&t.id),
            Self::Reused { token, .. } => token_id(token),
            Self::NotNeeded { id } => id.as_deref(),
        }
    }
}

/// The id part of a token (`mst_<id>_<secret>`).
fn token_id(token: &str) -> Option<&str> {
    token.strip_prefix("mst_")?.split('_').next().filter(|id| !id.is_empty())
}

/// The last run's token while it can still enroll (not revoked, uses left, at least
/// [`TOKEN_REUSE_MARGIN`] to live); else, unless the local agent is enrolled, a new one, saved.
async fn local_token(state: &ControlPlane, data_dir: &Path, enrolled: bool) -> Result<LocalToken, QuickstartError> {
    let path = data_dir.join(TOKEN_FILE);
    let saved = std::fs::read_to_string(&path).ok().map(|text| text.trim().to_string());
    let saved_id = saved.as_deref().and_then(token_id).map(str::to_string);
    if let (Some(token), Some(id)) = (&saved, &saved_id) {
        let now = crate::state::unix_now();
        let record = state.store.list_tokens().await?.into_iter().find(|t| &t.id == id);
        if let Some(record) = record.filter(|t| reusable(t, now)) {
            return Ok(LocalToken::Reused { token: token.clone(), expires_at: record.expires_at });
        }
    }
    if enrolled {
        return Ok(LocalToken::NotNeeded { id: saved_id });
    }
    let token = issue_token(state).await?;
    save_token(&path, &token.token).map_err(|source| QuickstartError::SaveToken { path, source })?;
    Ok(LocalToken::Minted(token))
}

/// Whether a stored token can still enroll an agent started now.
fn reusable(token: &crate::store::TokenRecord, now: i64) -> bool {
    token.revoked_at.is_none()
        && token.expires_at > now.saturating_add(TOKEN_REUSE_MARGIN)
        && (token.max_uses == 0 || token.uses < token.max_uses)
}

/// Writes the token owner-only (the data dir already holds the CA key the same way).
fn save_token(path: &Path, token: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(token.as_bytes())?;
    file.write_all(b"\n")
}

/// Says what the dashboard shows once the local agent's report is stored: at once when it
/// already is (a re-run), else when it arrives. The local agent is the one enrolled with
/// quickstart's token; without a known token (a data dir older than the saved token), the first
/// report applied.
async fn announce_first_report(state: Arc<ControlPlane>, dashboard: String, token_id: Option<String>, say: Say) {
    use tokio::sync::broadcast::error::RecvError;
    // Subscribed before the first look, so a report stored in between is not missed.
    let mut events = state.subscribe_ingest();
    loop {
        let applied = match &token_id {
            Some(id) => local_agent(&state, id).await,
            None => None,
        };
        if let Some(agent_id) = applied
            && let Ok(inventory) = state.store.host_inventory(&agent_id).await
            && let Some(host) = inventory.host
        {
            say(first_report_line(&host.hostname, inventory.servers.len(), inventory.findings.len(), &dashboard));
            return;
        }
        match events.recv().await {
            Ok(crate::ingest::IngestEvent::ReportApplied { agent_id }) if token_id.is_none() => {
                match state.store.host_inventory(&agent_id).await {
                    Ok(inventory) => {
                        let host = inventory.host.map(|h| h.hostname).unwrap_or_else(|| agent_id.clone());
                        say(first_report_line(&host, inventory.servers.len(), inventory.findings.len(), &dashboard));
                    }
                    Err(error) => say(format!("  first report:       stored, but cannot be read back: {error}")),
                }
                return;
            }
            Ok(_) | Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        }
    }
}

/// The agent enrolled with quickstart's token, if any.
async fn local_agent(state: &ControlPlane, token_id: &str) -> Option<String> {
    let agents = state.store.list_agents().await.ok()?;
    agents.into_iter().find(|a| a.enrolled_with_token == token_id).map(|a| a.id)
}

fn first_report_line(host: &str, servers: usize, findings: usize, dashboard: &str) -> String {
    let servers_word = if servers == 1 { "MCP server" } else { "MCP servers" };
    let findings_word = if findings == 1 { "finding" } else { "findings" };
    format!("  first report:       {host}: {servers} {servers_word}, {findings} {findings_word}; open {dashboard}")
}

/// Issues the local agent's single-use token through the same use-case as the API and the CLI,
/// audited as done by `quickstart`.
async fn issue_token(state: &ControlPlane) -> Result<crate::enroll::IssuedToken, crate::error::ActionError> {
    let now = crate::state::unix_now();
    let (token, event) = crate::enroll::admin::issue(state.store.as_ref(), 1, TOKEN_TTL, now).await?;
    let entry = event.entry("quickstart", "local", crate::store::AuditOutcome::Success, now);
    crate::audit::record(state.store.as_ref(), &entry).await;
    Ok(token)
}

/// Creates the `admin` account with a random password, unless it exists (`Ok(None)`).
async fn create_admin(state: &ControlPlane) -> Result<Option<String>, crate::access::accounts::AccountError> {
    use crate::access::accounts::{AccountError, add_local_user};
    if state.store.user(ADMIN_USER).await?.is_some() {
        return Ok(None);
    }
    let mut bytes = [0u8; 15];
    getrandom::fill(&mut bytes)
        .map_err(|e| AccountError::Password(crate::access::password::PasswordError::Hash(e.to_string())))?;
    // 20 characters from a 64-symbol alphabet: 120 bits.
    let password: String = bytes
        .chunks(3)
        .flat_map(|c| {
            let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
            (0..4).rev().map(move |i| PASSWORD_ALPHABET[((n >> (6 * i)) & 63) as usize] as char)
        })
        .collect();
    match add_local_user(
        state.store.as_ref(),
        ADMIN_USER,
        crate::store::Role::Admin,
        &password,
        "quickstart",
        crate::state::unix_now(),
    )
    .await
    {
        Ok(()) => Ok(Some(password)),
        Err(AccountError::Exists(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

const ADMIN_USER: &str = "admin";
const PASSWORD_ALPHABET: &[u8; 64] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_+=.:~";

/// Enrolls the agent (unless its state dir already has state) and starts `muster-agent run`.
async fn start_agent(
    binary: &Path,
    server_url: &str,
    token: Option<&str>,
    fingerprint: &str,
    state_dir: &Path,
    already_enrolled: bool,
    say: &Say,
) -> Result<Option<tokio::process::Child>, QuickstartError> {
    let spawn_error = |source| QuickstartError::Spawn { path: binary.to_path_buf(), source };
    match token {
        _ if already_enrolled => {
            say(format!("  agent:              state dir {} exists, skipping enrollment", state_dir.display()));
        }
        None => {
            say("  agent:              no enrollment token; the server keeps running".to_string());
            return Ok(None);
        }
        Some(token) => {
            let status = tokio::process::Command::new(binary)
                .arg("enroll")
                .args(["--server", server_url, "--token", token, "--ca-fingerprint", fingerprint])
                .arg("--state-dir")
                .arg(state_dir)
                .stdin(Stdio::null())
                .status()
                .await
                .map_err(spawn_error)?;
            if !status.success() {
                say(format!("  agent:              enrollment failed ({status}); the server keeps running"));
                return Ok(None);
            }
            say("  agent:              enrolled".to_string());
        }
    }
    let child = tokio::process::Command::new(binary)
        .arg("run")
        .arg("--state-dir")
        .arg(state_dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(spawn_error)?;
    say(format!("  agent:              running (pid {})", child.id().unwrap_or_default()));
    Ok(Some(child))
}
