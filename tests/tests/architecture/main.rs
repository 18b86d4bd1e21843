//! Checks that keep ARCHITECTURE.md's structural invariants true, run by the README's test
//! command like every other test:
//!
//! - no import cycle between the top-level modules of the agent and of the control plane, nor
//!   between the modules at any level inside the agent (`imports.rs` reads the source with
//!   `syn`); the imports that close the control plane's cycles of today are listed in
//!   [`CONTROL_PLANE_BACK_EDGES_ALLOWED`], which may only shrink;
//! - the agent links no database and no HTTP or gRPC server, `proto` no server either, and the
//!   workspace has one TLS stack, rustls on ring (`dependencies.rs` asks `cargo tree`);
//! - the tray process (`muster-tray`) and the desktop crates' shared core link no webview
//!   (tauri, wry, WebKitGTK; ADR 0027), and no desktop crate depends on the agent crate.
//!
//! The checks have self-tests on synthetic crates and package lists, so a check that silently
//! stopped seeing anything would fail too.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod dependencies;
mod imports;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use dependencies::{Package, packages, violations};
use imports::{CrateModules, Cycle, cycles};

/// Imports allowed to close a cycle between the control plane's top-level modules, as (importing
/// module, imported module). Empty: the control plane has none (the export handlers live in
/// `http/exports.rs`, the agent status cache in `agents/status.rs`, admission in `admission/`,
/// the finding uid in `ingest/finding_uid.rs`). The check fails on any cycle and on an entry
/// that no longer closes one; the list stays empty.
const CONTROL_PLANE_BACK_EDGES_ALLOWED: &[(&str, &str)] = &[];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").to_path_buf()
}

fn report(cycles: &[Cycle]) -> String {
    cycles.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

#[test]
fn agent_modules_import_no_cycle_at_any_level() {
    let agent = CrateModules::read(&workspace().join("agent")).expect("read the agent's source");
    let levels = agent.levels();
    assert!(levels.len() > 5, "the agent has nested modules: {levels:?}");
    let cycles: Vec<Cycle> = levels.iter().flat_map(|level| agent.cycles_at(level)).collect();
    assert!(cycles.is_empty(), "import cycles in the agent (paths from agent/):\n{}", report(&cycles));
}

#[test]
fn control_plane_top_level_modules_import_no_new_cycle() {
    let control_plane =
        CrateModules::read(&workspace().join("control-plane")).expect("read the control plane's source");
    let mut edges = control_plane.edges_at(&[]);
    assert!(edges.len() > 10, "the control plane's imports were read: {edges:?}");
    let circular: BTreeSet<(String, String)> =
        cycles(&[], &edges).into_iter().flat_map(|c| c.edges.into_iter().map(|(from, to, _)| (from, to))).collect();
    let stale: Vec<&(&str, &str)> = CONTROL_PLANE_BACK_EDGES_ALLOWED
        .iter()
        .filter(|(from, to)| !circular.contains(&(from.to_string(), to.to_string())))
        .collect();
    for (from, to) in CONTROL_PLANE_BACK_EDGES_ALLOWED {
        edges.remove(&(from.to_string(), to.to_string()));
    }
    let new = cycles(&[], &edges);
    assert!(
        new.is_empty(),
        "import cycles between the control plane's top-level modules (paths from control-plane/):\n{}",
        report(&new)
    );
    assert!(
        stale.is_empty(),
        "these imports no longer close a cycle: remove them from CONTROL_PLANE_BACK_EDGES_ALLOWED: {stale:?}"
    );
}

/// A crate written to a temp dir: (path under `src/`, text).
fn synthetic_crate(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let path = dir.path().join("src").join(path);
        std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("create dirs");
        std::fs::write(path, text).expect("write a synthetic file");
    }
    dir
}

fn members(cycles: &[Cycle]) -> Vec<Vec<String>> {
    cycles.iter().map(|c| c.members.clone()).collect()
}

#[test]
fn the_cycle_check_finds_a_cycle_through_crate_super_and_macro_paths() {
    let dir = synthetic_crate(&[
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\npub mod d;\n"),
        ("a.rs", "use crate::b::Thing;\npub struct A(Thing);\n"),
        ("b/mod.rs", "pub struct Thing;\npub fn f() -> u8 { super::c::value() }\n"),
        ("c.rs", "pub fn value() -> u8 { let v = vec![crate::a::A(crate::b::Thing)]; v.len() as u8 }\n"),
        ("d.rs", "pub fn g() -> u8 { crate::c::value() }\n"),
    ]);
    let modules = CrateModules::read(dir.path()).expect("read the synthetic crate");
    let cycles = modules.cycles_at(&[]);
    assert_eq!(members(&cycles), vec![vec!["a", "b", "c"]], "{}", report(&cycles));
    let printed = report(&cycles);
    assert!(printed.contains("c -> a: src/c.rs:1 names `crate::a::A`"), "{printed}");
    assert!(printed.contains("b -> c: src/b/mod.rs:2 names `super::c::value`"), "{printed}");
}

