//! What a CI pipeline runs: `muster-agent scan --project DIR` on a checked-out repository, with
//! `--format sarif` (validated against the official SARIF 2.1.0 schema) and `--fail-on`, plus the
//! table a person sees. The real binary on a project written to a temp dir.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Format-valid (checksummed) but fake GitHub token.
const FAKE_TOKEN: &str = "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";

/// A repository with a `.mcp.json`: `github` holds the token in its env block (medium) and as
/// an argument (high), `fetch` runs an unpinned PyPI package. Nothing is critical.
fn write_project(dir: &Path) {
    let config = format!(
        r#"{{"mcpServers": {{
  "github": {{"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github", "--token", "{FAKE_TOKEN}"],
              "env": {{"GITHUB_PERSONAL_ACCESS_TOKEN": "{FAKE_TOKEN}"}}}},
  "fetch": {{"command": "uvx", "args": ["mcp-server-fetch"]}}
}}}}"#
    );
    std::fs::write(dir.join(".mcp.json"), config).expect("write .mcp.json");
}

fn agent(args: &[&str], project: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_muster-agent"))
        .args(["scan", "--offline"])
        .arg("--project")
        .arg(project)
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run muster-agent")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf8 stdout")
}

/// `src/schema.json` of the serde-sarif package this crate builds with, found through
/// `cargo metadata` (the schema is not copied into this repository).
fn sarif_schema() -> Value {
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
        .find(|p| p["name"] == "serde-sarif")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("serde-sarif is a dependency");
    let path: PathBuf = Path::new(manifest).parent().expect("package dir").join("src/schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    assert_eq!(schema["title"], "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema");
    schema
}

/// The published schema's `language` pattern (on `run` and `toolComponent`) has a stray `]`
/// and is not a valid ECMA 262 regex, so a validator that checks the schema refuses to compile
/// it. Muster never writes a `language` property (asserted below), so dropping just those two
/// patterns, in memory, leaves every constraint that applies to its output in place.
fn sarif_schema_without_language_pattern() -> Value {
    const BROKEN: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    fn drop_broken(v: &mut Value, dropped: &mut usize) {
        match v {
            Value::Object(map) => {
                if map.get("pattern").and_then(Value::as_str) == Some(BROKEN) {
                    map.remove("pattern");
                    *dropped += 1;
                }
                map.values_mut().for_each(|v| drop_broken(v, dropped));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| drop_broken(v, dropped)),
            _ => {}
        }
    }
    let mut schema = sarif_schema();
    let mut dropped = 0;
    drop_broken(&mut schema, &mut dropped);
    assert_eq!(dropped, 2, "the schema changed: is the workaround still needed?");
    schema
}

#[test]
fn sarif_of_a_project_validates_against_the_sarif_2_1_0_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_project(dir.path());
    let out = agent(&["--format", "sarif"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    assert!(!text.contains(FAKE_TOKEN) && !text.contains("Ky9Pf34q"), "no secret in SARIF");
    let log: Value = serde_json::from_str(&text).expect("SARIF is JSON");

    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&sarif_schema_without_language_pattern())
        .expect("schema compiles");
    let errors: Vec<String> = validator.iter_errors(&log).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "SARIF schema violations: {errors:#?}");
    // The validator does reject a broken log (so the check above means something).
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = "severe".into();
    assert!(!validator.is_valid(&broken));
    // Formats are checked too: an artifact URI must be a URI reference.
    let mut bad_uri = log.clone();
    bad_uri["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] =
        "has space/.mcp.json".into();
    assert!(!validator.is_valid(&bad_uri));

    let run = &log["runs"][0];
    assert!(run.get("language").is_none() && run["tool"]["driver"].get("language").is_none());
    assert_eq!(run["tool"]["driver"]["name"], "muster-agent");
    assert_eq!(run["tool"]["driver"]["version"], env!("CARGO_PKG_VERSION"));
    let results = run["results"].as_array().expect("results");
    let ids: Vec<&str> = results.iter().map(|r| r["ruleId"].as_str().unwrap()).collect();
    for id in ["MUSTER-SECRET-ENV", "MUSTER-SECRET-ARG", "MUSTER-PKG-UNPINNED"] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    let base = url::Url::parse("file:///checkout/").unwrap();
    for r in results {
        let uri = &r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
        assert_eq!(uri, ".mcp.json", "project-relative uri: {r}");
        assert_eq!(base.join(uri.as_str().unwrap()).unwrap().as_str(), "file:///checkout/.mcp.json");
        assert!(r["partialFingerprints"]["musterFinding/v1"].is_string(), "{r}");
    }
    let rule = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "MUSTER-SECRET-ARG")
        .expect("rule for a used id");
    assert_eq!(rule["properties"]["security-severity"], "8.0");
    assert_eq!(rule["defaultConfiguration"]["level"], "error");
}

