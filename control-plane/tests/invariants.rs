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
