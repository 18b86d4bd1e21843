//! Policy exception requests: a developer asks for rules to be lifted for a server, an endpoint
//! or an OS user, giving a reason (through `/api/v1/exception-requests`, or from the tray through
//! the developer's agent and the `Exceptions` gRPC service); analysts list them; an admin
//! approves one with an expiry, which publishes it as an `[[exception]]` of a new policy version
//! through [`crate::policies::publish`] (so it is signed, pushed and audited like any version),
//! or denies it with a note. Filing and deciding tell the [`PolicyListener`] which endpoint's
//! requests changed, so the agent there hears of it at once.
//!
//! Use-cases return an [`AuditEvent`] and never see HTTP. Only a pending request can be
//! decided, once; the rule ids a request names must be rules of the current policy (or `*`).

use crate::audit::AuditEvent;
use crate::error::ActionError;
use crate::policies::{self, PolicyListener};
use crate::store::Store;
use crate::store::exception_requests::{
    ExceptionRequestRecord, RequestDecision, RequestQuery, RequestRow, RequestState,
};
use crate::store::read::Page;

/// Longest reason or note kept.
pub const MAX_TEXT: usize = 500;

/// The expiries the dashboard's approve form offers, in days from now.
pub const EXPIRY_PRESETS: [u32; 3] = [7, 30, 90];
/// The furthest expiry the dashboard's approve form accepts, in days from now.
pub const MAX_EXPIRY_DAYS: i64 = 365;
const DAY: i64 = 86_400;

/// What a requester asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRequest {
    /// Rule ids of the current policy, or `["*"]`.
    pub rules: Vec<String>,
    /// The endpoint (agent id), server id and OS user to cover; empty means any, but at least
    /// one must be given.
    pub agent_id: String,
    pub server_id: String,
    pub user: String,
    pub reason: String,
}

fn checked_text<'a>(field: &str, text: &'a str, required: bool) -> Result<&'a str, ActionError> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(ActionError::invalid(format!("{field}: required")));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(ActionError::invalid(format!("{field}: at most {MAX_TEXT} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(ActionError::invalid(format!("{field}: no control characters")));
    }
    Ok(text)
}

/// Ids and names go into the policy file: letters, digits and `.-_:@` only.
fn checked_word<'a>(field: &str, text: &'a str) -> Result<&'a str, ActionError> {
    let text = text.trim();
    if text.len() > 128 || !text.chars().all(|c| c.is_ascii_alphanumeric() || "._-:@".contains(c)) {
        return Err(ActionError::invalid(format!("{field}: letters, digits and . _ - : @ only (at most 128)")));
    }
    Ok(text)
}

/// The use-case: records a pending request by `who`.
pub async fn create(
    store: &dyn Store,
    listener: &dyn PolicyListener,
    who: &str,
    request: &NewRequest,
    now: i64,
) -> Result<(ExceptionRequestRecord, AuditEvent), ActionError> {
    let reason = checked_text("reason", &request.reason, true)?;
    let agent_id = checked_word("agent_id", &request.agent_id)?;
    let server_id = checked_word("server_id", &request.server_id)?;
    let user = checked_word("user", &request.user)?;
    if agent_id.is_empty() && server_id.is_empty() && user.is_empty() {
        return Err(ActionError::invalid("name an agent_id, a server_id or a user to cover"));
    }
    let Some(current) = policies::current(store).await? else {
        return Err(ActionError::invalid("no policy is published: there is nothing to lift"));
    };
    let bundle = muster_policy::parse(&current.source_text).map_err(ActionError::internal)?;
    let mut rules: Vec<String> = request.rules.iter().map(|r| r.trim().to_string()).collect();
    rules.sort();
    rules.dedup();
    if rules.is_empty() {
        return Err(ActionError::invalid("rules: name at least one rule id, or \"*\""));
    }
    for rule in &rules {
        if rule != "*" && !bundle.rule_ids().any(|id| id == rule) {
            return Err(ActionError::invalid(format!("rules: {rule:?} is not a rule of policy v{}", current.version)));
        }
    }
    let record = ExceptionRequestRecord {
        id: new_id()?,
        requested_by: who.to_string(),
        created_at: now,
        rules,
        agent_id: agent_id.to_string(),
        server_id: server_id.to_string(),
        user: user.to_string(),
        reason: reason.to_string(),
        state: RequestState::Pending,
        decided_by: String::new(),
        decided_at: None,
        note: String::new(),
        expires_at: None,
        policy_version: None,
    };
    store.insert_exception_request(&record).await?;
    if !record.agent_id.is_empty() {
        listener.exception_request_changed(&record.agent_id);
    }
    let event = AuditEvent::new("exception_request.create", &format!("exception-request/{}", record.id))
        .detail(&format!("rules {}, reason {:?}", record.rules.join(","), record.reason));
    Ok((record, event))
}

