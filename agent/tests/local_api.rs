//! The local API end to end: the real `muster-agent` binary (daemon and `status` client) on a
//! real Unix socket, with clients run as other local users through `runuser` (CI runs as root;
//! throwaway users are created with `useradd`). Checks: another uid is refused by the kernel
//! uid check even when the socket's mode lets it connect; on a multi-user image each user sees
//! only their own servers; the stream pushes a config edit within a second; no planted secret
//! appears in any answer; `muster-agent disable` / `undo-disable` change only the caller's own
//! servers in files the caller owns, and undo gives the file back byte-identical; so do
//! `muster-agent pin` / `undo-pin`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use muster_agent::local_api::caller::Access;
use muster_agent::local_api::{Connection, StatusPublisher, server};
use muster_proto::local::client;
use muster_proto::local::v1::{GetStatusRequest, LocalStatus};
use muster_proto::v1::{InventorySnapshot, McpServer, OsUser};
use tokio_stream::StreamExt;

const AGENT: &str = env!("CARGO_BIN_EXE_muster-agent");

// Fake secrets of the shapes the detector knows, planted in the image's configs.
const CANARY_GITHUB: &str = "ghp_Zq8LmT3vXr9KpW2nB7cYd4Hs6Jf1Ga0Ue5Rt";
const CANARY_BEARER: &str = "mQ7vR2xK9pL4wZ8nT3bY6cH1jF5gD0sA";
const CANARY_URL_PASSWORD: &str = "Vx9Lq2Rm7Tk4Wz8Np3";

fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the local API tests run clients as other users and need root (CI runs as root)"
    );
}

/// Creates a throwaway local user once per test process (no home, no login shell).
fn ensure_user(name: &str) {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let exists = Command::new("id").arg("-u").arg(name).output().is_ok_and(|o| o.status.success());
    if !exists {
        let out = Command::new("useradd")
            .args(["--no-create-home", "--shell", "/usr/sbin/nologin", name])
            .output()
            .expect("useradd runs (Debian package passwd)");
        assert!(out.status.success(), "useradd {name}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// A temp dir other users can traverse (tempfile makes it 0700).
fn shared_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// A copy of the agent binary other users can run: the build's own may sit in a directory only
/// root can enter (a checkout under `/root` on a fresh machine).
fn agent_for_everyone() -> &'static Path {
    static COPY: std::sync::OnceLock<(tempfile::TempDir, std::path::PathBuf)> = std::sync::OnceLock::new();
    let (_, path) = COPY.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let dir = shared_tempdir();
        let path = dir.path().join("muster-agent");
        std::fs::copy(AGENT, &path).expect("copy the agent binary");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod agent");
        (dir, path)
    });
    path
}

/// `muster-agent <args> --socket <socket>` run as `user`.
fn agent_as(user: &str, socket: &Path, args: &[&str]) -> Output {
    Command::new("runuser")
        .args(["-u", user, "--"])
        .arg(agent_for_everyone())
        .args(args)
        .arg("--socket")
        .arg(socket)
        .env_remove("MUSTER_AGENT_SOCKET")
        .output()
        .expect("runuser runs")
}

fn uid_of(user: &str) -> u32 {
    let out = Command::new("id").arg("-u").arg(user).output().expect("id runs");
    text(&out.stdout).trim().parse().expect("a uid")
}

