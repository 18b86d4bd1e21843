//! Unit tests of the MCP Registry reader: every input shape from the fixtures, the parts kept
//! and dropped, and refusals that name their place. Import through the CLI and API is tested in
//! `tests/registry_import.rs`.

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registry").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn server<'a>(data: &'a RegistryData, name: &str, version: &str) -> &'a RegistryServer {
    data.servers.iter().find(|s| s.name == name && s.version == version).unwrap_or_else(|| panic!("{name} {version}"))
}

#[test]
fn a_single_server_json_keeps_names_packages_and_secret_flags_but_no_values() {
    let data = parse("single.json", &fixture("single.json")).unwrap();
    assert_eq!(data.format, REGISTRY_FORMAT);
    assert_eq!(
        data.servers,
        [RegistryServer {
            name: "io.github.example-org/ledger-mcp".into(),
            version: "2.1.0".into(),
            title: "Ledger".into(),
            description: "Reads and files expense reports in the Example ledger.".into(),
            status: "active".into(),
            status_message: String::new(),
            packages: vec![RegistryPackage {
                registry_type: "npm".into(),
                identifier: "@example-org/ledger-mcp".into(),
                version: "2.1.0".into(),
                environment_variables: vec![
                    RegistryVariable { name: "LEDGER_TOKEN".into(), is_secret: true },
                    RegistryVariable { name: "LEDGER_REGION".into(), is_secret: false },
                ],
            }],
            remotes: vec![],
        }]
    );
    let json = serde_json::to_string(&data).unwrap();
    assert!(!json.contains("\"eu\""), "a default value is not carried: {json}");
}

#[test]
fn an_array_of_documents_normalises_registry_types_and_remote_headers() {
    let data = parse("array.json", &fixture("array.json")).unwrap();
    let names: Vec<_> = data.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["com.example.weather/forecast", "io.github.example-org/ledger-mcp", "io.github.example-org/notes-py"],
        "sorted by name"
    );
    let forecast = server(&data, "com.example.weather/forecast", "0.4.2");
    assert_eq!(forecast.remotes.len(), 1);
    assert_eq!(forecast.remotes[0].transport, "streamable-http");
    assert_eq!(forecast.remotes[0].url, "https://mcp.weather.example.com/mcp");
    assert_eq!(
        forecast.remotes[0].headers,
        [
            RegistryVariable { name: "X-Forecast-Key".into(), is_secret: true },
            RegistryVariable { name: "X-Units".into(), is_secret: false }
        ]
    );
    let notes = server(&data, "io.github.example-org/notes-py", "1.0.0");
    let types: Vec<_> = notes.packages.iter().map(|p| p.registry_type.as_str()).collect();
    assert_eq!(types, ["pypi", "oci"], "registry types are lower-cased");
}

#[test]
fn a_registry_list_response_carries_each_versions_status_from_the_official_meta() {
    let data = parse("list.json", &fixture("list.json")).unwrap();
    assert_eq!(data.servers.len(), 3);
    let old = server(&data, "io.github.example-org/ledger-mcp", "1.9.0");
    assert_eq!(old.status, "deprecated");
    assert_eq!(old.status_message, "1.9 sends tokens in query strings; upgrade to 2.x");
    assert_eq!(server(&data, "io.github.example-org/ledger-mcp", "2.1.0").status, "active");
    let gone = server(&data, "com.example.legacy/old-search", "0.1.0");
    assert_eq!((gone.status.as_str(), gone.remotes[0].transport.as_str()), ("deleted", "sse"));
    // What is stored round-trips through the form the bundle check and the agents read.
    let text = serde_json::to_string(&data).unwrap();
    assert_eq!(serde_json::from_str::<RegistryData>(&text).unwrap(), data);
}

#[test]
fn malformed_documents_are_refused_with_their_place() {
    let syntax = parse("bad.json", &fixture("malformed_syntax.json")).unwrap_err();
    assert!(
        matches!(&syntax, RegistryError::Syntax { line: 5, column, .. } if *column > 70),
        "a trailing comma: {syntax}"
    );
    assert!(syntax.to_string().starts_with("bad.json: not JSON at line 5, column "), "{syntax}");

    let wrong_type = parse("list.json", &fixture("malformed_type.json")).unwrap_err();
    assert_eq!(
        wrong_type.to_string(),
        "list.json: document 1 ($.servers[1].server.packages[0].environmentVariables[0].isSecret): expected true or false"
    );
    let no_name = parse("array.json", &fixture("malformed_no_name.json")).unwrap_err();
    assert_eq!(no_name.to_string(), "array.json: document 1 ($[1].name): is missing");

    for (text, expected) in [
        (r#"{"name": 7}"#, "x: document 0 ($.name): expected a string"),
        (r#"{"name": "no-slash"}"#, "x: document 0 ($.name): expected a reverse-DNS name"),
        (r#"{"name": "a.b/c", "packages": {}}"#, "x: document 0 ($.packages): expected an array"),
        (r#"{"name": "a.b/c", "remotes": [{"type": "sse"}]}"#, "x: document 0 ($.remotes[0].url): is missing"),
        (r#"{"servers": [{"name": "a.b/c"}]}"#, "x: document 0 ($.servers[0]): expected a `server` member"),
        (
            r#"{"servers": [{"server": {"name": "a.b/c"}, "_meta": {"io.modelcontextprotocol.registry/official": {"status": "gone"}}}]}"#,
            "x: document 0 ($.servers[0]._meta[\"io.modelcontextprotocol.registry/official\"].status): expected active",
        ),
        (r#"{"servers": {}}"#, "x: $.servers: expected an array"),
        ("42", "x: expected a server.json object"),
    ] {
        let error = parse("x", text.as_bytes()).unwrap_err().to_string();
        assert!(error.starts_with(expected), "{text}: {error}");
    }
}
