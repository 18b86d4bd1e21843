//! A `LocalAgent` client over the agent's Unix domain socket (feature `local-client`), used by
//! `muster-agent status` and the tray app. It only connects; what to ask is the caller's.

use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

use super::v1::local_agent_client::LocalAgentClient;

/// Why no client could be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Nothing listens at the socket (the agent is not running, or not with this socket).
    #[error("no Muster agent is running at {path} ({source})")]
    NotRunning { path: PathBuf, source: std::io::Error },
    #[error("cannot connect to the Muster agent at {path}: {source}")]
    Transport { path: PathBuf, source: tonic::transport::Error },
}

/// Connects to the agent's socket at `path`. The connection is made now (not lazily), so an
/// agent that is not running is reported here.
pub async fn connect(path: &Path) -> Result<LocalAgentClient<Channel>, ConnectError> {
    // Probe first: tonic's own error for a missing socket says little.
    drop(
        tokio::net::UnixStream::connect(path)
            .await
            .map_err(|source| ConnectError::NotRunning { path: path.to_path_buf(), source })?,
    );
    let socket = path.to_path_buf();
    // The URI is required by the HTTP/2 layer and never resolved: the connector ignores it.
    let endpoint = Endpoint::from_static("http://local.muster-agent");
    let channel = endpoint
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(socket).await?)) }
        }))
        .await
        .map_err(|source| ConnectError::Transport { path: path.to_path_buf(), source })?;
    Ok(LocalAgentClient::new(channel))
}

/// Connects to the first candidate socket that answers (see [`super::socket::client_candidates`]);
/// with none answering, the error of the first.
pub async fn connect_first(candidates: &[PathBuf]) -> Result<(PathBuf, LocalAgentClient<Channel>), ConnectError> {
    let mut first_error = None;
    for path in candidates {
        match connect(path).await {
            Ok(client) => return Ok((path.clone(), client)),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| ConnectError::NotRunning {
        path: PathBuf::from(super::socket::SYSTEM_SOCKET),
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    }))
}