/// `muster-agent status` run as `user`.
fn status_as(user: &str, socket: &Path, format: &str) -> Output {
    agent_as(user, socket, &["status", "--format", format])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn a_client_running_as_another_uid_is_refused() {
    require_root();
    ensure_user("mtray-mallory");
    let dir = shared_tempdir();
    let socket = dir.path().join("local.sock");
    // A per-user agent of root's own (uid 0); the snapshot holds one of root's servers.
    let access = Access::Owner { uid: 0 };
    let publisher = StatusPublisher::new(Connection::default());
    publisher.publish_snapshot(&InventorySnapshot {
        users: vec![OsUser { name: "root".into(), uid: Some(0), home: "/root".into() }],
        servers: vec![McpServer {
            id: "s1".into(),
            name: "roots-private-server".into(),
            user: "root".into(),
            client: "cursor".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    let listener = server::bind(&socket, access).await.expect("bind");
    // Open the socket to everyone, as a careless packager might: the uid check alone must hold.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).expect("chmod socket");
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::serve(listener, access, publisher.subscribe(), async {
        let _ = stopped.await;
    }));

    let sock = socket.clone();
    let (own, other) = tokio::task::spawn_blocking(move || {
        (status_as("root", &sock, "json"), status_as("mtray-mallory", &sock, "json"))
    })
    .await
    .expect("clients ran");
    // The set-up works: the owner is answered.
    assert!(own.status.success(), "owner refused: {}", text(&own.stderr));
    assert!(text(&own.stdout).contains("roots-private-server"));
    // Another uid reached the socket and was refused by the uid check.
    assert_eq!(other.status.code(), Some(1), "stdout: {} stderr: {}", text(&other.stdout), text(&other.stderr));
    assert!(text(&other.stderr).contains("serves only the user it runs as"), "{}", text(&other.stderr));
    assert!(!text(&other.stdout).contains("roots-private-server"));

    let _ = stop.send(());
    serving.await.expect("server task").expect("server stopped cleanly");
}

#[tokio::test]
async fn status_without_a_running_agent_says_so_and_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(AGENT)
        .args(["status", "--socket"])
        .arg(dir.path().join("nobody.sock"))
        .output()
        .expect("agent runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no Muster agent is running"), "{}", text(&out.stderr));
}

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, body).expect("write");
}

fn cursor_config(server: &str) -> String {
    format!(
        r#"{{"mcpServers": {{
  "{server}": {{"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"], "env": {{"GITHUB_PERSONAL_ACCESS_TOKEN": "{CANARY_GITHUB}"}}}},
  "{server}-remote": {{"url": "https://deploy:{CANARY_URL_PASSWORD}@mcp.example.com/sse", "headers": {{"Authorization": "Bearer {CANARY_BEARER}"}}}}
}}}}"#
    )
}