fn new_id() -> Result<String, ActionError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| ActionError::internal(std::io::Error::other(e.to_string())))?;
    Ok(hex::encode(bytes))
}

async fn pending(store: &dyn Store, id: &str) -> Result<ExceptionRequestRecord, ActionError> {
    let Some(request) = store.exception_request(id).await? else {
        return Err(ActionError::not_found(format!("no exception request {id}")));
    };
    if request.state != RequestState::Pending {
        return Err(ActionError::invalid(format!("exception request {id} is already {}", request.state.as_str())));
    }
    Ok(request)
}

/// The `[[exception]]` an approval appends to the current policy text.
pub fn exception_block(request: &ExceptionRequestRecord, approver: &str, expires_at: i64) -> String {
    let s = |text: &str| toml::Value::String(text.to_string()).to_string();
    let rules: Vec<String> = request.rules.iter().map(|r| s(r)).collect();
    let mut block =
        format!("\n[[exception]]\nid = {}\nrules = [{}]\n", s(&format!("request-{}", request.id)), rules.join(", "));
    if !request.server_id.is_empty() {
        block.push_str(&format!("server_id = {}\n", s(&request.server_id)));
    }
    if !request.agent_id.is_empty() {
        block.push_str(&format!("endpoint = {}\n", s(&request.agent_id)));
    }
    if !request.user.is_empty() {
        block.push_str(&format!("user = {}\n", s(&request.user)));
    }
    block.push_str(&format!(
        "reason = {}\napprover = {}\nexpires = {}\n",
        s(&request.reason),
        s(approver),
        crate::timefmt::rfc3339(expires_at)
    ));
    block
}

/// The use-case: approves pending request `id` until `expires_at` by publishing the current
/// policy with the request's exception appended; the new version number and the audit event.
pub async fn approve(
    store: &dyn Store,
    listener: &dyn PolicyListener,
    id: &str,
    who: &str,
    expires_at: i64,
    note: &str,
    now: i64,
) -> Result<(u64, AuditEvent), ActionError> {
    let note = checked_text("note", note, false)?;
    if expires_at <= now {
        return Err(ActionError::invalid("expires_at: must be in the future"));
    }
    let request = pending(store, id).await?;
    let Some(current) = policies::current(store).await? else {
        return Err(ActionError::invalid("no policy is published"));
    };
    let mut text = current.source_text.clone();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&exception_block(&request, who, expires_at));
    let reason = format!("exception request {id} approved{}{note}", if note.is_empty() { "" } else { ": " });
    let (version, _) = policies::publish(store, listener, &text, who, &reason, now).await?;
    let decision = RequestDecision {
        state: RequestState::Approved,
        decided_by: who.to_string(),
        decided_at: now,
        note: note.to_string(),
        expires_at: Some(expires_at),
        policy_version: Some(version.version),
    };
    if !store.decide_exception_request(id, &decision).await? {
        // Decided by someone else meanwhile: the published version stands (it only lifts what
        // was asked for, until its expiry), and the audit event says so.
        return Err(ActionError::invalid(format!("exception request {id} was decided meanwhile")));
    }
    if !request.agent_id.is_empty() {
        listener.exception_request_changed(&request.agent_id);
    }
    let event = AuditEvent::new("exception_request.approve", &format!("exception-request/{id}")).detail(&format!(
        "published as policy v{}, expires {}",
        version.version,
        crate::timefmt::rfc3339(expires_at)
    ));
    Ok((version.version, event))
}

