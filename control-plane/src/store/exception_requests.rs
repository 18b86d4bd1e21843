//! The storage of policy exception requests, one supertrait of [`super::Store`] implemented by
//! both backends from the same portable SQL (`exception_requests_sql.rs`). Rows only: what a
//! request may say, who decides it and what an approval publishes are the use-cases'
//! (`crate::exception_requests`).

use super::StoreError;
use super::read::Page;

/// A request's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RequestState {
    Pending,
    Approved,
    Denied,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// A stored exception request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionRequestRecord {
    pub id: String,
    pub requested_by: String,
    pub created_at: i64,
    /// Rule ids, or `["*"]`.
    pub rules: Vec<String>,
    /// The endpoint (agent id), server id and OS user it would cover; empty means any.
    pub agent_id: String,
    pub server_id: String,
    pub user: String,
    pub reason: String,
    pub state: RequestState,
    pub decided_by: String,
    pub decided_at: Option<i64>,
    pub note: String,
    pub expires_at: Option<i64>,
    pub policy_version: Option<u64>,
}

/// A decision to store on a pending request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestDecision {
    pub state: RequestState,
    pub decided_by: String,
    pub decided_at: i64,
    pub note: String,
    pub expires_at: Option<i64>,
    pub policy_version: Option<u64>,
}

/// Which requests a page of the analysts' queue shows. The order is fixed: waiting requests
/// first, longest waiting first; then decided ones, most recently decided first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestQuery {
    /// Only requests in this state (all when None).
    pub state: Option<RequestState>,
    /// Only requests covering exactly this endpoint (agent id).
    pub agent_id: Option<String>,
    /// Hostname substring of the covered endpoint, case-insensitive.
    pub host: Option<String>,
    /// Substring, case-insensitive, of the reason, note, user, server (id or name), client,
    /// rules, requester, decider or id.
    pub text: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (0: the default page).
    pub limit: u32,
}

/// A request as the queue shows it: with the covered endpoint's hostname and the server's name
/// and client where the inventory knows them (empty otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    pub request: ExceptionRequestRecord,
    pub hostname: String,
    pub server_name: String,
    pub client: String,
}

/// The storage of exception requests. Every method is atomic.
#[async_trait::async_trait]
pub trait ExceptionRequestStore: Send + Sync {
    async fn insert_exception_request(&self, request: &ExceptionRequestRecord) -> Result<(), StoreError>;
    async fn exception_request(&self, id: &str) -> Result<Option<ExceptionRequestRecord>, StoreError>;
    /// Requests in `state` (all when None), newest first, at most `limit`.
    async fn exception_requests(
        &self,
        state: Option<RequestState>,
        limit: u32,
    ) -> Result<Vec<ExceptionRequestRecord>, StoreError>;
    /// The requests covering endpoint `agent_id`, newest first, at most `limit`.
    async fn exception_requests_of_agent(
        &self,
        agent_id: &str,
        limit: u32,
    ) -> Result<Vec<ExceptionRequestRecord>, StoreError>;
    /// A page of the queue, in [`RequestQuery`]'s order.
    async fn exception_request_page(&self, query: &RequestQuery) -> Result<Page<RequestRow>, StoreError>;
    /// Request `id` with its endpoint's and server's names.
    async fn exception_request_row(&self, id: &str) -> Result<Option<RequestRow>, StoreError>;
    /// How many requests are in `state`, of endpoint `agent_id` only when given.
    async fn count_exception_requests(&self, state: RequestState, agent_id: Option<&str>) -> Result<u64, StoreError>;
    /// Stores the decision on request `id` if it is still pending; false when it is not (or
    /// does not exist), so two deciders never both win.
    async fn decide_exception_request(&self, id: &str, decision: &RequestDecision) -> Result<bool, StoreError>;
}
