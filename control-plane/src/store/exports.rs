//! The storage the exports and webhooks need, grouped as one supertrait of [`super::Store`] so
//! both backends implement it from the same portable SQL (`exports_sql.rs`) and the conformance
//! suite covers it on SQLite and PostgreSQL.
//!
//! This is not the query read model of the dashboard (paginated, filtered lists): exports read
//! one agent at a time, webhooks keep their endpoints, their delivery log and the set of findings
//! already announced.

use muster_proto::v1::McpServer;

use super::StoreError;

/// A stored finding with every column the agent sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFinding {
    /// Empty for findings about a client or user as a whole.
    pub server_id: String,
    pub finding_id: String,
    /// `muster.v1.Severity` as a number.
    pub severity: i32,
    pub owasp: String,
    pub message: String,
    pub client: String,
    pub user: String,
    pub server_ids: Vec<String>,
}

/// A webhook endpoint about to be stored.
#[derive(Clone, PartialEq, Eq)]
pub struct NewWebhook {
    pub id: String,
    pub url: String,
    /// The HMAC key shared with the receiver. Stored as given (encryption at rest is a later
    /// change); never logged: `Debug` redacts it.
    pub secret: String,
    pub min_severity: i32,
    pub created_at: i64,
}

/// A stored webhook endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub id: String,
    pub url: String,
    /// See [`NewWebhook::secret`].
    pub secret: String,
    pub min_severity: i32,
    pub enabled: bool,
    pub created_at: i64,
}

impl std::fmt::Debug for NewWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewWebhook")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("min_severity", &self.min_severity)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl std::fmt::Debug for WebhookRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRecord")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("min_severity", &self.min_severity)
            .field("enabled", &self.enabled)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// Outcome of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// The receiver answered 2xx.
    Delivered,
    /// This attempt failed; another is scheduled at `next_retry_at`.
    Retrying,
    /// This attempt failed and no other will be made.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "delivered" => Some(Self::Delivered),
            "retrying" => Some(Self::Retrying),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One attempt to deliver one event to one endpoint (a row of the delivery log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub endpoint_id: String,
    pub event_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub status: DeliveryStatus,
    /// The receiver's HTTP status, when it answered.
    pub response_code: Option<u16>,
    pub latency_ms: u64,
    /// Why the attempt failed (never the URL or a header value); empty when delivered.
    pub error: String,
    pub attempted_at: i64,
    pub next_retry_at: Option<i64>,
}

/// The storage of exports and webhooks. Every method is atomic.
#[async_trait::async_trait]
pub trait ExportStore: Send + Sync {
    /// The stored server messages of one agent, as last reported, ordered by server id.
    async fn server_details(&self, agent_id: &str) -> Result<Vec<McpServer>, StoreError>;
    /// Every stored finding of one agent (server findings and host-level ones), in a stable order.
    async fn agent_findings(&self, agent_id: &str) -> Result<Vec<StoredFinding>, StoreError>;

    async fn create_webhook(&self, webhook: &NewWebhook) -> Result<(), StoreError>;
    /// Every endpoint, enabled or not, ordered by creation.
    async fn list_webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError>;
    /// Deletes the endpoint and its delivery log; false when no endpoint has that id.
    async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError>;

    /// Makes `present` the set of announced finding keys of this agent and returns the keys that
    /// were not in it before (the new findings), in the order given. Keys no longer present are
    /// forgotten, so a finding that comes back is new again.
    async fn sync_notified_findings(
        &self,
        agent_id: &str,
        present: &[String],
        now: i64,
    ) -> Result<Vec<String>, StoreError>;

    async fn record_delivery(&self, attempt: &DeliveryAttempt) -> Result<(), StoreError>;
    /// The latest `limit` attempts for one endpoint, oldest first.
    async fn list_deliveries(&self, endpoint_id: &str, limit: u32) -> Result<Vec<DeliveryAttempt>, StoreError>;
}
