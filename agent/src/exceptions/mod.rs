//! Exception requests the developer files from the tray (`RequestException` on the local API),
//! passed on to the control plane's analysts' queue over mTLS (`muster.v1.Exceptions`), and their
//! state brought back: the [`ExceptionDesk`] keeps the endpoint's requests as last listed and
//! publishes every change, which the local API pushes to each caller (their own account's
//! requests only). [`follow`] lists them again at an interval while the agent runs enrolled.
//!
//! It decides nothing: who may ask about which server is the local API's check, what may be asked
//! is the control plane's. The endpoint a request covers is the agent's certificate, never a
//! field. Unenrolled, filing is refused (there is nobody to ask) and the list stays empty.

use std::sync::Arc;
use std::time::Duration;

use muster_proto::tonic;
use muster_proto::tonic::transport::Channel;
use muster_proto::v1::exceptions_client::ExceptionsClient;
use muster_proto::v1::{AgentExceptionRequest, FileExceptionRequestRequest, ListExceptionRequestsRequest};
use tokio::sync::watch;

use crate::grpc::{self, CALL_TIMEOUT};
use crate::state::StateDir;

/// Why a request could not be filed or listed.
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

/// The endpoint's exception requests as last listed, and the way to file new ones.
#[derive(Debug)]
pub struct ExceptionDesk {
    state: StateDir,
    known: watch::Sender<Arc<Vec<AgentExceptionRequest>>>,
}

impl ExceptionDesk {
    pub fn new(state: StateDir) -> ExceptionDesk {
        ExceptionDesk { state, known: watch::channel(Arc::default()).0 }
    }

    /// The requests as last listed, pushed anew on every change.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Vec<AgentExceptionRequest>>> {
        self.known.subscribe()
    }

    pub fn current(&self) -> Arc<Vec<AgentExceptionRequest>> {
        self.known.borrow().clone()
    }

    /// A channel to the control plane as the enrolled agent (identity re-read each time, so a
    /// renewed certificate is used).
    async fn client(&self) -> Result<ExceptionsClient<Channel>, DeskError> {
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

    /// Files a request for `server_id` on behalf of local account `user`, then lists again.
    pub async fn file(
        &self,
        server_id: &str,
        rule_ids: Vec<String>,
        user: &str,
        reason: &str,
    ) -> Result<AgentExceptionRequest, DeskError> {
        let mut client = self.client().await?;
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
        if let Err(e) = self.refresh().await {
            // Filed all the same; the next refresh shows it.
            tracing::info!(error = %e, "cannot list exception requests after filing one");
            self.known.send_modify(|list| {
                let mut new = (**list).clone();
                new.insert(0, filed.clone());
                *list = Arc::new(new);
            });
        }
        Ok(filed)
    }

    /// Lists the endpoint's requests and publishes them if they changed.
    pub async fn refresh(&self) -> Result<(), DeskError> {
        let mut client = self.client().await?;
        let list = tokio::time::timeout(CALL_TIMEOUT, client.list_exception_requests(ListExceptionRequestsRequest {}))
            .await
            .map_err(|_| DeskError::Unreachable("no answer in time".into()))?
            .map_err(|s| from_status(&s))?
            .into_inner()
            .requests;
        self.known.send_if_modified(|old| {
            if **old == list {
                return false;
            }
            *old = Arc::new(list);
            true
        });
        Ok(())
    }
}

/// Lists the requests every `interval` while the agent is enrolled, until `shutdown`.
pub async fn follow(desk: Arc<ExceptionDesk>, interval: Duration, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        match desk.refresh().await {
            Ok(()) | Err(DeskError::NotEnrolled) => {}
            Err(e) => tracing::debug!(error = %e, "cannot list exception requests"),
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
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
        assert!(matches!(desk.refresh().await, Err(DeskError::NotEnrolled)));
        assert!(desk.current().is_empty());
    }
}
