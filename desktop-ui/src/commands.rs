//! The window's commands. Each reads or changes [`AppState`] only; none reaches past the data
//! the agent sent (a config file is opened only if the agent named it for one of my servers).

use std::path::Path;

use tauri::State;
use time::Duration;

use crate::AppState;
use crate::view::{UiStatus, is_known_config, ui_status};

/// The window's model of the latest status.
#[tauri::command]
pub fn get_status(state: State<'_, AppState>) -> UiStatus {
    ui_status(state.status.lock().unwrap_or_else(|e| e.into_inner()).as_ref())
}

/// Opens one of my servers' config files in the default editor. The agent does not report
/// line numbers yet, so the file opens at its top.
#[tauri::command]
pub fn open_config(path: String, state: State<'_, AppState>) -> Result<(), String> {
    let known = is_known_config(state.status.lock().unwrap_or_else(|e| e.into_inner()).as_ref(), &path);
    if !known {
        return Err("that file is not one of your MCP configuration files".into());
    }
    crate::opener::open(Path::new(&path)).map_err(|e| format!("cannot open {path}: {e}"))
}

/// Silences one finding's notifications for `hours` (1 to 168).
#[tauri::command]
pub fn snooze_finding(key: String, hours: u32, state: State<'_, AppState>) -> Result<(), String> {
    if !(1..=168).contains(&hours) {
        return Err("snooze for 1 to 168 hours".into());
    }
    let until = state.now() + Duration::hours(i64::from(hours));
    state.notifier.lock().unwrap_or_else(|e| e.into_inner()).snooze_finding(&key, until);
    Ok(())
}

/// Asking for an exception needs the agent's policy engine, which does not exist yet: the form
/// is shown, and this says plainly that nothing was sent.
#[tauri::command]
pub fn request_exception(server_id: String, reason: String) -> Result<(), String> {
    let _ = (server_id, reason);
    Err("Exception requests are not available yet: this agent does not enforce policies. Nothing was sent.".into())
}
