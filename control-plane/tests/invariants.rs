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
