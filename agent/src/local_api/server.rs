//! The local API's server: tonic over a Unix domain socket. The caller's uid is the one the
//! kernel reports for the socket's peer (SO_PEERCRED on Linux, LOCAL_PEERCRED / getpeereid on
//! macOS, read by tokio and handed over by tonic as [`UdsConnectInfo`]); a caller the [`Access`]
//! does not admit gets `PermissionDenied` and nothing else. The socket file's mode is a second
//! fence, never the only one.

use std::future::Future;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use muster_proto::local::v1::local_agent_server::{LocalAgent, LocalAgentServer};
use muster_proto::local::v1::{GetStatusRequest, LocalStatus};
use muster_proto::tonic::transport::Server;
use muster_proto::tonic::transport::server::UdsConnectInfo;
use muster_proto::tonic::{Request, Response, Status};
use tokio::net::UnixListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};

use super::AgentView;
use super::caller::{Access, Caller, account_name};
use super::view::status_for;

/// Why the local API could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalApiError {
    #[error("another Muster agent already serves {path}")]
    AlreadyServing { path: PathBuf },
    #[error("{path} exists and is not a socket; refusing to replace it")]
    NotASocket { path: PathBuf },
    #[error("cannot create the local API socket {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("the local API stopped: {0}")]
    Serve(#[from] muster_proto::tonic::transport::Error),
}

/// Binds the socket at `path`: creates its directory if missing (`0755` for the system agent so
/// every user can reach the socket, `0700` otherwise; an existing directory is left as it is),
/// replaces a stale socket nobody answers on, and gives the socket the access's mode.
pub async fn bind(path: &Path, access: Access) -> Result<UnixListener, LocalApiError> {
    let io_err = |source| LocalApiError::Io { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        let mode = if access == Access::EveryUser { 0o755 } else { 0o700 };
        std::fs::DirBuilder::new().recursive(true).mode(mode).create(dir).map_err(io_err)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if tokio::net::UnixStream::connect(path).await.is_ok() {
                return Err(LocalApiError::AlreadyServing { path: path.to_path_buf() });
            }
            std::fs::remove_file(path).map_err(io_err)?;
        }
        Ok(_) => return Err(LocalApiError::NotASocket { path: path.to_path_buf() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(e)),
    }
    let listener = UnixListener::bind(path).map_err(io_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(access.socket_mode())).map_err(io_err)?;
    Ok(listener)
}

/// Serves the local API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: UnixListener,
    access: Access,
    view: watch::Receiver<AgentView>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), LocalApiError> {
    let service = LocalApiService { access, view, accounts: account_name };
    // One service, so no router: the agent links tonic's server half but not axum.
    Server::builder()
        .serve_with_incoming_shutdown(LocalAgentServer::new(service), UnixListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}

/// The `LocalAgent` service.
pub struct LocalApiService {
    access: Access,
    view: watch::Receiver<AgentView>,
    /// The account name of a uid (injected so tests can name users the machine does not have).
    accounts: fn(u32) -> Option<String>,
}

impl LocalApiService {
    /// The admitted caller of `req`, from the kernel's peer credentials only.
    fn caller<T>(&self, req: &Request<T>) -> Result<Caller, Status> {
        let uid = req
            .extensions()
            .get::<UdsConnectInfo>()
            .and_then(|info| info.peer_cred)
            .map(|cred| cred.uid())
            .ok_or_else(|| Status::permission_denied("the caller's identity is unknown"))?;
        if !self.access.admits(uid) {
            tracing::warn!(uid, "local API call refused: this agent serves only the user it runs as");
            return Err(Status::permission_denied("this Muster agent serves only the user it runs as"));
        }
        Ok(Caller { uid, account: (self.accounts)(uid) })
    }
}

#[muster_proto::tonic::async_trait]
impl LocalAgent for LocalApiService {
    async fn get_status(&self, req: Request<GetStatusRequest>) -> Result<Response<LocalStatus>, Status> {
        let caller = self.caller(&req)?;
        let status = status_for(&self.view.borrow(), &caller);
        Ok(Response::new(status))
    }

    type WatchStatusStream = ReceiverStream<Result<LocalStatus, Status>>;

    async fn watch_status(&self, req: Request<GetStatusRequest>) -> Result<Response<Self::WatchStatusStream>, Status> {
        let caller = self.caller(&req)?;
        let mut view = self.view.clone();
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let mut last: Option<LocalStatus> = None;
            loop {
                let status = status_for(&view.borrow_and_update(), &caller);
                // Another user's change moves the revision but not this caller's answer.
                if last.as_ref().is_none_or(|l| !same_apart_from_revision(l, &status)) {
                    if tx.send(Ok(status.clone())).await.is_err() {
                        return;
                    }
                    last = Some(status);
                }
                tokio::select! {
                    changed = view.changed() => if changed.is_err() { return },
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

fn same_apart_from_revision(a: &LocalStatus, b: &LocalStatus) -> bool {
    LocalStatus { revision: b.revision, ..a.clone() } == *b
}
