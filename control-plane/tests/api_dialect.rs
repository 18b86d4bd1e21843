//! One public dialect, checked on every `/api/v1` GET route: a control plane on 127.0.0.1:0 (real
//! HTTPS) over a realistic seeded fleet, its routes taken from the router's own route table (a
//! new route cannot be missed), and for each one
//!
//! (a) an unknown query parameter answers 400 with the JSON error naming it, and
//! (b) no JSON response carries a wire enum as an integer: every field named after a `muster.v1`
//!     enum (the stems come from the proto word table, `muster_proto::words::TABLES`) holds a
//!     string, and the seeded fleet makes sure each of `os`, `severity`, `transport` and
//!     `ecosystem` is seen as a word of its table.
//!
//! The OpenAPI document is held to the same rule (every property typed as a word schema is named
//! after its enum, so the walk above sees it), and so are the exports (CSV, CycloneDX, OCSF) and a
//! webhook body delivered to a real receiver. The list pages answer 400 on unknown parameters too.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "support/fleet.rs"]
mod fleet;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use fleet::FleetOptions;
use http::Method;
use muster_control_plane::access::api_tokens;
use muster_control_plane::config::HttpConfig;
use muster_control_plane::http::route_table;
use muster_control_plane::ingest::{IngestEvent, Report, ReportBody};
use muster_control_plane::policies;
use muster_control_plane::state::unix_now;
use muster_control_plane::store::Role;
use muster_control_plane::testing::TestControlPlane;
use muster_control_plane::webhook::{WebhookConfig, WebhookWorker, register};
use muster_proto::v1::{PolicyActionResult, PolicyActionState, PolicyReport, PolicyServerState, Severity};
use muster_proto::words::{EnumTable, TABLES};
use serde_json::Value;
use tokio::task::JoinSet;

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn get(&self, path_and_query: &str) -> (u16, String, String) {
        let response =
            self.client.get(format!("{}{path_and_query}", self.base)).bearer_auth(&self.token).send().await.unwrap();
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        (status, content_type, response.text().await.unwrap())
    }
}

/// The enum table a JSON key is named after (`os`, `max_severity`, `package_ecosystem`), if any.
fn table_of(key: &str) -> Option<&'static EnumTable> {
    TABLES.iter().find(|t| key == t.field || key.ends_with(&format!("_{}", t.field)))
}

/// Walks `value`; every field named after a wire enum must be a string (or null), never a number.
/// Records the enum words seen per table.
fn check_enum_fields(route: &str, at: &str, value: &Value, seen: &mut BTreeMap<&'static str, BTreeSet<String>>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let here = format!("{at}.{key}");
                if let Some(table) = table_of(key) {
                    assert!(
                        !child.is_number(),
                        "{route}: {here} is the wire enum {} as the integer {child}, not a word",
                        table.name
                    );
                    if let Some(word) = child.as_str()
                        && (table.words)().iter().any(|(_, w)| *w == word)
                    {
                        seen.entry(table.name).or_default().insert(word.to_string());
                    }
                }
                check_enum_fields(route, &here, child, seen);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| check_enum_fields(route, at, item, seen)),
        _ => {}
    }
}

/// An HTTP receiver on 127.0.0.1:0 keeping every body it is sent.
async fn receiver() -> (String, Arc<Mutex<Vec<Bytes>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    async fn hook(State(bodies): State<Arc<Mutex<Vec<Bytes>>>>, body: Bytes) -> http::StatusCode {
        bodies.lock().unwrap().push(body);
        http::StatusCode::OK
    }
    let app = Router::new().route("/hook", post(hook)).with_state(bodies.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), bodies)
}

/// The word schema a property's schema names directly (`$ref`, or one branch of a nullable
/// `oneOf` / `anyOf`).
fn word_schema_of(spec: &Value) -> Option<&'static EnumTable> {
    let mut refs = vec![&spec["$ref"]];
    for key in ["oneOf", "anyOf"] {
        refs.extend(spec[key].as_array().into_iter().flatten().map(|branch| &branch["$ref"]));
    }
    refs.into_iter()
        .filter_map(Value::as_str)
        .find_map(|target| TABLES.iter().find(|t| target == format!("#/components/schemas/{}", t.name)))
}

/// In an OpenAPI schema (and the object schemas inlined in it), every property typed as a word
/// schema is named after its enum, and no property named after an enum is an integer.
fn check_word_properties(at: &str, schema: &Value, count: &mut usize) {
    for (property, spec) in schema["properties"].as_object().into_iter().flatten() {
        let here = format!("{at}.{property}");
        if let Some(table) = word_schema_of(spec) {
            *count += 1;
            assert!(
                table_of(property).is_some_and(|t| t.name == table.name),
                "{here} holds {} words but is not named after it",
                table.name
            );
        }
        assert!(!(table_of(property).is_some() && spec["type"] == "integer"), "{here} is documented as an integer");
        check_word_properties(&here, spec, count);
        check_word_properties(&here, &spec["items"], count);
    }
}

