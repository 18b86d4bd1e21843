//! The agent-facing gRPC API (tonic): Enrollment, Inventory and Policy over TLS 1.3.
//!
//! `Enrollment.Enroll` is the only call that works without a client certificate. Everything else
//! goes through [`identity::authorize`]. `Policy.Watch` sends the current signed policy version
//! when it is newer than the agent's `known_version`, then every newer version the moment this
//! process learns of it (published here, or read by `state::follow_store`); it stays open
//! until shutdown, the agent's revocation, or a confirmed renewal of the certificate it was
//! opened with. A report passes, in order: the agent's request budget, the
//! per-report caps and the sequence range (refused for good), the agent's one place in the
//! ingest line and its work budget (both retryable), then fair admission by work
//! ([`admission`], `docs/adr/0004-ingest-fairness.md`). This module does not touch SQL.

pub mod identity;
pub mod tls;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use muster_proto::v1::enrollment_server::{Enrollment, EnrollmentServer};
use muster_proto::v1::inventory_server::{Inventory, InventoryServer};
use muster_proto::v1::policy_server::{Policy, PolicyServer};
use muster_proto::v1::{
    EnrollRequest, EnrollResponse, HeartbeatRequest, HeartbeatResponse, PolicyBundle, RenewRequest, RenewResponse,
    ReportRequest, ReportResponse, WatchRequest,
};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use self::identity::Freshness;
use crate::error::{ApiError, ErrorCode};
use crate::ingest::limits::{ReportSize, request_bytes};
use crate::ingest::{Decision, IngestEvent, Report};
use crate::state::{ControlPlane, unix_now};
use crate::store::AgentStatus;

/// How often an open Watch stream re-reads its agent's status, to notice revocations made by
/// another process (the CLI). Revocations through [`ControlPlane::revoke_agent`] close at once.
const REVOCATION_POLL: Duration = Duration::from_secs(5);

/// The tonic router with all agent services and message size limits.
pub fn router(state: Arc<ControlPlane>, stop: watch::Receiver<bool>) -> tonic::transport::server::Router {
    let limit = state.limits.max_message_bytes;
    let service = AgentApi { state, stop };
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .add_service(EnrollmentServer::new(service.clone()).max_decoding_message_size(limit))
        .add_service(InventoryServer::new(service.clone()).max_decoding_message_size(limit))
        .add_service(PolicyServer::new(service).max_decoding_message_size(limit))
}

#[derive(Clone)]
struct AgentApi {
    state: Arc<ControlPlane>,
    stop: watch::Receiver<bool>,
}

#[tonic::async_trait]
impl Enrollment for AgentApi {
    async fn enroll(&self, request: Request<EnrollRequest>) -> Result<Response<EnrollResponse>, Status> {
        // Enrollment is unauthenticated: limit it per source address instead of per agent.
        let source = request.remote_addr().map(|addr| addr.ip().to_string()).unwrap_or_default();
        if !self.state.rate.allow(&format!("enroll:{source}"), std::time::Instant::now()) {
            return Err(ApiError::new(ErrorCode::ResourceExhausted, "rate limit exceeded").into());
        }
        let response =
            crate::enroll::enroll(self.state.store.as_ref(), &self.state.pki, request.into_inner(), unix_now()).await?;
        Ok(Response::new(response))
    }

    async fn renew(&self, request: Request<RenewRequest>) -> Result<Response<RenewResponse>, Status> {
        let agent_id = identity::authorize(&self.state, &request, Freshness::Cached).await?;
        let renewed =
            crate::enroll::renew(self.state.store.as_ref(), &self.state.pki, &agent_id, &request.get_ref().csr_der)
                .await;
        // Whatever the outcome, the accepted certificates may have changed in the store.
        self.state.agents.forget_certificates(&agent_id);
        Ok(Response::new(renewed?))
    }
}

#[tonic::async_trait]
impl Inventory for AgentApi {
    async fn report(&self, request: Request<ReportRequest>) -> Result<Response<ReportResponse>, Status> {
        let agent_id = identity::authorize(&self.state, &request, Freshness::Cached).await?;
        let request = request.into_inner();
        if request.agent_id != agent_id {
            tracing::warn!(agent_id = %agent_id, claimed = %request.agent_id, "report about another agent refused");
            return Err(ApiError::new(ErrorCode::PermissionDenied, "report agent_id does not match certificate").into());
        }
        let bytes = request_bytes(&request);
        let report = Report::from_request(request).map_err(|error| {
            // An agent never sends these; one that does is broken or not ours. Refused before
            // the store sees it, so nothing is acknowledged or stored.
            tracing::warn!(agent_id = %agent_id, error = %error, "impossible report refused");
            ApiError::new(ErrorCode::InvalidArgument, error.to_string())
        })?;
        let size = ReportSize::of(&report, bytes);
        if let Err(refusal) = size.check(&self.state.limits.report_caps()) {
            tracing::warn!(agent_id = %agent_id, sequence = report.sequence, error = %refusal, "report over a cap refused");
            return Err(ApiError::new(ErrorCode::InvalidArgument, refusal.to_string()).into());
        }
        let ticket = self.state.ingest_queue.enter(&agent_id).map_err(|busy| {
            tracing::info!(agent_id = %agent_id, sequence = report.sequence, "concurrent report of one agent refused");
            ApiError::new(ErrorCode::ResourceExhausted, format!("{busy}; retry after it is answered"))
        })?;
        let work = size.work();
        if let Err(wait) = self.state.work_rate.take(&agent_id, work, std::time::Instant::now()) {
            tracing::info!(agent_id = %agent_id, sequence = report.sequence, work, "report over the agent's work budget refused");
            return Err(ApiError::new(
                ErrorCode::ResourceExhausted,
                format!(
                    "work budget exceeded: this report costs {work} work units; retry in about {} s",
                    wait.as_secs().max(1)
                ),
            )
            .into());
        }
        let _permit = ticket.admit(work).await;
        let outcome = self
            .state
            .ingest
            .ingest_report(&agent_id, &report, unix_now())
            .await
            .map_err(|e| identity::store_refusal(&self.state, &agent_id, e))?;
        tracing::debug!(agent_id = %agent_id, sequence = report.sequence, decision = ?outcome.decision, "report ingested");
        if outcome.decision == Decision::Apply {
            self.state.publish_ingest(IngestEvent::ReportApplied { agent_id: agent_id.clone() });
        }
        Ok(Response::new(ReportResponse {
            acked_sequence: outcome.acked_sequence,
            resync_required: outcome.resync_required,
        }))
    }

