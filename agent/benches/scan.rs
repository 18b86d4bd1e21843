//! Scan benchmark: the whole `muster-agent scan --root DIR --os linux --format json` process on a
//! synthetic image (4 users, >= 40 config files, >= 200 servers), run repeatedly. Prints wall
//! time (median, p95, max) and peak RSS of the scan process; goals: < 15 ms wall, < 10 MB RSS.
//!
//! Peak RSS is read by GNU time (`/usr/bin/time -f %M`, Debian package `time`): a small parent,
//! because `getrusage(RUSAGE_CHILDREN)` also counts the parent's pages the child held between
//! fork and exec, which inflates the figure by the benchmark process's own size.
//!
//! Run: `cargo bench -p muster-agent --bench scan`. Figures go in docs/benchmarks.md.
//! `-- --claude-json-mb N` first grows alice's `~/.claude.json` to about N MB of project history
//! (projects of 40 prompts each, no servers among them, none on disk), as a long-used Claude
//! Code leaves it (issue 16); `-- --write-image DIR` (with it or not) only writes the image.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../tests/common/synthetic.rs"]
mod synthetic;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 50;

fn main() {
    let users = ["alice", "bob", "carol", "dave"];
    // `--write-image DIR` only writes the image, for profiling the scan by hand (`cargo bench`
    // itself passes `--bench`, which is ignored).
    let args: Vec<String> = std::env::args().collect();
    let history_mb: Option<usize> = args
        .iter()
        .position(|a| a == "--claude-json-mb")
        .map(|i| args.get(i + 1).and_then(|n| n.parse().ok()).expect("--claude-json-mb N"));
    if let Some(i) = args.iter().position(|a| a == "--write-image") {
        let target = std::path::PathBuf::from(args.get(i + 1).expect("--write-image DIR"));
        let w = synthetic::write_image(&target, synthetic::ImageOs::Linux, &users, 3);
        if let Some(mb) = history_mb {
            grow_claude_json(&target, mb);
        }
        println!("wrote {} files, {} servers under {}", w.files, w.servers, target.display());
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let written = synthetic::write_image(dir.path(), synthetic::ImageOs::Linux, &users, 3);
    if let Some(mb) = history_mb {
        grow_claude_json(dir.path(), mb);
    }
    let exe = env!("CARGO_BIN_EXE_muster-agent");

    // Warm the page cache and check the scan finds what was written.
    let out = Command::new(exe)
        .args(["scan", "--offline", "--os", "linux", "--format", "json", "--root"])
        .arg(dir.path())
        .output()
        .expect("run scan");
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let found = json["servers"].as_array().expect("servers").len();
    assert_eq!(found, written.servers, "the benchmark image scans completely");

    let mut walls: Vec<Duration> = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let status = Command::new(exe)
            .args(["scan", "--offline", "--os", "linux", "--format", "json", "--root"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .status()
            .expect("run scan");
        walls.push(start.elapsed());
        assert!(status.success());
    }
    walls.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| walls[((walls.len() as f64 - 1.0) * q).round() as usize];
    println!("scan benchmark: {} config files, {} servers, {} users, {RUNS} runs", written.files, found, 4);
    println!("  wall median {:.2} ms, p95 {:.2} ms, max {:.2} ms", ms(p(0.5)), ms(p(0.95)), ms(walls[walls.len() - 1]));
    let mut peaks_kb: Vec<u64> = Vec::new();
    let mut cpus_ms: Vec<f64> = Vec::new();
    for _ in 0..10 {
        let out = Command::new("/usr/bin/time")
            .args(["-f", "%M %U %S"])
            .arg(exe)
            .args(["scan", "--offline", "--os", "linux", "--format", "json", "--root"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stderr);
                let last: Vec<&str> = text.lines().last().unwrap_or("").split_whitespace().collect();
                if let [kb, user, sys] = last[..] {
                    peaks_kb.push(kb.parse().expect("KB"));
                    cpus_ms.push((user.parse::<f64>().expect("user") + sys.parse::<f64>().expect("sys")) * 1000.0);
                }
            }
            _ => {
                println!("  peak RSS: not measured (install GNU time: apt-get install time)");
                return;
            }
        }
    }
    peaks_kb.sort();
    cpus_ms.sort_by(f64::total_cmp);
    println!(
        "  CPU (user+sys) median {:.0} ms, max {:.0} ms (GNU time, 10 ms resolution)",
        cpus_ms[cpus_ms.len() / 2],
        cpus_ms[cpus_ms.len() - 1]
    );
    println!(
        "  peak RSS median {:.1} MB, max {:.1} MB (GNU time, 10 runs)",
        peaks_kb[peaks_kb.len() / 2] as f64 / 1024.0,
        peaks_kb[peaks_kb.len() - 1] as f64 / 1024.0
    );
}

/// Grows alice's `~/.claude.json` under `root` to about `mb` megabytes with project history: more
/// projects (none of them with servers, none on disk) of 40 prompts each, the servers kept.
fn grow_claude_json(root: &std::path::Path, mb: usize) {
    let path = root.join("home/alice/.claude.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    let projects = doc["projects"].as_object_mut().expect("projects");
    let prompt = "refactor the session store so that expired entries are swept in the background and \
                  add tests for the sweep; keep the public API unchanged";
    let mut n = 0;
    while serde_json::to_vec(&projects).expect("json").len() < mb * 1024 * 1024 {
        for _ in 0..32 {
            let history: Vec<serde_json::Value> = (0..40)
                .map(|i| serde_json::json!({"display": format!("{prompt} ({n}.{i})"), "pastedContents": {}}))
                .collect();
            projects.insert(
                format!("/home/alice/work/history-{n}"),
                serde_json::json!({"allowedTools": [], "history": history, "hasTrustDialogAccepted": true}),
            );
            n += 1;
        }
    }
    std::fs::write(&path, serde_json::to_string_pretty(&doc).expect("json")).expect("write");
}
