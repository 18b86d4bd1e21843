//! `muster-server policy check FILE` as the real binary: a valid file is summarised, a
//! malformed one refused with exit status 2 and every problem at FILE:LINE:COLUMN. Needs no
//! configuration, data dir or database; `policy diff FILE` dry-runs a file against a database.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::{Command, Output};

fn check(file: &std::path::Path, cwd: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_muster-server"))
        .args(["policy", "check"])
        .arg(file)
        .current_dir(cwd)
        .env_remove("MUSTER_CONFIG")
        .env_remove("MUSTER_DATABASE_URL")
        .env_remove("MUSTER_DATA_DIR")
        .output()
        .unwrap()
}

#[test]
fn a_valid_policy_is_summarised_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acme.toml");
    std::fs::write(
        &file,
        "version = 1\nname = \"acme\"\n[[rule]]\nid = \"no-sse\"\naction = \"block\"\n[rule.match]\ntransport = [\"sse\"]\n\
         [[rule]]\nid = \"pin\"\naction = \"notify\"\nbuiltin = \"MUSTER-PKG-UNPINNED\"\n",
    )
    .unwrap();
    let out = check(&file, dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("policy acme ok: 2 rule(s), 0 exception(s)\n  rule no-sse\n  rule pin\n"), "{stdout}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["acme.toml"], "policy check created files (a data dir?)");
}

#[test]
fn a_malformed_policy_exits_2_with_every_problem_and_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "version = 1\n[[rule]]\nid = \"r\"\naction = \"block\"\n[rule.match]\necosystem = [\"pypi\"]\nversion = \"=>1.0\"\n\
         [[rule]]\nid = \"r\"\naction = \"notify\"\n[rule.match]\npackage = []\n",
    )
    .unwrap();
    let out = check(&file, dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let shown = file.display().to_string();
    for expected in [
        format!("{shown}:7:11: \"=>1.0\" is not a PEP 440 version range"),
        format!("{shown}:9:6: rule id \"r\" is used twice"),
        format!("{shown}:11:1: `package = []` matches nothing"),
    ] {
        assert!(stderr.contains(&expected), "missing {expected:?} in\n{stderr}");
    }

    // Broken TOML and an unknown field: the parser's own place.
    std::fs::write(&file, "version = 1\n[[rule]]\nid = \"r\"\naction = \"block\"\nscope = [\"user\"]\n").unwrap();
    let out = check(&file, dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("{shown}:5:1: unknown field `scope`")));
    std::fs::write(&file, "version = 1\n[[rule]\n").unwrap();
    let out = check(&file, dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("{shown}:2:8: ")));
}

