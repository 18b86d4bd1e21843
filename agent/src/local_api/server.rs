//! The local API's server: tonic over a Unix domain socket. The caller's uid is the one the
//! kernel reports for the socket's peer (SO_PEERCRED on Linux, LOCAL_PEERCRED / getpeereid on
//! macOS, read by tokio and handed over by tonic as [`UdsConnectInfo`]); a caller the [`Access`]
//! does not admit gets `PermissionDenied` and nothing else. The socket file's mode is a second
//! fence, never the only one.

use std::future::Future;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use muster_proto::local::v1::local_agent_server::{LocalAgent, LocalAgentServer};
use muster_proto::local::v1::{
    DisableServerRequest, DisableServerResponse, GetStatusRequest, LocalStatus, PinVersionRequest, PinVersionResponse,
    RequestExceptionRequest, RequestExceptionResponse, UndoDisableRequest, UndoDisableResponse, UndoPinRequest,
    UndoPinResponse,
};
use muster_proto::tonic::transport::Server;
use muster_proto::tonic::transport::server::UdsConnectInfo;
use muster_proto::tonic::{Request, Response, Status};
use tokio::net::UnixListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};

use super::AgentView;
use super::caller::{Access, Caller, account_name};
use super::fixes::{FixError, Fixes};
use super::view::status_for;
use crate::exceptions::{DeskError, ExceptionDesk};

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
    serve_service(listener, LocalApiService::new(access, view), shutdown).await
}

/// Serves `service` on `listener` until `shutdown` completes.
pub async fn serve_service(
    listener: UnixListener,
    service: LocalApiService,
    shutdown: impl Future<Output = ()>,
) -> Result<(), LocalApiError> {
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
    /// The developer's one-click fixes; without them those calls are refused as unavailable.
    fixes: Option<Arc<Fixes>>,
    /// Exception requests, passed on to the control plane.
    exceptions: Option<Arc<ExceptionDesk>>,
}

impl LocalApiService {
    pub fn new(access: Access, view: watch::Receiver<AgentView>) -> LocalApiService {
        LocalApiService { access, view, accounts: account_name, fixes: None, exceptions: None }
    }

    /// Serves `RequestException` with `desk`, and the requests' state in every status.
    pub fn with_exceptions(mut self, desk: Arc<ExceptionDesk>) -> LocalApiService {
        self.exceptions = Some(desk);
        self
    }

    /// Serves `DisableServer` / `UndoDisable` with `fixes`.
    pub fn with_fixes(mut self, fixes: Arc<Fixes>) -> LocalApiService {
        self.fixes = Some(fixes);
        self
    }

    /// The caller's status: the published view's part, and their own disables.
    fn status(&self, view: &AgentView, caller: &Caller) -> LocalStatus {
        let mut status = status_for(view, caller);
        if let Some(fixes) = &self.fixes {
            fixes.add_to(&mut status, caller);
        }
        if let Some(desk) = &self.exceptions {
            super::requests::add_to(&mut status, &desk.current(), view, caller);
        }
        status
    }

