//! `muster-server user add` and `muster-server api-token create|list|revoke`, as the real binary.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use muster_control_plane::access::{password, sessions};
use muster_control_plane::store::Role;

fn server(data_dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_muster-server"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("MUSTER_CONFIG")
        .env_remove("MUSTER_DATABASE_URL")
        .env_remove("MUSTER_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that refuses before reading its input (an existing user, say) may have exited
    // already: a broken pipe then is not the test's concern, its status and stderr are.
    if let Err(error) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "writing the child's stdin: {error}");
    }
    child.wait_with_output().unwrap()
}

async fn open(data_dir: &std::path::Path) -> muster_control_plane::store::DynStore {
    muster_control_plane::store::open(&format!("sqlite://{}", data_dir.join("muster.db").display())).await.unwrap()
}

#[tokio::test]
async fn user_add_reads_the_password_from_stdin_and_refuses_weak_ones() {
    let dir = tempfile::tempdir().unwrap();
    let added = server(dir.path(), &["user", "add", "bob", "--role", "analyst"], "a long enough password\n");
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let store = open(dir.path()).await;
    let bob = store.user("bob").await.unwrap().unwrap();
    assert_eq!(bob.role, Role::Analyst);
    assert!(password::verify_password("a long enough password", bob.password_hash.as_deref().unwrap()));
    assert!(
        store
            .list_audit(None, 10)
            .await
            .unwrap()
            .iter()
            .any(|r| r.entry.action == "user.create" && r.entry.actor == "cli")
    );

    for (name, input) in [("empty", "\n"), ("short", "short\n")] {
        let refused = server(dir.path(), &["user", "add", name, "--role", "viewer"], input);
        assert!(!refused.status.success(), "{name}");
        assert!(String::from_utf8_lossy(&refused.stderr).contains("password"), "{name}");
        assert!(store.user(name).await.unwrap().is_none());
    }
    let duplicate = server(dir.path(), &["user", "add", "bob", "--role", "admin"], "another long password\n");
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));
    let bad_role = server(dir.path(), &["user", "add", "eve", "--role", "root"], "a long enough password\n");
    assert!(!bad_role.status.success());
}

#[tokio::test]
async fn user_passwd_and_remove_are_audited_and_never_remove_the_last_admin() {
    let dir = tempfile::tempdir().unwrap();
    for (name, role) in [("root", "admin"), ("bob", "viewer")] {
        let added = server(dir.path(), &["user", "add", name, "--role", role], "a long enough password\n");
        assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    }
    let store = open(dir.path()).await;

    let changed = server(dir.path(), &["user", "passwd", "bob"], "a brand new password\n");
    assert!(changed.status.success(), "{}", String::from_utf8_lossy(&changed.stderr));
    let bob = store.user("bob").await.unwrap().unwrap();
    assert!(password::verify_password("a brand new password", bob.password_hash.as_deref().unwrap()));
    assert!(!password::verify_password("a long enough password", bob.password_hash.as_deref().unwrap()));
    let weak = server(dir.path(), &["user", "passwd", "bob"], "short\n");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"));
    let unknown = server(dir.path(), &["user", "passwd", "nobody"], "a brand new password\n");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user nobody"));

    let removed = server(dir.path(), &["user", "remove", "bob"], "");
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    assert!(store.user("bob").await.unwrap().is_none());
    let last = server(dir.path(), &["user", "remove", "root"], "");
    assert!(!last.status.success());
    let stderr = String::from_utf8_lossy(&last.stderr);
    assert!(stderr.contains("last admin"), "{stderr}");
    assert!(store.user("root").await.unwrap().is_some());

    let passwd = audit_rows(&store, "user.passwd").await;
    let outcomes: Vec<&str> = passwd.iter().map(|(_, _, outcome, _)| outcome.as_str()).collect();
    assert_eq!(outcomes, ["success", "failure", "failure"], "{passwd:?}");
    assert!(passwd.iter().all(|(actor, _, _, detail)| actor == "cli" && !detail.contains("brand new")));
    let remove = audit_rows(&store, "user.remove").await;
    let remove: Vec<(&str, &str)> =
        remove.iter().map(|(_, target, outcome, _)| (target.as_str(), outcome.as_str())).collect();
    assert_eq!(remove, [("bob", "success"), ("root", "failure")]);
}

#[tokio::test]
async fn api_token_create_prints_the_token_once_and_stores_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let created = server(dir.path(), &["api-token", "create", "--role", "viewer", "--ttl", "2h"], "");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let token = String::from_utf8(created.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("mst_"), "{token}");
    let store = open(dir.path()).await;
    let record = store.use_api_token(&sessions::hash_secret(&token), 0).await.unwrap().unwrap();
    assert_eq!(record.role, Role::Viewer);
    let lifetime = record.expires_at - record.created_at;
    assert_eq!(lifetime, 7200);

    let listed = server(dir.path(), &["api-token", "list"], "");
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.contains(&record.id) && listed.contains("active") && !listed.contains(&token), "{listed}");
    let revoked = server(dir.path(), &["api-token", "revoke", &record.id], "");
    assert!(revoked.status.success());
    assert!(store.use_api_token(&sessions::hash_secret(&token), 0).await.unwrap().unwrap().revoked_at.is_some());
    let too_long = server(dir.path(), &["api-token", "create", "--role", "admin", "--ttl", "400d"], "");
    assert!(!too_long.status.success());
}

