//! Muster's status window for the developer (`muster-window`, ADR 0027): what is risky in my
//! MCP setup, why, and how to fix it. The tray process (`muster-tray`, `desktop-ui/tray`) starts
//! it on "Open" and it ends when its window closes, so WebKit is mapped only while the window is
//! open; the tray itself links no webview.
//!
//! It renders what the local agent tells it over the local API (`muster.local.v1`, client side
//! of `muster-proto` only, through `muster_desktop_core::agent_link`: never the agent crate),
//! following the agent itself rather than through the tray. What belongs to the tray (snoozing
//! a finding's notifications) it sends to the tray on its stdout (`window_link`); the tray asks
//! it on its stdin to come to the front. Built after Tauri's template: `main.rs` calls [`run`];
//! [`build`] is generic over the runtime so tests use Tauri's mock runtime.

pub mod commands;
pub mod opener;

use std::io::{BufRead, Write};
use std::sync::Mutex;

use muster_desktop_core::agent_link::{self, AgentStatus};
use muster_desktop_core::view;
use muster_desktop_core::window_link::{self, FROM_TRAY, ToTray, ToWindow};
use muster_proto::local::v1::LocalStatus;
use tauri::{Emitter, Manager, Runtime};

/// The tray that started this window, which keeps the notification rules.
pub trait TrayLink: Send + Sync {
    fn send(&self, message: &ToTray) -> std::io::Result<()>;
}

/// The tray at the other end of this process's stdout (started with [`FROM_TRAY`]).
#[derive(Debug, Default)]
pub struct StdoutTray;

impl TrayLink for StdoutTray {
    fn send(&self, message: &ToTray) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(window_link::line(message).as_bytes())?;
        out.flush()
    }
}

/// What the window knows between status updates.
pub struct AppState {
    /// The latest status; `None` while no agent answers.
    pub status: Mutex<Option<LocalStatus>>,
    /// The socket of the agent the window follows, while connected.
    agent_socket: Mutex<Option<std::path::PathBuf>>,
    /// Starts the editor for "open at the line" (tests record instead).
    pub launcher: Box<dyn opener::Launcher>,
    /// The tray that started the window; `None` when started by hand (no notifications to snooze).
    pub tray: Option<Box<dyn TrayLink>>,
}

impl AppState {
    pub fn new() -> AppState {
        AppState {
            status: Mutex::new(None),
            agent_socket: Mutex::new(None),
            launcher: Box::new(opener::SystemLauncher),
            tray: None,
        }
    }

    /// The socket of the agent the window follows (`None` while no agent answers).
    pub fn agent_socket(&self) -> Option<std::path::PathBuf> {
        self.agent_socket.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_agent_socket(&self, socket: Option<std::path::PathBuf>) {
        *self.agent_socket.lock().unwrap_or_else(|e| e.into_inner()) = socket;
    }
}

impl Default for AppState {
    fn default() -> Self {
        AppState::new()
    }
}

/// The window's commands and state on any runtime (tests use the mock runtime).
pub fn build<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    build_with_state(builder, AppState::new())
}

/// [`build`] with a state of the caller's (tests give it a recording [`opener::Launcher`] or
/// [`TrayLink`]).
pub fn build_with_state<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder.manage(state).invoke_handler(tauri::generate_handler![
        commands::get_status,
        commands::open_config,
        commands::snooze_finding,
        commands::request_exception,
        commands::disable_server,
        commands::undo_disable,
        commands::pin_version,
        commands::undo_pin,
    ])
}

/// A new status (or `None`: the agent went away): store it and tell the page.
pub fn on_status<R: Runtime>(app: &tauri::AppHandle<R>, status: Option<AgentStatus>) {
    let state = app.state::<AppState>();
    let (socket, status) = match status {
        Some(s) => (Some(s.socket), Some(s.status)),
        None => (None, None),
    };
    state.set_agent_socket(socket);
    let ui = view::ui_status(status.as_ref());
    *state.status.lock().unwrap_or_else(|e| e.into_inner()) = status;
    if let Err(e) = app.emit("status", &ui) {
        tracing::debug!(error = %e, "no page to tell");
    }
}

/// Opens the status window at a section (see `window_link::page_for`), e.g. from
/// `muster-tray --open=servers`.
pub fn open_window_at<R: Runtime>(app: &tauri::AppHandle<R>, section: &str) -> tauri::Result<()> {
    tauri::WebviewWindowBuilder::new(app, "main", tauri::WebviewUrl::App(window_link::page_for(section).into()))
        .title("Muster — my MCP servers")
        .inner_size(960.0, 720.0)
        .min_inner_size(560.0, 400.0)
        // The page titles itself with the state it renders ("Muster — Action required: 2 high · 2 medium");
        // the window shows that title in the taskbar and window switcher.
        .on_document_title_changed(|window, title| {
            if let Err(e) = window.set_title(&title) {
                tracing::debug!(error = %e, "cannot retitle the window");
            }
        })
        .build()
        .map(drop)
}

