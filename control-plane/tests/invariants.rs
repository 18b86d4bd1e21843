//! Structural invariants of the crate, enforced rather than only written down.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// Only `src/store` speaks SQL: no other module names sqlx.
#[test]
fn only_the_store_module_uses_sqlx() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 10, "found the sources");
    let offenders: Vec<String> = files
        .iter()
        .filter(|path| !path.starts_with(src.join("store")))
        .filter(|path| std::fs::read_to_string(path).unwrap().contains("sqlx"))
        .map(|path| path.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "sqlx used outside src/store: {offenders:?}");
}

/// Every source file opens with a `//!` paragraph saying what it is for.
#[test]
fn every_source_file_has_a_module_doc() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let missing: Vec<String> = files
        .iter()
        .filter(|path| !std::fs::read_to_string(path).unwrap().starts_with("//!"))
        .map(|path| path.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a //! paragraph: {missing:?}");
}

/// What a report rewrites is decided in `ingest/` without the store: `ingest/` names neither
/// the store module nor sqlx, so the plan stays a pure function the store only executes.
#[test]
fn ingest_decides_without_the_store() {
    let ingest = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ingest");
    let mut files = Vec::new();
    rust_files(&ingest, &mut files);
    assert!(files.iter().any(|path| path.ends_with("plan.rs")), "found the ingest plan");
    let offenders: Vec<String> = files
        .iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            text.contains("crate::store") || text.contains("sqlx")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "ingest depends on the store: {offenders:?}");
}

/// The PostgreSQL helpers that create and drop databases exist only in test builds: their SQL is
/// in one file, and that file is compiled only with the `testing` feature.
#[test]
fn database_admin_helpers_are_test_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let holders: Vec<PathBuf> = files
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            text.contains("DROP DATABASE") || text.contains("CREATE DATABASE")
        })
        .collect();
    assert_eq!(holders, [src.join("store/postgres_testing.rs")], "database admin SQL outside the test-only file");
    let store_mod = std::fs::read_to_string(src.join("store/mod.rs")).unwrap();
    assert!(
        store_mod.contains("#[cfg(feature = \"testing\")]\nmod postgres_testing;"),
        "store/postgres_testing.rs must be declared under cfg(feature = \"testing\")"
    );
}

/// Verbs that name a store method which writes. A store method whose name starts with none of
/// them is taken for a read (`list_users`, `findings`, `session`).
const WRITE_VERBS: &[&str] = &[
    "add_",
    "append_",
    "apply_",
    "backfill_",
    "clear_",
    "confirm_",
    "create_",
    "decide_",
    "delete_",
    "disable_",
    "enroll_",
    "heartbeat",
    "ingest",
    "insert_",
    "mark_",
    "purge_",
    "record_",
    "refresh_",
    "remove_",
    "renew_",
    "revoke_",
    "set_",
    "sync_",
    "touch_",
    "update_",
    "upsert_",
    "use_",
    "write_",
];

/// The names of every `async fn ...(&self` under `dir` (the store traits and their backends).
fn store_methods(dir: &Path) -> std::collections::BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    let mut names = std::collections::BTreeSet::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for (at, _) in text.match_indices("async fn ") {
            let rest = &text[at + "async fn ".len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let after = rest[name.len()..].trim_start();
            let after = after.strip_prefix('(').map(str::trim_start);
            if after.is_some_and(|args| args.starts_with("&self")) {
                names.insert(name);
            }
        }
    }
    names
}

/// Calls `.NAME(` (whitespace allowed around the dot and before the parenthesis) in `text`.
fn calls(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].trim_end();
        let after = text[at + name.len()..].trim_start();
        let whole = !text[at + name.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        before.ends_with('.') && after.starts_with('(') && whole
    })
}

/// HTTP and CLI write only through use-cases: no handler under `src/http` and no command in
/// `src/main.rs` calls a store method that writes (nor `ControlPlane::create_token` /
/// `revoke_agent`, the unaudited shortcuts for tests). They call `access`, `agents`,
/// `enroll::admin`, `findings` or `webhook::admin`, which return the audit event.
#[test]
fn http_and_cli_write_only_through_use_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let methods = store_methods(&root.join("store"));
    let mut writes: Vec<String> =
        methods.iter().filter(|name| WRITE_VERBS.iter().any(|verb| name.starts_with(verb))).cloned().collect();
    for known in ["create_user", "decide_finding", "revoke_agent", "create_webhook", "use_api_token", "create_session"]
    {
        assert!(writes.iter().any(|w| w == known), "the store scan missed {known}: {methods:?}");
    }
    writes.push("create_token".to_string());
    let mut files = Vec::new();
    rust_files(&root.join("http"), &mut files);
    files.push(root.join("main.rs"));
    let offenders: Vec<String> = files
        .iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            writes
                .iter()
                .filter(|name| calls(&text, name))
                .map(|name| format!("{} calls .{name}(", path.display()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(offenders.is_empty(), "store writes outside the use-cases: {offenders:?}");
}

/// The check above finds what it looks for (so a rename cannot silently blind it).
#[test]
fn the_write_call_scan_sees_calls_across_lines() {
    assert!(calls("state.cp.store.create_user(&user)", "create_user"));
    assert!(calls("state\n    .cp\n    .store\n    .revoke_agent (id, now)", "revoke_agent"));
    assert!(!calls("accounts::create_user(store, ..)", "create_user"));
    assert!(!calls("store.create_user_later(x)", "create_user"));
}
