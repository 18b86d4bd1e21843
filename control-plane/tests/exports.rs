//! The exports against their formats: CSV (RFC 4180 round trip, formula-injection canaries),
//! CycloneDX 1.6 (the official JSON schema, shipped by the serde-cyclonedx package and found via
//! `cargo metadata`, plus purls and service/component links), OCSF Detection Finding lines; then
//! the HTTP handlers on a real store.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use muster_control_plane::export::cyclonedx::{self, Subject};
use muster_control_plane::export::{
    ExportCredential, ExportFinding, ExportHost, ExportOs, ExportPackage, ExportServer, PackageEcosystem, csv, ocsf,
};
use muster_proto::v1::Severity;
use serde_json::Value;

const NOW: i64 = 1_800_000_000;
const HOSTILE_NAMES: [&str; 9] = [
    "plain",
    "comma, inside",
    "say \"hi\"",
    "line one\nline two\r\nline three",
    "<script>alert(1)</script>",
    "=cmd|' /C calc'!A0",
    "+SUM(1,2)",
    "-2+3",
    "@SUM(A1)",
];

fn package(ecosystem: PackageEcosystem, name: &str, version: Option<&str>, pinned: bool) -> Option<ExportPackage> {
    Some(ExportPackage { ecosystem, name: name.into(), version: version.map(str::to_string), pinned })
}

fn server(id: &str, name: &str, package: Option<ExportPackage>) -> ExportServer {
    ExportServer {
        id: id.into(),
        name: name.into(),
        client: "cursor".into(),
        user: "alice".into(),
        scope: "user",
        transport: "stdio",
        config_path: "/home/alice/.cursor/mcp.json".into(),
        command: "npx".into(),
        package,
        credentials: vec![ExportCredential {
            location: "env:GITHUB_TOKEN".into(),
            kind: "github-pat".into(),
            provider: "github".into(),
            literal: true,
            fingerprint: "0123456789abcdef0123456789abcdef".into(),
            reference_kind: "",
        }],
        first_seen_at: NOW - 60,
        last_seen_at: NOW,
        ..Default::default()
    }
}

fn finding(uid: &str, severity: Severity, server_ids: &[&str]) -> ExportFinding {
    ExportFinding {
        uid: uid.into(),
        finding_id: "MUSTER-SECRET-ENV".into(),
        severity,
        owasp: "MCP01".into(),
        message: "literal GitHub token in env GITHUB_TOKEN".into(),
        server_ids: server_ids.iter().map(|s| s.to_string()).collect(),
        client: "cursor".into(),
        user: "alice".into(),
        title: "Literal secret in a server's environment block".into(),
        remediation: "Move the value out of the config, then rotate it.".into(),
    }
}

/// A host with one server per package shape and per hostile name.
fn host(agent_id: &str) -> ExportHost {
    let mut servers = vec![
        server(
            "s-npm",
            "github",
            package(PackageEcosystem::Npm, "@modelcontextprotocol/server-github", Some("2025.4.8"), true),
        ),
        server("s-npm-range", "fs", package(PackageEcosystem::Npm, "mcp-fs", Some("^1.2.0"), false)),
        server("s-pypi", "fetch", package(PackageEcosystem::Pypi, "MCP_Server_Fetch", Some("1.0.0"), true)),
        server(
            "s-oci-tag",
            "gh-oci",
            package(PackageEcosystem::Oci, "ghcr.io/github/github-mcp-server", Some("v0.4.0"), true),
        ),
        server(
            "s-oci-digest",
            "hub",
            package(
                PackageEcosystem::Oci,
                "mcp/fetch",
                Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
                true,
            ),
        ),
        server("s-local", "script", package(PackageEcosystem::Local, "/home/alice/mcp/server.js", None, false)),
        server("s-binary", "binary", package(PackageEcosystem::Binary, "github-mcp-server", None, false)),
        ExportServer {
            url: "https://mcp.example.com/sse?key=****".into(),
            transport: "sse",
            command: String::new(),
            ..server("s-remote", "remote", None)
        },
        // The same package as s-npm on another server: one component, two services.
        server(
            "s-npm-2",
            "github-2",
            package(PackageEcosystem::Npm, "@modelcontextprotocol/server-github", Some("2025.4.8"), true),
        ),
    ];
    for (n, name) in HOSTILE_NAMES.iter().enumerate() {
        servers.push(server(&format!("s-hostile-{n}"), name, None));
    }
    ExportHost {
        agent_id: agent_id.into(),
        hostname: "laptop-1".into(),
        os: ExportOs::Macos,
        os_version: "15.1".into(),
        arch: "aarch64".into(),
        scanned_at: NOW,
        servers,
        findings: vec![
            finding("f1", Severity::High, &["s-npm"]),
            finding("f2", Severity::Critical, &["s-npm"]),
            finding("f3", Severity::Info, &["s-pypi"]),
            finding("f4", Severity::Low, &["s-pypi"]),
            finding("f5", Severity::Medium, &[]),
            finding("f6", Severity::Unspecified, &["s-remote", "s-local"]),
        ],
    }
}

