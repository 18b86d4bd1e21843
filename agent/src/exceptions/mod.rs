//! Exception requests the developer files from the tray (`RequestException` on the local API),
//! passed on to the control plane's analysts' queue over mTLS (`muster.v1.Exceptions`), and their
//! state brought back: the [`ExceptionDesk`] keeps the endpoint's requests as the control plane
//! last pushed them and publishes every change, which the local API pushes on to each caller
//! (their own account's requests only). [`watch_exception_requests`] keeps the control plane's
//! `WatchExceptionRequests` stream open (re-opened with backoff), so a decision arrives when it
//! is made, without polling.
//!
//! It decides nothing: who may ask about which server is the local API's check, what may be asked
//! is the control plane's. The endpoint a request covers is the agent's certificate, never a
//! field. What goes out is ids, names and the developer's own reason: no configuration value.
//! Unenrolled, filing is refused (there is nobody to ask) and the list stays empty.

use std::sync::Arc;
use std::time::Duration;

use muster_proto::tonic;
use muster_proto::tonic::transport::Channel;
use muster_proto::v1::exceptions_client::ExceptionsClient;
use muster_proto::v1::{AgentExceptionRequest, FileExceptionRequestRequest, WatchExceptionRequestsRequest};
use tokio::sync::watch;

use crate::grpc::{self, CALL_TIMEOUT};
use crate::state::StateDir;

/// Why a request could not be filed.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("this agent is not enrolled with your organisation's control plane, so there is nobody to ask")]
    NotEnrolled,
    /// The control plane's own words (an unknown rule, a reason too long).
    #[error("the control plane refused the request: {0}")]
    Refused(String),
    #[error("the control plane cannot be reached now ({0}); nothing was sent")]
    Unreachable(String),
    #[error("the agent's identity cannot be read: {0}")]
    Identity(String),
}

fn from_status(s: &tonic::Status) -> DeskError {
    match s.code() {
        tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition | tonic::Code::NotFound => {
            DeskError::Refused(s.message().to_string())
        }
        code => DeskError::Unreachable(format!("{code}: {}", s.message())),
    }
}

/// The endpoint's exception requests as last pushed, and the way to file new ones.
#[derive(Debug)]
pub struct ExceptionDesk {
    state: StateDir,
    known: watch::Sender<Arc<Vec<AgentExceptionRequest>>>,
}

impl ExceptionDesk {
    pub fn new(state: StateDir) -> ExceptionDesk {
        ExceptionDesk { state, known: watch::channel(Arc::default()).0 }
    }

    /// The requests as last pushed, anew on every change.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Vec<AgentExceptionRequest>>> {
        self.known.subscribe()
    }

    pub fn current(&self) -> Arc<Vec<AgentExceptionRequest>> {
        self.known.borrow().clone()
    }

    /// Takes the control plane's list, telling subscribers only when it changed.
    fn replace(&self, list: Vec<AgentExceptionRequest>) {
        self.known.send_if_modified(|old| {
            if **old == list {
                return false;
            }
            *old = Arc::new(list);
            true
        });
    }

    /// A channel to the control plane as the enrolled agent (identity re-read each time, so a
    /// renewed certificate is used).
    fn client(&self) -> Result<ExceptionsClient<Channel>, DeskError> {
        let identity = self
            .state
            .load_identity()
            .map_err(|e| DeskError::Identity(e.to_string()))?
            .ok_or(DeskError::NotEnrolled)?;
        let addr = grpc::ServerAddr::parse(&identity.server).map_err(|e| DeskError::Identity(e.to_string()))?;
        let tls = grpc::mtls_client_config(&identity).map_err(|e| DeskError::Identity(e.to_string()))?;
        let channel = grpc::channel(&addr, tls).map_err(|e| DeskError::Unreachable(e.to_string()))?;
        Ok(ExceptionsClient::new(channel))
    }

    /// Files a request for `server_id` of OS user `user` (whose own words `reason` are), and
    /// shows it in the list at once (the stream then brings the control plane's copy).
    pub async fn file(
        &self,
        server_id: &str,
        rule_ids: Vec<String>,
        user: &str,
        reason: &str,
    ) -> Result<AgentExceptionRequest, DeskError> {
        let mut client = self.client()?;
        let request = FileExceptionRequestRequest {
            server_id: server_id.to_string(),
            rule_ids,
            user: user.to_string(),
            reason: reason.to_string(),
        };
        let filed = tokio::time::timeout(CALL_TIMEOUT, client.file_exception_request(request))
            .await
            .map_err(|_| DeskError::Unreachable("no answer in time".into()))?
            .map_err(|s| from_status(&s))?
            .into_inner();
        self.known.send_if_modified(|list| {
            if list.iter().any(|r| r.id == filed.id) {
                return false;
            }
            let mut new = (**list).clone();
            new.insert(0, filed.clone());
            *list = Arc::new(new);
            true
        });
        Ok(filed)
    }
}

/// Shortest and longest wait before the stream is opened again.
const RECONNECT_MIN: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(60);

/// Keeps one `Exceptions.WatchExceptionRequests` stream open as the enrolled agent, handing
/// every list to `desk`, until `shutdown` resolves. Unenrolled or unreachable, it tries again
/// with capped, jittered backoff (an enrollment made while it waits is picked up then).
pub async fn watch_exception_requests(desk: Arc<ExceptionDesk>, shutdown: impl std::future::Future<Output = ()>) {
    let session = |progress: crate::report::StreamProgress| {
        let desk = desk.clone();
        async move {
            let mut stream = desk
                .client()
                .map_err(|e| e.to_string())?
                .watch_exception_requests(WatchExceptionRequestsRequest {})
                .await
                .map_err(|s| format!("{}: {}", s.code(), s.message()))?
                .into_inner();
            loop {
                match stream.message().await {
                    Ok(Some(list)) => {
                        progress.received();
                        desk.replace(list.requests);
                    }
                    Ok(None) => return Err("the control plane closed the exception request stream".to_string()),
                    Err(s) => return Err(format!("{}: {}", s.code(), s.message())),
                }
            }
        }
    };
    crate::report::keep_stream_open("exception requests", (RECONNECT_MIN, RECONNECT_MAX), true, shutdown, session)
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unenrolled_agent_files_nothing_and_lists_nothing() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let state = StateDir::open(dir.path()).unwrap_or_else(|e| panic!("state: {e}"));
        let desk = ExceptionDesk::new(state);
        let refused = desk.file("s1", vec!["*".into()], "dev", "needed").await;
        assert!(matches!(refused, Err(DeskError::NotEnrolled)), "{refused:?}");
        assert!(desk.current().is_empty());
    }

    #[test]
    fn only_a_changed_list_is_published() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let desk = ExceptionDesk::new(StateDir::open(dir.path()).unwrap_or_else(|e| panic!("state: {e}")));
        let mut seen = desk.subscribe();
        let one = AgentExceptionRequest { id: "r1".into(), ..Default::default() };
        desk.replace(vec![one.clone()]);
        assert!(seen.has_changed().unwrap_or(false));
        seen.mark_unchanged();
        desk.replace(vec![one]);
        assert!(!seen.has_changed().unwrap_or(true), "the same list again is not a change");
    }
}