/// The use-case: denies pending request `id` with a note.
pub async fn deny(
    store: &dyn Store,
    listener: &dyn PolicyListener,
    id: &str,
    who: &str,
    note: &str,
    now: i64,
) -> Result<AuditEvent, ActionError> {
    let note = checked_text("note", note, false)?;
    let request = pending(store, id).await?;
    let decision = RequestDecision {
        state: RequestState::Denied,
        decided_by: who.to_string(),
        decided_at: now,
        note: note.to_string(),
        expires_at: None,
        policy_version: None,
    };
    if !store.decide_exception_request(id, &decision).await? {
        return Err(ActionError::invalid(format!("exception request {id} was decided meanwhile")));
    }
    if !request.agent_id.is_empty() {
        listener.exception_request_changed(&request.agent_id);
    }
    Ok(AuditEvent::new("exception_request.deny", &format!("exception-request/{id}")).detail(note))
}

/// Requests in `state` (all when None), newest first.
pub async fn list(
    store: &dyn Store,
    state: Option<RequestState>,
    limit: u32,
) -> Result<Vec<ExceptionRequestRecord>, ActionError> {
    Ok(store.exception_requests(state, limit).await?)
}

/// The requests covering endpoint `agent_id` (what its agent may see), newest first.
pub async fn list_for_agent(
    store: &dyn Store,
    agent_id: &str,
    limit: u32,
) -> Result<Vec<ExceptionRequestRecord>, ActionError> {
    Ok(store.exception_requests_of_agent(agent_id, limit).await?)
}

/// The analysts' queue: one page of requests, waiting ones first (longest waiting first), then
/// decided ones (most recently decided first), with the names of what they cover.
pub async fn queue(store: &dyn Store, query: &RequestQuery) -> Result<Page<RequestRow>, ActionError> {
    Ok(store.exception_request_page(query).await?)
}

/// One request with the names of what it covers.
pub async fn detail(store: &dyn Store, id: &str) -> Result<RequestRow, ActionError> {
    store.exception_request_row(id).await?.ok_or_else(|| ActionError::not_found(format!("no exception request {id}")))
}

/// How many requests wait for a decision (of endpoint `agent_id` only, when given).
pub async fn waiting(store: &dyn Store, agent_id: Option<&str>) -> Result<u64, ActionError> {
    Ok(store.count_exception_requests(RequestState::Pending, agent_id).await?)
}

/// The expiry an approval form chose: `choice` is a number of days of [`EXPIRY_PRESETS`], or
/// `date` with `date` a `YYYY-MM-DD` day the exception holds through (UTC). Bounded: after `now`
/// and at most [`MAX_EXPIRY_DAYS`] away, so nobody approves "forever" by a typo.
pub fn chosen_expiry(choice: &str, date: &str, now: i64) -> Result<i64, ActionError> {
    let at = match choice.trim() {
        "date" => crate::timefmt::end_of_day(date)
            .ok_or_else(|| ActionError::invalid("expiry: expected a date (YYYY-MM-DD)"))?,
        days => match days.parse::<u32>() {
            Ok(days) if EXPIRY_PRESETS.contains(&days) => now + i64::from(days) * DAY,
            _ => return Err(ActionError::invalid("expiry: choose 7, 30 or 90 days, or a date")),
        },
    };
    if at <= now {
        return Err(ActionError::invalid("expiry: must be in the future"));
    }
    if at > now + MAX_EXPIRY_DAYS * DAY + DAY {
        return Err(ActionError::invalid(format!("expiry: at most {MAX_EXPIRY_DAYS} days from today")));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn an_expiry_is_a_preset_or_a_date_within_a_year() {
        assert_eq!(chosen_expiry("30", "", NOW).unwrap(), NOW + 30 * DAY);
        assert_eq!(chosen_expiry("7", "2099-01-01", NOW).unwrap(), NOW + 7 * DAY, "the date is ignored for a preset");
        let tomorrow = crate::timefmt::iso_date(NOW + DAY);
        assert_eq!(chosen_expiry("date", &tomorrow, NOW).unwrap(), crate::timefmt::end_of_day(&tomorrow).unwrap());
        let in_a_year = crate::timefmt::iso_date(NOW + MAX_EXPIRY_DAYS * DAY);
        assert!(chosen_expiry("date", &in_a_year, NOW).is_ok());
        for (choice, date) in [
            ("date", "2020-01-01"),
            ("date", &crate::timefmt::iso_date(NOW + (MAX_EXPIRY_DAYS + 2) * DAY)),
            ("date", "soon"),
            ("date", ""),
            ("31", ""),
            ("", ""),
            ("-7", ""),
        ] {
            assert!(chosen_expiry(choice, date, NOW).is_err(), "{choice} {date}");
        }
    }
}