// ---------------------------------------------------------------------------------------------
// CSV

#[test]
fn csv_round_trips_hostile_names_and_neutralises_formulas() {
    let hosts = [host("agent-1")];
    let mut out = Vec::new();
    csv::write_inventory(&mut out, &hosts).unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.starts_with("agent_id,hostname,os,"), "{text}");
    assert!(text.contains("\r\n"), "RFC 4180 line ends");
    assert!(text.contains("\"say \"\"hi\"\"\""), "quotes are doubled inside a quoted field");

    let mut reader = ::csv::ReaderBuilder::new().has_headers(true).from_reader(out.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, csv::COLUMNS.to_vec());
    let rows: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), hosts[0].servers.len());
    let column = |name: &str| csv::COLUMNS.iter().position(|c| *c == name).unwrap();
    for (row, server) in rows.iter().zip(&hosts[0].servers) {
        assert_eq!(row.len(), csv::COLUMNS.len());
        let name = &row[column("server_name")];
        if server.name.starts_with(['=', '+', '-', '@']) {
            assert_eq!(name, format!("'{}", server.name), "formula cell must be neutralised");
        } else {
            assert_eq!(name, server.name, "round trip");
        }
        assert_eq!(&row[column("server_id")], server.id);
        assert_eq!(&row[column("credential_fingerprints")], "0123456789abcdef0123456789abcdef");
        assert_eq!(&row[column("last_seen")], "2027-01-15T08:00:00Z");
    }
    let npm = rows.iter().find(|r| &r[column("server_id")] == "s-npm").unwrap();
    assert_eq!((&npm[column("high_findings")], &npm[column("critical_findings")]), ("1", "1"));
    // A scoped npm name starts with `@`, which spreadsheets read as a formula too.
    assert_eq!(&npm[column("package")], "'@modelcontextprotocol/server-github");
    assert_eq!(&npm[column("literal_credentials")], "1");
    // No cell anywhere starts a formula.
    for row in &rows {
        for cell in row {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "formula cell {cell:?}");
        }
    }
}

#[test]
fn every_formula_prefix_is_neutralised_and_nothing_else() {
    for cell in ["=1", "+1", "-1", "@x", "\tx", "\rx"] {
        assert_eq!(csv::neutralise(cell), format!("'{cell}"));
    }
    for cell in ["", "a=1", "1", "'=1", "<script>", " =1"] {
        assert_eq!(csv::neutralise(cell), cell);
    }
}

#[test]
fn csv_streams_host_by_host_with_one_header() {
    let (a, b) = (host("agent-a"), host("agent-b"));
    let mut whole = Vec::new();
    csv::write_inventory(&mut whole, [&a, &b]).unwrap();
    let mut streamed = Vec::new();
    csv::write_header(&mut streamed).unwrap();
    csv::write_host(&mut streamed, &a).unwrap();
    csv::write_host(&mut streamed, &b).unwrap();
    assert_eq!(whole, streamed);
    let rows = ::csv::Reader::from_reader(whole.as_slice()).records().count();
    assert_eq!(rows, a.servers.len() + b.servers.len());
}

