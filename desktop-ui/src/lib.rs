//! Muster's tray app for the developer: what is risky in my MCP setup, why, and how to fix it.
//!
//! It renders what the local agent tells it over the local API (`muster.local.v1`, client side
//! of `muster-proto` only: this crate never depends on the agent). `agent_link` keeps a
//! `WatchStatus` stream open and hands each status to [`on_status`], which updates the tray
//! (`tray`), feeds the notification rules (`notify_policy`, pure) and tells an open window.
//! The window is created on demand from the tray menu and destroyed when closed, so an idle app
//! is the tray alone. Built after Tauri's template: `main.rs` calls [`run`]; [`build`] is
//! generic over the runtime so tests use Tauri's mock runtime.

pub mod commands;
pub mod notify_policy;
pub mod view;

mod agent_link;
pub mod opener;
pub mod startup;
mod tray;

use std::sync::Mutex;

use muster_proto::local::v1::LocalStatus;
use tauri::{Emitter, Manager, Runtime};
use time::{OffsetDateTime, UtcOffset};

use notify_policy::{Notifier, NotifySettings};

/// What the app knows between status updates.
pub struct AppState {
    /// The latest status; `None` while no agent answers.
    pub status: Mutex<Option<LocalStatus>>,
    pub notifier: Mutex<Notifier>,
    /// The local UTC offset, read once at start (reading it later is unreliable with threads).
    pub offset: UtcOffset,
    /// The socket of the agent the app follows, while connected.
    agent_socket: Mutex<Option<std::path::PathBuf>>,
    /// Starts the editor for "open at the line" (tests record instead).
    pub launcher: Box<dyn opener::Launcher>,
}

impl AppState {
    pub fn new(offset: UtcOffset) -> AppState {
        AppState {
            status: Mutex::new(None),
            notifier: Mutex::new(Notifier::new(NotifySettings::default())),
            offset,
            agent_socket: Mutex::new(None),
            launcher: Box::new(opener::SystemLauncher),
        }
    }

    /// The socket of the agent the app follows (`None` while no agent answers).
    pub fn agent_socket(&self) -> Option<std::path::PathBuf> {
        self.agent_socket.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_agent_socket(&self, socket: Option<std::path::PathBuf>) {
        *self.agent_socket.lock().unwrap_or_else(|e| e.into_inner()) = socket;
    }

    /// Local wall-clock time.
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc().to_offset(self.offset)
    }
}

/// The app's commands and state on any runtime (tests use the mock runtime).
pub fn build<R: Runtime>(builder: tauri::Builder<R>, offset: UtcOffset) -> tauri::Builder<R> {
    build_with_state(builder, AppState::new(offset))
}

/// [`build`] with a state of the caller's (tests give it a recording [`opener::Launcher`]).
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

/// A new status (or `None`: the agent went away): store it, redraw the tray, tell the window,
/// and show what the notification rules release.
pub fn on_status<R: Runtime>(app: &tauri::AppHandle<R>, status: Option<LocalStatus>) {
    let state = app.state::<AppState>();
    let now = state.now();
    let notices = {
        let mut notifier = state.notifier.lock().unwrap_or_else(|e| e.into_inner());
        match &status {
            Some(s) => notifier.observe(now, &view::candidates(s)),
            None => Vec::new(),
        }
    };
    let ui = view::ui_status(status.as_ref());
    *state.status.lock().unwrap_or_else(|e| e.into_inner()) = status;
    tray::refresh(app, ui.state, ui.count);
    if let Err(e) = app.emit("status", &ui) {
        tracing::debug!(error = %e, "no window to tell");
    }
    show_notices(app, notices);
}

/// Lets time-based notifications out (snoozes ending, the rate window sliding, the digest).
pub fn on_tick<R: Runtime>(app: &tauri::AppHandle<R>) {
    let state = app.state::<AppState>();
    let notices = state.notifier.lock().unwrap_or_else(|e| e.into_inner()).tick(state.now());
    show_notices(app, notices);
}

fn show_notices<R: Runtime>(app: &tauri::AppHandle<R>, notices: Vec<notify_policy::Notice>) {
    use tauri_plugin_notification::NotificationExt;
    for n in notices {
        if let Err(e) = app.notification().builder().title(&n.title).body(&n.body).show() {
            tracing::warn!(error = %e, "cannot show a notification");
        }
    }
}

/// Opens the status window, or focuses it if it is open.
pub fn open_window<R: Runtime>(app: &tauri::AppHandle<R>) {
    open_window_at(app, "");
}

/// Opens the status window at a section (`servers`, `findings`, `policy`: blocked, quarantined
/// and disabled servers, or `exception`: the first finding's exception form), e.g. from
/// `muster-tray --open=servers`.
pub fn open_window_at<R: Runtime>(app: &tauri::AppHandle<R>, section: &str) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.set_focus();
        return;
    }
    let page = match section {
        "servers" | "findings" | "exception" | "policy" => format!("index.html#{section}"),
        _ => "index.html".to_string(),
    };
    let built = tauri::WebviewWindowBuilder::new(app, "main", tauri::WebviewUrl::App(page.into()))
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
        .build();
    if let Err(e) = built {
        tracing::error!(error = %e, "cannot open the window");
    }
}

/// Runs the tray app until Quit.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MUSTER_LOG").unwrap_or_else(|_| "warn".into()))
        .init();
    // Before any thread starts: afterwards the local offset cannot be read soundly on Linux.
    let offset = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    let app = build(tauri::Builder::default(), offset)
        .plugin(tauri_plugin_notification::init())
        .setup(|app| {
            tray::create(app.handle())?;
            agent_link::spawn(app.handle().clone());
            if let Some(arg) = std::env::args().find(|a| a == "--open" || a.starts_with("--open=")) {
                open_window_at(app.handle(), arg.strip_prefix("--open=").unwrap_or(""));
            }
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: cannot start the Muster tray app: {e}");
            std::process::exit(1);
        }
    };
    app.run(|_, event| {
        // Closing the window destroys it; the app lives on in the tray until Quit.
        if let tauri::RunEvent::ExitRequested { code: None, api, .. } = event {
            api.prevent_exit();
        }
    });
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
        let app = build(mock_builder(), UtcOffset::UTC).build(mock_context(noop_assets())).expect("app");
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("window");

        let offline = call(&webview, "get_status", serde_json::json!({})).expect("get_status");
        assert_eq!(offline["state"], "offline");

        *app.state::<AppState>().status.lock().unwrap() = Some(view::tests::sample());
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

        assert!(call(&webview, "snooze_finding", serde_json::json!({"key": "k1", "hours": 24})).is_ok());
        assert!(call(&webview, "snooze_finding", serde_json::json!({"key": "k1", "hours": 0})).is_err());

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

    #[test]
    fn open_config_starts_the_editor_at_the_entry_line_through_the_mock_runtime() {
        let recorder = opener::tests::launcher(&[("EDITOR", "vim")], &["cursor", "x-terminal-emulator", "xdg-open"]);
        let started = recorder.started.clone();
        let state = AppState { launcher: Box::new(recorder), ..AppState::new(UtcOffset::UTC) };
        let app = build_with_state(mock_builder(), state).build(mock_context(noop_assets())).expect("app");
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("window");
        *app.state::<AppState>().status.lock().unwrap() = Some(view::tests::sample());
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
    fn the_app_depends_on_the_contract_never_on_the_agent() {
        let manifest = include_str!("../Cargo.toml");
        assert!(manifest.contains("muster-proto"));
        assert!(!manifest.contains("muster-agent"), "desktop-ui must not depend on the agent crate");
    }
}
