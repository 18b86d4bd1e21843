//! The OpenAPI document over real HTTPS: it parses as OpenAPI 3.1 with a typed parser (`oas3`),
//! every `$ref` in it resolves, it documents exactly the `/api/v1` routes of the route table, and
//! it documents wire enums as the proto table's words.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;

use muster_control_plane::config::HttpConfig;
use muster_control_plane::http::route_table;
use muster_control_plane::testing::TestControlPlane;
use serde_json::Value;

/// Routes under `/api/v1` that are deliberately not operations of the document: the document
/// itself. (The export downloads are documented, with their content types.)
fn undocumented(path: &str) -> bool {
    path == "/api/v1/openapi.json"
}

async fn fetch_document(cp: &TestControlPlane) -> (reqwest::StatusCode, Option<String>, String) {
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cp.ca_pem().as_bytes()).unwrap())
        .tls_built_in_root_certs(false)
        .resolve("localhost", cp.http_addr)
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/api/v1/openapi.json", cp.http_addr.port());
    // No credentials: the document is public.
    let response = client.get(url).send().await.unwrap();
    let status = response.status();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
    (status, content_type, response.text().await.unwrap())
}

/// Every `$ref` string anywhere in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => out.push(target),
                    _ => refs(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_is_valid_openapi_3_1_and_matches_the_route_table() {
    let cp = TestControlPlane::start_with_http(HttpConfig::default()).await.unwrap();
    let (status, content_type, text) = fetch_document(&cp).await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.unwrap().starts_with("application/json"));

    // (b) Format: a typed OpenAPI 3.1 parse, then every reference resolves.
    let spec = oas3::from_json(&text).expect("parses as an OpenAPI 3.1 document");
    let version = spec.validate_version().expect("a supported OpenAPI version");
    assert_eq!((version.major, version.minor), (3, 1), "{version}");
    assert!(!spec.info.title.is_empty());

    let json: Value = serde_json::from_str(&text).unwrap();
    let mut targets = Vec::new();
    refs(&json, &mut targets);
    assert!(!targets.is_empty(), "schemas are shared through components");
    for target in &targets {
        let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("external reference {target}"));
        assert!(json.pointer(pointer).is_some(), "dangling reference {target}");
    }
    for (path, method, operation) in spec.operations() {
        // Through the typed model too: parameters, request bodies and responses resolve.
        operation.parameters(&spec).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        operation.request_body(&spec).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let responses = operation.responses(&spec);
        assert!(responses.keys().any(|code| code.starts_with('2')), "{method} {path} documents no success response");
    }
    // Fields the specification requires that a typed parse may default.
    for (path, item) in json["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (code, response) in operation["responses"].as_object().unwrap() {
                assert!(response["description"].is_string(), "{method} {path} {code}: a response needs a description");
            }
            assert!(operation["operationId"].is_string(), "{method} {path}");
        }
    }
    let schemes = &json["components"]["securitySchemes"];
    assert!(schemes["bearer"].is_object() && schemes["session"].is_object(), "{schemes}");

    // (c) The document and the route table name the same operations.
    let documented: BTreeSet<(String, String)> =
        spec.operations().map(|(path, method, _)| (method.to_string(), path)).collect();
    let routed: BTreeSet<(String, String)> = route_table()
        .into_iter()
        .filter(|r| {
            (r.path.starts_with("/api/v1/") || (r.path.starts_with("/v0.1/") && r.method != http::Method::OPTIONS))
                && !undocumented(r.path)
        })
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let missing: Vec<_> = routed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(missing.is_empty(), "routes without a #[utoipa::path] listed in openapi.rs: {missing:?}");
    assert!(extra.is_empty(), "documented operations the router does not serve: {extra:?}");
    assert!(routed.contains(&("GET".to_string(), "/api/v1/whoami".to_string())));

    // (d) Wire enums are documented as the proto table's words, in responses and parameters.
    let schemas = &json["components"]["schemas"];
    for name in ["Os", "Transport", "Ecosystem", "Severity"] {
        let table = muster_proto::words::TABLES.iter().find(|t| t.name == name).unwrap();
        let words: Vec<Value> = (table.words)().into_iter().map(|(_, word)| Value::from(word)).collect();
        assert_eq!(schemas[name]["type"], "string", "{name}");
        assert_eq!(schemas[name]["enum"], Value::Array(words), "{name}");
    }
    for (schema, property, words) in [
        ("EndpointRow", "os", "Os"),
        ("EndpointRow", "max_severity", "Severity"),
        ("FindingView", "severity", "Severity"),
        ("ServerView", "transport", "Transport"),
        ("ServerView", "package_ecosystem", "Ecosystem"),
        ("ServerGroup", "ecosystem", "Ecosystem"),
    ] {
        let reference = &schemas[schema]["properties"][property]["$ref"];
        assert_eq!(reference, &format!("#/components/schemas/{words}"), "{schema}.{property}");
    }
    let findings = &json["paths"]["/api/v1/findings"]["get"]["parameters"];
    let severity = findings.as_array().unwrap().iter().find(|p| p["name"] == "severity").unwrap();
    assert!(severity["schema"].to_string().contains("#/components/schemas/Severity"), "{severity}");

    cp.stop().await.unwrap();
}
