//! `muster-server user add` and `muster-server api-token create|list|revoke`, as the real binary.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use muster_control_plane::http::auth::{password, session};
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
async fn api_token_create_prints_the_token_once_and_stores_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let created = server(dir.path(), &["api-token", "create", "--role", "viewer", "--ttl", "2h"], "");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let token = String::from_utf8(created.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("mst_"), "{token}");
    let store = open(dir.path()).await;
    let record = store.use_api_token(&session::hash_secret(&token), 0).await.unwrap().unwrap();
    assert_eq!(record.role, Role::Viewer);
    let lifetime = record.expires_at - record.created_at;
    assert_eq!(lifetime, 7200);

    let listed = server(dir.path(), &["api-token", "list"], "");
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.contains(&record.id) && listed.contains("active") && !listed.contains(&token), "{listed}");
    let revoked = server(dir.path(), &["api-token", "revoke", &record.id], "");
    assert!(revoked.status.success());
    assert!(store.use_api_token(&session::hash_secret(&token), 0).await.unwrap().unwrap().revoked_at.is_some());
    let too_long = server(dir.path(), &["api-token", "create", "--role", "admin", "--ttl", "400d"], "");
    assert!(!too_long.status.success());
}