// ---------------------------------------------------------------------------------------------
// CycloneDX

/// `schemas/cyclonedx_1_6.json` of the serde-cyclonedx package (a dev-dependency), found through
/// `cargo metadata`: the schema is not copied into this repository.
fn cyclonedx_schema() -> Value {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let manifest = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "serde-cyclonedx")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("serde-cyclonedx is a dev-dependency");
    let path: PathBuf = Path::new(manifest).parent().expect("package dir").join("schemas/cyclonedx_1_6.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    assert_eq!(schema["$id"], "http://cyclonedx.org/schema/bom-1.6.schema.json");
    schema
}

/// The 1.6 schema refers to two sibling schemas the package does not ship: `spdx.schema.json`
/// (license ids) and `jsf-0.82.schema.json` (signatures). Muster writes neither licenses nor
/// signatures (asserted in the test), so those two are served as schemas that accept anything.
fn validator() -> jsonschema::Validator {
    struct SiblingSchemas;
    impl jsonschema::Retrieve for SiblingSchemas {
        fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
            match uri.as_str() {
                "http://cyclonedx.org/schema/spdx.schema.json" | "http://cyclonedx.org/schema/jsf-0.82.schema.json" => {
                    Ok(serde_json::json!({
                        "$schema": "http://json-schema.org/draft-07/schema#",
                        "definitions": { "signature": {} }
                    }))
                }
                other => Err(format!("unexpected schema reference {other}").into()),
            }
        }
    }
    jsonschema::options()
        .should_validate_formats(true)
        .with_retriever(SiblingSchemas)
        .build(&cyclonedx_schema())
        .expect("schema compiles")
}

fn schema_errors(validator: &jsonschema::Validator, bom: &Value) -> Vec<String> {
    validator.iter_errors(bom).map(|e| format!("{e} at {}", e.instance_path())).collect()
}

