//! The link to the local agent, the same in the tray and the window process: one `WatchStatus`
//! stream, reopened when the agent restarts, each status handed to the caller's callback with the
//! socket it came from (`None`: no agent answers); and the window's calls that change something
//! (disable, pin, exception), each on its own connection to the socket the stream follows. Not
//! here: what either process does with a status (the tray redraws and notifies, the window
//! renders).

#[cfg(unix)]
use std::collections::BTreeMap;
use std::path::PathBuf;
#[cfg(unix)]
use std::time::Duration;

#[cfg(unix)]
use muster_proto::local::client::connect_first;
#[cfg(unix)]
use muster_proto::local::socket::{SOCKET_ENV, client_candidates};
#[cfg(unix)]
use muster_proto::local::v1::GetStatusRequest;
use muster_proto::local::v1::LocalStatus;

/// A status from the agent and the socket of the agent that sent it.
#[derive(Clone, Debug)]
pub struct AgentStatus {
    pub socket: PathBuf,
    pub status: LocalStatus,
}

/// How long to wait before asking again for an agent that is not running.
#[cfg(unix)]
const RECONNECT: Duration = Duration::from_secs(5);

/// No local API client off Unix yet (the agent's Windows named pipe is not built): offline, once.
#[cfg(not(unix))]
pub async fn follow(mut on_status: impl FnMut(Option<AgentStatus>)) {
    on_status(None);
    std::future::pending::<()>().await;
}

/// Follows the agent for ever: every status it pushes goes to `on_status`, and `None` whenever
/// no agent answers (at start, and each time the stream ends).
#[cfg(unix)]
pub async fn follow(mut on_status: impl FnMut(Option<AgentStatus>)) {
    let env: BTreeMap<String, String> = ["XDG_RUNTIME_DIR", SOCKET_ENV]
        .into_iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect();
    let candidates = client_candidates(&env);
    loop {
        match connect_first(&candidates).await {
            Ok((path, mut client)) => match client.watch_status(GetStatusRequest {}).await {
                Ok(stream) => {
                    tracing::info!(socket = %path.display(), "connected to the agent");
                    let mut stream = stream.into_inner();
                    while let Ok(Some(status)) = stream.message().await {
                        on_status(Some(AgentStatus { socket: path.clone(), status }));
                    }
                }
                Err(refused) => tracing::warn!(error = %refused.message(), "the agent refused"),
            },
            Err(e) => tracing::debug!(error = %e, "no agent"),
        }
        on_status(None);
        tokio::time::sleep(RECONNECT).await;
    }
}

/// Why a call to the agent failed, in words for the window.
#[cfg(unix)]
fn refused(status: &muster_proto::tonic::Status) -> String {
    status.message().to_string()
}

/// `DisableServer` on the agent at `socket` (`None`: no agent is connected).
#[cfg(unix)]
pub async fn disable(socket: Option<std::path::PathBuf>, server_id: String) -> Result<(), String> {
    use muster_proto::local::v1::DisableServerRequest;
    let mut client = client_at(socket).await?;
    client.disable_server(DisableServerRequest { server_id }).await.map(drop).map_err(|e| refused(&e))
}

/// `UndoDisable` on the agent at `socket`.
#[cfg(unix)]
pub async fn undo(socket: Option<std::path::PathBuf>, server_id: String) -> Result<(), String> {
    use muster_proto::local::v1::UndoDisableRequest;
    let mut client = client_at(socket).await?;
    client.undo_disable(UndoDisableRequest { server_id }).await.map(drop).map_err(|e| refused(&e))
}

/// `PinVersion` on the agent at `socket`.
#[cfg(unix)]
pub async fn pin(socket: Option<std::path::PathBuf>, server_id: String) -> Result<(), String> {
    use muster_proto::local::v1::PinVersionRequest;
    let mut client = client_at(socket).await?;
    client.pin_version(PinVersionRequest { server_id }).await.map(drop).map_err(|e| refused(&e))
}

/// `UndoPin` on the agent at `socket`.
#[cfg(unix)]
pub async fn undo_pin(socket: Option<std::path::PathBuf>, server_id: String) -> Result<(), String> {
    use muster_proto::local::v1::UndoPinRequest;
    let mut client = client_at(socket).await?;
    client.undo_pin(UndoPinRequest { server_id }).await.map(drop).map_err(|e| refused(&e))
}

/// `RequestException` on the agent at `socket`.
#[cfg(unix)]
pub async fn request_exception(
    socket: Option<std::path::PathBuf>,
    server_id: String,
    rule_id: String,
    reason: String,
) -> Result<(), String> {
    use muster_proto::local::v1::RequestExceptionRequest;
    let mut client = client_at(socket).await?;
    client
        .request_exception(RequestExceptionRequest { server_id, rule_id, reason })
        .await
        .map(drop)
        .map_err(|e| refused(&e))
}

#[cfg(unix)]
async fn client_at(
    socket: Option<std::path::PathBuf>,
) -> Result<
    muster_proto::local::v1::local_agent_client::LocalAgentClient<muster_proto::tonic::transport::Channel>,
    String,
> {
    let socket = socket.ok_or_else(|| "the Muster agent is not running, so nothing was changed".to_string())?;
    muster_proto::local::client::connect(&socket).await.map_err(|e| format!("{e}; nothing was changed"))
}

#[cfg(not(unix))]
pub async fn disable(_socket: Option<std::path::PathBuf>, _server_id: String) -> Result<(), String> {
    Err("the local API is not available on this platform yet; nothing was changed".into())
}

#[cfg(not(unix))]
pub async fn request_exception(
    _socket: Option<std::path::PathBuf>,
    _server_id: String,
    _rule_id: String,
    _reason: String,
) -> Result<(), String> {
    Err("the local API is not available on this platform yet; nothing was sent".into())
}

#[cfg(not(unix))]
pub async fn undo(_socket: Option<std::path::PathBuf>, _server_id: String) -> Result<(), String> {
    Err("the local API is not available on this platform yet; nothing was changed".into())
}

#[cfg(not(unix))]
pub async fn pin(_socket: Option<std::path::PathBuf>, _server_id: String) -> Result<(), String> {
    Err("the local API is not available on this platform yet; nothing was changed".into())
}

#[cfg(not(unix))]
pub async fn undo_pin(_socket: Option<std::path::PathBuf>, _server_id: String) -> Result<(), String> {
    Err("the local API is not available on this platform yet; nothing was changed".into())
}
