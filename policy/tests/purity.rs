//! The invariant that keeps decisions identical on the laptop and the control plane: the
//! policy crate is pure. Its own dependencies are the allowlist below (wire types, parsing,
//! version ranges, globs), and its source names no file, network, process, environment or clock
//! API and no async runtime. (`muster-proto` itself pulls in tonic for the services; the policy
//! code uses only its message types.)

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;

const ALLOWED_DEPENDENCIES: &[&str] = &["globset", "muster-proto", "pep440_rs", "semver", "serde", "thiserror", "toml"];

const FORBIDDEN: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "std::env",
    "std::thread",
    "std::io::stdin",
    "SystemTime",
    "Instant",
    "tokio",
    "async ",
    ".await",
    "rand::",
    "getrandom",
    "HashMap",
    "HashSet",
];

#[test]
fn the_crate_depends_only_on_its_allowlist() {
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap()).unwrap();
    let mut deps: Vec<&str> = manifest["dependencies"].as_table().unwrap().keys().map(String::as_str).collect();
    deps.sort();
    assert_eq!(deps, ALLOWED_DEPENDENCIES, "muster-policy's dependencies changed: it must stay pure (ARCHITECTURE.md)");
    assert!(manifest.get("build-dependencies").is_none(), "no build script dependencies");
    assert!(!Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/build.rs")).exists());
}

#[test]
fn the_source_uses_no_io_clock_randomness_or_unordered_maps() {
    let mut checked = 0;
    let mut stack = vec![Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")).to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for word in FORBIDDEN {
                    assert!(
                        !code.contains(word),
                        "{}:{}: `{word}` in the pure policy crate: {line}",
                        path.display(),
                        n + 1
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} source files found");
}
