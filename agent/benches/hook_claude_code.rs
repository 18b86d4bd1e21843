//! Claude Code policyHelper benchmark: the whole `muster-agent hook claude-code --dir DIR` process
//! as Claude Code runs it at every start, on a managed-settings directory with an
//! administrator's `managed-settings.json`, a team drop-in and Muster's drop-in (200 denied
//! servers, 50 tool rules). Prints wall time per run (median, p95, max) and, separately, the
//! in-process answer (`helper_answer`) so start-up cost and the helper's own work are told apart.
//!
//! Run: `cargo bench -p muster-agent --bench hook_claude_code`. Figures go in docs/benchmarks.md.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use muster_agent::enforce::client_policy::claude_code_helper::helper_answer;
use serde_json::json;

const RUNS: usize = 100;

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name}: median {:.3} ms, p95 {:.3} ms, max {:.3} ms ({} runs)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.95).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
        times.len()
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("managed-settings.d")).unwrap();
    let admin = json!({
        "permissions": { "deny": ["Bash(curl *)", "Read(./.env)"] },
        "deniedMcpServers": [{ "serverUrl": "https://*.pastebin.example/*" }],
        "env": { "CLAUDE_CODE_ENABLE_TELEMETRY": "1" },
        "policyHelper": { "path": "/usr/lib/muster-agent/claude-policy-helper" }
    });
    std::fs::write(d.join("managed-settings.json"), serde_json::to_vec_pretty(&admin).unwrap()).unwrap();
    std::fs::write(d.join("managed-settings.d/10-team.json"), br#"{"permissions": {"ask": ["Bash(git push *)"]}}"#)
        .unwrap();
    let denied: Vec<_> = (0..200)
        .map(|i| {
            if i % 2 == 0 {
                json!({ "serverCommand": ["npx", "-y", format!("evil-mcp-{i}")] })
            } else {
                json!({ "serverUrl": format!("https://h{i}.example.com/mcp") })
            }
        })
        .collect();
    let deny: Vec<_> = (0..50).map(|i| format!("mcp__srv{i}__delete")).collect();
    let ours = json!({ "deniedMcpServers": denied, "permissions": { "deny": deny } });
    std::fs::write(d.join("managed-settings.d/50-muster.json"), serde_json::to_vec_pretty(&ours).unwrap()).unwrap();

    let answer = helper_answer(d);
    assert!(answer.notes.is_empty(), "{:?}", answer.notes);
    let in_process: Vec<Duration> = (0..RUNS * 10)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(helper_answer(std::hint::black_box(d)));
            t.elapsed()
        })
        .collect();

    let exe = env!("CARGO_BIN_EXE_muster-agent");
    let run = || {
        let t = Instant::now();
        let out = Command::new(exe)
            .args(["hook", "claude-code", "--dir"])
            .arg(d)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .unwrap();
        let elapsed = t.elapsed();
        assert!(out.status.success() && out.stdout == answer.stdout);
        elapsed
    };
    run();
    let process: Vec<Duration> = (0..RUNS).map(|_| run()).collect();
    println!("answer: {} bytes", answer.stdout.len());
    summary("helper_answer (in process)", in_process);
    summary("muster-agent hook claude-code (whole process)", process);
}
