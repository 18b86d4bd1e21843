//! The caller's exception requests: which of their servers they may ask about ([`requester`]),
//! and in their `LocalStatus`, of the endpoint's requests (as the control plane last pushed them,
//! `crate::exceptions`), those filed for one of the caller's own inventory users. Pure, tested
//! without a socket.

use muster_proto::local::v1 as local;
use muster_proto::v1::{AgentExceptionRequest, ExceptionRequestState};

use super::AgentView;
use super::caller::{Caller, owned_users};

/// A request as the local API shows it.
pub fn to_local(r: &AgentExceptionRequest) -> local::ExceptionRequest {
    let status = match ExceptionRequestState::try_from(r.state).unwrap_or_default() {
        ExceptionRequestState::Pending => local::ExceptionStatus::Pending,
        ExceptionRequestState::Approved => local::ExceptionStatus::Approved,
        ExceptionRequestState::Denied => local::ExceptionStatus::Denied,
        ExceptionRequestState::Unspecified => local::ExceptionStatus::Unspecified,
    };
    local::ExceptionRequest {
        id: r.id.clone(),
        server_id: r.server_id.clone(),
        rule_id: r.rule_ids.join(", "),
        reason: r.reason.clone(),
        status: status as i32,
        requested_at_unix: r.created_at_unix,
        decided_at_unix: r.decided_at_unix,
        answer: r.note.clone(),
        expires_at_unix: r.expires_at_unix,
    }
}

/// Longest reason the control plane keeps (its `exception_requests::MAX_TEXT`).
pub const MAX_REASON: usize = 500;

/// The OS user (inventory name) in whose name the caller may ask about `server_id`: a server of
/// theirs in the inventory, or one the policy decided about for one of their users (a blocked
/// server is gone from its configuration, so only the policy still knows it). None: not theirs.
pub fn requester(view: &AgentView, caller: &Caller, server_id: &str) -> Option<String> {
    let snapshot = view.snapshot.as_deref()?;
    let users = owned_users(snapshot, caller);
    let in_inventory = snapshot.servers.iter().find(|s| s.id == server_id && users.contains(&s.user));
    if let Some(server) = in_inventory {
        return Some(server.user.clone());
    }
    let policy = &view.policy;
    let about = |user: &String, id: &str| users.contains(user) && id == server_id;
    policy
        .quarantines
        .iter()
        .find(|(u, q)| about(u, &q.server_id))
        .map(|(u, _)| u)
        .or_else(|| policy.decisions.iter().find(|(u, d)| about(u, &d.server_id)).map(|(u, _)| u))
        .or_else(|| policy.pending.iter().find(|(u, p)| about(u, &p.server_id)).map(|(u, _)| u))
        .cloned()
}

/// The reason as sent: trimmed, required, at most [`MAX_REASON`] characters, no control
/// characters but line breaks flattened to spaces.
pub fn checked_reason(reason: &str) -> Result<String, String> {
    let reason: String =
        reason.trim().chars().map(|c| if c == '\n' || c == '\r' || c == '\t' { ' ' } else { c }).collect();
    if reason.is_empty() {
        return Err("say why you need the exception".into());
    }
    if reason.chars().count() > MAX_REASON {
        return Err(format!("the reason is longer than {MAX_REASON} characters"));
    }
    if reason.chars().any(char::is_control) {
        return Err("the reason has control characters".into());
    }
    Ok(reason)
}

