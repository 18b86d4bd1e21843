//! The access tables (users, sessions, API tokens, audit log) on SQLite and PostgreSQL: the same
//! cases against both backends. PostgreSQL cases fail when `MUSTER_TEST_POSTGRES_URL` is unset
//! unless `MUSTER_SKIP_POSTGRES=1`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use muster_control_plane::store::{
    AccountSource, AuditEntry, AuditOutcome, DynStore, NewApiToken, NewSession, Role, UserRecord,
};

const NOW: i64 = 1_800_000_000;

use support::{conformance_suite, run_postgres, run_sqlite};

conformance_suite!(
    users_are_unique_and_sso_never_takes_over_local_accounts,
    sessions_join_the_current_role,
    api_tokens_by_hash,
    audit_log_pages_newest_first
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
