//! The tray icon and its menu. Linux delivers no clicks on the icon, so everything is in the
//! menu: the state line, open, snooze (1 hour, until tomorrow), pause, quit. Built with
//! `tray-icon` and its menu crate `muda`, as Tauri's own tray is; the menu's clicks arrive as
//! [`tray_icon::menu::MenuEvent`]s, which `lib.rs` turns into [`MenuAction`]s.

use muster_desktop_core::view::{TrayCounts, TrayState};
use tray_icon::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

/// What a click on the menu asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MenuAction {
    Open,
    SnoozeHour,
    SnoozeTomorrow,
    Pause,
    Quit,
}

impl MenuAction {
    const ALL: [(MenuAction, &'static str); 5] = [
        (MenuAction::Open, "open"),
        (MenuAction::SnoozeHour, "snooze-hour"),
        (MenuAction::SnoozeTomorrow, "snooze-tomorrow"),
        (MenuAction::Pause, "pause"),
        (MenuAction::Quit, "quit"),
    ];

    fn id(self) -> &'static str {
        Self::ALL.iter().find(|(a, _)| *a == self).map_or("", |(_, id)| id)
    }

    /// The action of a menu item's id (`None`: the state line, which is disabled).
    pub fn from_id(id: &str) -> Option<MenuAction> {
        Self::ALL.iter().find(|(_, i)| *i == id).map(|(a, _)| *a)
    }
}

/// Why the tray could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum TrayError {
    #[error("cannot build the tray menu: {0}")]
    Menu(#[from] tray_icon::menu::Error),
    #[error("cannot show the tray icon: {0}")]
    Icon(#[from] tray_icon::Error),
}

fn png(state: TrayState) -> &'static [u8] {
    match state {
        TrayState::AllGood => include_bytes!("../icons/tray-ok.png"),
        TrayState::Attention => include_bytes!("../icons/tray-attention.png"),
        TrayState::ActionRequired => include_bytes!("../icons/tray-action.png"),
        TrayState::Offline => include_bytes!("../icons/tray-offline.png"),
    }
}

/// A PNG as the 8-bit RGBA pixels tray-icon takes, with its width and height.
fn rgba(bytes: &[u8]) -> Result<(Vec<u8>, u32, u32), String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8() | png::Transformations::ALPHA);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let size = reader.output_buffer_size().ok_or("the icon is too large")?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    if info.color_type != png::ColorType::Rgba || info.bit_depth != png::BitDepth::Eight {
        return Err(format!("the icon decodes to {:?} {:?}, not 8-bit RGBA", info.color_type, info.bit_depth));
    }
    buf.truncate(info.buffer_size());
    Ok((buf, info.width, info.height))
}

fn icon(state: TrayState) -> Option<Icon> {
    match rgba(png(state)).and_then(|(px, w, h)| Icon::from_rgba(px, w, h).map_err(|e| e.to_string())) {
        Ok(icon) => Some(icon),
        Err(e) => {
            tracing::warn!(error = %e, ?state, "cannot use the tray icon");
            None
        }
    }
}

/// The state line of the menu and tooltip, naming what the count is made of, e.g. "Action
/// required: 9 findings · 1 turned off by policy".
pub fn state_line(state: TrayState, counts: TrayCounts) -> String {
    let plural = |n: usize, one: &str, many: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {many}") };
    let parts: Vec<String> = [
        (counts.findings > 0).then(|| plural(counts.findings, "finding", "findings")),
        (counts.pending > 0).then(|| plural(counts.pending, "action pending", "actions pending")),
        (counts.by_policy > 0).then(|| format!("{} turned off by policy", counts.by_policy)),
    ]
    .into_iter()
    .flatten()
    .collect();
    match state {
        TrayState::Offline | TrayState::AllGood => state.label().to_string(),
        _ if parts.is_empty() => state.label().to_string(),
        _ => format!("{}: {}", state.label(), parts.join(" · ")),
    }
}

