//! `muster-agent hook cursor`, the real binary as Cursor runs it: a blocked server's call is
//! denied from the decision table, everything else is allowed, and the hook fails open and never
//! hangs (no input, input that is not JSON, no table).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn spawn(table: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_muster-agent"))
        .args(["hook", "cursor", "--table"])
        .arg(table)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the agent starts")
}

/// Wait for the child with a deadline (polled), then return its stdout as JSON.
fn answer(mut child: Child, deadline: Duration) -> serde_json::Value {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("waits").is_some() {
            break;
        }
        assert!(start.elapsed() < deadline, "the hook did not answer within {deadline:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut out = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut out).expect("reads");
    assert!(child.wait().expect("exits").success(), "the hook always exits 0");
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"))
}

fn ask(table: &Path, input: &str) -> serde_json::Value {
    let mut child = spawn(table);
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("writes");
    drop(stdin);
    answer(child, Duration::from_secs(10))
}

const TABLE: &str = r#"{
  "blocked": [{ "rule": "no-evil", "command": "npx -y evil-mcp" }],
  "denied_tools": [{ "rule": "gh-delete", "server": "github", "tools": ["delete_repository"] }]
}"#;

#[test]
fn a_blocked_server_and_a_denied_tool_are_refused_and_the_rest_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("muster-hook-table.json");
    std::fs::write(&table, TABLE).unwrap();
    let call =
        r#"{"hook_event_name":"beforeMCPExecution","tool_name":"run","tool_input":{},"command":"npx -y evil-mcp"}"#;
    let a = ask(&table, call);
    assert_eq!(a["permission"], "deny");
    assert!(a["user_message"].as_str().unwrap().contains("no-evil"));
    assert_eq!(ask(&table, r#"{"tool_name":"MCP:github:delete_repository"}"#)["permission"], "deny");
    assert_eq!(ask(&table, r#"{"tool_name":"MCP:github:list_issues"}"#)["permission"], "allow");
    assert_eq!(ask(&table, r#"{"tool_name":"x","command":"npx -y good-mcp"}"#)["permission"], "allow");
}

#[test]
fn the_hook_fails_open_without_a_table_or_readable_input() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.json");
    assert_eq!(ask(&missing, r#"{"command":"npx -y evil-mcp"}"#)["permission"], "allow");
    let table = dir.path().join("t.json");
    std::fs::write(&table, TABLE).unwrap();
    assert_eq!(ask(&table, "not json at all")["permission"], "allow");
    std::fs::write(&table, "{ broken").unwrap();
    assert_eq!(ask(&table, r#"{"command":"npx -y evil-mcp"}"#)["permission"], "allow");
}

#[test]
fn the_hook_never_hangs_on_a_stdin_that_stays_open() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.json");
    std::fs::write(&table, TABLE).unwrap();
    let mut child = spawn(&table);
    let _open_stdin = child.stdin.take().expect("stdin"); // kept open, nothing written
    let start = Instant::now();
    let a = answer(child, Duration::from_secs(10));
    assert_eq!(a["permission"], "allow");
    assert!(start.elapsed() < Duration::from_secs(5), "answered after {:?}", start.elapsed());

    // A complete call on a stdin that stays open is answered without waiting for its end.
    let mut child = spawn(&table);
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(br#"{"command":"npx -y evil-mcp"}"#).unwrap();
    stdin.flush().unwrap();
    let a = answer(child, Duration::from_secs(10));
    assert_eq!(a["permission"], "deny");
}
