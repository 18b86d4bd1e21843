//! The link to the local agent: one `WatchStatus` stream, reopened when the agent restarts.
//! Every status it pushes goes to [`crate::on_status`]; between statuses it wakes only when the
//! notification rules ask for it (a snooze ending, the digest hour).

#[cfg(unix)]
use std::collections::BTreeMap;
#[cfg(unix)]
use std::time::Duration;

#[cfg(unix)]
use muster_proto::local::client::connect_first;
#[cfg(unix)]
use muster_proto::local::socket::{SOCKET_ENV, client_candidates};
#[cfg(unix)]
use muster_proto::local::v1::GetStatusRequest;
#[cfg(unix)]
use tauri::Manager;
use tauri::{AppHandle, Runtime};

#[cfg(unix)]
use crate::AppState;

/// How long to wait before asking again for an agent that is not running.
#[cfg(unix)]
const RECONNECT: Duration = Duration::from_secs(5);

/// No local API client off Unix yet (the agent's Windows named pipe is not built): offline.
#[cfg(not(unix))]
pub fn spawn<R: Runtime>(app: AppHandle<R>) {
    crate::on_status(&app, None);
}

#[cfg(unix)]
pub fn spawn<R: Runtime>(app: AppHandle<R>) {
    let env: BTreeMap<String, String> = ["XDG_RUNTIME_DIR", SOCKET_ENV]
        .into_iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect();
    let candidates = client_candidates(&env);
    tauri::async_runtime::spawn(async move {
        loop {
            match connect_first(&candidates).await {
                Ok((path, mut client)) => match client.watch_status(GetStatusRequest {}).await {
                    Ok(stream) => {
                        tracing::info!(socket = %path.display(), "connected to the agent");
                        app.state::<AppState>().set_agent_socket(Some(path));
                        follow(&app, stream.into_inner()).await;
                        app.state::<AppState>().set_agent_socket(None);
                    }
                    Err(refused) => tracing::warn!(error = %refused.message(), "the agent refused"),
                },
                Err(e) => tracing::debug!(error = %e, "no agent"),
            }
            crate::on_status(&app, None);
            tokio::time::sleep(RECONNECT).await;
        }
    });
}

#[cfg(unix)]
async fn follow<R: Runtime>(
    app: &AppHandle<R>,
    mut stream: muster_proto::tonic::Streaming<muster_proto::local::v1::LocalStatus>,
) {
    loop {
        let wake = {
            let state = app.state::<AppState>();
            let now = state.now();
            let next = state.notifier.lock().unwrap_or_else(|e| e.into_inner()).next_wakeup(now);
            next.map(|at| Duration::try_from(at - now).unwrap_or_default())
        };
        let timer = async {
            match wake {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            msg = stream.message() => match msg {
                Ok(Some(status)) => crate::on_status(app, Some(status)),
                Ok(None) | Err(_) => return,
            },
            () = timer => crate::on_tick(app),
        }
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