#[tokio::test]
async fn every_api_get_refuses_unknown_parameters_and_spells_wire_enums_as_words() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("muster.db").display());
    let fleet =
        fleet::seed_database(&url, unix_now(), FleetOptions { history_days: 1, canaries: false }).await.unwrap();
    let cp = TestControlPlane::start_with_db_and_http(Some(&url), HttpConfig::default()).await.unwrap();
    let store = cp.state.store.clone();

    // A webhook with one real delivery, so the delivery log and the webhook body have content.
    let (hook_url, bodies) = receiver().await;
    let webhook = register(store.as_ref(), &hook_url, Severity::High).await.unwrap();
    let worker = WebhookWorker::new(store.clone(), WebhookConfig::default()).unwrap();
    let mut deliveries = JoinSet::new();
    for (_, agent_id) in &fleet.endpoints {
        worker.handle(&IngestEvent::ReportApplied { agent_id: agent_id.clone() }, &mut deliveries).await.unwrap();
    }
    while let Some(outcome) = deliveries.join_next().await {
        assert!(outcome.unwrap().delivered);
    }

    let admin =
        api_tokens::create_api_token(store.as_ref(), "walk", Role::Admin, Duration::from_secs(3600), "t", unix_now())
            .await
            .unwrap();
    let api = Api {
        client: reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(cp.ca_pem().as_bytes()).unwrap())
            .tls_built_in_root_certs(false)
            .resolve("localhost", cp.http_addr)
            .build()
            .unwrap(),
        base: format!("https://localhost:{}", cp.http_addr.port()),
        token: admin.token,
    };
    let agent_id = fleet.endpoints[0].1.clone();
    let (policy, _) = policies::publish(
        store.as_ref(),
        &policies::NoListener,
        "version = 1\n[[rule]]\nid = \"no-sse\"\naction = \"notify\"\n[rule.match]\ntransport = [\"sse\"]\n",
        "walk",
        "",
        unix_now(),
    )
    .await
    .unwrap();
    // The first endpoint's agent reports a policy state (a delta on its stored sequence), so the
    // compliance calls have an action to spell.
    let last = store.agent(&agent_id).await.unwrap().unwrap().last_sequence;
    let policy_part = PolicyReport {
        applied_version: policy.version,
        acked_version: policy.version,
        evaluated_at_unix: unix_now(),
        servers: vec![PolicyServerState {
            server_id: "any-server".into(),
            actions: vec![PolicyActionResult {
                rule_id: "no-sse".into(),
                action: "notify".into(),
                state: PolicyActionState::Failed as i32,
                detail: "no writer".into(),
                due_at_unix: 0,
            }],
        }],
        refusal: String::new(),
        ..PolicyReport::default()
    };
    let delta = Report {
        sequence: last + 1,
        base_sequence: last,
        body: ReportBody::Delta(Default::default()),
        policy: Some(policy_part),
    };
    store.ingest(&agent_id, &delta, unix_now()).await.unwrap();
    // A value for each path parameter; a new one fails here until the test learns it.
    let concrete = |path: &str| -> String {
        let mut out = path.to_string();
        for (from, to) in [
            ("/endpoints/{id}", format!("/endpoints/{agent_id}")),
            ("/webhooks/{id}", format!("/webhooks/{}", webhook.id)),
            ("/policies/{version}", format!("/policies/{}", policy.version)),
        ] {
            out = out.replace(from, &to);
        }
        assert!(!out.contains('{'), "api_dialect.rs: give the path parameter of {path} a seeded value");
        out
    };

    let gets: Vec<&'static str> = route_table()
        .into_iter()
        .filter(|r| r.method == Method::GET && r.path.starts_with("/api/v1/"))
        .map(|r| r.path)
        .collect();
    assert!(gets.len() >= 20, "the route table lists the API's GET routes: {gets:?}");

    let mut seen: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut json_routes = 0;
    for path in &gets {
        let path = concrete(path);

        // (a) An unknown parameter is refused with the JSON error naming it.
        let (status, content_type, body) = api.get(&format!("{path}?severty=high")).await;
        assert_eq!(status, 400, "GET {path}?severty=high answered {status}: {body}");
        assert!(content_type.starts_with("application/json"), "GET {path}?severty=high: {content_type}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["code"], "invalid_argument", "GET {path}: {body}");
        assert_eq!(error["message"], "unknown parameter `severty`", "GET {path}: {body}");

        // (b) The plain call succeeds, and its JSON spells every wire enum as a word.
        let (status, content_type, body) = api.get(&path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        if content_type.starts_with("application/json") && path != "/api/v1/openapi.json" {
            json_routes += 1;
            check_enum_fields(&path, "$", &serde_json::from_str(&body).unwrap(), &mut seen);
        }
    }
    assert!(json_routes >= 18, "{json_routes} JSON routes walked");
    for (name, expected) in [
        ("Os", "macos"),
        ("Severity", "high"),
        ("Transport", "stdio"),
        ("Ecosystem", "npm"),
        ("PolicyActionState", "failed"),
    ] {
        let words = seen.get(name).cloned().unwrap_or_default();
        assert!(words.contains(expected), "the walk never saw {name} `{expected}` as a word (saw {words:?})");
    }

    // Bad values of known parameters are refused too, with the parameter's words.
    for bad in [
        "/api/v1/findings?severity=4",
        "/api/v1/endpoints?os=2",
        "/api/v1/servers?ecosystem=1",
        "/api/v1/agents?limit=0",
    ] {
        let (status, _, body) = api.get(bad).await;
        assert_eq!(status, 400, "GET {bad}: {body}");
    }

    // The OpenAPI document: every property typed as a word schema is named after its enum, so the
    // key-based walk above sees it; and word schemas list exactly the table's words.
    let (_, _, text) = api.get("/api/v1/openapi.json").await;
    let document: Value = serde_json::from_str(&text).unwrap();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for table in TABLES.iter().filter(|t| schemas.contains_key(t.name)) {
        let words: Vec<Value> = (table.words)().into_iter().map(|(_, w)| Value::from(w)).collect();
        assert_eq!(schemas[table.name]["enum"], Value::Array(words), "schema {}", table.name);
    }
    let mut word_properties = 0;
    for (schema, body) in schemas {
        check_word_properties(schema, body, &mut word_properties);
    }
    assert!(word_properties >= 6, "read models document their enums as word schemas ({word_properties})");

    // Exports: CSV columns, CycloneDX properties and OCSF events carry words.
    let (status, _, csv) = api.get("/api/v1/export/inventory.csv").await;
    assert_eq!(status, 200);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let mut csv_words = BTreeSet::new();
    for record in reader.records() {
        let record = record.unwrap();
        for (header, cell) in headers.iter().zip(record.iter()) {
            if let Some(table) = table_of(header) {
                assert!(cell.parse::<i64>().is_err(), "CSV column {header} holds the number {cell}");
                assert!(cell.is_empty() || (table.words)().iter().any(|(_, w)| *w == cell), "CSV {header}: {cell}");
                csv_words.insert(cell.to_string());
            }
        }
    }
    assert!(csv_words.contains("macos") && csv_words.contains("stdio") && csv_words.contains("npm"), "{csv_words:?}");

    let (_, _, bom) = api.get("/api/v1/export/cyclonedx.json").await;
    let bom: Value = serde_json::from_str(&bom).unwrap();
    let mut properties = Vec::new();
    fn collect<'a>(value: &'a Value, out: &mut Vec<(&'a str, &'a Value)>) {
        match value {
            Value::Object(map) => {
                if let (Some(name), Some(value)) = (map.get("name").and_then(Value::as_str), map.get("value")) {
                    out.push((name, value));
                }
                map.values().for_each(|child| collect(child, out));
            }
            Value::Array(items) => items.iter().for_each(|item| collect(item, out)),
            _ => {}
        }
    }
    collect(&bom, &mut properties);
    let mut bom_words = BTreeSet::new();
    for (name, value) in properties {
        if let Some(table) = name.strip_prefix("muster:").and_then(table_of) {
            let word = value.as_str().unwrap_or_else(|| panic!("CycloneDX {name} is {value}"));
            assert!((table.words)().iter().any(|(_, w)| *w == word), "CycloneDX {name}: {word}");
            bom_words.insert(word.to_string());
        }
    }
    assert!(bom_words.contains("macos") && bom_words.contains("npm"), "{bom_words:?}");

    let (_, _, ocsf) = api.get("/api/v1/export/findings.ocsf.jsonl").await;
    let mut events = 0;
    for line in ocsf.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        // OCSF's own `severity_id` is the standard's number; the caption beside it is a word.
        assert!(event["severity"].is_string(), "{event}");
        assert!(event["device"]["os"]["name"].is_string(), "{event}");
        events += 1;
    }
    assert!(events > 0);

    // The webhook body, as the receiver got it.
    let bodies = bodies.lock().unwrap().clone();
    assert!(!bodies.is_empty(), "a seeded high finding is announced");
    for body in &bodies {
        let event: Value = serde_json::from_slice(body).unwrap();
        let mut hook_words = BTreeMap::new();
        check_enum_fields("webhook", "$", &event, &mut hook_words);
        let severities = hook_words.get("Severity").cloned().unwrap_or_default();
        assert!(!severities.is_empty() && severities.iter().all(|s| s == "high" || s == "critical"), "{event}");
    }

    // The list pages share the parsing: unknown parameters are a 400 page there too.
    for page in ["/endpoints", "/servers", "/credentials", "/findings", "/activity", "/agents", "/audit"] {
        let (status, _, body) = api.get(&format!("{page}?severty=high")).await;
        assert_eq!(status, 400, "GET {page}?severty=high: {body}");
        assert!(body.contains("unknown parameter `severty`"), "GET {page}");
    }

    cp.stop().await.unwrap();
}