/// The tray icon and the menu items that change.
pub struct Tray {
    icon: TrayIcon,
    status: MenuItem,
    pause: CheckMenuItem,
}

impl Tray {
    /// Shows the icon (offline until the agent answers) with its menu. On Linux, GTK must be
    /// initialised (tao's event loop does it); on macOS, call once the event loop runs.
    pub fn create() -> Result<Tray, TrayError> {
        let item = |action: MenuAction, text: &str| MenuItem::with_id(action.id(), text, true, None);
        let status = MenuItem::with_id("status", state_line(TrayState::Offline, TrayCounts::default()), false, None);
        let pause = CheckMenuItem::with_id(MenuAction::Pause.id(), "Pause notifications", true, false, None);
        let menu = Menu::with_items(&[
            &status,
            &PredefinedMenuItem::separator(),
            &item(MenuAction::Open, "Open Muster…"),
            &item(MenuAction::SnoozeHour, "Snooze notifications for 1 hour"),
            &item(MenuAction::SnoozeTomorrow, "Snooze notifications until tomorrow"),
            &pause,
            &PredefinedMenuItem::separator(),
            &item(MenuAction::Quit, "Quit"),
        ])?;
        let mut builder = TrayIconBuilder::new()
            .with_id("muster")
            .with_menu(Box::new(menu))
            .with_tooltip("Muster")
            .with_menu_on_left_click(true);
        if let Some(i) = icon(TrayState::Offline) {
            builder = builder.with_icon(i);
        }
        Ok(Tray { icon: builder.build()?, status, pause })
    }

    /// Redraws the icon, its title (the count, shown beside the icon where the panel allows) and
    /// the menu's state line.
    pub fn refresh(&self, state: TrayState, counts: TrayCounts) {
        if let Some(i) = icon(state) {
            let _ = self.icon.set_icon(Some(i));
        }
        let count = counts.total();
        let line = state_line(state, counts);
        let _ = self.icon.set_tooltip(Some(&line));
        self.icon.set_title((count > 0).then(|| count.to_string()));
        self.status.set_text(&line);
    }

    pub fn set_paused(&self, paused: bool) {
        self.pause.set_checked(paused);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_line_says_what_and_how_many() {
        let counts = |findings, pending, by_policy| TrayCounts { findings, pending, by_policy };
        assert_eq!(state_line(TrayState::ActionRequired, counts(3, 0, 0)), "Action required: 3 findings");
        assert_eq!(state_line(TrayState::Attention, counts(1, 0, 0)), "Needs attention: 1 finding");
        // What the count is made of is named: a blocked server is not a finding.
        assert_eq!(
            state_line(TrayState::ActionRequired, counts(9, 2, 1)),
            "Action required: 9 findings · 2 actions pending · 1 turned off by policy"
        );
        assert_eq!(state_line(TrayState::ActionRequired, counts(0, 1, 0)), "Action required: 1 action pending");
        assert_eq!(state_line(TrayState::Attention, counts(0, 0, 0)), "Needs attention");
        assert_eq!(state_line(TrayState::AllGood, counts(0, 0, 0)), "All good");
        assert_eq!(state_line(TrayState::Offline, counts(0, 0, 0)), "Muster agent not running");
    }

    #[test]
    fn every_icon_decodes_to_rgba_pixels() {
        for state in [TrayState::AllGood, TrayState::Attention, TrayState::ActionRequired, TrayState::Offline] {
            let (px, w, h) = rgba(png(state)).unwrap_or_else(|e| panic!("{state:?}: {e}"));
            assert_eq!((w, h), (64, 64), "{state:?}");
            assert_eq!(px.len(), 64 * 64 * 4, "{state:?}");
            assert!(px.chunks(4).any(|p| p[3] > 0), "{state:?} is not all transparent");
        }
    }

    #[test]
    fn menu_ids_map_back_to_their_actions() {
        for (action, id) in MenuAction::ALL {
            assert_eq!(MenuAction::from_id(id), Some(action));
        }
        assert_eq!(MenuAction::from_id("status"), None);
    }
}