/// `policy diff FILE` against a database holding one endpoint with an SSE server and one with
/// a stdio server: text by default, the API's JSON with `--format json`, exit 2 for a bad file.
#[tokio::test]
async fn policy_diff_dry_runs_a_file_against_the_stored_fleet() {
    use muster_control_plane::enroll::{create_token, hash_token};
    use muster_control_plane::ingest::{Report, ReportBody};
    use muster_control_plane::store::NewAgent;
    use muster_proto::v1::{Host, InventorySnapshot, McpServer, Transport};

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("muster.db").display());
    let store = muster_control_plane::store::open(&url).await.unwrap();
    for (n, transport) in [(1, Transport::Sse), (2, Transport::Stdio)] {
        let token = create_token(store.as_ref(), 1, std::time::Duration::from_secs(3600), 1_000).await.unwrap();
        let id = format!("00000000-0000-4000-8000-00000000000{n}");
        let agent = NewAgent {
            id: id.clone(),
            hostname: format!("laptop-{n}"),
            cert_serial: "01".into(),
            cert_not_after: i64::MAX / 2,
            agent_version: "0.1.0".into(),
            enrolled_at: 1_000,
        };
        store.enroll_agent(&hash_token(&token.token), 1_000, &agent).await.unwrap();
        let inventory = InventorySnapshot {
            host: Some(Host { hostname: format!("laptop-{n}"), os: 1, ..Default::default() }),
            servers: vec![McpServer {
                id: format!("s{n}"),
                name: "legacy".into(),
                client: "cursor".into(),
                user: "alice".into(),
                transport: transport as i32,
                ..Default::default()
            }],
            ..Default::default()
        };
        let report = Report { sequence: 1, base_sequence: 0, body: ReportBody::Full(inventory), policy: None };
        store.ingest(&id, &report, 1_000).await.unwrap();
    }
    drop(store);
    let file = dir.path().join("acme.toml");
    std::fs::write(
        &file,
        "version = 1\nname = \"acme\"\n[[rule]]\nid = \"no-sse\"\naction = \"block\"\n[rule.match]\ntransport = [\"sse\"]\n",
    )
    .unwrap();
    let diff = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_muster-server"))
            .args(["--database-url", &url, "--data-dir"])
            .arg(dir.path())
            .args(["policy", "diff"])
            .arg(&file)
            .args(extra)
            .env_remove("MUSTER_CONFIG")
            .env_remove("MUSTER_DATABASE_URL")
            .env_remove("MUSTER_DATA_DIR")
            .output()
            .unwrap()
    };
    let out = diff(&[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("policy acme would affect 1 endpoint(s), 1 server(s), 1 user(s) of 2 endpoint(s)"),
        "{text}"
    );
    assert!(text.contains("laptop-1 cursor legacy alice [now]") && !text.contains("laptop-2"), "{text}");

    let out = diff(&["--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["affected"]["endpoints"], 1);
    assert_eq!(json["rules"][0]["rule"], "no-sse");
    assert_eq!(json["rules"][0]["action"], "block");
    assert_eq!(json["rules"][0]["hits"][0]["hostname"], "laptop-1");

    std::fs::write(&file, "version = 1\n[[rule]]\nid = \"x\"\naction = \"block\"\n[rule.match]\npackage = []\n")
        .unwrap();
    let out = diff(&[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&format!("{}:5:1: `package = []` matches nothing", file.display())), "{stderr}");
}

fn server(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_muster-server"))
        .args(args)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .current_dir(dir)
        .env_remove("MUSTER_CONFIG")
        .env_remove("MUSTER_DATABASE_URL")
        .env_remove("MUSTER_DATA_DIR")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn apply_publishes_versions_refuses_a_broken_file_with_its_places_and_audits_both() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("acme.toml");
    std::fs::write(&good, "version = 1\nname = \"acme\"\n[[rule]]\nid = \"no-sse\"\naction = \"block\"\n[rule.match]\ntransport = [\"sse\"]\n").unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "version = 1\n[[rule]]\nid = \"r\"\naction = \"shout\"\n").unwrap();

    let out = server(dir.path(), &["policy", "apply", bad.to_str().unwrap(), "--reason", "typo"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&format!("{}:4:10: ", bad.display())), "{stderr}");
    assert!(stderr.contains("nothing was published"), "{stderr}");

    let out = server(dir.path(), &["policy", "apply", good.to_str().unwrap(), "--reason", "first rollout"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("published policy version 1 (digest "));
    let out = server(dir.path(), &["policy", "rollback", "1", "--reason", "again"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = server(dir.path(), &["policy", "history"]);
    let history = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = history.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "the refused file stored nothing:\n{history}");
    assert!(rows[0].trim_start().starts_with("2 ") && rows[0].ends_with("again"), "{history}");
    assert!(rows[1].trim_start().starts_with("1 ") && rows[1].contains(" cli ") && rows[1].ends_with("first rollout"));

    let audit = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let url = format!("sqlite://{}", dir.path().join("data/muster.db").display());
        let store = muster_control_plane::store::open(&url).await.unwrap();
        store.list_audit(None, 100).await.unwrap()
    });
    let seen: Vec<(String, String, String)> = audit
        .iter()
        .map(|a| (a.entry.action.clone(), a.entry.target.clone(), a.entry.outcome.as_str().to_string()))
        .collect();
    for expected in [
        ("policy.publish", "policy", "failure"),
        ("policy.publish", "policy/1", "success"),
        ("policy.rollback", "policy/2", "success"),
    ] {
        assert!(
            seen.iter().any(|(a, t, o)| (a.as_str(), t.as_str(), o.as_str()) == expected),
            "missing audit row {expected:?} in {seen:?}"
        );
    }
}