/// A running `muster-agent run` on an image, killed on drop.
struct Daemon {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_daemon(image: &Path) -> Daemon {
    let dir = shared_tempdir();
    let socket = dir.path().join("run").join("local.sock");
    start_daemon_on(image, dir, socket)
}

fn start_daemon_on(image: &Path, dir: tempfile::TempDir, socket: PathBuf) -> Daemon {
    let child = Command::new(AGENT)
        .args(["run", "--os", "linux", "--debounce", "50ms", "--process-interval", "1h", "--root"])
        .arg(image)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--socket")
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("agent starts");
    Daemon { child, socket, _dir: dir }
}

/// The root caller's stream, opened once the socket accepts (polled with a deadline).
async fn root_stream(socket: &Path) -> muster_proto::tonic::Streaming<LocalStatus> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut c) = client::connect(socket).await {
            return c.watch_status(GetStatusRequest {}).await.expect("watch").into_inner();
        }
        assert!(tokio::time::Instant::now() < deadline, "the agent never opened {}", socket.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The next streamed status matching `pred`, within `limit`.
async fn next_matching(
    stream: &mut muster_proto::tonic::Streaming<LocalStatus>,
    limit: Duration,
    pred: impl Fn(&LocalStatus) -> bool,
) -> LocalStatus {
    tokio::time::timeout(limit, async {
        loop {
            let status = stream.next().await.expect("stream open").expect("status");
            if pred(&status) {
                return status;
            }
        }
    })
    .await
    .expect("no matching status in time")
}

fn server_names(s: &LocalStatus) -> Vec<String> {
    s.clients.iter().flat_map(|c| c.servers.iter().map(|s| s.name.clone())).collect()
}

#[tokio::test]
async fn each_user_sees_only_their_own_servers_and_no_secret() {
    require_root();
    for u in ["mtray-alice", "mtray-bob"] {
        ensure_user(u);
    }
    let image = shared_tempdir();
    write(&image.path().join("home/mtray-alice/.cursor/mcp.json"), &cursor_config("alice-github"));
    write(&image.path().join("home/mtray-bob/.cursor/mcp.json"), &cursor_config("bob-github"));
    let daemon = start_daemon(image.path());
    let mut stream = root_stream(&daemon.socket).await;
    next_matching(&mut stream, Duration::from_secs(60), |s| s.agent.as_ref().is_some_and(|a| a.scanned_at_unix > 0))
        .await;
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&daemon.socket).expect("socket").permissions().mode() & 0o777;
        assert_eq!(mode, 0o666, "the system agent's socket is open to every user; the uid check filters");
    }

    let sock = daemon.socket.clone();
    let outputs = tokio::task::spawn_blocking(move || {
        let mut outs = Vec::new();
        for user in ["mtray-alice", "mtray-bob"] {
            for format in ["json", "text"] {
                outs.push((user, format, status_as(user, &sock, format)));
            }
        }
        outs
    })
    .await
    .expect("clients ran");
    for (user, format, out) in &outputs {
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{user} {format}: {}", text(&out.stderr));
        let (mine, theirs) =
            if *user == "mtray-alice" { ("alice-github", "bob-github") } else { ("bob-github", "alice-github") };
        assert!(stdout.contains(mine), "{user} does not see {mine} ({format}):\n{stdout}");
        assert!(!stdout.contains(theirs), "{user} sees {theirs} ({format}):\n{stdout}");
        if *format == "json" {
            let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
            assert_eq!(v["user"], *user);
            assert_eq!(v["clients"][0]["client"], "cursor");
            let findings = v["findings"].as_array().expect("findings");
            assert!(findings.iter().any(|f| f["remediation"].as_str().is_some_and(|r| !r.is_empty())), "{stdout}");
        }
    }

    // The leak canary, extended to the local API: no planted value, nor any 12-character piece
    // of one, in any answer (CLI output in both formats, both users, and the streamed messages).
    let mut haystacks: Vec<(String, Vec<u8>)> = outputs
        .iter()
        .flat_map(|(u, f, o)| {
            [(format!("{u} {f} stdout"), o.stdout.clone()), (format!("{u} {f} stderr"), o.stderr.clone())]
        })
        .collect();
    let mut root = client::connect(&daemon.socket).await.expect("connect");
    let root_status = root.get_status(GetStatusRequest {}).await.expect("status").into_inner();
    haystacks.push(("root status".into(), muster_proto::prost::Message::encode_to_vec(&root_status)));
    for canary in [CANARY_GITHUB, CANARY_BEARER, CANARY_URL_PASSWORD] {
        let windows: Vec<&str> = (0..=canary.len().saturating_sub(12)).map(|i| &canary[i..i + 12]).collect();
        for (name, hay) in &haystacks {
            let hay = String::from_utf8_lossy(hay);
            for w in &windows {
                assert!(!hay.contains(w), "a piece of a planted secret ({w}) is in {name}");
            }
        }
    }
}