#[test]
fn sarif_fingerprints_are_the_same_for_another_checkout_of_the_project() {
    let fingerprints = || {
        let dir = tempfile::tempdir().expect("tempdir");
        write_project(dir.path());
        let log: Value = serde_json::from_str(&stdout(&agent(&["--format", "sarif"], dir.path()))).unwrap();
        let mut fps: Vec<String> = log["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["partialFingerprints"]["musterFinding/v1"].as_str().unwrap().to_string())
            .collect();
        fps.sort();
        fps
    };
    let first = fingerprints();
    assert!(!first.is_empty());
    assert_eq!(first, fingerprints());
}

#[test]
fn fail_on_high_exits_1_and_fail_on_critical_exits_0_when_nothing_is_critical() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_project(dir.path());

    let high = agent(&["--format", "json", "--fail-on", "high"], dir.path());
    assert_eq!(high.status.code(), Some(1), "{}", String::from_utf8_lossy(&high.stderr));
    // The report is still printed, and it does hold a high finding and no critical one.
    let json: Value = serde_json::from_str(&stdout(&high)).expect("report printed before exiting 1");
    let severities: Vec<&str> = json["servers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["findings"].as_array().unwrap().iter())
        .chain(json["findings"].as_array().unwrap().iter())
        .map(|f| f["severity"].as_str().unwrap())
        .collect();
    assert!(severities.contains(&"high") && !severities.contains(&"critical"), "{severities:?}");

    let critical = agent(&["--format", "sarif", "--fail-on", "critical"], dir.path());
    assert_eq!(critical.status.code(), Some(0));
    let none = agent(&["--format", "table"], dir.path());
    assert_eq!(none.status.code(), Some(0), "without --fail-on findings never fail the run");
    let info = agent(&["--format", "table", "--fail-on", "info"], dir.path());
    assert_eq!(info.status.code(), Some(1), "info is the lowest threshold");
}

#[test]
fn errors_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("not-there");
    let out = agent(&["--format", "sarif"], &missing);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a directory"));
    let bad = agent(&["--fail-on", "severe"], dir.path());
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn help_documents_exit_codes() {
    let out = Command::new(env!("CARGO_BIN_EXE_muster-agent")).args(["scan", "--help"]).output().expect("run");
    let help = String::from_utf8(out.stdout).expect("utf8");
    assert!(help.contains("Exit codes:") && help.contains("--fail-on") && help.contains("--project"), "{help}");
}

#[test]
fn project_scans_only_the_project() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path().join("repo");
    let home = dir.path().join("home");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::create_dir_all(home.join(".cursor")).unwrap();
    write_project(&project);
    // A user config the scan would read for the current user, were it not a project scan.
    std::fs::write(home.join(".cursor/mcp.json"), r#"{"mcpServers": {"home-only": {"command": "home-server"}}}"#)
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_muster-agent"))
        .args(["scan", "--offline", "--format", "json", "--project"])
        .arg(&project)
        .env("HOME", &home)
        .env("USER", "dev")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_str(&stdout(&out)).expect("JSON");

    assert_eq!(json["host"]["users"], Value::Array(vec![]), "no user is scanned");
    assert_eq!(json["processes"], Value::Array(vec![]), "no process is listed");
    let real = std::fs::canonicalize(&project).unwrap();
    let config = real.join(".mcp.json").to_string_lossy().into_owned();
    let mut names: Vec<&str> = json["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["config_path"], config.as_str(), "the real path: {s}");
            assert_eq!(s["scope"], "project");
            s["name"].as_str().unwrap()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["fetch", "github"]);
    for source in json["sources"].as_array().unwrap() {
        assert!(source["path"].as_str().unwrap().starts_with(real.to_str().unwrap()), "{source}");
    }
}

#[test]
fn table_summarises_per_client_without_colour_when_not_a_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_project(dir.path());
    let out = agent(&["--format", "table"], dir.path());
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(!text.contains('\u{1b}'), "no ANSI codes into a pipe: {text:?}");
    assert!(!text.contains(FAKE_TOKEN), "no secret in the table");
    let header = text.lines().position(|l| l.starts_with("USER  CLIENT") && l.contains("LITERAL SECRETS"));
    let header = header.expect("summary header");
    let row: Vec<&str> = text.lines().nth(header + 1).expect("summary row").split_whitespace().collect();
    // USER CLIENT SERVERS LITERAL-SECRETS CRITICAL HIGH MEDIUM LOW INFO
    assert_eq!(&row[..5], ["-", "claude-code", "2", "2", "-"], "{text}");
    assert!(text.contains("findings by severity:") && text.contains("HIGH ("), "{text}");
}
