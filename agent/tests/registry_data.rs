//! MCP Registry data from a signed data bundle, used by a real scan of an image: servers the
//! registry names get their canonical name; a literal in an env var or header the registry marks
//! `isSecret` is reported as a credential (kind `registry-secret`, with the catalog's provider
//! when the catalog knows the server) although no key shape matches, and its value appears in no
//! report bytes; a running version the registry marks deprecated or deleted raises
//! `MUSTER-PKG-DEPRECATED-VERSION`. Without the bundle (the built-in data) none of it happens. A
//! bundle carrying registry data is still refused for a bad signature or a malformed part.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "common/image_scan.rs"]
mod image_scan;

use std::path::Path;

use muster_agent::data_bundle::{BUILTIN_DATA_VERSION, DATA_FORMAT, DataRefusal, DataSet, accept};
use muster_agent::scan_all_with;
use muster_proto::prost::Message as _;
use muster_proto::v1 as pb;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::json;

const ISSUED: i64 = 1_800_000_000;
const VERSION: u64 = BUILTIN_DATA_VERSION + 100;

/// Values no key shape or secret-looking variable name would flag: only the registry's
/// `isSecret` makes them secrets.
const ACCOUNT_CODE: &str = "ac4471prodQ";
const FORECAST_KEY: &str = "fk2291blueZ";

/// Normalised registry data, as `muster-server data import-registry` writes it.
fn registry_json() -> String {
    json!({"format": 1, "servers": [
        {"name": "io.github.example-org/ledger-mcp", "version": "1.9.0", "status": "deprecated",
         "status_message": "1.9 sends tokens in query strings",
         "packages": [{"registry_type": "npm", "identifier": "@example-org/ledger-mcp", "version": "1.9.0",
                       "environment_variables": [{"name": "LEDGER_ACCOUNT_CODE", "is_secret": true}]}]},
        {"name": "io.github.example-org/ledger-mcp", "version": "2.1.0", "status": "active",
         "packages": [{"registry_type": "npm", "identifier": "@example-org/ledger-mcp", "version": "2.1.0",
                       "environment_variables": [{"name": "LEDGER_ACCOUNT_CODE", "is_secret": true},
                                                 {"name": "LEDGER_REGION"}]}]},
        {"name": "com.example.weather/forecast", "version": "0.4.2", "status": "active",
         "remotes": [{"type": "streamable-http", "url": "https://{tenant}.weather.example.com/mcp",
                      "headers": [{"name": "X-Forecast-Account", "is_secret": true}, {"name": "X-Units"}]}]},
        {"name": "com.example.legacy/old-search", "version": "0.1.0", "status": "deleted",
         "packages": [{"registry_type": "pypi", "identifier": "old-search-mcp", "version": "0.1.0"}]}
    ]})
    .to_string()
}

/// A catalog row for the ledger server, so its credentials get a provider.
fn services_toml() -> String {
    let builtin = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/services.toml")).unwrap();
    format!(
        "{builtin}\n[[server]]\nid = \"example-ledger\"\nservice = \"example-ledger\"\ncategory = \"payments\"\n\
         auth = \"api-key\"\nnpm = [\"@example-org/ledger-mcp\"]\nlegs = [\"private_data\"]\nreason = \"ledger\"\n\
         source = \"test\"\n"
    )
}

fn key() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

fn bundle(key: &Ed25519KeyPair, document: serde_json::Value) -> pb::DataBundle {
    let document = serde_json::to_vec(&document).unwrap();
    let message = muster_proto::data_signing_message(VERSION, ISSUED, &document);
    pb::DataBundle {
        version: VERSION,
        document,
        issued_at_unix: ISSUED,
        signature: key.sign(&message).as_ref().to_vec(),
    }
}

fn document() -> serde_json::Value {
    json!({"format": DATA_FORMAT, "version": VERSION, "services_toml": services_toml(), "registry_json": registry_json()})
}

fn write_image(root: &Path) {
    let config = json!({"mcpServers": {
        "ledger-old": {"command": "npx", "args": ["-y", "@example-org/ledger-mcp@1.9.0"],
                       "env": {"LEDGER_ACCOUNT_CODE": ACCOUNT_CODE, "LEDGER_REGION": "eu"}},
        "ledger-new": {"command": "npx", "args": ["-y", "@example-org/ledger-mcp@2.1.0"],
                       "env": {"LEDGER_ACCOUNT_CODE": "${LEDGER_ACCOUNT_CODE}"}},
        "forecast": {"url": "https://acme.weather.example.com/mcp",
                     "headers": {"X-Forecast-Account": FORECAST_KEY, "X-Units": "metric"}},
        "search": {"command": "uvx", "args": ["old-search-mcp==0.1.0"]}
    }});
    let path = root.join("home/dev/.cursor/mcp.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
}

fn scan(root: &Path, data: &DataSet) -> pb::InventorySnapshot {
    let request = image_scan::image_request(root);
    scan_all_with(&request, data).unwrap().inventory
}

fn server<'a>(inv: &'a pb::InventorySnapshot, name: &str) -> &'a pb::McpServer {
    inv.servers.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{name} not reported: {inv:#?}"))
}

fn finding_ids(server: &pb::McpServer) -> Vec<&str> {
    server.findings.iter().map(|f| f.id.as_str()).collect()
}

