//! `muster-server quickstart`: the newcomer's one command. Creates the data dir, SQLite database,
//! CA and a single-use enrollment token, prints the CA fingerprint, starts the server, then
//! enrolls and runs the local agent (`muster-agent` next to this executable) against it, and says
//! when its first report is stored. Without a config file the dashboard is plain HTTP on loopback
//! (`main.rs` decides; the config refuses plain HTTP anywhere else).
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

#[derive(Debug, thiserror::Error)]
pub enum QuickstartError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("cannot create enrollment token")]
    Token(#[from] crate::error::ActionError),
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

/// Quickstart on already bound listeners (tests pass 127.0.0.1:0).
pub async fn quickstart_on(
    config: &ServerConfig,
    agent_binary: Option<&Path>,
    grpc: TcpListener,
    http: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), QuickstartError> {
    let state = ControlPlane::open(config).await?;
    let token = issue_token(&state).await?;
    let grpc_port = grpc.local_addr().map(|a| a.port()).unwrap_or(config.grpc_listen.port());
    let http_addr = http.local_addr().unwrap_or(config.http_listen);
    let server_url = format!("https://127.0.0.1:{grpc_port}");
    let fingerprint = state.pki.ca_fingerprint().to_string();
    println!("muster quickstart");
    println!("  data dir:           {}", config.data_dir.display());
    println!("  database:           {}", config.database_url);
    println!("  gRPC (agents):      {server_url}");
    let scheme = if state.http.tls { "https" } else { "http" };
    println!("  dashboard:          {scheme}://localhost:{}/", http_addr.port());
    if state.http.tls {
        println!("                      (certificate from the CA in {})", config.data_dir.join("pki/ca.pem").display());
    }
    match create_admin(&state).await {
        Ok(Some(password)) => println!("  dashboard login:    admin / {password} (shown once)"),
        Ok(None) => println!("  dashboard login:    user admin exists; keeping its password"),
        Err(error) => println!("  dashboard login:    cannot create the admin account: {error}"),
    }
    println!("  CA fingerprint:     {fingerprint}");
    println!("  enrollment token:   {} (single use, expires in 1h; shown once)", token.token);

    let dashboard = format!("{scheme}://localhost:{}/", http_addr.port());
    let announcer = tokio::spawn(announce_first_report(Arc::clone(&state), dashboard));
    let server = tokio::spawn(crate::serve(Arc::clone(&state), grpc, http, shutdown));
    let state_dir = config.data_dir.join("agent");
    let agent = match agent_binary {
        Some(path) if path.is_file() => {
            Some(start_agent(path, &server_url, &token.token, &fingerprint, &state_dir).await)
        }
        other => {
            let shown = other.map(|p| p.display().to_string()).unwrap_or_else(|| "muster-agent".to_string());
            println!("  agent:              {shown} not found; enroll one by hand with");
            println!(
                "    muster-agent enroll --server {server_url} --token {} --ca-fingerprint {fingerprint} --state-dir {}",
                token.token,
                state_dir.display()
            );
            None
        }
    };
    let mut child = match agent {
        Some(Ok(child)) => child,
        Some(Err(error)) => {
            println!("  agent:              {error}");
            None
        }
        None => None,
    };
    println!("serving; press Ctrl-C to stop");
    let result = match child.as_mut() {
        Some(agent) => {
            let mut server = server;
            tokio::select! {
                result = &mut server => result,
                status = agent.wait() => {
                    match status {
                        Ok(status) => println!("  agent:              exited ({status})"),
                        Err(error) => println!("  agent:              cannot wait for it: {error}"),
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

/// Waits for the first report the control plane applies (the local agent's, on a fresh data dir)
/// and says what the dashboard now shows, so the newcomer opens it populated.
async fn announce_first_report(state: Arc<ControlPlane>, dashboard: String) {
    use tokio::sync::broadcast::error::RecvError;
    let mut events = state.subscribe_ingest();
    let agent_id = loop {
        match events.recv().await {
            Ok(crate::ingest::IngestEvent::ReportApplied { agent_id }) => break agent_id,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        }
    };
    match state.store.host_inventory(&agent_id).await {
        Ok(inventory) => {
            let host = inventory.host.map(|h| h.hostname).unwrap_or_else(|| agent_id.clone());
            println!(
                "  first report:       {host}: {} MCP servers, {} findings; open {dashboard}",
                inventory.servers.len(),
                inventory.findings.len()
            );
        }
        Err(error) => println!("  first report:       stored, but cannot be read back: {error}"),
    }
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
    token: &str,
    fingerprint: &str,
    state_dir: &Path,
) -> Result<Option<tokio::process::Child>, QuickstartError> {
    let spawn_error = |source| QuickstartError::Spawn { path: binary.to_path_buf(), source };
    let already_enrolled = std::fs::read_dir(state_dir).map(|mut entries| entries.next().is_some()).unwrap_or(false);
    if already_enrolled {
        println!("  agent:              state dir {} exists, skipping enrollment", state_dir.display());
    } else {
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
            println!("  agent:              enrollment failed ({status}); the server keeps running");
            return Ok(None);
        }
        println!("  agent:              enrolled");
    }
    let child = tokio::process::Command::new(binary)
        .arg("run")
        .arg("--state-dir")
        .arg(state_dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(spawn_error)?;
    println!("  agent:              running (pid {})", child.id().unwrap_or_default());
    Ok(Some(child))
}
