//! Decisions on findings: the use-case an analyst's acknowledge, waive and clear go through, from
//! the findings page and `POST /api/v1/findings/decisions` alike. A waiver needs a reason and a
//! future expiry; an acknowledgement takes an optional reason and expiry; clearing needs a
//! decision to clear. It returns an [`AuditEvent`] and never sees HTTP; which findings a decision
//! hides is the read models' (`crate::store::read`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::AuditEvent;
use crate::error::ActionError;
use crate::store::Store;
use crate::store::read::{DecisionKind, FindingKey};

/// What an analyst does to a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionAction {
    Acknowledge,
    Waive,
    Clear,
}

impl DecisionAction {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "acknowledge" => Some(Self::Acknowledge),
            "waive" => Some(Self::Waive),
            "clear" => Some(Self::Clear),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledge => "acknowledge",
            Self::Waive => "waive",
            Self::Clear => "clear",
        }
    }

    /// The finding's state once the decision is stored: `acknowledged`, `waived` or `open`.
    pub fn resulting_state(self) -> &'static str {
        match self {
            Self::Acknowledge => "acknowledged",
            Self::Waive => "waived",
            Self::Clear => "open",
        }
    }
}

/// Longest reason kept with a decision.
pub const MAX_REASON: usize = 500;

/// The use-case: checks and records a decision on `key` by `who` at `now`; the audit event.
/// A refusal is audited by the caller with [`decision_audit`] and the error's message.
pub async fn decide(
    store: &dyn Store,
    who: &str,
    key: &FindingKey,
    action: DecisionAction,
    reason: &str,
    expires_at: Option<i64>,
    now: i64,
) -> Result<AuditEvent, ActionError> {
    let reason = reason.trim();
    if reason.chars().count() > MAX_REASON {
        return Err(ActionError::invalid(format!("reason: at most {MAX_REASON} characters")));
    }
    if key.agent_id.is_empty() || key.finding_id.is_empty() {
        return Err(ActionError::invalid("key: agent_id and finding_id are required"));
    }
    let stored = match action {
        DecisionAction::Clear => {
            if !store.clear_finding_decision(key, now).await? {
                return Err(ActionError::not_found("this finding has no decision to clear"));
            }
            true
        }
        DecisionAction::Acknowledge => {
            if expires_at.is_some_and(|at| at <= now) {
                return Err(ActionError::invalid("expires_at: must be in the future"));
            }
            store.decide_finding(key, DecisionKind::Acknowledged, reason, expires_at, who, now).await?
        }
        DecisionAction::Waive => {
            if reason.is_empty() {
                return Err(ActionError::invalid("reason: a waiver needs a reason"));
            }
            match expires_at {
                Some(at) if at > now => {}
                Some(_) => return Err(ActionError::invalid("expires_at: a waiver must expire in the future")),
                None => return Err(ActionError::invalid("expires_at: a waiver needs an expiry")),
            }
            store.decide_finding(key, DecisionKind::Waived, reason, expires_at, who, now).await?
        }
    };
    if !stored {
        return Err(ActionError::not_found("no such finding"));
    }
    let mut event = decision_audit(key, action);
    if !reason.is_empty() || expires_at.is_some() {
        let expiry = expires_at.map(|at| format!(", expires {}", crate::export::rfc3339(at))).unwrap_or_default();
        event = event.detail(&format!("reason {reason:?}{expiry}"));
    }
    Ok(event)
}

/// The audit event of a decision on `key` (callers add the refusal's message when it fails).
pub fn decision_audit(key: &FindingKey, action: DecisionAction) -> AuditEvent {
    let target = if key.subject.is_empty() {
        format!("{}/{}/{}", key.agent_id, key.server_id, key.finding_id)
    } else {
        format!("{}/{}/{}/{}", key.agent_id, key.server_id, key.finding_id, key.subject)
    };
    AuditEvent::new(&format!("finding.{}", action.as_str()), &target)
}