#[tokio::test]
async fn the_stream_pushes_a_config_edit_within_a_second() {
    require_root();
    let image = shared_tempdir();
    let config = image.path().join("root/.cursor/mcp.json");
    write(&config, r#"{"mcpServers": {"first": {"command": "uvx", "args": ["mcp-server-time"]}}}"#);
    let daemon = start_daemon(image.path());
    let mut stream = root_stream(&daemon.socket).await;
    let first = next_matching(&mut stream, Duration::from_secs(60), |s| !server_names(s).is_empty()).await;
    assert_eq!(server_names(&first), ["first"]);

    let edited = std::time::Instant::now();
    write(
        &config,
        r#"{"mcpServers": {"first": {"command": "uvx", "args": ["mcp-server-time"]}, "second": {"command": "uvx", "args": ["mcp-server-fetch"]}}}"#,
    );
    let next = next_matching(&mut stream, Duration::from_secs(1), |s| server_names(s).len() == 2).await;
    assert!(edited.elapsed() < Duration::from_secs(1));
    assert!(next.revision > first.revision);
}

#[tokio::test]
async fn the_stream_gives_each_entry_its_line_and_follows_it_when_it_moves() {
    require_root();
    let image = shared_tempdir();
    let config = image.path().join("root/.cursor/mcp.json");
    let body = "{\n  \"mcpServers\": {\n    \"first\": {\"command\": \"uvx\", \"args\": [\"mcp-server-time\"]},\n    \"second\": {\"command\": \"uvx\", \"args\": [\"mcp-server-fetch\"]}\n  }\n}\n";
    write(&config, body);
    let daemon = start_daemon(image.path());
    let mut stream = root_stream(&daemon.socket).await;
    let line_of = |s: &LocalStatus, name: &str| {
        let client = s.clients.iter().find(|c| c.servers.iter().any(|x| x.name == name))?;
        let id = &client.servers.iter().find(|x| x.name == name)?.id;
        client.places.iter().find(|p| p.server_id == *id).map(|p| (p.line, p.column))
    };
    let first = next_matching(&mut stream, Duration::from_secs(60), |s| line_of(s, "second").is_some()).await;
    assert_eq!((line_of(&first, "first"), line_of(&first, "second")), (Some((3, 5)), Some((4, 5))));

    // Two blank lines above: same servers, new lines, pushed without polling.
    write(&config, &format!("\n\n{body}"));
    let moved = next_matching(&mut stream, Duration::from_secs(5), |s| line_of(s, "second") == Some((6, 5))).await;
    assert_eq!(line_of(&moved, "first"), Some((5, 5)));
    // `status` prints path:line.
    let sock = daemon.socket.clone();
    let out = tokio::task::spawn_blocking(move || status_as("root", &sock, "text")).await.expect("ran");
    assert!(text(&out.stdout).contains("mcp.json:6"), "{}", text(&out.stdout));
}

#[tokio::test]
async fn a_second_agent_on_a_served_socket_runs_on_without_the_local_api() {
    require_root();
    let image = shared_tempdir();
    write(
        &image.path().join("root/.cursor/mcp.json"),
        r#"{"mcpServers": {"first": {"command": "uvx", "args": ["mcp-server-time"]}}}"#,
    );
    let first = start_daemon(image.path());
    let mut stream = root_stream(&first.socket).await;
    next_matching(&mut stream, Duration::from_secs(60), |s| !server_names(s).is_empty()).await;

    let dir = shared_tempdir();
    let state = dir.path().join("state");
    let mut second = start_daemon_on(image.path(), dir, first.socket.clone());
    // It still scans and keeps its local state (polled with a deadline)...
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !state.join("inventory.json").exists() {
        assert!(std::time::Instant::now() < deadline, "the second agent never scanned");
        assert!(second.child.try_wait().expect("wait").is_none(), "the second agent exited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(second.child.try_wait().expect("wait").is_none(), "the second agent exited");
    // ...and the first still answers on the socket.
    let mut client = client::connect(&first.socket).await.expect("first agent still serves");
    let status = client.get_status(GetStatusRequest {}).await.expect("status").into_inner();
    assert_eq!(server_names(&status), ["first"]);
}

const CLINE_CONFIG: &str = "{\n  \"mcpServers\": {\n    \"github\": {\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"@modelcontextprotocol/server-github\"]\n    }\n  }\n}\n";

#[tokio::test]
async fn only_the_owner_disables_their_server_and_undo_gives_the_file_back() {
    use muster_agent::local_api::fixes::Fixes;
    use muster_agent::platform::Layout;
    use muster_proto::local::v1::QuarantineOrigin;

    require_root();
    ensure_user("mtray-mallory");
    let mallory = uid_of("mtray-mallory");
    let dir = shared_tempdir();
    let socket = dir.path().join("local.sock");
    // root's server in root's file; one of mallory's servers in a file root owns.
    let roots = dir.path().join("root-cline.json");
    let hers = dir.path().join("mallory-cline.json");
    write(&roots, CLINE_CONFIG);
    write(&hers, CLINE_CONFIG);
    let server = |id: &str, user: &str, path: &Path| McpServer {
        id: id.into(),
        name: "github".into(),
        user: user.into(),
        client: "cline".into(),
        config_path: path.to_string_lossy().into_owned(),
        ..Default::default()
    };
    let publisher = StatusPublisher::new(Connection::default());
    publisher.publish_snapshot(&InventorySnapshot {
        users: vec![
            OsUser { name: "root".into(), uid: Some(0), home: "/root".into() },
            OsUser { name: "mtray-mallory".into(), uid: Some(mallory), home: "/nonexistent".into() },
        ],
        servers: vec![server("r1", "root", &roots), server("m1", "mtray-mallory", &hers)],
        ..Default::default()
    });
    let access = Access::EveryUser;
    let listener = server::bind(&socket, access).await.expect("bind");
    let fixes = std::sync::Arc::new(Fixes::open(&dir.path().join("state"), Layout::live()));
    let service = server::LocalApiService::new(access, publisher.subscribe()).with_fixes(fixes);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::serve_service(listener, service, async {
        let _ = stopped.await;
    }));
    let sock = socket.clone();
    let run = move |user: &'static str, args: &'static [&'static str]| {
        let sock = sock.clone();
        tokio::task::spawn_blocking(move || agent_as(user, &sock, args))
    };

    // Mallory cannot disable root's server: to her it does not exist.
    let out = run("mtray-mallory", &["disable", "r1"]).await.expect("ran");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("no server r1 of yours"), "{}", text(&out.stderr));
    // Nor her own server in a file she does not own.
    let out = run("mtray-mallory", &["disable", "m1"]).await.expect("ran");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("you do not own"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&roots).unwrap(), CLINE_CONFIG);
    assert_eq!(std::fs::read_to_string(&hers).unwrap(), CLINE_CONFIG);

    // The owner can, and sees it as a quarantine they may undo.
    let out = run("root", &["disable", "r1"]).await.expect("ran");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read_to_string(&roots).unwrap().contains("\"disabled\": true"));
    let mut client = client::connect(&socket).await.expect("connect");
    let status = client.get_status(GetStatusRequest {}).await.expect("status").into_inner();
    assert_eq!(status.quarantines.len(), 1);
    let q = &status.quarantines[0];
    assert_eq!((q.server_id.as_str(), q.undo_allowed, q.origin), ("r1", true, QuarantineOrigin::Developer as i32));

    // Mallory cannot undo it; root can, and the file is byte-identical again.
    let out = run("mtray-mallory", &["undo-disable", "r1"]).await.expect("ran");
    assert_eq!(out.status.code(), Some(1));
    assert!(std::fs::read_to_string(&roots).unwrap().contains("\"disabled\": true"));
    let out = run("root", &["undo-disable", "r1"]).await.expect("ran");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&roots).unwrap(), CLINE_CONFIG);
    let status = client.get_status(GetStatusRequest {}).await.expect("status").into_inner();
    assert!(status.quarantines.is_empty());

    let _ = stop.send(());
    serving.await.expect("server task").expect("server stopped cleanly");
}

