//! The real window under a real X server: a `muster-agent run` on its own `--root` image and
//! socket, the real `muster-tray` binary under `Xvfb` (display chosen by Xvfb itself) inside a
//! `dbus-run-session`, started with `--open`, so the tray starts the real window process
//! (`muster-window`, beside it in the target directory, as installed). The window titles itself
//! from what it rendered, so its X title proves the whole path: agent → local API → window
//! process → webview → rendered page. A capture of the window must also hold more than a few
//! colours (not a blank window). While the window is open, the window process maps WebKit and
//! the tray process does not (ADR 0027). The app runs with a home and XDG dirs of its own; no
//! file it or its webview writes there may hold the image's secret (the tray's side of the
//! canary leak test; the generated one is `tests/tests/e2e/local_api_leaks.rs`).
//!
//! Needs Xvfb, dbus-run-session, xdotool and ImageMagick's `import` (scripts/install-deps.sh
//! installs them); it fails, rather than skips, without them. It does not test the tray icon
//! (Xvfb has no StatusNotifier host).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the window may take to appear and render (a cold WebKit on a loaded CI machine).
const DEADLINE: Duration = Duration::from_secs(90);
/// Pause between two looks at a polled condition (polling, not synchronisation).
const POLL: Duration = Duration::from_millis(100);

/// A child process group, ended (TERM, then KILL) and reaped on drop.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let pgid = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &pgid]).status();
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.0.try_wait() {
                break;
            }
            std::thread::sleep(POLL);
        }
        let _ = Command::new("kill").args(["-KILL", "--", &pgid]).status();
        let _ = self.0.wait();
    }
}

fn spawn_group(cmd: &mut Command) -> Group {
    Group(cmd.process_group(0).spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}")))
}

/// A binary of another package of this workspace (the agent, the tray), built by cargo.
fn other_binary(package: &str, bin: &str) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut build = escargot::CargoBuild::new().manifest_path(manifest).package(package).bin(bin);
    // The variables cargo set for this test describe this package; build scripts that watch them
    // would otherwise be rebuilt here and again by the next outer `cargo test`.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if (name.starts_with("CARGO_") && name != "CARGO_HOME" && name != "CARGO_TARGET_DIR") || name == "OUT_DIR" {
            build = build.env_remove(name.as_ref());
        }
    }
    build.run().unwrap_or_else(|e| panic!("building {bin}: {e}")).path().to_path_buf()
}

/// The ids of the running processes started from `binary`.
fn processes_of(binary: &Path) -> Vec<u32> {
    let binary = binary.canonicalize().expect("the binary's path");
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == binary))
        .collect()
}

/// Whether process `pid` maps WebKitGTK's library.
fn maps_webkit(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("the process's maps").contains("libwebkit2gtk")
}

fn output(cmd: &mut Command) -> std::process::Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (scripts/install-deps.sh test installs it)"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Polls `check` until it yields `Some`, or panics naming `what` after [`DEADLINE`].
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < end, "timed out after {DEADLINE:?} waiting for {what}");
        std::thread::sleep(POLL);
    }
}