#[test]
fn the_cycle_check_looks_through_reexports_and_sees_nested_levels() {
    let dir = synthetic_crate(&[
        ("lib.rs", "pub mod secrets;\npub mod scan;\n"),
        ("secrets/mod.rs", "mod detect;\nmod providers;\npub use detect::Confidence;\npub struct Secret;\n"),
        ("secrets/detect.rs", "pub enum Confidence { High }\npub fn f() { super::providers::rule(); }\n"),
        ("secrets/providers.rs", "use super::Confidence;\npub fn rule() -> Confidence { Confidence::High }\n"),
        ("scan.rs", "pub fn s() -> crate::secrets::Confidence { crate::secrets::Confidence::High }\n"),
    ]);
    let modules = CrateModules::read(dir.path()).expect("read the synthetic crate");
    assert!(modules.cycles_at(&[]).is_empty(), "{}", report(&modules.cycles_at(&[])));
    let nested = modules.cycles_at(&["secrets".to_string()]);
    assert_eq!(members(&nested), vec![vec!["detect", "providers"]], "{}", report(&nested));
}

#[test]
fn the_cycle_check_ignores_test_code_variables_and_other_crates() {
    let dir = synthetic_crate(&[
        ("lib.rs", "pub mod a;\npub mod b;\npub use b::Thing;\npub fn run() { let a = 1; let _ = a; }\n"),
        ("a.rs", "use crate::b::Thing;\npub fn f(_: Thing) { let b = 2; let _ = b; std::mem::drop(b); }\n"),
        (
            "b.rs",
            "pub struct Thing;\n#[cfg(test)]\nmod tests { use crate::a::f; }\n#[cfg(test)]\nuse crate::a;\n\
             impl Thing { #[cfg(test)] fn t() { crate::a::f(Thing) } }\n",
        ),
    ]);
    let modules = CrateModules::read(dir.path()).expect("read the synthetic crate");
    assert!(modules.cycles_at(&[]).is_empty(), "{}", report(&modules.cycles_at(&[])));
    assert_eq!(modules.edges_at(&[]).keys().cloned().collect::<Vec<_>>(), vec![("a".to_string(), "b".to_string())]);
}

/// Packages no agent build may link: databases, and HTTP or gRPC servers.
const AGENT_FORBIDDEN: &[&str] = &[
    "sqlx",
    "sqlx-core",
    "sqlx-sqlite",
    "sqlx-postgres",
    "sqlx-mysql",
    "libsqlite3-sys",
    "rusqlite",
    "tokio-postgres",
    "postgres",
    "diesel",
    "sea-orm",
    "redb",
    "sled",
    "rocksdb",
    "axum",
    "axum-core",
    "actix-web",
    "actix-http",
    "warp",
    "rocket",
    "poem",
    "salvo",
    "tiny_http",
];

/// Server halves of the HTTP/2 and gRPC client crates: `proto` without features links none.
const SERVER_FEATURES: &[(&str, &str)] =
    &[("hyper", "server"), ("hyper-util", "server"), ("tonic", "server"), ("tonic", "router")];

/// What the agent may not link of them: its only listener is the local API's Unix socket, served
/// by tonic's server half, so the router (axum) stays out.
const AGENT_SERVER_FEATURES: &[(&str, &str)] = &[("tonic", "router")];

/// TLS implementations other than rustls, and crypto backends other than ring.
const OTHER_TLS: &[&str] = &[
    "openssl",
    "openssl-sys",
    "native-tls",
    "tokio-native-tls",
    "hyper-tls",
    "aws-lc-rs",
    "aws-lc-sys",
    "aws-lc-fips-sys",
    "boring",
    "boring-sys",
    "tokio-boring",
    "hyper-boring",
    "s2n-tls",
    "mbedtls",
    "wolfssl",
];

#[test]
fn the_agent_links_no_database_and_no_server() {
    let agent = packages(&workspace(), &["-p", "muster-agent", "--edges", "normal"]).expect("cargo tree of the agent");
    assert!(agent.iter().any(|p| p.name == "tonic"), "the agent's tree was read: {agent:?}");
    let found = violations(&agent, AGENT_FORBIDDEN, AGENT_SERVER_FEATURES);
    assert!(
        found.is_empty(),
        "the agent links a database or a server: {found:?} (see `cargo tree -p muster-agent -e normal -i NAME`)"
    );
}

