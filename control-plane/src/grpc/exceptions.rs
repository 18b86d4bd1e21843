//! `Exceptions`: policy exception requests a developer files from the tray, passed on by their
//! agent over mTLS. The endpoint a request covers is always the calling agent (its certificate),
//! never a field; the agent sees only requests covering its own endpoint. Filing goes through
//! [`crate::exception_requests::create`] (the same checks as `/api/v1/exception-requests`) and is
//! audited with the agent as its actor. `WatchExceptionRequests` pushes the endpoint's list when
//! it opens and again whenever one of its requests is filed or decided through this process (the
//! `PolicyListener` hook), so an analyst's decision reaches the tray without polling; like
//! `Policy.Watch`, it closes when the agent is revoked or its certificate superseded.

use std::pin::Pin;

use futures_util::Stream;
use muster_proto::v1::exceptions_server::Exceptions;
use muster_proto::v1::{
    AgentExceptionRequest, AgentExceptionRequests, ExceptionRequestState, FileExceptionRequestRequest,
    WatchExceptionRequestsRequest,
};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::identity::{self, Freshness};
use super::{AgentApi, REVOCATION_POLL, refusal};
use crate::audit;
use crate::error::ApiError;
use crate::exception_requests::{self as requests, NewRequest};
use crate::state::{ControlPlane, unix_now};
use crate::store::AuditOutcome;
use crate::store::exception_requests::{ExceptionRequestRecord, RequestState};

/// Most requests one list carries.
const LIST_LIMIT: u32 = 200;

fn to_message(r: ExceptionRequestRecord) -> AgentExceptionRequest {
    AgentExceptionRequest {
        id: r.id,
        server_id: r.server_id,
        rule_ids: r.rules,
        user: r.user,
        reason: r.reason,
        state: match r.state {
            RequestState::Pending => ExceptionRequestState::Pending,
            RequestState::Approved => ExceptionRequestState::Approved,
            RequestState::Denied => ExceptionRequestState::Denied,
        } as i32,
        created_at_unix: r.created_at,
        decided_at_unix: r.decided_at,
        note: r.note,
        expires_at_unix: r.expires_at,
    }
}

async fn list_of(state: &ControlPlane, agent_id: &str) -> Result<AgentExceptionRequests, Status> {
    let records = requests::list_for_agent(state.store.as_ref(), agent_id, LIST_LIMIT)
        .await
        .map_err(|e| Status::from(ApiError::from(e)))?;
    Ok(AgentExceptionRequests { requests: records.into_iter().map(to_message).collect() })
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<AgentExceptionRequests, Status>> + Send>>;

#[tonic::async_trait]
impl Exceptions for AgentApi {
    async fn file_exception_request(
        &self,
        request: Request<FileExceptionRequestRequest>,
    ) -> Result<Response<AgentExceptionRequest>, Status> {
        let agent_id = identity::authorize(&self.state, &request, Freshness::Cached).await?;
        let source = request.remote_addr().map(|a| a.ip().to_string()).unwrap_or_default();
        let body = request.into_inner();
        if body.server_id.trim().is_empty() {
            return Err(Status::invalid_argument("server_id: required (a request from an agent covers one server)"));
        }
        let new = NewRequest {
            rules: body.rule_ids,
            agent_id: agent_id.clone(),
            server_id: body.server_id,
            user: body.user,
            reason: body.reason,
        };
        let actor = format!("agent:{agent_id}");
        let now = unix_now();
        let store = self.state.store.as_ref();
        let (record, event) = match requests::create(store, self.state.as_ref(), &actor, &new, now).await {
            Ok(done) => done,
            Err(e) => {
                let error = ApiError::from(e);
                let refused =
                    audit::AuditEvent::new("exception_request.create", "exception-request").detail(&error.message);
                audit::record(store, &refused.entry(&actor, &source, AuditOutcome::Failure, now)).await;
                return Err(Status::from(error));
            }
        };
        audit::record(store, &event.entry(&actor, &source, AuditOutcome::Success, now)).await;
        tracing::info!(agent_id = %agent_id, request = %record.id, "exception request filed by an agent");
        Ok(Response::new(to_message(record)))
    }

    type WatchExceptionRequestsStream = WatchStream;

    async fn watch_exception_requests(
        &self,
        request: Request<WatchExceptionRequestsRequest>,
    ) -> Result<Response<Self::WatchExceptionRequestsStream>, Status> {
        let caller = identity::authorize_certificate(&self.state, &request, Freshness::Database).await?;
        let (agent_id, serial) = (caller.agent_id, caller.serial);
        // Subscribed before the first list is read, so no change falls between the two.
        let mut changes = self.state.subscribe_exception_updates();
        let mut revocations = self.state.subscribe_revocations();
        let first = list_of(&self.state, &agent_id).await?;
        let (tx, rx) = mpsc::channel(4);
        let state = self.state.clone();
        let mut stop = self.stop.clone();
        tokio::spawn(async move {
            let mut poll = tokio::time::interval(REVOCATION_POLL);
            let mut last = first;
            if tx.send(Ok(last.clone())).await.is_err() {
                return;
            }
            let refused = loop {
                let relist = tokio::select! {
                    () = tx.closed() => break None,
                    () = crate::state::stopped(&mut stop) => break None,
                    change = changes.recv() => match change {
                        Ok(id) => id == agent_id,
                        // Missed some: list again, and send only if the list changed.
                        Err(broadcast::error::RecvError::Lagged(_)) => true,
                        Err(broadcast::error::RecvError::Closed) => break None,
                    },
                    message = revocations.recv() => match message {
                        Ok(id) if id == agent_id => break Some("agent revoked"),
                        Ok(_) => false,
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            if let Some(why) = refusal(&state, &agent_id, &serial).await { break Some(why) }
                            false
                        }
                        Err(broadcast::error::RecvError::Closed) => break None,
                    },
                    _ = poll.tick() => {
                        if let Some(why) = refusal(&state, &agent_id, &serial).await { break Some(why) }
                        false
                    }
                };
                if !relist {
                    continue;
                }
                match list_of(&state, &agent_id).await {
                    Ok(list) if list == last => {}
                    Ok(list) => {
                        if tx.send(Ok(list.clone())).await.is_err() {
                            break None;
                        }
                        last = list;
                    }
                    Err(status) => {
                        // The agent re-opens the stream with backoff and gets the list then.
                        let _ = tx.send(Err(status)).await;
                        break None;
                    }
                }
            };
            if let Some(why) = refused {
                tracing::info!(agent_id = %agent_id, reason = why, "closing exception request stream");
                let _ = tx.send(Err(Status::permission_denied(why))).await;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