#[tokio::test]
async fn only_the_owner_pins_their_server_to_the_cached_version_and_undo_gives_the_file_back() {
    use muster_agent::local_api::fixes::Fixes;
    use muster_agent::platform::Layout;
    use muster_proto::v1::{Ecosystem, Package};

    require_root();
    ensure_user("mtray-mallory");
    let mallory = uid_of("mtray-mallory");
    let dir = shared_tempdir();
    let socket = dir.path().join("local.sock");
    let roots = dir.path().join("root-cline.json");
    let hers = dir.path().join("mallory-cline.json");
    write(&roots, CLINE_CONFIG);
    write(&hers, CLINE_CONFIG);
    // Both homes have npx's cache entry for the launch (npm 10's layout, ADR 0025).
    let home_of = |who: &str| dir.path().join("homes").join(who);
    for who in ["root", "mallory"] {
        let entry = home_of(who).join(".npm/_npx/5b2c9e0a1d3f4e6b");
        write(
            &entry.join("package.json"),
            r#"{"_npx":{"packages":["@modelcontextprotocol/server-github"]},"dependencies":{"@modelcontextprotocol/server-github":"^2025.4.8"}}"#,
        );
        write(
            &entry.join("node_modules/@modelcontextprotocol/server-github/package.json"),
            r#"{"name":"@modelcontextprotocol/server-github","version":"2025.4.8"}"#,
        );
    }
    let server = |id: &str, user: &str, path: &Path| McpServer {
        id: id.into(),
        name: "github".into(),
        user: user.into(),
        client: "cline".into(),
        config_path: path.to_string_lossy().into_owned(),
        package: Some(Package {
            ecosystem: Ecosystem::Npm as i32,
            name: "@modelcontextprotocol/server-github".into(),
            version: None,
            pinned: false,
        }),
        ..Default::default()
    };
    let snapshot = InventorySnapshot {
        users: vec![
            OsUser { name: "root".into(), uid: Some(0), home: home_of("root").to_string_lossy().into_owned() },
            OsUser {
                name: "mtray-mallory".into(),
                uid: Some(mallory),
                home: home_of("mallory").to_string_lossy().into_owned(),
            },
        ],
        servers: vec![server("r1", "root", &roots), server("m1", "mtray-mallory", &hers)],
        ..Default::default()
    };
    let publisher = StatusPublisher::new(Connection::default());
    let pins = muster_agent::pins::candidates(&snapshot, &Layout::live());
    publisher.publish_scan(&snapshot, Default::default(), pins);
    let access = Access::EveryUser;
    let listener = server::bind(&socket, access).await.expect("bind");
    let fixes = std::sync::Arc::new(Fixes::open(&dir.path().join("state"), Layout::live()));
    let service = server::LocalApiService::new(access, publisher.subscribe()).with_fixes(fixes);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::serve_service(listener, service, async {
        let _ = stopped.await;
    }));
    let sock = socket.clone();
    let run = move |user: &'static str, args: &'static [&'static str]| {
        let sock = sock.clone();
        tokio::task::spawn_blocking(move || agent_as(user, &sock, args))
    };

    // The candidate is in root's status, with the version from root's own cache.
    let mut client = client::connect(&socket).await.expect("connect");
    let status = client.get_status(GetStatusRequest {}).await.expect("status").into_inner();
    let candidate = status.clients.iter().flat_map(|c| &c.pin_candidates).find(|c| c.server_id == "r1").expect("a pin");
    assert_eq!(candidate.version, "2025.4.8");

    // Mallory cannot pin root's server, nor her own in a file she does not own.
    let out = run("mtray-mallory", &["pin", "r1"]).await.expect("ran");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("no server r1 of yours"), "{}", text(&out.stderr));
    let out = run("mtray-mallory", &["pin", "m1"]).await.expect("ran");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("you do not own"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&roots).unwrap(), CLINE_CONFIG);
    assert_eq!(std::fs::read_to_string(&hers).unwrap(), CLINE_CONFIG);

    // The owner can; the pin shows with undo, the candidate is gone.
    let out = run("root", &["pin", "r1"]).await.expect("ran");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2025.4.8"), "{}", text(&out.stdout));
    let pinned = CLINE_CONFIG.replace("server-github\"]", "server-github@2025.4.8\"]");
    assert_eq!(std::fs::read_to_string(&roots).unwrap(), pinned);
    let status = client.get_status(GetStatusRequest {}).await.expect("status").into_inner();
    assert_eq!(status.pins.len(), 1);
    assert!(status.clients.iter().flat_map(|c| &c.pin_candidates).all(|c| c.server_id != "r1"));

    // Mallory cannot undo it; root can, and the file is byte-identical again.
    let out = run("mtray-mallory", &["undo-pin", "r1"]).await.expect("ran");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&roots).unwrap(), pinned);
    let out = run("root", &["undo-pin", "r1"]).await.expect("ran");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&roots).unwrap(), CLINE_CONFIG);
    let status = client.get_status(GetStatusRequest {}).await.expect("status").into_inner();
    assert!(status.pins.is_empty());

    let _ = stop.send(());
    serving.await.expect("server task").expect("server stopped cleanly");
}
