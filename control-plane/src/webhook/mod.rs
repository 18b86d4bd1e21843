//! Webhooks on new high and critical findings: signed JSON POSTs to configured endpoints, retried
//! with exponential backoff and jitter, every attempt written to the delivery log.
//!
//! Ingest only publishes an [`IngestEvent`] after it has committed a report; the worker here
//! (a tokio task, [`spawn`]) does the rest outside any database transaction: it reads the
//! agent's stored findings, asks the store which high/critical ones were not announced before
//! ([`crate::store::ExportStore::sync_notified_findings`]), and delivers one event per endpoint.
//! Deciding "new" from stored state makes a lost or repeated ingest event harmless: the next
//! report of that agent catches up, and nothing is announced twice.
//!
//! Not here: managing endpoints over HTTP (the router's job), resuming retries after a restart
//! (pending retries are dropped on shutdown; the log shows them as `retrying`), encryption of the
//! stored secrets.

pub mod signature;

use std::sync::Arc;
use std::time::Duration;

use muster_proto::v1::Severity;
use muster_proto::{AgentId, ServerId, WireWord};
use serde::Serialize;
use tokio::sync::{broadcast, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::export::{finding_uid, rfc3339};
use crate::ingest::IngestEvent;
use crate::state::{ControlPlane, unix_now};
use crate::store::exports::{DeliveryAttempt, DeliveryStatus, NewWebhook, StoredFinding, WebhookRecord};
use crate::store::{DynStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("cannot build the webhook http client")]
    Client(#[from] reqwest::Error),
    #[error("webhook url {0:?} is not an absolute http(s) url")]
    InvalidUrl(String),
    #[error("cannot draw a random secret")]
    Random,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Retry schedule: attempt `n` (from 1) failing waits `first * 2^(n-1)`, capped at `max`, with
/// "equal jitter" (a random point in the upper half) so many endpoints failing together do not
/// retry in lockstep. After `attempts` attempts the delivery is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { first: Duration::from_secs(5), max: Duration::from_secs(15 * 60), attempts: 8 }
    }
}

impl Backoff {
    /// The wait after failed attempt `attempt` (1-based) for a jitter draw in `[0, 1]`.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let full = self.first.saturating_mul(1u32 << exponent).min(self.max);
        let half = full / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// A uniform draw in `[0, 1)`; 0.5 if the OS has no randomness to give (jitter is not security).
fn jitter() -> f64 {
    getrandom::u64().map(|bits| (bits >> 11) as f64 / (1u64 << 53) as f64).unwrap_or(0.5)
}

/// How the worker waits between attempts; tests record the waits instead of sleeping.
#[async_trait::async_trait]
pub trait Sleeper: Send + Sync {
    async fn sleep(&self, duration: Duration);
}

#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[async_trait::async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookConfig {
    pub backoff: Backoff,
    /// Per attempt, connection included.
    pub request_timeout: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self { backoff: Backoff::default(), request_timeout: Duration::from_secs(10) }
    }
}

/// The JSON body of a webhook: the new findings of one endpoint from one report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FindingsEvent {
    /// Also sent as `Muster-Event-Id`; the same on every retry, so receivers can de-duplicate.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub created_at: String,
    pub endpoint: EventEndpoint,
    pub findings: Vec<EventFinding>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EventEndpoint {
    pub agent_id: AgentId,
    pub hostname: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EventFinding {
    pub uid: String,
    pub finding_id: String,
    /// "high" or "critical" (the proto word table's spelling).
    pub severity: &'static str,
    pub owasp: String,
    pub message: String,
    pub client: String,
    pub user: String,
    pub servers: Vec<EventServer>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EventServer {
    pub id: ServerId,
    pub name: String,
}

pub const EVENT_KIND: &str = "findings.new";

/// A new endpoint with a fresh random secret (32 bytes, hex), returned once to show the user.
pub async fn register(
    store: &dyn crate::store::Store,
    url: &str,
    min_severity: Severity,
) -> Result<NewWebhook, WebhookError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| WebhookError::InvalidUrl(url.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(WebhookError::InvalidUrl(url.to_string()));
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|_| WebhookError::Random)?;
    let webhook = NewWebhook {
        id: uuid::Uuid::new_v4().to_string(),
        url: url.to_string(),
        secret: format!("whsec_{}", hex::encode(secret)),
        min_severity: (min_severity as i32).max(Severity::High as i32),
        created_at: unix_now(),
    };
    store.create_webhook(&webhook).await?;
    Ok(webhook)
}

/// How one delivery ended (every attempt is also in the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryOutcome {
    pub delivered: bool,
    pub attempts: u32,
}

