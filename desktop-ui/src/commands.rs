//! The window's commands. Each reads or changes [`AppState`], or asks the agent over the local
//! API; none reaches past the data the agent sent (a config file is opened only if the agent
//! named it for one of my servers, a server is disabled only if the agent listed it as mine, and
//! the agent checks both again itself).

use muster_desktop_core::window_link::{SNOOZE_HOURS, ToTray};
use tauri::State;

use crate::AppState;
use muster_desktop_core::agent_link;
use muster_desktop_core::view::{
    UiStatus, is_known_config, is_my_server, is_pin_undoable, is_pinnable, is_undoable, server_place, ui_status,
};

/// The window's model of the latest status.
#[tauri::command]
pub fn get_status(state: State<'_, AppState>) -> UiStatus {
    ui_status(state.status.lock().unwrap_or_else(|e| e.into_inner()).as_ref())
}

/// Opens one of my servers' config files in my editor, at the server's entry when `server_id`
/// names one of my servers whose entry the agent located (see `opener` for which editor).
/// Answers what was started, e.g. `code --goto /home/me/.vscode/mcp.json:12:5`.
#[tauri::command]
pub fn open_config(path: String, server_id: Option<String>, state: State<'_, AppState>) -> Result<String, String> {
    let (known, client, place) = {
        let status = state.status.lock().unwrap_or_else(|e| e.into_inner());
        let server = server_id.as_deref().and_then(|id| server_place(status.as_ref(), id));
        let (client, place) = match server {
            Some((client, config, place)) if config == path => (client, place),
            _ => (String::new(), None),
        };
        (is_known_config(status.as_ref(), &path), client, place)
    };
    if !known {
        return Err("that file is not one of your MCP configuration files".into());
    }
    let launcher = state.launcher.as_ref();
    let plan = crate::opener::plan(&path, place, &client, launcher);
    match crate::opener::open(&plan, launcher) {
        Ok(started) => Ok(std::iter::once(started.program).chain(started.args).collect::<Vec<_>>().join(" ")),
        Err(e) => Err(format!("cannot open {path}: {e}")),
    }
}

/// Silences one finding's notifications for `hours` (1 to 168). The notifications are the
/// tray's, so the request goes to the tray that started this window.
#[tauri::command]
pub fn snooze_finding(key: String, hours: u32, state: State<'_, AppState>) -> Result<(), String> {
    if !SNOOZE_HOURS.contains(&hours) {
        return Err("snooze for 1 to 168 hours".into());
    }
    let tray = state.tray.as_ref().ok_or("notifications come from the Muster tray, which did not open this window")?;
    tray.send(&ToTray::SnoozeFinding { key, hours }).map_err(|e| format!("cannot reach the Muster tray: {e}"))
}

/// Asks the organisation for an exception for one of my servers (`rule_id` empty: every rule);
/// the agent files it with the control plane and its state comes back in the next statuses.
#[tauri::command]
pub async fn request_exception(
    server_id: String,
    rule_id: Option<String>,
    reason: String,
    state: State<'_, AppState>,
) -> Result<(), String> {
    let reason = reason.trim().to_string();
    if reason.is_empty() {
        return Err("say why you need the exception".into());
    }
    let socket = {
        let status = state.status.lock().unwrap_or_else(|e| e.into_inner());
        if !muster_desktop_core::view::is_askable(status.as_ref(), &server_id) {
            return Err("that is not one of your MCP servers".into());
        }
        state.agent_socket()
    };
    agent_link::request_exception(socket, server_id, rule_id.unwrap_or_default(), reason).await
}

/// Disables one of my servers through the agent (the client's own switch, else the entry moved
/// aside; journalled and undoable). The window shows the result when the agent's next status
/// arrives.
#[tauri::command]
pub async fn disable_server(server_id: String, state: State<'_, AppState>) -> Result<(), String> {
    let socket = {
        let status = state.status.lock().unwrap_or_else(|e| e.into_inner());
        if !is_my_server(status.as_ref(), &server_id) {
            return Err("that is not one of your MCP servers".into());
        }
        state.agent_socket()
    };
    agent_link::disable(socket, server_id).await
}

/// Undoes a disable I made (the file comes back as it was, keeping my edits elsewhere in it).
#[tauri::command]
pub async fn undo_disable(server_id: String, state: State<'_, AppState>) -> Result<(), String> {
    let socket = {
        let status = state.status.lock().unwrap_or_else(|e| e.into_inner());
        if !is_undoable(status.as_ref(), &server_id) {
            return Err("there is no disable of yours to undo for that server".into());
        }
        state.agent_socket()
    };
    agent_link::undo(socket, server_id).await
}

/// Pins one of my servers to the version its client already runs (the agent found it in my
/// package cache; journalled and undoable). Only a server the agent offered a pin for.
#[tauri::command]
pub async fn pin_version(server_id: String, state: State<'_, AppState>) -> Result<(), String> {
    let socket = {
        let status = state.status.lock().unwrap_or_else(|e| e.into_inner());
        if !is_pinnable(status.as_ref(), &server_id) {
            return Err("the agent knows no version to pin for that server".into());
        }
        state.agent_socket()
    };
    agent_link::pin(socket, server_id).await
}

/// Undoes a version pin I made (the file comes back as it was, keeping my edits elsewhere in it).
#[tauri::command]
pub async fn undo_pin(server_id: String, state: State<'_, AppState>) -> Result<(), String> {
    let socket = {
        let status = state.status.lock().unwrap_or_else(|e| e.into_inner());
        if !is_pin_undoable(status.as_ref(), &server_id) {
            return Err("there is no pin of yours to undo for that server".into());
        }
        state.agent_socket()
    };
    agent_link::undo_pin(socket, server_id).await
}
