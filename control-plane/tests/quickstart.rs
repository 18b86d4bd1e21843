//! `quickstart` with a stand-in `muster-agent` (a shell script that records its arguments): the
//! server starts, the agent is enrolled with a working token and the pinned CA fingerprint, then
//! run with the same state dir.

#![cfg(unix)]
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use muster_control_plane::config::{self, Overrides};
use muster_control_plane::pki::fingerprint;
use muster_control_plane::testing::{AgentKey, channel};
use muster_proto::v1::EnrollRequest;
use muster_proto::v1::enrollment_client::EnrollmentClient;

#[tokio::test]
async fn quickstart_enrolls_and_runs_the_local_agent() {
    let dir = tempfile::tempdir().unwrap();
    let calls = dir.path().join("calls.log");
    let agent = dir.path().join("muster-agent");
    std::fs::write(&agent, format!("#!/bin/sh\necho \"$@\" >> '{}'\n", calls.display())).unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();

    let overrides = Overrides { data_dir: Some(dir.path().join("muster-data")), ..Overrides::default() };
    let config = config::load(None, &Default::default(), &overrides).unwrap();
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_addr = grpc.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config_for_task = config.clone();
    let agent_path = agent.clone();
    let task = tokio::spawn(async move {
        muster_control_plane::quickstart::quickstart_on(&config_for_task, Some(&agent_path), grpc, http, async move {
            let _ = stopped.await;
        })
        .await
    });

    let recorded = support::eventually(Duration::from_secs(20), || async {
        std::fs::read_to_string(&calls).map(|text| text.lines().count() >= 2).unwrap_or(false)
    })
    .await;
    assert!(recorded, "the agent was not enrolled and started");
    let text = std::fs::read_to_string(&calls).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|line| line.split(' ').collect()).collect();
    let state_dir = config.data_dir.join("agent").display().to_string();
    let enroll = &lines[0];
    assert_eq!(enroll[0], "enroll");
    assert_eq!(enroll[1..3], ["--server", &format!("https://127.0.0.1:{}", grpc_addr.port())]);
    assert_eq!(enroll[3], "--token");
    assert_eq!(enroll[5], "--ca-fingerprint");
    assert_eq!(enroll[7..9], ["--state-dir", state_dir.as_str()]);
    assert_eq!(lines[1], ["run", "--state-dir", state_dir.as_str()]);

    // The fingerprint is the CA's in the data dir, and the token enrolls (the stand-in did not use it).
    let ca_pem = std::fs::read_to_string(config.data_dir.join("pki/ca.pem")).unwrap();
    assert_eq!(enroll[6], fingerprint(&muster_control_plane::pki::pem_to_der(&ca_pem).unwrap()));
    let key = AgentKey::generate().unwrap();
    let mut client = EnrollmentClient::new(channel(grpc_addr, &ca_pem, None).await.unwrap());
    let response = client
        .enroll(EnrollRequest { token: enroll[4].to_string(), csr_der: key.csr_der, ..Default::default() })
        .await
        .expect("the printed token enrolls");
    assert!(!response.get_ref().agent_id.is_empty());

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), task).await.expect("quickstart stops").unwrap().unwrap();
    assert!(config.data_dir.join("muster.db").exists());
    // The dashboard's admin account was created (its password was printed once).
    let store = muster_control_plane::store::open(&config.database_url).await.unwrap();
    let admin = store.user("admin").await.unwrap().expect("quickstart creates the admin account");
    assert_eq!(admin.role, muster_control_plane::store::Role::Admin);
    assert!(admin.password_hash.unwrap().starts_with("$argon2id$"));
}

/// Runs quickstart on `config` until the stand-in agent has been started, then stops it; returns
/// the token the stand-in was enrolled with (None when quickstart enrolled nothing).
async fn run_once(config: &config::ServerConfig, agent: &std::path::Path, calls: &std::path::Path) -> Option<String> {
    let before = std::fs::read_to_string(calls).map(|t| t.lines().count()).unwrap_or(0);
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (config_for_task, agent_path) = (config.clone(), agent.to_path_buf());
    let task = tokio::spawn(async move {
        muster_control_plane::quickstart::quickstart_on(&config_for_task, Some(&agent_path), grpc, http, async move {
            let _ = stopped.await;
        })
        .await
    });
    let started = support::eventually(Duration::from_secs(20), || async {
        std::fs::read_to_string(calls).is_ok_and(|text| text.lines().skip(before).any(|l| l.starts_with("run ")))
    })
    .await;
    assert!(started, "the agent was not started");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), task).await.expect("quickstart stops").unwrap().unwrap();
    let text = std::fs::read_to_string(calls).unwrap();
    let enroll = text.lines().skip(before).find(|l| l.starts_with("enroll "))?;
    enroll.split(' ').skip_while(|w| *w != "--token").nth(1).map(str::to_string)
}

/// Issue 15: every quickstart run minted a new hour-long enrollment token. A re-run reuses the
/// last run's token while it can still enroll, and mints none once the local agent is enrolled.
#[tokio::test]
async fn a_rerun_reuses_the_unused_token_and_mints_none_once_enrolled() {
    let dir = tempfile::tempdir().unwrap();
    let calls = dir.path().join("calls.log");
    let agent = dir.path().join("muster-agent");
    // The stand-in records its arguments and enrolls nothing: its state dir stays empty.
    std::fs::write(&agent, format!("#!/bin/sh\necho \"$@\" >> '{}'\n", calls.display())).unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let overrides = Overrides { data_dir: Some(dir.path().join("muster-data")), ..Overrides::default() };
    let config = config::load(None, &Default::default(), &overrides).unwrap();

    let first = run_once(&config, &agent, &calls).await.expect("the first run enrolls with a token");
    let second = run_once(&config, &agent, &calls).await.expect("the re-run enrolls with a token");
    assert_eq!(first, second, "the re-run reuses the unused token");
    let saved = config.data_dir.join("quickstart-token");
    let mode = std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the saved token is owner-only");
    let store = muster_control_plane::store::open(&config.database_url).await.unwrap();
    assert_eq!(store.list_tokens().await.unwrap().len(), 1, "one token minted over two runs");

    // Once the local agent is enrolled (its state dir holds its identity) and the token is spent,
    // a re-run mints none and enrolls nothing.
    std::fs::create_dir_all(config.data_dir.join("agent")).unwrap();
    std::fs::write(config.data_dir.join("agent/identity.json"), "{}").unwrap();
    let record = store.list_tokens().await.unwrap().remove(0);
    store.revoke_token(&record.id, 1).await.unwrap();
    assert_eq!(run_once(&config, &agent, &calls).await, None, "an enrolled agent is not enrolled again");
    assert_eq!(store.list_tokens().await.unwrap().len(), 1, "no token minted for an enrolled agent");
}
