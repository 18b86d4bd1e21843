//! The `notify` watcher and the live daemon: a configuration created after start is seen and
//! arrives at the control plane as a delta, with no secret value in it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use muster_agent::ScanRequest;
use muster_agent::daemon::Settings;
use muster_agent::daemon::live::{self, RunOptions, RunOutcome};
use muster_agent::enroll::{self, EnrollParams};
use muster_agent::platform::{EnvMap, Layout, Os};
use muster_agent::state::StateDir;
use muster_agent::watch::{ConfigWatcher, NotifyWatcher, WatchSet};
use muster_proto::prost::Message;
use muster_proto::v1::{Host, report_request::Body};
use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroizing;

use crate::support::{Pki, control_plane};

const CANARY: &str = "ghp_CANARYcanary0123456789abcdefghijklmnop";

fn cursor_config() -> String {
    format!(
        r#"{{"mcpServers":{{"github":{{"command":"npx","args":["-y","@modelcontextprotocol/server-github"],"env":{{"GITHUB_PERSONAL_ACCESS_TOKEN":"{CANARY}"}}}}}}}}"#
    )
}

/// Waits for the next path from the watcher, failing after a deadline.
async fn next_path(rx: &mut mpsc::Receiver<PathBuf>) -> PathBuf {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no file event within 10 s")
        .expect("watcher channel closed")
}

#[tokio::test]
async fn a_config_created_after_start_is_reported_by_the_watcher() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home/dev");
    std::fs::create_dir_all(&home).unwrap();
    let config = home.join(".cursor/mcp.json");
    let (tx, mut rx) = mpsc::channel(64);
    let mut watcher = NotifyWatcher::start(tx).unwrap();
    let mut set = WatchSet::default();
    set.add_file(&config, &home);
    watcher.set(&set);

    // Noise in the same directory is filtered out; the directory on the way to the config is not.
    std::fs::write(home.join(".bash_history"), "ls\n").unwrap();
    std::fs::create_dir(home.join(".cursor")).unwrap();
    assert_eq!(next_path(&mut rx).await, home.join(".cursor"));

    // After the rescan the daemon would do, the new directory is watched and the file is seen.
    let mut set = WatchSet::default();
    set.add_file(&config, &home);
    assert!(set.dirs.contains(&home.join(".cursor")));
    watcher.set(&set);
    std::fs::write(&config, "{}").unwrap();
    loop {
        // Creating the file may first report the directory itself (modified); wait for the file.
        if next_path(&mut rx).await == config {
            break;
        }
    }
}

#[test]
fn an_image_scan_watches_the_places_configs_may_appear() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home/dev");
    std::fs::create_dir_all(home.join(".config")).unwrap();
    let req = ScanRequest {
        layout: Layout::image(tmp.path().to_path_buf(), Os::Linux),
        env: EnvMap::new(),
        processes: false,
        fleet_key: None,
        project: None,
        tags: Vec::new(),
    };
    let (_inv, set) = muster_agent::scan_watched(&req).unwrap();
    assert!(set.files.contains(&home.join(".cursor/mcp.json")), "Cursor's user config is a candidate");
    assert!(set.dirs.contains(&home), "the home watches for ~/.cursor to appear");
    assert!(set.dirs.contains(&home.join(".config")), "existing client parents are watched directly");
    assert!(set.dirs.iter().all(|d| d.starts_with(tmp.path())), "nothing outside the image is watched");
}

async fn enrolled_state(dir: &Path) -> (StateDir, Arc<std::sync::Mutex<crate::support::Seen>>) {
    let pki = Arc::new(Pki::new("fleet CA"));
    let (addr, seen) = control_plane(pki.clone()).await;
    let state = StateDir::open(dir).unwrap();
    let params = EnrollParams {
        server: format!("https://{addr}"),
        token: Zeroizing::new("good-token".into()),
        ca_fingerprint: pki.fingerprint(),
        host: Host::default(),
    };
    enroll::enroll(&params, &state).await.unwrap();
    (state, seen)
}

fn image_options(root: &Path, state: &Path, once: bool) -> RunOptions {
    RunOptions {
        state_dir: state.to_path_buf(),
        scan: ScanRequest {
            layout: Layout::image(root.to_path_buf(), Os::Linux),
            env: EnvMap::new(),
            processes: false,
            fleet_key: None,
            project: None,
            tags: Vec::new(),
        },
        settings: Settings {
            debounce: Duration::from_millis(100),
            // Long enough that only the watcher can explain a quick report.
            rescan_interval: Duration::from_secs(3600),
            ..Settings::default()
        },
        watch: true,
        once,
        once_attempts: 3,
        local_api: None,
        probe_remote_auth: false,
        writer_options: Default::default(),
        enforce: true,
    }
}

#[tokio::test]
async fn the_live_daemon_reports_a_config_created_after_start_as_a_delta() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("img");
    let home = root.join("home/dev");
    std::fs::create_dir_all(&home).unwrap();
    let state_dir = tmp.path().join("state");
    let (_state, seen) = enrolled_state(&state_dir).await;

    let (stop_tx, stop) = oneshot::channel::<()>();
    let opts = image_options(&root, &state_dir, false);
    let task = tokio::spawn(live::run(opts, async {
        let _ = stop.await;
    }));

    let wait_for = |n: usize| {
        let seen = seen.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while seen.lock().unwrap().reports.len() < n {
                assert!(tokio::time::Instant::now() < deadline, "report {n} never arrived");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_for(1).await;
    {
        let seen = seen.lock().unwrap();
        let Some(Body::Full(first)) = &seen.reports[0].body else { panic!("the first report is a full snapshot") };
        assert!(first.servers.is_empty());
    }

    std::fs::create_dir_all(home.join(".cursor")).unwrap();
    std::fs::write(home.join(".cursor/mcp.json"), cursor_config()).unwrap();
    wait_for(2).await;
    stop_tx.send(()).unwrap();
    assert_eq!(task.await.unwrap().unwrap(), RunOutcome::Done);

    let seen = seen.lock().unwrap();
    let report = &seen.reports[1];
    assert_eq!((report.sequence, report.base_sequence), (2, 1));
    let Some(Body::Delta(delta)) = &report.body else { panic!("a change is a delta") };
    let names: Vec<&str> = delta.upserted_servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["github"]);
    assert_eq!(delta.upserted_servers[0].env_names, ["GITHUB_PERSONAL_ACCESS_TOKEN"]);
    for r in &seen.reports {
        let bytes = r.encode_to_vec();
        assert!(!bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()), "a secret value left the agent");
    }
    assert!(
        !std::fs::read_to_string(state_dir.join("inventory.json")).unwrap().contains(CANARY),
        "nor is one kept in local state"
    );
}

#[tokio::test]
async fn run_once_reports_and_exits_when_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("img");
    std::fs::create_dir_all(root.join("home/dev/.cursor")).unwrap();
    std::fs::write(root.join("home/dev/.cursor/mcp.json"), cursor_config()).unwrap();
    let state_dir = tmp.path().join("state");
    let (_state, seen) = enrolled_state(&state_dir).await;

    let outcome = live::run(image_options(&root, &state_dir, true), std::future::pending()).await.unwrap();
    assert_eq!(outcome, RunOutcome::Done);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.reports.len(), 1);
    let Some(Body::Full(inv)) = &seen.reports[0].body else { panic!("--once sends a full snapshot") };
    assert_eq!(inv.servers.len(), 1);
    let pending = std::fs::read_dir(state_dir.join("outbox"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".report"))
        .count();
    assert_eq!(pending, 0, "the acknowledged report left the outbox");
}
