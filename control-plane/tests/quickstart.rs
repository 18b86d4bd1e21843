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
