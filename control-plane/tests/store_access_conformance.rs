//! The access tables (users, sessions, API tokens, audit log) on SQLite and PostgreSQL: the same
//! cases against both backends. PostgreSQL cases fail when `MUSTER_TEST_POSTGRES_URL` is unset
//! unless `MUSTER_SKIP_POSTGRES=1`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use muster_control_plane::store::{
    AccountSource, AuditEntry, AuditOutcome, DynStore, NewApiToken, NewSession, RemoveUser, Role, UserRecord,
};

const NOW: i64 = 1_800_000_000;

use support::{conformance_suite, run_postgres, run_sqlite};

conformance_suite!(
    users_are_unique_and_sso_never_takes_over_local_accounts,
    sessions_join_the_current_role,
    api_tokens_by_hash,
    audit_log_pages_newest_first,
    a_password_reset_ends_sessions_and_the_last_admin_stays,
    a_targets_audit_history_is_its_own
);

fn local(name: &str, role: Role) -> UserRecord {
    UserRecord {
        username: name.into(),
        role,
        source: AccountSource::Local,
        password_hash: Some("$argon2id$stub".into()),
        created_at: NOW,
        disabled_at: None,
    }
}

async fn users_are_unique_and_sso_never_takes_over_local_accounts(store: DynStore) {
    assert!(store.create_user(&local("alice", Role::Admin)).await.unwrap());
    assert!(!store.create_user(&local("alice", Role::Viewer)).await.unwrap());
    assert_eq!(store.user("alice").await.unwrap().unwrap().role, Role::Admin);
    assert!(!store.upsert_oidc_user("alice", Role::Viewer, NOW).await.unwrap());
    assert_eq!(store.user("alice").await.unwrap().unwrap().source, AccountSource::Local);
    assert!(store.upsert_oidc_user("bob@corp", Role::Viewer, NOW).await.unwrap());
    assert!(store.upsert_oidc_user("bob@corp", Role::Analyst, NOW + 1).await.unwrap());
    let bob = store.user("bob@corp").await.unwrap().unwrap();
    assert_eq!((bob.role, bob.source, bob.password_hash), (Role::Analyst, AccountSource::Oidc, None));
    let names: Vec<String> = store.list_users().await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["alice", "bob@corp"]);
    assert!(store.user("nobody").await.unwrap().is_none());
}

async fn sessions_join_the_current_role(store: DynStore) {
    store.create_user(&local("carol", Role::Viewer)).await.unwrap();
    let session = NewSession {
        id_hash: "h1".into(),
        username: "carol".into(),
        created_at: NOW,
        expires_at: NOW + 3600,
        source_addr: "10.0.0.1".into(),
    };
    store.create_session(&session).await.unwrap();
    let record = store.session("h1").await.unwrap().unwrap();
    assert_eq!((record.role, record.last_seen_at, record.revoked_at), (Role::Viewer, NOW, None));
    store.touch_session("h1", NOW + 100).await.unwrap();
    store.touch_session("h1", NOW + 50).await.unwrap();
    assert_eq!(store.session("h1").await.unwrap().unwrap().last_seen_at, NOW + 100);
    assert!(store.revoke_session("h1", NOW + 200).await.unwrap());
    assert!(!store.revoke_session("h1", NOW + 300).await.unwrap());
    assert_eq!(store.session("h1").await.unwrap().unwrap().revoked_at, Some(NOW + 200));
    assert!(store.session("missing").await.unwrap().is_none());
}

async fn api_tokens_by_hash(store: DynStore) {
    let token = NewApiToken {
        id: "t1".into(),
        token_hash: "hash-1".into(),
        name: "ci".into(),
        role: Role::Analyst,
        created_by: "alice".into(),
        created_at: NOW,
        expires_at: NOW + 60,
    };
    store.create_api_token(&token).await.unwrap();
    let used = store.use_api_token("hash-1", NOW + 5).await.unwrap().unwrap();
    assert_eq!((used.id.as_str(), used.role, used.last_used_at), ("t1", Role::Analyst, Some(NOW + 5)));
    assert!(store.use_api_token("hash-2", NOW).await.unwrap().is_none());
    assert!(store.revoke_api_token("t1", NOW + 10).await.unwrap());
    assert!(!store.revoke_api_token("t1", NOW + 11).await.unwrap());
    let listed = store.list_api_tokens().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(NOW + 10));
}

