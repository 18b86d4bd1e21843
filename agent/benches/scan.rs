//! Scan benchmark: the whole `muster-agent scan --root DIR --os linux --format json` process on a
//! synthetic image (4 users, >= 40 config files, >= 200 servers), run repeatedly. Prints wall
//! time (median, p95, max) and peak RSS of the scan process; goals: < 15 ms wall, < 10 MB RSS.
//!
//! Peak RSS is read by GNU time (`/usr/bin/time -f %M`, Debian package `time`): a small parent,
//! because `getrusage(RUSAGE_CHILDREN)` also counts the parent's pages the child held between
//! fork and exec, which inflates the figure by the benchmark process's own size.
//!
//! Run: `cargo bench -p muster-agent --bench scan`. Figures go in docs/benchmarks.md.

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
    if let Some(i) = args.iter().position(|a| a == "--write-image") {
        let target = std::path::PathBuf::from(args.get(i + 1).expect("--write-image DIR"));
        let w = synthetic::write_image(&target, synthetic::ImageOs::Linux, &users, 3);
        println!("wrote {} files, {} servers under {}", w.files, w.servers, target.display());
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let written = synthetic::write_image(dir.path(), synthetic::ImageOs::Linux, &users, 3);
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
    for _ in 0..10 {
        let out = Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .arg(exe)
            .args(["scan", "--offline", "--os", "linux", "--format", "json", "--root"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stderr);
                if let Some(kb) = text.lines().last().and_then(|l| l.trim().parse().ok()) {
                    peaks_kb.push(kb);
                }
            }
            _ => {
                println!("  peak RSS: not measured (install GNU time: apt-get install time)");
                return;
            }
        }
    }
    peaks_kb.sort();
    println!(
        "  peak RSS median {:.1} MB, max {:.1} MB (GNU time, 10 runs)",
        peaks_kb[peaks_kb.len() / 2] as f64 / 1024.0,
        peaks_kb[peaks_kb.len() - 1] as f64 / 1024.0
    );
}