#[test]
fn registry_data_names_servers_marks_secret_literals_and_deprecated_versions() {
    let dir = tempfile::tempdir().unwrap();
    write_image(dir.path());
    let key = key();
    let data = accept(&bundle(&key, document()), key.public_key().as_ref(), 0).unwrap();
    let inv = scan(dir.path(), &data);

    let old = server(&inv, "ledger-old");
    assert_eq!(old.registry_name, "io.github.example-org/ledger-mcp");
    let code = old.credentials.iter().find(|c| c.location == "env:LEDGER_ACCOUNT_CODE").expect("a credential");
    assert_eq!(code.kind, "registry-secret");
    assert_eq!(code.source, pb::CredentialSource::Literal as i32);
    assert_eq!(code.provider, "example-ledger", "the catalog's provider");
    assert_eq!(code.fingerprint.len(), 32);
    assert!(old.credentials.iter().all(|c| c.location != "env:LEDGER_REGION"), "not marked secret");
    let ids = finding_ids(old);
    assert!(ids.contains(&"MUSTER-SECRET-ENV"), "{ids:?}");
    let deprecated = old.findings.iter().find(|f| f.id == "MUSTER-PKG-DEPRECATED-VERSION").expect("deprecated");
    assert_eq!(deprecated.severity, pb::Severity::Medium as i32);
    assert!(deprecated.message.contains("1.9.0") && deprecated.message.contains("1.9 sends tokens"), "{deprecated:?}");

    let new = server(&inv, "ledger-new");
    assert_eq!(new.registry_name, "io.github.example-org/ledger-mcp");
    assert!(!finding_ids(new).contains(&"MUSTER-PKG-DEPRECATED-VERSION"), "2.1.0 is active");
    assert!(
        new.credentials.iter().all(|c| c.kind != "registry-secret"),
        "a reference holds no value: {:?}",
        new.credentials
    );

    let forecast = server(&inv, "forecast");
    assert_eq!(forecast.registry_name, "com.example.weather/forecast");
    let header =
        forecast.credentials.iter().find(|c| c.location == "header:X-Forecast-Account").expect("a header secret");
    assert_eq!((header.kind.as_str(), header.source), ("registry-secret", pb::CredentialSource::Literal as i32));
    assert!(forecast.credentials.iter().all(|c| c.location != "header:X-Units"));
    assert!(finding_ids(forecast).contains(&"MUSTER-SECRET-HEADER"), "{:?}", finding_ids(forecast));

    let search = server(&inv, "search");
    assert_eq!(search.registry_name, "com.example.legacy/old-search");
    let deleted = search.findings.iter().find(|f| f.id == "MUSTER-PKG-DEPRECATED-VERSION").expect("deleted");
    assert_eq!(deleted.severity, pb::Severity::High as i32, "a deleted version is high");

    // The values never leave the agent: not in the report, its JSON or its debug form.
    let json = muster_agent::output::json::render(&inv);
    assert!(json.contains("\"registry_name\": \"io.github.example-org/ledger-mcp\""), "{json}");
    for (what, bytes) in
        [("report", inv.encode_to_vec()), ("json", json.into_bytes()), ("debug", format!("{inv:?}").into_bytes())]
    {
        for value in [ACCOUNT_CODE, FORECAST_KEY] {
            assert!(!bytes.windows(value.len()).any(|w| w == value.as_bytes()), "{value} leaks in the {what}");
        }
    }

    // The built-in data (no registry): no canonical names, no registry secrets, no finding.
    let floor = scan(dir.path(), &DataSet::builtin());
    for s in &floor.servers {
        assert_eq!(s.registry_name, "", "{}", s.name);
        assert!(s.credentials.iter().all(|c| c.kind != "registry-secret"), "{}", s.name);
        assert!(!finding_ids(s).contains(&"MUSTER-PKG-DEPRECATED-VERSION"), "{}", s.name);
    }
    assert!(server(&floor, "ledger-old").credentials.iter().all(|c| c.location != "env:LEDGER_ACCOUNT_CODE"));
}

#[test]
fn a_bundle_with_registry_data_is_refused_for_a_bad_signature_or_a_malformed_registry_part() {
    let (pinned, other) = (key(), key());
    let public = pinned.public_key().as_ref();
    assert_eq!(
        accept(&bundle(&other, document()), public, 0).unwrap_err(),
        DataRefusal::BadSignature { version: VERSION }
    );
    let mut altered = bundle(&pinned, document());
    altered.document =
        String::from_utf8(altered.document).unwrap().replace("LEDGER_ACCOUNT_CODE", "LEDGER_OTHER").into_bytes();
    assert_eq!(accept(&altered, public, 0).unwrap_err(), DataRefusal::BadSignature { version: VERSION });

    for registry in [
        json!({"format": 2, "servers": []}).to_string(),
        json!({"format": 1, "servers": [{"name": "no-slash"}]}).to_string(),
        "{\"format\": 1, ".to_string(),
    ] {
        let mut doc = document();
        doc["registry_json"] = registry.clone().into();
        let refused = accept(&bundle(&pinned, doc), public, 0).unwrap_err();
        assert!(matches!(refused, DataRefusal::Malformed { version: VERSION, .. }), "{registry}: {refused:?}");
    }
}
