//! The audit event an admin action returns, and the one function that writes audit rows.
//!
//! Use-cases (`access`, `agents`, `enroll::admin`, `findings`, `webhook::admin`) return what they
//! did as an [`AuditEvent`] beside their result; they never write it. The caller adds who, from
//! where and how it ended: the HTTP listener's audit middleware (`crate::http::audit`) for
//! requests, [`record`] with the actor `cli` and the source `local` for `muster-server` commands.

use crate::store::{AuditEntry, AuditOutcome, Store};

/// What an action tells the audit log: its name, its target and a detail line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEvent {
    pub action: String,
    pub target: String,
    /// Overrides the actor when no principal exists yet (a login names the account it tried).
    pub actor: Option<String>,
    pub detail: String,
}

impl AuditEvent {
    pub fn new(action: &str, target: &str) -> Self {
        Self { action: action.to_string(), target: target.to_string(), ..Self::default() }
    }

    pub fn actor(mut self, actor: &str) -> Self {
        self.actor = Some(actor.to_string());
        self
    }

    pub fn detail(mut self, detail: &str) -> Self {
        self.detail = detail.to_string();
        self
    }

    /// The row for this event done by `actor` (unless the event names its own) from `source_addr`.
    pub fn entry(self, actor: &str, source_addr: &str, outcome: AuditOutcome, at: i64) -> AuditEntry {
        AuditEntry {
            at,
            actor: self.actor.unwrap_or_else(|| actor.to_string()),
            action: self.action,
            target: self.target,
            source_addr: source_addr.to_string(),
            outcome,
            detail: self.detail,
        }
    }
}

/// Appends `entry`; a failure is logged (with the entry) rather than failing the action.
pub async fn record(store: &dyn Store, entry: &AuditEntry) {
    if let Err(error) = store.append_audit(entry).await {
        tracing::error!(
            error = %error,
            actor = %entry.actor,
            action = %entry.action,
            target = %entry.target,
            outcome = entry.outcome.as_str(),
            "cannot write audit entry"
        );
    }
}
