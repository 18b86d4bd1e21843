//! Scan benchmark: the whole `muster-agent scan --root DIR --os linux --format json` process on a
//! synthetic image (4 users, >= 40 config files, >= 200 servers), run repeatedly. Prints wall
//! time (median, p95, max) and peak RSS of the scan process; goals: < 15 ms wall, < 10 MB RSS.
//!
//! Run: `cargo bench -p muster-agent --bench scan`. Figures go in docs/benchmarks.md.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../tests/common/synthetic.rs"]
mod synthetic;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 50;

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects nothing here.
    let dir = tempfile::tempdir().expect("tempdir");
    let written = synthetic::write_image(dir.path(), synthetic::ImageOs::Linux, &["alice", "bob", "carol", "dave"], 3);
    let exe = env!("CARGO_BIN_EXE_muster-agent");

    // Warm the page cache and check the scan finds what was written.
    let out = Command::new(exe)
        .args(["scan", "--os", "linux", "--format", "json", "--root"])
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
            .args(["scan", "--os", "linux", "--format", "json", "--root"])
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
    #[cfg(unix)]
    {
        let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).expect("getrusage");
        // ru_maxrss is in KiB on Linux: the largest child so far, i.e. the peak of any scan run.
        println!("  peak RSS {:.1} MB", usage.max_rss() as f64 / 1024.0);
    }
}