fn bom_json(subject: Subject, hosts: &[ExportHost]) -> Value {
    let bom = cyclonedx::bom(subject, hosts, uuid::Uuid::from_u128(0x0123_4567_89ab_4def_8123_4567_89ab_cdef), NOW);
    let mut out = Vec::new();
    cyclonedx::write_bom(&mut out, &bom).unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn cyclonedx_of_one_endpoint_and_of_the_fleet_validate_against_the_1_6_schema() {
    let validator = validator();
    for (subject, hosts) in
        [(Subject::Endpoint, vec![host("agent-1")]), (Subject::Fleet, vec![host("agent-1"), host("agent-2")])]
    {
        let bom = bom_json(subject, &hosts);
        let errors = schema_errors(&validator, &bom);
        assert!(errors.is_empty(), "{subject:?}: CycloneDX schema violations: {errors:#?}");
        assert_eq!((bom["bomFormat"].as_str(), bom["specVersion"].as_str()), (Some("CycloneDX"), Some("1.6")));
        let text = bom.to_string();
        assert!(!text.contains("\"licenses\"") && !text.contains("\"signature\""), "see validator()");
    }
    // The validator does reject a broken document, so the check above means something.
    let mut broken = bom_json(Subject::Endpoint, &[host("agent-1")]);
    broken["services"][0]["authenticated"] = "yes".into();
    broken["components"][0]["type"] = "laptop".into();
    assert_eq!(schema_errors(&validator, &broken).len(), 2);
}

#[test]
fn cyclonedx_purls_and_links_services_to_their_packages() {
    let bom = bom_json(Subject::Endpoint, &[host("agent-1")]);
    let components = bom["components"].as_array().unwrap();
    let purls: Vec<&str> = components.iter().filter_map(|c| c["purl"].as_str()).collect();
    for expected in [
        "pkg:npm/%40modelcontextprotocol/server-github@2025.4.8",
        "pkg:npm/mcp-fs",
        "pkg:pypi/mcp-server-fetch@1.0.0",
        "pkg:oci/github-mcp-server?repository_url=ghcr.io/github/github-mcp-server&tag=v0.4.0",
        "pkg:oci/fetch@sha256%3A0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef?repository_url=docker.io/mcp/fetch",
    ] {
        assert!(purls.contains(&expected), "missing {expected} in {purls:#?}");
    }
    assert_eq!(purls.len(), 5, "local scripts and binaries have no purl");
    assert_eq!(components.len(), 7, "one component per distinct package");
    let github = components.iter().find(|c| c["name"] == "server-github").unwrap();
    assert_eq!((github["group"].as_str(), github["type"].as_str()), (Some("@modelcontextprotocol"), Some("library")));
    assert_eq!(
        components
            .iter()
            .find(|c| c["name"] == "ghcr.io/github/github-mcp-server" && c["type"] == "container")
            .map(|_| ()),
        Some(())
    );

    // The endpoint is the subject of the BOM.
    assert_eq!(bom["metadata"]["component"]["type"], "device");
    assert_eq!(bom["metadata"]["component"]["name"], "laptop-1");
    let host_ref = bom["metadata"]["component"]["bom-ref"].as_str().unwrap();

    let services = bom["services"].as_array().unwrap();
    assert_eq!(services.len(), host("agent-1").servers.len());
    let remote = services.iter().find(|s| s["name"] == "remote").unwrap();
    assert_eq!(remote["endpoints"][0], "https://mcp.example.com/sse?key=****");
    assert_eq!(remote["x-trust-boundary"], true);
    assert!(services.iter().any(|s| s["name"] == "<script>alert(1)</script>"), "names are data, kept as they are");

    // Every ref in dependencies exists, each service depends on exactly its package, and the
    // endpoint depends on all its services.
    let mut refs: Vec<&str> = components.iter().chain(services).map(|c| c["bom-ref"].as_str().unwrap()).collect();
    refs.push(host_ref);
    let dependencies = bom["dependencies"].as_array().unwrap();
    let depends_on = |reference: &str| -> Vec<&str> {
        let entry =
            dependencies.iter().find(|d| d["ref"] == reference).unwrap_or_else(|| panic!("no entry for {reference}"));
        entry["dependsOn"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect()
    };
    for dependency in dependencies {
        assert!(refs.contains(&dependency["ref"].as_str().unwrap()));
        for target in dependency["dependsOn"].as_array().unwrap() {
            assert!(refs.contains(&target.as_str().unwrap()), "dangling {target}");
        }
    }
    let service_ref = |name: &str| services.iter().find(|s| s["name"] == name).unwrap()["bom-ref"].as_str().unwrap();
    let github_purl = "pkg:npm/%40modelcontextprotocol/server-github@2025.4.8";
    assert_eq!(depends_on(service_ref("github")), vec![github_purl]);
    assert_eq!(depends_on(service_ref("github-2")), vec![github_purl], "a shared package is one component");
    assert!(depends_on(service_ref("remote")).is_empty());
    assert_eq!(depends_on(host_ref).len(), services.len());
}

#[test]
fn cyclonedx_of_the_fleet_lists_every_endpoint_as_a_device() {
    let bom = bom_json(Subject::Fleet, &[host("agent-1"), host("agent-2")]);
    assert!(bom["metadata"].get("component").is_none());
    let devices: Vec<&Value> = bom["components"].as_array().unwrap().iter().filter(|c| c["type"] == "device").collect();
    assert_eq!(devices.len(), 2);
    assert_eq!(bom["services"].as_array().unwrap().len(), 2 * host("agent-1").servers.len());
    let refs: std::collections::BTreeSet<&str> =
        bom["services"].as_array().unwrap().iter().map(|s| s["bom-ref"].as_str().unwrap()).collect();
    assert_eq!(refs.len(), 2 * host("agent-1").servers.len(), "service refs are unique across endpoints");
}

// ---------------------------------------------------------------------------------------------
// OCSF

#[test]
fn ocsf_lines_are_detection_findings_with_every_required_attribute() {
    let hosts = [host("agent-1")];
    let mut out = Vec::new();
    ocsf::write_findings(&mut out, &hosts).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), hosts[0].findings.len());
    assert!(text.ends_with('\n'));
    let expected_severity = [("f1", 4), ("f2", 5), ("f3", 1), ("f4", 2), ("f5", 3), ("f6", 0)];
    for (line, (uid, severity_id)) in lines.iter().zip(expected_severity) {
        let event: Value = serde_json::from_str(line).expect("every line is JSON");
        assert_eq!(event["class_uid"], 2004);
        assert_eq!(event["category_uid"], 2);
        assert_eq!(event["activity_id"], 1);
        assert_eq!(event["type_uid"], 200401, "class_uid * 100 + activity_id");
        assert_eq!(event["severity_id"], severity_id, "{uid}");
        assert_eq!(event["time"], NOW * 1000, "OCSF times are milliseconds");
        assert_eq!(event["metadata"]["version"], ocsf::OCSF_VERSION);
        assert_eq!(event["metadata"]["product"]["name"], "Muster");
        assert!(event["metadata"]["product"]["vendor_name"].is_string());
        assert_eq!(event["finding_info"]["uid"], uid);
        assert_eq!(event["finding_info"]["title"], "literal GitHub token in env GITHUB_TOKEN");
        assert_eq!(event["device"]["uid"], "agent-1");
        assert_eq!(event["device"]["os"]["type_id"], 300);
        assert!(event["resources"].is_array());
        assert_eq!(event["remediation"]["desc"], "Move the value out of the config, then rotate it.");
        assert_eq!(event["finding_info"]["desc"], "Literal secret in a server's environment block");
    }
    let first: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["resources"][0]["uid"], "s-npm");
    assert_eq!(first["resources"][0]["name"], "github");
    assert_eq!(first["finding_info"]["types"], serde_json::json!(["MUSTER-SECRET-ENV", "MCP01"]));
    let client_level: Value = serde_json::from_str(lines[4]).unwrap();
    assert_eq!(client_level["resources"][0]["type"], "MCP Client", "client-level findings name the client");
}