    fn fixes(&self) -> Result<Arc<Fixes>, Status> {
        self.fixes.clone().ok_or_else(|| Status::unavailable("this agent does not make changes for you"))
    }

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
        let status = self.status(&self.view.borrow(), &caller);
        Ok(Response::new(status))
    }

    async fn disable_server(
        &self,
        req: Request<DisableServerRequest>,
    ) -> Result<Response<DisableServerResponse>, Status> {
        self.disable_server_impl(req).await.map(Response::new)
    }

    async fn undo_disable(&self, req: Request<UndoDisableRequest>) -> Result<Response<UndoDisableResponse>, Status> {
        self.undo_disable_impl(req).await.map(Response::new)
    }

    async fn request_exception(
        &self,
        req: Request<RequestExceptionRequest>,
    ) -> Result<Response<RequestExceptionResponse>, Status> {
        self.request_exception_impl(req).await.map(Response::new)
    }

    async fn pin_version(&self, req: Request<PinVersionRequest>) -> Result<Response<PinVersionResponse>, Status> {
        self.pin_version_impl(req).await.map(Response::new)
    }

    async fn undo_pin(&self, req: Request<UndoPinRequest>) -> Result<Response<UndoPinResponse>, Status> {
        self.undo_pin_impl(req).await.map(Response::new)
    }

    type WatchStatusStream = ReceiverStream<Result<LocalStatus, Status>>;

    async fn watch_status(&self, req: Request<GetStatusRequest>) -> Result<Response<Self::WatchStatusStream>, Status> {
        let caller = self.caller(&req)?;
        let mut view = self.view.clone();
        let fixes = self.fixes.clone();
        let mut disables = fixes.as_ref().map(|f| f.subscribe());
        let mut pinned = fixes.as_ref().map(|f| f.subscribe_pins());
        let mut filed = self.exceptions.as_ref().map(|d| d.subscribe());
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let mut last: Option<LocalStatus> = None;
            loop {
                let current = view.borrow_and_update().clone();
                let mut status = status_for(&current, &caller);
                if let (Some(f), Some(d)) = (&fixes, disables.as_mut()) {
                    d.mark_unchanged();
                    if let Some(p) = pinned.as_mut() {
                        p.mark_unchanged();
                    }
                    f.add_to(&mut status, &caller);
                }
                if let Some(requests) = filed.as_mut() {
                    let list = requests.borrow_and_update().clone();
                    super::requests::add_to(&mut status, &list, &current, &caller);
                }
                // Another user's change moves the revision but not this caller's answer.
                if last.as_ref().is_none_or(|l| !same_apart_from_revision(l, &status)) {
                    if tx.send(Ok(status.clone())).await.is_err() {
                        return;
                    }
                    last = Some(status);
                }
                let disabled = async {
                    match disables.as_mut() {
                        Some(d) => d.changed().await.is_ok(),
                        None => std::future::pending().await,
                    }
                };
                let repinned = async {
                    match pinned.as_mut() {
                        Some(p) => p.changed().await.is_ok(),
                        None => std::future::pending().await,
                    }
                };
                let requested = async {
                    match filed.as_mut() {
                        Some(r) => r.changed().await.is_ok(),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    changed = view.changed() => if changed.is_err() { return },
                    open = disabled => if !open { return },
                    open = repinned => if !open { return },
                    open = requested => if !open { return },
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

impl LocalApiService {
    /// Runs one of the caller's fixes (file IO and fsyncs) off the async workers and answers its
    /// error as a status; `what` names the fix in the one message a lost task gives.
    async fn run_fix<T: Send + 'static>(
        uid: u32,
        what: &str,
        fix: impl FnOnce() -> Result<T, FixError> + Send + 'static,
    ) -> Result<T, Status> {
        tokio::task::spawn_blocking(fix)
            .await
            .map_err(|_| Status::internal(format!("the {what} did not finish")))?
            .map_err(|e| fix_status(e, uid))
    }

    async fn disable_server_impl(&self, req: Request<DisableServerRequest>) -> Result<DisableServerResponse, Status> {
        let (caller, fixes) = (self.caller(&req)?, self.fixes()?);
        let (view, uid, now) = (self.view.borrow().clone(), caller.uid, crate::state::now_unix());
        let server_id = req.into_inner().server_id;
        let record = Self::run_fix(uid, "disable", move || fixes.disable(&view, &caller, &server_id, now)).await?;
        tracing::info!(uid, server_id = %record.server_id, "server disabled at its owner's request");
        Ok(DisableServerResponse { quarantine: Some(record.to_message()) })
    }

    async fn undo_disable_impl(&self, req: Request<UndoDisableRequest>) -> Result<UndoDisableResponse, Status> {
        let (caller, fixes) = (self.caller(&req)?, self.fixes()?);
        let (uid, server_id) = (caller.uid, req.into_inner().server_id);
        let id = server_id.clone();
        Self::run_fix(uid, "undo", move || fixes.undo(&caller, &id)).await?;
        tracing::info!(uid, server_id = %server_id, "disable undone at its owner's request");
        Ok(UndoDisableResponse {})
    }

    async fn pin_version_impl(&self, req: Request<PinVersionRequest>) -> Result<PinVersionResponse, Status> {
        let (caller, fixes) = (self.caller(&req)?, self.fixes()?);
        let (view, uid, now) = (self.view.borrow().clone(), caller.uid, crate::state::now_unix());
        let server_id = req.into_inner().server_id;
        let record = Self::run_fix(uid, "pin", move || fixes.pin(&view, &caller, &server_id, now)).await?;
        tracing::info!(uid, server_id = %record.server_id, version = %record.version, "version pinned at its owner's request");
        Ok(PinVersionResponse { pin: Some(record.to_message()) })
    }

    async fn undo_pin_impl(&self, req: Request<UndoPinRequest>) -> Result<UndoPinResponse, Status> {
        let (caller, fixes) = (self.caller(&req)?, self.fixes()?);
        let (uid, server_id) = (caller.uid, req.into_inner().server_id);
        let id = server_id.clone();
        Self::run_fix(uid, "undo", move || fixes.undo_pin(&caller, &id)).await?;
        tracing::info!(uid, server_id = %server_id, "version pin undone at its owner's request");
        Ok(UndoPinResponse {})
    }

    async fn request_exception_impl(
        &self,
        req: Request<RequestExceptionRequest>,
    ) -> Result<RequestExceptionResponse, Status> {
        let caller = self.caller(&req)?;
        let desk = self
            .exceptions
            .clone()
            .ok_or_else(|| Status::unavailable("this agent does not pass exception requests on"))?;
        let body = req.into_inner();
        // Only about one of the caller's servers, filed in the name the inventory gives them.
        let view = self.view.borrow().clone();
        let Some(user) = super::requests::requester(&view, &caller, &body.server_id) else {
            return Err(Status::not_found(format!("server {:?} is not one of your MCP servers", body.server_id)));
        };
        let reason = super::requests::checked_reason(&body.reason).map_err(Status::invalid_argument)?;
        let rule = body.rule_id.trim();
        let rules = vec![if rule.is_empty() { "*".to_string() } else { rule.to_string() }];
        let filed = desk.file(&body.server_id, rules, &user, &reason).await.map_err(|e| match e {
            DeskError::NotEnrolled => Status::failed_precondition(e.to_string()),
            DeskError::Refused(_) => Status::invalid_argument(e.to_string()),
            DeskError::Unreachable(_) => Status::unavailable(e.to_string()),
            DeskError::Identity(_) => {
                tracing::error!(error = %e, "cannot file an exception request");
                Status::internal("the agent cannot use its identity; its log says why")
            }
        })?;
        tracing::info!(uid = caller.uid, server_id = %body.server_id, request = %filed.id, "exception request filed");
        Ok(RequestExceptionResponse { request: Some(super::requests::to_local(&filed)) })
    }
}

/// A fix's error as a gRPC status: the caller's own mistakes say what was wrong; the agent's
/// own failures are logged and answered without detail.
fn fix_status(e: FixError, uid: u32) -> Status {
    match e {
        FixError::NotYours { .. } | FixError::NotDisabledByYou { .. } | FixError::NotPinnedByYou { .. } => {
            Status::not_found(e.to_string())
        }
        FixError::NotOwner { .. } => Status::permission_denied(e.to_string()),
        FixError::AlreadyDisabled { .. }
        | FixError::NoFile { .. }
        | FixError::CannotDisable { .. }
        | FixError::CannotUndo { .. }
        | FixError::CannotPin { .. }
        | FixError::ChangedSinceScan { .. } => Status::failed_precondition(e.to_string()),
        FixError::State(_) | FixError::Io { .. } => {
            tracing::error!(uid, error = %e, "a fix failed");
            Status::internal("the agent could not complete the change; its log says why")
        }
    }
}
