//! The tray icon and its menu. Linux delivers no clicks on the icon, so everything is in the
//! menu: the state line, open, snooze (1 hour, until tomorrow), pause, quit.

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

use crate::AppState;
use crate::notify_policy::tomorrow_morning;
use crate::view::TrayState;

const TRAY_ID: &str = "muster";

fn icon(state: TrayState) -> Option<Image<'static>> {
    let bytes: &'static [u8] = match state {
        TrayState::AllGood => include_bytes!("../icons/tray-ok.png"),
        TrayState::Attention => include_bytes!("../icons/tray-attention.png"),
        TrayState::ActionRequired => include_bytes!("../icons/tray-action.png"),
        TrayState::Offline => include_bytes!("../icons/tray-offline.png"),
    };
    Image::from_bytes(bytes).ok()
}

/// The state line of the menu, e.g. "Action required: 3 findings".
pub fn state_line(state: TrayState, count: usize) -> String {
    match (state, count) {
        (TrayState::Offline | TrayState::AllGood, _) | (_, 0) => state.label().to_string(),
        (_, 1) => format!("{}: 1 finding", state.label()),
        (_, n) => format!("{}: {n} findings", state.label()),
    }
}

pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", state_line(TrayState::Offline, 0), false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Muster…", true, None::<&str>)?;
    let snooze_hour = MenuItem::with_id(app, "snooze-hour", "Snooze notifications for 1 hour", true, None::<&str>)?;
    let snooze_tomorrow =
        MenuItem::with_id(app, "snooze-tomorrow", "Snooze notifications until tomorrow", true, None::<&str>)?;
    let pause = CheckMenuItem::with_id(app, "pause", "Pause notifications", true, false, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &open,
            &snooze_hour,
            &snooze_tomorrow,
            &pause,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID).menu(&menu).tooltip("Muster").show_menu_on_left_click(true);
    if let Some(i) = icon(TrayState::Offline) {
        builder = builder.icon(i);
    }
    let status_item = status.clone();
    app.manage(StatusItem(status_item));
    let pause_item = pause.clone();
    builder
        .on_menu_event(move |app, event| {
            let state = app.state::<AppState>();
            let now = state.now();
            match event.id().as_ref() {
                "open" => crate::open_window(app),
                "snooze-hour" => {
                    state.notifier.lock().unwrap_or_else(|e| e.into_inner()).snooze_all(now + time::Duration::HOUR)
                }
                "snooze-tomorrow" => {
                    state.notifier.lock().unwrap_or_else(|e| e.into_inner()).snooze_all(tomorrow_morning(now))
                }
                "pause" => {
                    let mut n = state.notifier.lock().unwrap_or_else(|e| e.into_inner());
                    let paused = !n.is_paused();
                    n.set_paused(paused);
                    let _ = pause_item.set_checked(paused);
                }
                "quit" => app.exit(0),
                _ => {}
            }
        })
        .build(app)?;
    Ok(())
}

struct StatusItem<R: Runtime>(MenuItem<R>);

/// Redraws the icon, its title (the count, shown beside the icon where the panel allows) and the
/// menu's state line.
pub fn refresh<R: Runtime>(app: &AppHandle<R>, state: TrayState, count: usize) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else { return };
    if let Some(i) = icon(state) {
        let _ = tray.set_icon(Some(i));
    }
    let line = state_line(state, count);
    let _ = tray.set_tooltip(Some(&line));
    let _ = tray.set_title((count > 0).then(|| count.to_string()));
    if let Some(item) = app.try_state::<StatusItem<R>>() {
        let _ = item.0.set_text(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_line_says_what_and_how_many() {
        assert_eq!(state_line(TrayState::ActionRequired, 3), "Action required: 3 findings");
        assert_eq!(state_line(TrayState::Attention, 1), "Needs attention: 1 finding");
        assert_eq!(state_line(TrayState::AllGood, 0), "All good");
        assert_eq!(state_line(TrayState::Offline, 0), "Muster agent not running");
    }
}