/// Appends to `status.exception_requests` the requests of `all` filed for the caller's users.
pub fn add_to(status: &mut local::LocalStatus, all: &[AgentExceptionRequest], view: &AgentView, caller: &Caller) {
    let Some(snapshot) = view.snapshot.as_deref() else { return };
    let users = owned_users(snapshot, caller);
    status.exception_requests.extend(all.iter().filter(|r| users.contains(&r.user)).map(to_local));
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use muster_proto::v1::{InventorySnapshot, McpServer, OsUser};

    use super::*;
    use crate::policy::PolicyView;

    #[test]
    fn a_caller_sees_the_requests_filed_for_their_own_user_only() {
        let snapshot = InventorySnapshot {
            users: vec![
                OsUser { name: "alice".into(), uid: Some(1000), home: "/home/alice".into() },
                OsUser { name: "bob".into(), uid: Some(1001), home: "/home/bob".into() },
            ],
            ..Default::default()
        };
        let view = AgentView {
            revision: 1,
            snapshot: Some(Arc::new(snapshot)),
            connection: Default::default(),
            policy: Default::default(),
            places: Default::default(),
            pins: Default::default(),
        };
        let request = |id: &str, user: &str, state: ExceptionRequestState| AgentExceptionRequest {
            id: id.into(),
            user: user.into(),
            server_id: "s1".into(),
            rule_ids: vec!["no-sse".into()],
            state: state as i32,
            note: "use https".into(),
            ..Default::default()
        };
        let all = [
            request("r1", "alice", ExceptionRequestState::Denied),
            request("r2", "bob", ExceptionRequestState::Pending),
        ];
        let mut status = local::LocalStatus::default();
        add_to(&mut status, &all, &view, &Caller { uid: 1000, account: Some("alice".into()) });
        assert_eq!(status.exception_requests.len(), 1);
        let mine = &status.exception_requests[0];
        assert_eq!((mine.id.as_str(), mine.status), ("r1", local::ExceptionStatus::Denied as i32));
        assert_eq!((mine.rule_id.as_str(), mine.answer.as_str()), ("no-sse", "use https"));
        let mut nobody = local::LocalStatus::default();
        add_to(&mut nobody, &all, &view, &Caller { uid: 2000, account: Some("carol".into()) });
        assert!(nobody.exception_requests.is_empty());
    }

    #[test]
    fn a_caller_asks_about_their_own_servers_including_ones_the_policy_blocked() {
        let snapshot = InventorySnapshot {
            users: vec![
                OsUser { name: "alice".into(), uid: Some(1000), home: "/home/alice".into() },
                OsUser { name: "bob".into(), uid: Some(1001), home: "/home/bob".into() },
            ],
            servers: vec![
                McpServer { id: "a1".into(), user: "alice".into(), ..Default::default() },
                McpServer { id: "b1".into(), user: "bob".into(), ..Default::default() },
            ],
            ..Default::default()
        };
        // a2 was blocked by the policy: it is no longer in alice's configuration.
        let blocked =
            |id: &str| local::Quarantine { server_id: id.into(), rule_id: "no-sse".into(), ..Default::default() };
        let policy = PolicyView {
            version: 2,
            quarantines: vec![("alice".into(), blocked("a2")), ("bob".into(), blocked("b2"))],
            ..Default::default()
        };
        let view = AgentView {
            revision: 1,
            snapshot: Some(Arc::new(snapshot)),
            connection: Default::default(),
            policy: Arc::new(policy),
            places: Default::default(),
            pins: Default::default(),
        };
        let alice = Caller { uid: 1000, account: Some("alice".into()) };
        assert_eq!(requester(&view, &alice, "a1").as_deref(), Some("alice"));
        assert_eq!(requester(&view, &alice, "a2").as_deref(), Some("alice"), "a blocked server of hers");
        assert_eq!(requester(&view, &alice, "b1"), None, "bob's server");
        assert_eq!(requester(&view, &alice, "b2"), None, "bob's blocked server");
        assert_eq!(requester(&view, &alice, "zz"), None);
        let nobody = AgentView { snapshot: None, ..view };
        assert_eq!(requester(&nobody, &alice, "a1"), None, "before the first scan nothing is anyone's");
    }

    #[test]
    fn a_reason_is_the_developers_own_words_within_limits() {
        assert_eq!(checked_reason("  until Friday\nplease ").as_deref(), Ok("until Friday please"));
        assert!(checked_reason(" \n ").is_err());
        assert!(checked_reason(&"x".repeat(MAX_REASON + 1)).is_err());
        assert!(checked_reason(&"é".repeat(MAX_REASON)).is_ok(), "characters, not bytes");
        assert!(checked_reason("bell\u{7}").is_err());
    }
}