/// The audit rows of `action`, oldest first, as (actor, target, outcome, detail).
async fn audit_rows(
    store: &muster_control_plane::store::DynStore,
    action: &str,
) -> Vec<(String, String, String, String)> {
    let mut rows: Vec<_> = store
        .list_audit(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.action == action)
        .map(|r| (r.entry.actor, r.entry.target, r.entry.outcome.as_str().to_string(), r.entry.detail))
        .collect();
    rows.reverse();
    rows
}

/// Regression: `api-token create` skipped the name rule the API applies (1 to 100 characters).
#[tokio::test]
async fn api_token_create_from_the_cli_follows_the_api_name_rule() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(101);
    for name in ["", "   ", long.as_str()] {
        let refused =
            server(dir.path(), &["api-token", "create", "--role", "viewer", "--ttl", "2h", "--name", name], "");
        assert!(!refused.status.success(), "name {name:?} was accepted");
        assert!(String::from_utf8_lossy(&refused.stderr).contains("name: 1 to 100 characters"), "{name:?}");
        assert!(refused.stdout.is_empty(), "no token printed for {name:?}");
    }
    let store = open(dir.path()).await;
    assert!(store.list_api_tokens().await.unwrap().is_empty(), "a refused token was stored");
    let refusals = audit_rows(&store, "api_token.create").await;
    assert_eq!(refusals.len(), 3, "{refusals:?}");
    assert!(refusals.iter().all(|(actor, _, outcome, _)| actor == "cli" && outcome == "failure"), "{refusals:?}");

    let created =
        server(dir.path(), &["api-token", "create", "--role", "viewer", "--ttl", "2h", "--name", "  siem  "], "");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let tokens = store.list_api_tokens().await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].name, "siem", "the name is stored trimmed, as through the API");
    let rows = audit_rows(&store, "api_token.create").await;
    assert_eq!(rows.last().map(|r| (r.1.as_str(), r.2.as_str())), Some((tokens[0].id.as_str(), "success")));
}

/// Regression: `agents revoke` from the CLI wrote no audit row while the HTTP path did.
#[tokio::test]
async fn agents_revoke_from_the_cli_is_audited() {
    use muster_control_plane::enroll::{create_token, hash_token};
    use muster_control_plane::store::{AgentStatus, NewAgent};

    let dir = tempfile::tempdir().unwrap();
    // Creates the database (and nothing else) the way any command does.
    assert!(server(dir.path(), &["agents", "list"], "").status.success());
    let store = open(dir.path()).await;
    let token = create_token(store.as_ref(), 1, std::time::Duration::from_secs(3600), 1_000).await.unwrap();
    let agent = NewAgent {
        id: "agent-1".into(),
        hostname: "laptop".into(),
        cert_serial: "01".into(),
        cert_not_after: i64::MAX / 2,
        agent_version: "1.0.0".into(),
        enrolled_at: 1_000,
    };
    store.enroll_agent(&hash_token(&token.token), 1_000, &agent).await.unwrap();

    let revoked = server(dir.path(), &["agents", "revoke", "agent-1"], "");
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    assert_eq!(store.agent("agent-1").await.unwrap().unwrap().status, AgentStatus::Revoked);
    let rows = audit_rows(&store, "agent.revoke").await;
    assert_eq!(rows, vec![("cli".into(), "agent-1".into(), "success".into(), String::new())]);

    let again = server(dir.path(), &["agents", "revoke", "agent-1"], "");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no active agent"));
    let rows = audit_rows(&store, "agent.revoke").await;
    assert_eq!(rows.last().map(|r| r.2.as_str()), Some("failure"), "{rows:?}");
}

/// Regression: `token create|revoke` wrote no audit row and took any lifetime and use count,
/// while the API and the agents page refuse more than 90 days or 100,000 uses.
#[tokio::test]
async fn enrollment_tokens_from_the_cli_follow_the_api_limits_and_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["token", "create", "--ttl", "91d"][..], &["token", "create", "--uses", "100001"][..]] {
        let refused = server(dir.path(), args, "");
        assert!(!refused.status.success(), "{args:?} was accepted");
        assert!(refused.stdout.is_empty(), "{args:?}");
    }
    let store = open(dir.path()).await;
    assert!(store.list_tokens().await.unwrap().is_empty(), "a refused token was stored");

    let created = server(dir.path(), &["token", "create", "--ttl", "2h", "--uses", "3"], "");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let tokens = store.list_tokens().await.unwrap();
    assert_eq!(tokens.len(), 1);
    let id = tokens[0].id.clone();
    let rows = audit_rows(&store, "enrollment_token.create").await;
    let success: Vec<_> = rows.iter().filter(|r| r.2 == "success").collect();
    assert_eq!(success.len(), 1, "{rows:?}");
    assert_eq!((success[0].0.as_str(), success[0].1.as_str()), ("cli", id.as_str()));
    assert!(success[0].3.starts_with("max uses 3, expires "), "{rows:?}");
    let token = String::from_utf8(created.stdout).unwrap();
    assert!(rows.iter().all(|r| !r.3.contains(token.trim())), "the token is never audited");

    assert!(server(dir.path(), &["token", "revoke", &id], "").status.success());
    let rows = audit_rows(&store, "enrollment_token.revoke").await;
    assert_eq!(rows, vec![("cli".into(), id, "success".into(), String::new())]);
}