#[test]
fn ocsf_severity_mapping_covers_every_muster_severity() {
    let table = [
        (Severity::Unspecified, 0, "Unknown"),
        (Severity::Info, 1, "Informational"),
        (Severity::Low, 2, "Low"),
        (Severity::Medium, 3, "Medium"),
        (Severity::High, 4, "High"),
        (Severity::Critical, 5, "Critical"),
    ];
    for (severity, id, caption) in table {
        assert_eq!(ocsf::severity(severity), (id, caption));
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP handlers mounted in the route table, on a real store (reports through real mTLS gRPC)

#[tokio::test]
async fn http_exports_need_a_signed_in_viewer_and_serve_the_stored_inventory() {
    let cp = muster_control_plane::testing::TestControlPlane::start().await.unwrap();
    let agent = support::enroll(&cp).await;
    let mut client = support::inventory(&cp, &agent).await;
    let mut formula = support::server("a", "npx");
    formula.name = "=cmd|' /C calc'!A0".into();
    formula.package = Some(muster_proto::v1::Package {
        ecosystem: muster_proto::v1::Ecosystem::Npm as i32,
        name: "@acme/mcp-server".into(),
        version: Some("1.2.3".into()),
        pinned: true,
    });
    client.report(support::full_report(&agent.id, 1, vec![formula, support::server("b", "uvx")])).await.unwrap();

    // A webhook secret lives in the same database: no export may carry it.
    let webhook = muster_control_plane::webhook::register(
        cp.store(),
        "https://hooks.example.test/x",
        muster_proto::v1::Severity::High,
    )
    .await
    .unwrap();
    let mut bodies = Vec::new();

    // Through the control plane's own HTTPS listener and route table, as a viewer API token.
    let ca = reqwest::Certificate::from_pem(cp.ca_pem().as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .resolve("localhost", cp.http_addr)
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", cp.http_addr.port());
    let viewer = muster_control_plane::access::api_tokens::create_api_token(
        cp.store(),
        "exports",
        muster_control_plane::store::Role::Viewer,
        std::time::Duration::from_secs(3600),
        "test",
        muster_control_plane::state::unix_now(),
    )
    .await
    .unwrap()
    .token;
    // Without a session or a token every export is refused.
    for path in ["/api/v1/export/inventory.csv", "/api/v1/export/cyclonedx.json", "/api/v1/export/findings.ocsf.jsonl"]
    {
        let refused = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(refused.status(), 401, "{path}");
        let bad = http.get(format!("{base}{path}")).bearer_auth("mst_0000_forged").send().await.unwrap();
        assert_eq!(bad.status(), 401, "{path}");
    }
    let get = |path: String| {
        let http = http.clone();
        let base = base.clone();
        let viewer = viewer.clone();
        async move { http.get(format!("{base}{path}")).bearer_auth(&viewer).send().await.unwrap() }
    };

    let response = get("/api/v1/export/inventory.csv".into()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let body = response.bytes().await.unwrap();
    bodies.push(body.to_vec());
    let mut reader = ::csv::Reader::from_reader(body.as_ref());
    let rows: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let column = |name: &str| csv::COLUMNS.iter().position(|c| *c == name).unwrap();
    assert_eq!(&rows[0][column("server_name")], "'=cmd|' /C calc'!A0");
    assert_eq!(&rows[0][column("package")], "'@acme/mcp-server");
    assert_eq!(&rows[0][column("hostname")], "laptop-1");
    assert_eq!(&rows[1][column("high_findings")], "1");

    let response = get(format!("/api/v1/export/cyclonedx.json?endpoint={}", agent.id)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/vnd.cyclonedx+json; version=1.6");
    let body = response.bytes().await.unwrap();
    bodies.push(body.to_vec());
    let bom: Value = serde_json::from_slice(&body).unwrap();
    let errors = schema_errors(&validator(), &bom);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(bom["components"][0]["purl"], "pkg:npm/%40acme/mcp-server@1.2.3");
    assert_eq!(bom["services"].as_array().unwrap().len(), 2);

    let fleet: Value =
        serde_json::from_slice(&get("/api/v1/export/cyclonedx.json".into()).await.bytes().await.unwrap()).unwrap();
    assert!(schema_errors(&validator(), &fleet).is_empty());
    assert_eq!(fleet["components"].as_array().unwrap().iter().filter(|c| c["type"] == "device").count(), 1);

    let missing = get("/api/v1/export/cyclonedx.json?endpoint=no-such-agent".into()).await;
    assert_eq!(missing.status(), 404);

    let response = get("/api/v1/export/findings.ocsf.jsonl".into()).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    bodies.push(text.clone().into_bytes());
    let events: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(events.len(), 2, "one finding per server: {text}");
    assert!(events.iter().all(|e| e["class_uid"] == 2004 && e["severity_id"] == 4));
    assert!(events.iter().all(|e| e["device"]["uid"] == agent.id.as_str()));
    let uids: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e["finding_info"]["uid"].as_str().unwrap()).collect();
    assert_eq!(uids.len(), 2, "finding uids are distinct");
    // The fix from the findings catalog travels with every finding the catalog knows.
    let fix = muster_control_plane::finding_catalog::remediation("MUSTER-SECRET-ENV");
    assert!(fix.contains("rotate"), "{fix}");
    assert!(events.iter().all(|e| e["remediation"]["desc"] == fix), "{text}");

    // Fingerprints are fine (they are what lets a fleet see reuse); secrets are not.
    for body in &bodies {
        let text = String::from_utf8_lossy(body);
        assert!(!text.contains(&webhook.secret[6..]), "a webhook secret leaked into an export");
    }
    assert!(String::from_utf8_lossy(&bodies[0]).contains(&format!("{:0>32}", "a")), "the fingerprint is exported");
}