#[test]
fn the_window_renders_the_agents_findings_under_xvfb() {
    let work = tempfile::tempdir().expect("temp dir");
    // The image's user is the account this test runs as (root in CI: home `root/`).
    let account = text(&output(Command::new("id").arg("-un")).stdout).trim().to_string();
    let home = if account == "root" { "root".to_string() } else { format!("home/{account}") };
    let config = work.path().join("image").join(home).join(".cursor/mcp.json");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    // A risky server: a GitHub token in clear text in the config.
    std::fs::write(
        &config,
        r#"{"mcpServers": {"github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
  "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "@TOKEN@"}}}}"#
            .replace("@TOKEN@", TOKEN),
    )
    .unwrap();

    let agent = other_binary("muster-agent", "muster-agent");
    // The tray starts the window program found beside it, as the packages install them.
    let tray = other_binary("muster-tray", "muster-tray");
    let window_binary = Path::new(env!("CARGO_BIN_EXE_muster-window"));
    assert_eq!(tray.parent(), window_binary.parent(), "the tray and the window are built side by side");
    let socket = work.path().join("run/local.sock");
    let _agent = spawn_group(
        Command::new(&agent)
            .args(["run", "--os", "linux", "--debounce", "50ms", "--process-interval", "1h", "--root"])
            .arg(work.path().join("image"))
            .arg("--state-dir")
            .arg(work.path().join("state"))
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    // What the agent itself says about the image, through the same API (`status --format json`).
    let high = eventually("the agent's first scan with a high finding", || {
        let out = Command::new(&agent).args(["status", "--format", "json", "--socket"]).arg(&socket).output().ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let n = v["findings"].as_array()?.iter().filter(|f| f["severity"] == "high").count();
        (n > 0).then_some(n)
    });

    // Xvfb picks a free display itself and writes its number once it accepts clients.
    let mut xvfb = spawn_group(
        Command::new("Xvfb")
            .args(["-displayfd", "1", "-nolisten", "tcp", "-screen", "0", "1280x860x24"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let mut line = String::new();
    BufReader::new(xvfb.0.stdout.take().unwrap()).read_line(&mut line).expect("Xvfb's display number");
    let display = format!(":{}", line.trim());
    assert!(line.trim().parse::<u32>().is_ok(), "Xvfb did not start (it wrote {line:?})");

    let app_home = work.path().join("app-home");
    std::fs::create_dir_all(&app_home).unwrap();
    let _tray = spawn_group(
        Command::new("dbus-run-session")
            .arg("--")
            .arg(&tray)
            .arg("--open")
            .env("DISPLAY", &display)
            // The app's own home and XDG dirs, to see what it and its webview write.
            .env("HOME", &app_home)
            .env("XDG_CONFIG_HOME", app_home.join(".config"))
            .env("XDG_DATA_HOME", app_home.join(".local/share"))
            .env("XDG_CACHE_HOME", app_home.join(".cache"))
            .env("XDG_STATE_HOME", app_home.join(".local/state"))
            .env("MUSTER_AGENT_SOCKET", &socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );

    // The page retitles the window with what it rendered; the static title before that is
    // "Muster — my MCP servers". Wait for the rendered one.
    let want = format!("{high} high");
    let (window, title) = eventually(&format!("a window titled with \"{want}\""), || {
        let out = Command::new("xdotool")
            .args(["search", "--name", "^Muster — "])
            .env("DISPLAY", &display)
            .output()
            .expect("xdotool runs (scripts/install-deps.sh test installs it)");
        text(&out.stdout).lines().find_map(|id| {
            let name = Command::new("xdotool").args(["getwindowname", id]).env("DISPLAY", &display).output().ok()?;
            let name = text(&name.stdout).trim().to_string();
            name.contains(&want).then(|| (id.to_string(), name))
        })
    });
    assert!(title.starts_with("Muster — ") && title != "Muster — my MCP servers", "{title}");

    // A capture of the window is not blank: a rendered page has many colours (text, badges).
    let colours = eventually("a capture of the window with content", || {
        let out = Command::new("import")
            .args(["-window", &window, "-format", "%k", "info:"])
            .env("DISPLAY", &display)
            .output()
            .expect("import runs (scripts/install-deps.sh test installs imagemagick)");
        let n: u64 = text(&out.stdout).trim().parse().ok()?;
        (n > 50).then_some(n)
    });
    assert!(colours > 50);

    // Two processes: the window's maps WebKit, the tray's does not.
    let trays = processes_of(&tray);
    let windows = processes_of(window_binary);
    assert_eq!((trays.len(), windows.len()), (1, 1), "one tray {trays:?} and one window {windows:?}");
    assert!(maps_webkit(windows[0]), "the window process renders with WebKit");
    assert!(!maps_webkit(trays[0]), "the tray process maps WebKit");

    // The canary of the image never reaches a file the app or its webview wrote: the app keeps
    // its notification and snooze state in memory, and the page stores nothing (no
    // localStorage, no IndexedDB); WebKit's own cache and storage dirs must not hold the status.
    // The raw token, and each 12-character window of its random part.
    let canary = TOKEN;
    let mut needles: Vec<&str> = vec![canary];
    needles.extend((4..canary.len() - 11).map(|i| &canary[i..i + 12]));
    let mut files = Vec::new();
    walk(&app_home, &mut files);
    for path in &files {
        let bytes = std::fs::read(path).unwrap_or_default();
        for n in &needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "{} holds {n:?} of the image's secret",
                path.display()
            );
        }
    }
    eprintln!("files the app and its webview wrote: {}", files.len());
}

/// The image's canary: a fake GitHub token in the risky server's config.
const TOKEN: &str = "ghp_R8x2Lq9ZtV4mN7pK3sW6yB1cD5fG0hJ8kQ2e";

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}
