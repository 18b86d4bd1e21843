//! `Exceptions`: policy exception requests a developer files from the tray, passed on by their
//! agent over mTLS. The endpoint a request covers is always the calling agent (its certificate),
//! never a field; the agent lists only requests covering its own endpoint. Both calls go through
//! the use-cases of [`crate::exception_requests`] (the same checks as `/api/v1/exception-requests`),
//! and a filed request is audited with the agent as its actor.

use muster_proto::v1::exceptions_server::Exceptions;
use muster_proto::v1::{
    AgentExceptionRequest, ExceptionRequestState, FileExceptionRequestRequest, ListExceptionRequestsRequest,
    ListExceptionRequestsResponse,
};
use tonic::{Request, Response, Status};

use super::AgentApi;
use super::identity::{self, Freshness};
use crate::audit;
use crate::error::ApiError;
use crate::exception_requests::{self as requests, NewRequest};
use crate::state::unix_now;
use crate::store::AuditOutcome;
use crate::store::exception_requests::{ExceptionRequestRecord, RequestState};

/// Most requests one list answers.
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
        let (record, event) = requests::create(self.state.store.as_ref(), &actor, &new, now)
            .await
            .map_err(|e| Status::from(ApiError::from(e)))?;
        audit::record(self.state.store.as_ref(), &event.entry(&actor, &source, AuditOutcome::Success, now)).await;
        tracing::info!(agent_id = %agent_id, request = %record.id, "exception request filed by an agent");
        Ok(Response::new(to_message(record)))
    }

    async fn list_exception_requests(
        &self,
        request: Request<ListExceptionRequestsRequest>,
    ) -> Result<Response<ListExceptionRequestsResponse>, Status> {
        let agent_id = identity::authorize(&self.state, &request, Freshness::Cached).await?;
        let records = requests::list_for_agent(self.state.store.as_ref(), &agent_id, LIST_LIMIT)
            .await
            .map_err(|e| Status::from(ApiError::from(e)))?;
        Ok(Response::new(ListExceptionRequestsResponse { requests: records.into_iter().map(to_message).collect() }))
    }
}