/// Reads new findings, builds events and delivers them.
#[derive(Clone)]
pub struct WebhookWorker {
    store: DynStore,
    client: reqwest::Client,
    config: WebhookConfig,
    sleeper: Arc<dyn Sleeper>,
}

impl std::fmt::Debug for WebhookWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookWorker").field("config", &self.config).finish_non_exhaustive()
    }
}

impl WebhookWorker {
    /// A worker with an HTTPS client (rustls, the system's roots, no redirects followed: a
    /// receiver is an exact URL, and a redirect must not carry a signed body elsewhere).
    pub fn new(store: DynStore, config: WebhookConfig) -> Result<Self, WebhookError> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.request_timeout)
            .user_agent(concat!("muster-server/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { store, client, config, sleeper: Arc::new(TokioSleeper) })
    }

    /// Replaces how the worker waits between attempts.
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// The high and critical findings of `agent_id` not announced before, marking them announced.
    pub async fn take_new_findings(&self, agent_id: &str) -> Result<Vec<StoredFinding>, StoreError> {
        let severe: Vec<(String, StoredFinding)> = self
            .store
            .agent_findings(agent_id)
            .await?
            .into_iter()
            .filter(|f| f.severity >= Severity::High as i32)
            .map(|f| (finding_uid(agent_id, &f), f))
            .collect();
        let keys: Vec<String> = severe.iter().map(|(key, _)| key.clone()).collect();
        let fresh = self.store.sync_notified_findings(agent_id, &keys, unix_now()).await?;
        Ok(severe.into_iter().filter(|(key, _)| fresh.contains(key)).map(|(_, f)| f).collect())
    }

    /// The event announcing `findings` of `agent_id` (names of servers from the stored inventory).
    pub async fn event(&self, agent_id: &str, findings: &[StoredFinding]) -> Result<FindingsEvent, StoreError> {
        let inventory = self.store.host_inventory(agent_id).await?;
        let name_of =
            |id: &str| inventory.servers.iter().find(|s| s.server_id == id).map(|s| s.name.clone()).unwrap_or_default();
        Ok(FindingsEvent {
            id: uuid::Uuid::new_v4().to_string(),
            kind: EVENT_KIND,
            created_at: rfc3339(unix_now()),
            endpoint: EventEndpoint {
                agent_id: AgentId::from(agent_id),
                hostname: inventory.host.map(|h| h.hostname).unwrap_or_default(),
            },
            findings: findings
                .iter()
                .map(|f| {
                    let mut ids = f.server_ids.clone();
                    if ids.is_empty() && !f.server_id.is_empty() {
                        ids.push(f.server_id.clone());
                    }
                    EventFinding {
                        uid: finding_uid(agent_id, f),
                        finding_id: f.finding_id.clone(),
                        severity: Severity::word_of(f.severity),
                        owasp: f.owasp.clone(),
                        message: f.message.clone(),
                        client: f.client.clone(),
                        user: f.user.clone(),
                        servers: ids
                            .iter()
                            .map(|id| EventServer { id: ServerId::from(id.as_str()), name: name_of(id) })
                            .collect(),
                    }
                })
                .collect(),
        })
    }

    /// Handles one ingest event: announces the agent's new findings to every enabled endpoint,
    /// each delivery in its own task on `deliveries`.
    pub async fn handle(
        &self,
        event: &IngestEvent,
        deliveries: &mut JoinSet<DeliveryOutcome>,
    ) -> Result<(), StoreError> {
        let IngestEvent::ReportApplied { agent_id } = event;
        let fresh = self.take_new_findings(agent_id).await?;
        if fresh.is_empty() {
            return Ok(());
        }
        let endpoints: Vec<WebhookRecord> =
            self.store.list_webhooks().await?.into_iter().filter(|w| w.enabled).collect();
        if endpoints.is_empty() {
            return Ok(());
        }
        for endpoint in endpoints {
            let wanted: Vec<StoredFinding> =
                fresh.iter().filter(|f| f.severity >= endpoint.min_severity).cloned().collect();
            if wanted.is_empty() {
                continue;
            }
            let event = self.event(agent_id, &wanted).await?;
            let body = match serde_json::to_vec(&event) {
                Ok(body) => body,
                Err(error) => {
                    tracing::error!(error = %error, "cannot encode webhook event");
                    continue;
                }
            };
            let worker = self.clone();
            deliveries.spawn(async move { worker.deliver(&endpoint, &event.id, &body).await });
        }
        Ok(())
    }

    /// POSTs `body` to `endpoint` until it answers 2xx, it refuses for good (a 4xx other than
    /// 408 and 429, or a redirect), or the attempts run out; logs every attempt in the store.
    pub async fn deliver(&self, endpoint: &WebhookRecord, event_id: &str, body: &[u8]) -> DeliveryOutcome {
        let attempts = self.config.backoff.attempts.max(1);
        for attempt in 1..=attempts {
            let started = tokio::time::Instant::now();
            let timestamp = unix_now();
            let signature = signature::sign(endpoint.secret.as_bytes(), timestamp, body);
            let result = self
                .client
                .post(&endpoint.url)
                .header(http::header::CONTENT_TYPE, "application/json")
                .header(signature::SIGNATURE_HEADER, signature)
                .header(signature::EVENT_ID_HEADER, event_id)
                .body(body.to_vec())
                .send()
                .await;
            let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let (response_code, retryable, error) = match &result {
                Ok(response) if response.status().is_success() => (Some(response.status().as_u16()), false, None),
                Ok(response) => {
                    let status = response.status();
                    let retryable = status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
                    (Some(status.as_u16()), retryable, Some(format!("http status {}", status.as_u16())))
                }
                // Only the kind of failure: reqwest's message names the URL, which may carry a
                // token in its query.
                Err(error) => (None, true, Some(describe(error))),
            };
            let delivered = error.is_none();
            let last = attempt == attempts || !retryable;
            let delay = (!delivered && !last).then(|| self.config.backoff.delay(attempt, jitter()));
            let now = unix_now();
            let record = DeliveryAttempt {
                endpoint_id: endpoint.id.clone(),
                event_id: event_id.to_string(),
                attempt,
                status: if delivered {
                    DeliveryStatus::Delivered
                } else if delay.is_some() {
                    DeliveryStatus::Retrying
                } else {
                    DeliveryStatus::Failed
                },
                response_code,
                latency_ms,
                error: error.clone().unwrap_or_default(),
                attempted_at: now,
                next_retry_at: delay.map(|d| now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))),
            };
            if let Err(store_error) = self.store.record_delivery(&record).await {
                tracing::warn!(endpoint_id = %endpoint.id, error = %store_error, "cannot record webhook delivery");
            }
            match delay {
                _ if delivered => return DeliveryOutcome { delivered: true, attempts: attempt },
                Some(delay) => {
                    tracing::info!(endpoint_id = %endpoint.id, event_id, attempt, error = error.as_deref().unwrap_or(""), retry_in = ?delay, "webhook delivery failed, will retry");
                    self.sleeper.sleep(delay).await;
                }
                None => {
                    tracing::warn!(endpoint_id = %endpoint.id, event_id, attempt, error = error.as_deref().unwrap_or(""), "webhook delivery given up");
                    return DeliveryOutcome { delivered: false, attempts: attempt };
                }
            }
        }
        DeliveryOutcome { delivered: false, attempts }
    }

    /// Runs until `stop`: one [`Self::handle`] per ingest event. Deliveries in flight when it
    /// stops are dropped (their log rows stay).
    pub async fn run(self, mut events: broadcast::Receiver<IngestEvent>, mut stop: watch::Receiver<bool>) {
        let mut deliveries = JoinSet::new();
        loop {
            tokio::select! {
                () = crate::state::stopped(&mut stop) => break,
                Some(_) = deliveries.join_next(), if !deliveries.is_empty() => {}
                event = events.recv() => match event {
                    Ok(event) => {
                        if let Err(error) = self.handle(&event, &mut deliveries).await {
                            tracing::warn!(error = %error, "cannot process findings for webhooks");
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        // The agents behind the missed events catch up on their next report.
                        tracing::warn!(missed, "webhook worker fell behind ingest");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
        }
        deliveries.abort_all();
    }
}

fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_request() {
        "request failed"
    } else {
        "transport error"
    };
    kind.to_string()
}

/// Starts the worker on `state`'s ingest events; `None` (logged) when no HTTP client can be built.
pub fn spawn(state: &ControlPlane, config: WebhookConfig, stop: watch::Receiver<bool>) -> Option<JoinHandle<()>> {
    match WebhookWorker::new(state.store.clone(), config) {
        Ok(worker) => Some(tokio::spawn(worker.run(state.subscribe_ingest(), stop))),
        Err(error) => {
            tracing::error!(error = %error, "webhooks disabled: cannot build http client");
            None
        }
    }
}
