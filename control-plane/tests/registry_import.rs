//! `muster-server data import-registry FILE|URL` as the real binary: each input shape (a
//! `server.json`, an array of them, a registry list response) becomes the registry part of a new
//! audited data bundle that keeps the catalog and advisories of the bundle before it; a document
//! served over HTTP on 127.0.0.1 is fetched the same way; a malformed one exits 2 naming its place
//! and stores nothing. The admin API's twin is driven through the router.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod http_common;

use std::path::{Path, PathBuf};
use std::process::Output;

use muster_control_plane::data_bundles::DataParts;
use muster_control_plane::data_bundles::registry::RegistryData;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registry").join(name)
}

async fn server(data_dir: &Path, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_muster-server"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("MUSTER_CONFIG")
        .env_remove("MUSTER_DATABASE_URL")
        .env_remove("MUSTER_DATA_DIR");
    command.output().await.unwrap()
}

async fn open(data_dir: &Path) -> muster_control_plane::store::DynStore {
    muster_control_plane::store::open(&format!("sqlite://{}", data_dir.join("muster.db").display())).await.unwrap()
}

/// The current bundle's parts and its registry data.
async fn current(data_dir: &Path) -> Option<(u64, DataParts, RegistryData)> {
    let store = open(data_dir).await;
    let record = store.current_data_bundle().await.unwrap()?;
    let parts = DataParts::of_document(&record.document).unwrap();
    let registry = serde_json::from_str(parts.registry_json.as_deref().unwrap()).unwrap();
    Some((record.version, parts, registry))
}

async fn audit_details(data_dir: &Path, action: &str) -> Vec<(String, String)> {
    let store = open(data_dir).await;
    let mut rows: Vec<_> = store
        .list_audit(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.action == action)
        .map(|r| (r.entry.outcome.as_str().to_string(), r.entry.detail))
        .collect();
    rows.reverse();
    rows
}