#[test]
fn proto_links_no_server_unless_asked() {
    let proto = packages(&workspace(), &["-p", "muster-proto", "--edges", "normal"]).expect("cargo tree of proto");
    let found = violations(&proto, AGENT_FORBIDDEN, SERVER_FEATURES);
    assert!(found.is_empty(), "muster-proto without features links a server: {found:?}");
    assert!(!proto.iter().any(|p| p.name.starts_with("muster-") && p.name != "muster-proto"), "{proto:?}");
}

#[test]
fn the_workspace_has_one_tls_stack_rustls_on_ring() {
    let all = packages(&workspace(), &["--workspace", "--all-features", "--edges", "normal,build,dev"])
        .expect("cargo tree of the workspace");
    let found = violations(&all, OTHER_TLS, &[("rustls", "aws_lc_rs"), ("rustls", "aws-lc-rs"), ("rustls", "fips")]);
    assert!(found.is_empty(), "a TLS stack or crypto backend other than rustls on ring: {found:?}");
    // Build-time users (sqlx's macros) resolve rustls with other features: one version is the rule.
    let rustls: Vec<&Package> = all.iter().filter(|p| p.name == "rustls").collect();
    let versions: BTreeSet<&str> = rustls.iter().map(|p| p.version.as_str()).collect();
    assert_eq!(versions.len(), 1, "one rustls: {rustls:?}");
    assert!(rustls.iter().all(|p| p.has_feature("ring")), "rustls on ring: {rustls:?}");
}

/// What only a webview brings: the tray process links none of it, so it idles without WebKit
/// (ADR 0027; `desktop-ui/tray/tests/no_webkit.rs` checks the built binary itself).
const WEBVIEW: &[&str] = &[
    "tauri",
    "tauri-runtime",
    "tauri-runtime-wry",
    "wry",
    "webkit2gtk",
    "webkit2gtk-sys",
    "javascriptcore-rs",
    "javascriptcore-rs-sys",
    "soup3",
    "soup3-sys",
];

#[test]
fn the_tray_process_links_no_webview() {
    for crate_name in ["muster-tray", "muster-desktop-core"] {
        let tree = packages(&workspace(), &["-p", crate_name, "--edges", "normal"]).expect("cargo tree");
        assert!(tree.iter().any(|p| p.name == "muster-proto"), "the tree of {crate_name} was read: {tree:?}");
        let found = violations(&tree, WEBVIEW, &[]);
        assert!(
            found.is_empty(),
            "{crate_name} links a webview: {found:?} (see `cargo tree -p {crate_name} -e normal -i NAME`)"
        );
    }
}

#[test]
fn the_desktop_crates_depend_on_the_contract_never_on_the_agent() {
    for crate_name in ["muster-tray", "muster-desktop-core", "muster-desktop-ui"] {
        let tree = packages(&workspace(), &["-p", crate_name, "--edges", "normal"]).expect("cargo tree");
        assert!(tree.iter().any(|p| p.name == "muster-proto"), "{crate_name}: {tree:?}");
        let found = violations(&tree, &["muster-agent", "muster-control-plane"], &[]);
        assert!(found.is_empty(), "{crate_name} depends on {found:?}: the local API's client side is its only link");
    }
}

#[test]
fn the_dependency_rules_catch_a_forbidden_package_or_feature() {
    let package = |name: &str, features: &[&str]| Package {
        name: name.to_string(),
        version: "v1.0.0".to_string(),
        features: features.iter().map(|f| f.to_string()).collect(),
    };
    let clean = [package("tonic", &["channel", "codegen"]), package("hyper", &["client", "http2"])];
    assert!(violations(&clean, AGENT_FORBIDDEN, SERVER_FEATURES).is_empty());
    let served = [package("tonic", &["channel", "router"]), package("sqlx-core", &[])];
    assert_eq!(
        violations(&served, AGENT_FORBIDDEN, SERVER_FEATURES),
        vec!["tonic v1.0.0 with feature `router`", "sqlx-core v1.0.0"]
    );
    assert_eq!(violations(&[package("native-tls", &[])], OTHER_TLS, &[]), vec!["native-tls v1.0.0"]);
    assert_eq!(violations(&[package("tray-icon", &[]), package("wry", &[])], WEBVIEW, &[]), vec!["wry v1.0.0"]);
}
