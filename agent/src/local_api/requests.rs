//! The caller's exception requests in their `LocalStatus`: of the endpoint's requests (as the
//! control plane last listed them, `crate::exceptions`), those filed for one of the caller's own
//! inventory users. Pure, tested without a socket.

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

/// Appends to `status.exception_requests` the requests of `all` filed for the caller's users.
pub fn add_to(status: &mut local::LocalStatus, all: &[AgentExceptionRequest], view: &AgentView, caller: &Caller) {
    let Some(snapshot) = view.snapshot.as_deref() else { return };
    let users = owned_users(snapshot, caller);
    status.exception_requests.extend(all.iter().filter(|r| users.contains(&r.user)).map(to_local));
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use muster_proto::v1::{InventorySnapshot, OsUser};

    use super::*;

    #[test]
    fn a_caller_sees_the_requests_filed_for_their_own_user_only() {
        let snapshot = InventorySnapshot {
            users: vec![
                OsUser { name: "alice".into(), uid: Some(1000), home: "/home/alice".into() },
                OsUser { name: "bob".into(), uid: Some(1001), home: "/home/bob".into() },
            ],
            ..Default::default()
        };
        let view = AgentView { revision: 1, snapshot: Some(Arc::new(snapshot)), connection: Default::default() };
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
}
