//! The credential formats part of a data bundle (`credentials_toml`,
//! `docs/adr/0028-credential-formats-in-data-bundles.md`) through the real `muster-server`
//! binary: `data publish DIR` takes `credentials.toml` from DIR and `--from-builtin` the
//! release's file, `data history` lists the part; a part whose key shape does not compile (the
//! agents' own parser and regex compiler, `muster_keyshapes`) exits 2 naming its line and column
//! and stores nothing. The admin API's twin is driven through the router.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod http_common;

use std::path::Path;
use std::process::Output;

use muster_control_plane::data_bundles::DataParts;

/// A key shape for a made-up service.
const ZORBLAX: &str = "version = 1\n\n[[key]]\nprovider = \"zorblax\"\nnames = [\"ZORBLAX\"]\n\
    kind = \"zorblax-api-key\"\npattern = 'zbx_(?:live|test)_[A-Za-z0-9]{32}'\nconfidence = \"high\"\nsource = \"test\"\n";

/// The same row with an unclosed character class: line 7, the class opens at column 16.
const BROKEN: &str = "version = 1\n\n[[key]]\nprovider = \"zorblax\"\nnames = [\"ZORBLAX\"]\n\
    kind = \"zorblax-api-key\"\npattern = 'zbx_[A-Za-z0-9{32}'\nconfidence = \"high\"\nsource = \"test\"\n";

const BROKEN_PLACE: &str =
    "credentials: credential formats: line 7, column 16: pattern of the row for \"zorblax\": unclosed character class";

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

async fn current_parts(data_dir: &Path) -> Option<DataParts> {
    let store =
        muster_control_plane::store::open(&format!("sqlite://{}", data_dir.join("muster.db").display())).await.unwrap();
    let record = store.current_data_bundle().await.unwrap()?;
    Some(DataParts::of_document(&record.document).unwrap())
}

#[tokio::test]
async fn data_publish_carries_credentials_toml_and_refuses_a_bad_key_shape_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("server");
    let publish_dir = dir.path().join("bundle");
    std::fs::create_dir_all(&publish_dir).unwrap();

    std::fs::write(publish_dir.join("credentials.toml"), BROKEN).unwrap();
    let out = server(&data_dir, &["data", "publish", publish_dir.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(BROKEN_PLACE), "{stderr}");
    assert!(stderr.contains("nothing was published"), "{stderr}");
    assert!(current_parts(&data_dir).await.is_none(), "nothing stored");

    std::fs::write(publish_dir.join("credentials.toml"), ZORBLAX).unwrap();
    let out = server(&data_dir, &["data", "publish", publish_dir.to_str().unwrap(), "--reason", "zorblax"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8(out.stdout).unwrap().contains("(credentials;"));
    let parts = current_parts(&data_dir).await.unwrap();
    assert_eq!(parts.credentials_toml.as_deref(), Some(ZORBLAX));
    assert_eq!(parts.services_toml, None, "only what DIR holds");

    let out = server(&data_dir, &["data", "publish", "--from-builtin"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let parts = current_parts(&data_dir).await.unwrap();
    let builtin = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent/data/credentials.toml"));
    assert_eq!(parts.credentials_toml, Some(builtin.unwrap()), "--from-builtin carries the release's file");

    let out = server(&data_dir, &["data", "history"]).await;
    let history = String::from_utf8(out.stdout).unwrap();
    assert!(history.contains("services,advisories,credentials"), "{history}");
    assert!(history.lines().any(|l| l.contains(" credentials ") && l.ends_with("zorblax")), "{history}");
}

#[tokio::test]
async fn the_admin_api_publishes_credentials_toml_and_refuses_a_bad_key_shape_with_its_place() {
    use axum::body::Body;
    use http::{Request, StatusCode, header};
    use muster_control_plane::store::Role;

    let harness = http_common::Harness::tls().await;
    let admin = harness.token(Role::Admin).await;
    let post = |body: serde_json::Value| {
        Request::post("/api/v1/data-bundles")
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let response = harness.send(post(serde_json::json!({"credentials_toml": BROKEN}))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = http_common::body_text(response).await;
    assert!(body.contains(&BROKEN_PLACE.replace('"', "\\\"")), "{body}");
    let store = harness.cp.store.clone();
    assert!(store.current_data_bundle().await.unwrap().is_none(), "nothing stored");

    let response = harness.send(post(serde_json::json!({"credentials_toml": ZORBLAX, "reason": "r"}))).await;
    let status = response.status();
    let body = http_common::body_text(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let view: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["parts"], "credentials");
    let record = store.current_data_bundle().await.unwrap().unwrap();
    assert_eq!(DataParts::of_document(&record.document).unwrap().credentials_toml.as_deref(), Some(ZORBLAX));
}