#[tokio::test]
async fn each_input_shape_is_imported_as_the_next_bundle_keeping_the_other_parts() {
    let dir = tempfile::tempdir().unwrap();
    let out = server(dir.path(), &["data", "publish", "--from-builtin", "--reason", "floor"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let mut last = 0;
    for (file, servers) in [("single.json", 1), ("array.json", 3), ("list.json", 3)] {
        let path = fixture(file);
        let out = server(dir.path(), &["data", "import-registry", path.to_str().unwrap(), "--reason", file]).await;
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.contains("(services,advisories,registry,credentials;"), "{file}: {stdout}");
        let (version, parts, registry) = current(dir.path()).await.unwrap();
        assert!(version > last, "{file}: a new version");
        last = version;
        assert_eq!(registry.servers.len(), servers, "{file}");
        assert_eq!(parts.services_toml, DataParts::builtin().services_toml, "{file}: the catalog is kept");
        assert_eq!(parts.advisories_osv_json, DataParts::builtin().advisories_osv_json, "{file}: advisories kept");
    }
    let (_, _, registry) = current(dir.path()).await.unwrap();
    assert!(registry.servers.iter().any(|s| s.status == "deprecated" && s.version == "1.9.0"));

    // A later publish of the catalog keeps the imported registry part.
    let out = server(dir.path(), &["data", "publish", "--from-builtin"]).await;
    assert!(out.status.success());
    let (version, _, kept) = current(dir.path()).await.unwrap();
    assert!(version > last);
    assert_eq!(kept, registry, "publishing the catalog keeps the registry data");

    let audited = audit_details(dir.path(), "data.import-registry").await;
    assert_eq!(audited.len(), 3, "{audited:?}");
    assert!(audited.iter().all(|(outcome, _)| outcome == "success"));
    assert!(audited[2].1.contains("3 server version(s) (1 deprecated, 1 deleted)"), "{audited:?}");
}

#[tokio::test]
async fn a_malformed_document_exits_2_with_its_place_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (file, place) in [
        ("malformed_syntax.json", "not JSON at line 5, column"),
        ("malformed_type.json", "document 1 ($.servers[1].server.packages[0].environmentVariables[0].isSecret)"),
        ("malformed_no_name.json", "document 1 ($[1].name): is missing"),
    ] {
        let path = fixture(file);
        let out = server(dir.path(), &["data", "import-registry", path.to_str().unwrap()]).await;
        assert_eq!(out.status.code(), Some(2), "{file}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(&format!("{}: {place}", path.display())), "{file}: {stderr}");
        assert!(stderr.contains("nothing was published"), "{stderr}");
        assert!(current(dir.path()).await.is_none(), "{file}: nothing stored");
    }
    let refused = audit_details(dir.path(), "data.import-registry").await;
    assert_eq!(refused.len(), 3);
    assert!(refused.iter().all(|(outcome, _)| outcome == "failure"), "{refused:?}");
    let missing = dir.path().join("absent.json");
    let out = server(dir.path(), &["data", "import-registry", missing.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2));
}

/// Serves `routes` on 127.0.0.1:0 until the test ends; the base URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_registry_url_is_fetched_over_http() {
    use axum::routing::get;
    let list = std::fs::read(fixture("list.json")).unwrap();
    let broken = std::fs::read(fixture("malformed_type.json")).unwrap();
    // The first page is the list fixture (its `nextCursor` set); the second, asked for with
    // `cursor=`, ends the list.
    let second = serde_json::json!({
        "servers": [{"server": {"name": "com.example.paged/second", "version": "1.0.0"}, "_meta": {}}],
        "metadata": {"count": 1}
    })
    .to_string();
    let pages = move |axum::extract::RawQuery(query): axum::extract::RawQuery| {
        let body = match query.as_deref() {
            Some(q) if q.contains("cursor=com.example.legacy%2Fold-search%3A0.1.0") => second.clone().into_bytes(),
            Some(q) if q.contains("cursor=") => b"unexpected cursor".to_vec(),
            _ => list.clone(),
        };
        std::future::ready(([("content-type", "application/json")], body))
    };
    let router = axum::Router::new()
        .route("/v0.1/servers", get(pages))
        .route("/broken", get(move || std::future::ready(broken)))
        .route("/missing", get(|| std::future::ready((http::StatusCode::NOT_FOUND, "no"))));
    let base = serve(router).await;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("{base}/v0.1/servers?limit=3");
    let out = server(dir.path(), &["data", "import-registry", &url]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, parts, registry) = current(dir.path()).await.unwrap();
    assert_eq!(parts.services_toml, None, "no bundle before: only the registry part");
    let names: Vec<_> = registry.servers.iter().map(|s| (s.name.as_str(), s.version.as_str())).collect();
    assert_eq!(names.len(), 4, "both pages: {names:?}");
    assert!(names.contains(&("com.example.paged/second", "1.0.0")), "the second page: {names:?}");
    let audited = audit_details(dir.path(), "data.import-registry").await;
    assert!(audited[0].1.contains(&format!("source {url:?}")), "{audited:?}");

    for (path, expected) in [("/broken", "document 1 ($.servers[1]"), ("/missing", "answered HTTP 404")] {
        let url = format!("{base}{path}");
        let out = server(dir.path(), &["data", "import-registry", &url]).await;
        assert_eq!(out.status.code(), Some(2), "{path}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(&format!("{url}: {expected}")), "{path}: {stderr}");
    }
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let out = server(dir.path(), &["data", "import-registry", &format!("http://{closed}/v0.1/servers")]).await;
    assert_eq!(out.status.code(), Some(2), "an unreachable URL");
    let (versions, _, _) = current(dir.path()).await.unwrap();
    let history = open(dir.path()).await.data_bundle_history(10).await.unwrap();
    assert_eq!(history.len(), 1, "refused imports store nothing (current {versions})");
}

/// The admin API's twin: the same normalisation and the same refusal with its place, audited.
#[tokio::test]
async fn the_admin_api_imports_a_document_and_refuses_a_malformed_one_with_its_place() {
    use axum::body::Body;
    use http::{Request, StatusCode, header};
    use muster_control_plane::store::Role;

    let harness = http_common::Harness::tls().await;
    let admin = harness.token(Role::Admin).await;
    let post = |body: serde_json::Value| {
        Request::post("/api/v1/data-bundles/registry-imports")
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let list: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture("list.json")).unwrap()).unwrap();
    let response = harness.send(post(serde_json::json!({"document": list, "source": "test", "reason": "r"}))).await;
    let status = response.status();
    let body = http_common::body_text(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let view: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["parts"], "registry");
    let store = harness.cp.store.clone();
    let record = store.current_data_bundle().await.unwrap().unwrap();
    let registry: RegistryData =
        serde_json::from_str(&DataParts::of_document(&record.document).unwrap().registry_json.unwrap()).unwrap();
    assert_eq!(registry.servers.len(), 3);

    let bad: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("malformed_no_name.json")).unwrap()).unwrap();
    let response = harness.send(post(serde_json::json!({"document": bad}))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = http_common::body_text(response).await;
    assert!(body.contains("request: document 1 ($[1].name): is missing"), "{body}");
    assert_eq!(store.data_bundle_history(10).await.unwrap().len(), 1, "nothing stored");
    let viewer = harness.token(Role::Viewer).await;
    let response = harness
        .send(
            Request::post("/api/v1/data-bundles/registry-imports")
                .header(header::AUTHORIZATION, format!("Bearer {viewer}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::json!({"document": list}).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}