async fn audit_log_pages_newest_first(store: DynStore) {
    for i in 0..5 {
        store
            .append_audit(&AuditEntry {
                at: NOW + i,
                actor: format!("user{i}"),
                action: "session.login".into(),
                target: String::new(),
                source_addr: "10.0.0.1".into(),
                outcome: if i % 2 == 0 { AuditOutcome::Success } else { AuditOutcome::Denied },
                detail: "d".into(),
            })
            .await
            .unwrap();
    }
    let first = store.list_audit(None, 2).await.unwrap();
    assert_eq!(first.iter().map(|r| r.entry.actor.as_str()).collect::<Vec<_>>(), ["user4", "user3"]);
    assert_eq!(first[1].entry.outcome, AuditOutcome::Denied);
    let rest = store.list_audit(Some(first[1].id), 10).await.unwrap();
    assert_eq!(rest.iter().map(|r| r.entry.actor.as_str()).collect::<Vec<_>>(), ["user2", "user1", "user0"]);
}

async fn a_password_reset_ends_sessions_and_the_last_admin_stays(store: DynStore) {
    store.create_user(&local("root", Role::Admin)).await.unwrap();
    store.create_user(&local("dave", Role::Viewer)).await.unwrap();
    store.upsert_oidc_user("sso@corp", Role::Admin, NOW).await.unwrap();
    let session = |id: &str, user: &str| NewSession {
        id_hash: id.into(),
        username: user.into(),
        created_at: NOW,
        expires_at: NOW + 3600,
        source_addr: "10.0.0.1".into(),
    };
    store.create_session(&session("d1", "dave")).await.unwrap();
    store.create_session(&session("r1", "root")).await.unwrap();

    assert!(store.set_password("dave", "$argon2id$new", NOW + 5).await.unwrap());
    assert_eq!(store.user("dave").await.unwrap().unwrap().password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(store.session("d1").await.unwrap().unwrap().revoked_at, Some(NOW + 5));
    assert_eq!(store.session("r1").await.unwrap().unwrap().revoked_at, None, "only dave's sessions end");
    assert!(!store.set_password("sso@corp", "$argon2id$x", NOW).await.unwrap(), "an SSO account has no password");
    assert!(!store.set_password("nobody", "$argon2id$x", NOW).await.unwrap());

    assert_eq!(store.remove_user("dave").await.unwrap(), RemoveUser::Removed);
    assert!(store.user("dave").await.unwrap().is_none());
    assert!(store.session("d1").await.unwrap().is_none());
    assert_eq!(store.remove_user("dave").await.unwrap(), RemoveUser::NotFound);
    // Two admins: one may go, the last may not.
    assert_eq!(store.remove_user("root").await.unwrap(), RemoveUser::Removed);
    assert_eq!(store.remove_user("sso@corp").await.unwrap(), RemoveUser::LastAdmin);
    assert!(store.user("sso@corp").await.unwrap().is_some());
}

async fn a_targets_audit_history_is_its_own(store: DynStore) {
    let entry = |action: &str, target: &str, at: i64| AuditEntry {
        at,
        actor: "ana".into(),
        action: action.into(),
        target: target.into(),
        source_addr: "10.0.0.2".into(),
        outcome: AuditOutcome::Success,
        detail: String::new(),
    };
    store.append_audit(&entry("finding.waive", "a/s/F", NOW)).await.unwrap();
    store.append_audit(&entry("finding.clear", "a/s/F", NOW + 1)).await.unwrap();
    store.append_audit(&entry("finding.waive", "a/s/F/x", NOW + 2)).await.unwrap();
    store.append_audit(&entry("agent.revoke", "a/s/F", NOW + 3)).await.unwrap();
    let history = store.audit_of_target("finding.", "a/s/F", 10).await.unwrap();
    let actions: Vec<&str> = history.iter().map(|r| r.entry.action.as_str()).collect();
    assert_eq!(actions, ["finding.clear", "finding.waive"]);
    assert_eq!(store.audit_of_target("finding.", "a/s/F", 1).await.unwrap().len(), 1);
}