/// Brings the open window to the front (a second "Open" in the tray).
fn show_window<R: Runtime>(app: &tauri::AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// Reads what the tray says on stdin until it closes (the tray quit): then the window ends too.
fn listen_to_tray<R: Runtime>(app: tauri::AppHandle<R>) {
    let listener = std::thread::Builder::new().name("tray-link".into()).spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match window_link::parse::<ToWindow>(&line) {
                Some(ToWindow::Show { .. }) => {
                    let handle = app.clone();
                    if let Err(e) = app.run_on_main_thread(move || show_window(&handle)) {
                        tracing::debug!(error = %e, "cannot show the window");
                    }
                }
                None => tracing::debug!("the tray wrote a line that is no message"),
            }
        }
        app.exit(0);
    });
    if let Err(e) = listener {
        tracing::warn!(error = %e, "cannot listen to the tray; the window stays until closed");
    }
}

/// Runs the window until it is closed.
pub fn run() {
    // Stdout is the tray's pipe (see `window_link`): the log goes to stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MUSTER_LOG").unwrap_or_else(|_| "warn".into()))
        .init();
    let args: Vec<String> = std::env::args().collect();
    let from_tray = args.iter().any(|a| a == FROM_TRAY);
    let section = window_link::open_arg(args).unwrap_or_default();
    let state = AppState { tray: from_tray.then(|| Box::new(StdoutTray) as Box<dyn TrayLink>), ..AppState::new() };
    let app = build_with_state(tauri::Builder::default(), state)
        .setup(move |app| {
            open_window_at(app.handle(), &section)?;
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(agent_link::follow(move |status| on_status(&handle, status)));
            if from_tray {
                listen_to_tray(app.handle().clone());
            }
            Ok(())
        })
        .build(tauri::generate_context!());
    match app {
        // Closing the window (the only one) ends the process.
        Ok(app) => app.run(|_, _| {}),
        Err(e) => {
            eprintln!("error: cannot open the Muster window: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use tauri::ipc::{CallbackFn, InvokeBody};
    use tauri::test::{INVOKE_KEY, get_ipc_response, mock_builder, mock_context, noop_assets};
    use tauri::webview::InvokeRequest;

    use super::*;

    fn call(
        webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
        cmd: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        get_ipc_response(
            webview,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().expect("url"),
                body: InvokeBody::Json(body),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|b| b.deserialize::<serde_json::Value>().expect("json"))
    }

    #[test]
    fn commands_answer_through_the_mock_runtime() {
        let app = build(mock_builder()).build(mock_context(noop_assets())).expect("app");
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("window");

        let offline = call(&webview, "get_status", serde_json::json!({})).expect("get_status");
        assert_eq!(offline["state"], "offline");

        *app.state::<AppState>().status.lock().unwrap() = Some(muster_desktop_core::view::fixtures::sample());
        let status = call(&webview, "get_status", serde_json::json!({})).expect("get_status");
        assert_eq!(status["state"], "action-required");
        assert_eq!(status["count"], 2);
        assert_eq!(status["clients"][0]["servers"][0]["name"], "github");
        assert_eq!(
            status["findings"][0]["steps"][1],
            "Rotate the credential because it has been stored in clear text."
        );

        let refused = call(&webview, "open_config", serde_json::json!({"path": "/etc/shadow"}));
        assert!(refused.unwrap_err().as_str().is_some_and(|e| e.contains("not one of your")));

        // Snoozing is the tray's: a window the tray did not start has none to ask.
        let alone = call(&webview, "snooze_finding", serde_json::json!({"key": "k1", "hours": 24}));
        assert!(alone.unwrap_err().as_str().is_some_and(|e| e.contains("tray")));

        let exception = call(&webview, "request_exception", serde_json::json!({"serverId": "s9", "reason": "needed"}));
        assert!(exception.unwrap_err().as_str().is_some_and(|e| e.contains("not one of your")));
        let exception = call(&webview, "request_exception", serde_json::json!({"serverId": "s1", "reason": " "}));
        assert!(exception.unwrap_err().as_str().is_some_and(|e| e.contains("say why")));
        let exception = call(&webview, "request_exception", serde_json::json!({"serverId": "s1", "reason": "needed"}));
        assert!(exception.unwrap_err().as_str().is_some_and(|e| e.contains("not running")));

        // Disable / undo: only my servers and my own disables; with no agent connected, nothing
        // is changed and the window is told so.
        let other = call(&webview, "disable_server", serde_json::json!({"serverId": "someone-elses"}));
        assert!(other.unwrap_err().as_str().is_some_and(|e| e.contains("not one of your")));
        let offline = call(&webview, "disable_server", serde_json::json!({"serverId": "s1"}));
        assert!(offline.unwrap_err().as_str().is_some_and(|e| e.contains("not running")));
        let undo = call(&webview, "undo_disable", serde_json::json!({"serverId": "s1"}));
        assert!(undo.unwrap_err().as_str().is_some_and(|e| e.contains("no disable of yours")));

        // Pin / undo: only a server the agent offered a pin for, and only my own pins.
        let other = call(&webview, "pin_version", serde_json::json!({"serverId": "someone-elses"}));
        assert!(other.unwrap_err().as_str().is_some_and(|e| e.contains("no version to pin")));
        let offline = call(&webview, "pin_version", serde_json::json!({"serverId": "s1"}));
        assert!(offline.unwrap_err().as_str().is_some_and(|e| e.contains("not running")));
        let undo = call(&webview, "undo_pin", serde_json::json!({"serverId": "s1"}));
        assert!(undo.unwrap_err().as_str().is_some_and(|e| e.contains("no pin of yours")));
        app.state::<AppState>().status.lock().unwrap().as_mut().unwrap().pins =
            vec![muster_proto::local::v1::VersionPin { server_id: "s1".into(), ..Default::default() }];
        let undo = call(&webview, "undo_pin", serde_json::json!({"serverId": "s1"}));
        assert!(undo.unwrap_err().as_str().is_some_and(|e| e.contains("not running")));
    }

    #[derive(Clone, Default)]
    struct RecordingTray(std::sync::Arc<Mutex<Vec<ToTray>>>);

    impl TrayLink for RecordingTray {
        fn send(&self, message: &ToTray) -> std::io::Result<()> {
            self.0.lock().unwrap().push(message.clone());
            Ok(())
        }
    }

    #[test]
    fn a_snooze_in_the_window_goes_to_the_tray_that_started_it() {
        let tray = RecordingTray::default();
        let state = AppState { tray: Some(Box::new(tray.clone())), ..AppState::new() };
        let app = build_with_state(mock_builder(), state).build(mock_context(noop_assets())).expect("app");
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("window");

        assert!(call(&webview, "snooze_finding", serde_json::json!({"key": "k1", "hours": 24})).is_ok());
        assert!(call(&webview, "snooze_finding", serde_json::json!({"key": "k1", "hours": 0})).is_err());
        assert!(call(&webview, "snooze_finding", serde_json::json!({"key": "k1", "hours": 169})).is_err());
        assert_eq!(*tray.0.lock().unwrap(), vec![ToTray::SnoozeFinding { key: "k1".into(), hours: 24 }]);
    }

    #[test]
    fn open_config_starts_the_editor_at_the_entry_line_through_the_mock_runtime() {
        let recorder = opener::tests::launcher(&[("EDITOR", "vim")], &["cursor", "x-terminal-emulator", "xdg-open"]);
        let started = recorder.started.clone();
        let state = AppState { launcher: Box::new(recorder), ..AppState::new() };
        let app = build_with_state(mock_builder(), state).build(mock_context(noop_assets())).expect("app");
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("window");
        *app.state::<AppState>().status.lock().unwrap() = Some(muster_desktop_core::view::fixtures::sample());
        let path = "/home/dev/.cursor/mcp.json";

        // The agent placed s1 (a Cursor server) at line 12, column 5: Cursor's own build opens it.
        let answer = call(&webview, "open_config", serde_json::json!({"path": path, "serverId": "s1"}));
        assert_eq!(answer.expect("opened"), format!("cursor --goto {path}:12:5"));
        // No server named, or one that is not mine: the file at its top, with the default opener.
        let answer = call(&webview, "open_config", serde_json::json!({"path": path}));
        assert!(answer.expect("opened").as_str().is_some_and(|a| a.ends_with(&format!(" {path}"))));
        let answer = call(&webview, "open_config", serde_json::json!({"path": path, "serverId": "someone-elses"}));
        assert!(answer.expect("opened").as_str().is_some_and(|a| !a.contains(":12")));
        let launched: Vec<String> = started.lock().unwrap().iter().map(|l| l.program.clone()).collect();
        assert_eq!(launched.len(), 3, "{launched:?}");
        assert_eq!(launched[0], "cursor");
        // A file the agent did not name starts nothing.
        assert!(call(&webview, "open_config", serde_json::json!({"path": "/etc/shadow", "serverId": "s1"})).is_err());
        assert_eq!(started.lock().unwrap().len(), 3);
    }

    #[test]
    fn the_window_depends_on_the_contract_never_on_the_agent() {
        let manifest = include_str!("../Cargo.toml");
        assert!(manifest.contains("muster-proto"));
        assert!(!manifest.contains("muster-agent"), "desktop-ui must not depend on the agent crate");
    }
}