    async fn heartbeat(&self, request: Request<HeartbeatRequest>) -> Result<Response<HeartbeatResponse>, Status> {
        let agent_id = identity::authorize(&self.state, &request, Freshness::Cached).await?;
        let request = request.into_inner();
        let stored = self
            .state
            .store
            .heartbeat(&agent_id, &request.agent_version, unix_now())
            .await
            .map_err(|e| identity::store_refusal(&self.state, &agent_id, e))?;
        Ok(Response::new(HeartbeatResponse {
            server_time_unix: unix_now(),
            // The agent believes more was stored than we have: it must send a full snapshot.
            resync_required: request.last_sequence > stored,
        }))
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<PolicyBundle, Status>> + Send>>;

#[tonic::async_trait]
impl Policy for AgentApi {
    type WatchStream = WatchStream;

    async fn watch(&self, request: Request<WatchRequest>) -> Result<Response<Self::WatchStream>, Status> {
        let caller = identity::authorize_certificate(&self.state, &request, Freshness::Database).await?;
        let agent_id = caller.agent_id;
        let serial = caller.serial;
        let known_version = request.get_ref().known_version;
        let wants_data = request.get_ref().data_bundles;
        let known_data_version = request.get_ref().known_data_version;
        let (tx, rx) = mpsc::channel(4);
        let state = self.state.clone();
        let mut stop = self.stop.clone();
        let mut revocations = state.subscribe_revocations();
        let mut policies = state.subscribe_policies();
        let mut data = state.subscribe_data();
        tokio::spawn(async move {
            let mut poll = tokio::time::interval(REVOCATION_POLL);
            let mut sent = known_version;
            let mut sent_data = known_data_version;
            if wants_data && data.borrow().is_none() {
                crate::state::follow_data(&state).await;
            }
            data.mark_changed();
            // The first stream of a freshly started process may come before the store was read.
            if policies.borrow().is_none() {
                match state.store.current_policy().await {
                    Ok(Some(record)) => crate::policies::PolicyListener::policy_published(state.as_ref(), &record),
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(agent_id = %agent_id, error = %error, "cannot read the current policy")
                    }
                }
            }
            policies.mark_changed();
            let refused = loop {
                tokio::select! {
                    () = tx.closed() => break None,
                    changed = policies.changed() => {
                        if changed.is_err() {
                            break None;
                        }
                        let newest = policies.borrow_and_update().clone();
                        if let Some(signed) = newest.filter(|signed| signed.version > sent) {
                            if tx.send(Ok(signed.bundle.clone())).await.is_err() {
                                break None;
                            }
                            sent = signed.version;
                            tracing::debug!(agent_id = %agent_id, version = sent, "policy sent");
                        }
                    }
                    changed = data.changed(), if wants_data => {
                        if changed.is_err() {
                            break None;
                        }
                        let newest = data.borrow_and_update().clone();
                        if let Some(bundle) = newest.filter(|bundle| bundle.version > sent_data) {
                            // A message of its own: version 0 carries no policy.
                            let message = PolicyBundle { data: Some((*bundle).clone()), ..PolicyBundle::default() };
                            if tx.send(Ok(message)).await.is_err() {
                                break None;
                            }
                            sent_data = bundle.version;
                            tracing::debug!(agent_id = %agent_id, version = sent_data, "data bundle sent");
                        }
                    }
                    () = crate::state::stopped(&mut stop) => break None,
                    message = revocations.recv() => match message {
                        Ok(id) if id == agent_id => break Some("agent revoked"),
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            if let Some(why) = refusal(&state, &agent_id, &serial).await { break Some(why) }
                        }
                        Err(broadcast::error::RecvError::Closed) => break None,
                    },
                    _ = poll.tick() => if let Some(why) = refusal(&state, &agent_id, &serial).await { break Some(why) },
                }
            };
            if let Some(why) = refused {
                tracing::info!(agent_id = %agent_id, reason = why, "closing policy stream");
                let _ = tx.send(Err(Status::permission_denied(why))).await;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Why a stream opened with certificate `serial` must close now: the agent was revoked (or
/// removed), or a renewal it has since used superseded the stream's certificate.
async fn refusal(state: &ControlPlane, agent_id: &str, serial: &str) -> Option<&'static str> {
    match state.store.agent(agent_id).await {
        Ok(Some(agent)) if agent.status == AgentStatus::Revoked => {
            state.agents.mark_revoked(agent_id);
            Some("agent revoked")
        }
        Ok(Some(agent)) => {
            let accepted = crate::agents::status::AcceptedCertificates {
                current: agent.cert_serial,
                previous: agent.previous_cert_serial,
            };
            (accepted.judge(serial) == crate::agents::status::CertificateUse::Superseded)
                .then_some("client certificate superseded by a renewal")
        }
        Ok(None) => Some("agent revoked"),
        Err(error) => {
            tracing::warn!(agent_id = %agent_id, error = %error, "cannot check agent status");
            None
        }
    }
}
