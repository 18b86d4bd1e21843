//! Local API latency: `GetStatus` over the real Unix socket, served in process by the real
//! server (tonic, peer-credential check, the caller's view computed per call) from a published
//! inventory of 200 servers with 2 findings each across 4 users, 50 of them the caller's.
//! Measures calls on one open connection (how the tray and `WatchStatus` use it) and calls on a
//! fresh connection each (how `muster-agent status` does). Goal: p99 < 5 ms.
//!
//! Run: `cargo bench -p muster-agent --bench local_api`. Figures go in docs/benchmarks.md.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use muster_agent::local_api::caller::Access;
use muster_agent::local_api::{Connection, StatusPublisher, server};
use muster_proto::local::client;
use muster_proto::local::v1::GetStatusRequest;
use muster_proto::v1::{Finding, InventorySnapshot, McpServer, OsUser, Severity};

const WARMUP: usize = 200;
const CALLS: usize = 5_000;
const FRESH: usize = 500;

fn snapshot(own_uid: u32) -> InventorySnapshot {
    let users = ["me", "alice", "bob", "carol"];
    let servers = (0..200)
        .map(|i| McpServer {
            id: format!("{i:016x}"),
            name: format!("server-{i}"),
            client: ["cursor", "claude-code", "vscode", "codex"][i % 4].into(),
            user: users[i % 4].into(),
            config_path: format!("/home/{}/.cursor/mcp.json", users[i % 4]),
            command: "npx".into(),
            args: vec!["-y".into(), format!("@example/server-{i}")],
            env_names: vec!["GITHUB_PERSONAL_ACCESS_TOKEN".into()],
            findings: vec![
                Finding {
                    id: "MUSTER-SECRET-LITERAL".into(),
                    severity: Severity::High as i32,
                    message: "a GitHub token is written in the config".into(),
                    ..Default::default()
                },
                Finding {
                    id: "MUSTER-PKG-UNPINNED".into(),
                    severity: Severity::Low as i32,
                    message: "the package version is not pinned".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        })
        .collect();
    InventorySnapshot {
        scanned_at_unix: 1,
        users: users
            .iter()
            .enumerate()
            .map(|(i, u)| OsUser {
                name: (*u).into(),
                uid: Some(if i == 0 { own_uid } else { 60_000 + i as u32 }),
                home: format!("/home/{u}"),
            })
            .collect(),
        servers,
        ..Default::default()
    }
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{name}: n={} p50={:.0} µs p99={:.0} µs max={:.0} µs",
        samples.len(),
        us(at(0.50)),
        us(at(0.99)),
        us(*samples.last().unwrap())
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("local.sock");
        let uid = rustix::process::geteuid().as_raw();
        let access = Access::Owner { uid };
        let publisher = StatusPublisher::new(Connection::default());
        publisher.publish_snapshot(&snapshot(uid));
        let listener = server::bind(&socket, access).await.unwrap();
        let view = publisher.subscribe();
        tokio::spawn(server::serve(listener, access, view, std::future::pending()));

        let mut client = client::connect(&socket).await.unwrap();
        let first = client.get_status(GetStatusRequest {}).await.unwrap().into_inner();
        let servers: usize = first.clients.iter().map(|c| c.servers.len()).sum();
        assert_eq!(servers, 50, "the caller sees their own 50 servers");
        assert_eq!(first.findings.len(), 100);
        for _ in 0..WARMUP {
            client.get_status(GetStatusRequest {}).await.unwrap();
        }
        let mut open = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let start = Instant::now();
            client.get_status(GetStatusRequest {}).await.unwrap();
            open.push(start.elapsed());
        }
        report("GetStatus on an open connection", open);

        let mut fresh = Vec::with_capacity(FRESH);
        for _ in 0..FRESH {
            let start = Instant::now();
            let mut c = client::connect(&socket).await.unwrap();
            c.get_status(GetStatusRequest {}).await.unwrap();
            fresh.push(start.elapsed());
        }
        report("connect + GetStatus (as `muster-agent status`)", fresh);
    });
}
