//! What the tray and the window process it started say to each other, one JSON object a line:
//! the tray writes [`ToWindow`] to the window's stdin, the window writes [`ToTray`] to its
//! stdout. The window runs only while its window is open, so this carries the two things that
//! cross: "show yourself" (a second "Open" focuses the running window instead of starting
//! another) and "snooze this finding's notifications" (the window's button; the notification
//! rules live in the tray). The tray checks what it reads as it would any input: a line it
//! cannot parse is dropped, a snooze outside 1 to 168 hours is refused. Not here: statuses (each
//! process follows the agent itself) or anything secret.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The window process's file name, beside `muster-tray` in the same directory.
pub const WINDOW_BINARY: &str = "muster-window";

/// The argument with which the tray starts the window: stdin and stdout are the tray's pipes, and
/// the window ends when its stdin does (the tray quit).
pub const FROM_TRAY: &str = "--from-tray";

/// Snoozes of one finding are between 1 hour and a week.
pub const SNOOZE_HOURS: std::ops::RangeInclusive<u32> = 1..=168;

/// From the tray to its window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ToWindow {
    /// Show and focus the window, at `section` when it names one (see [`page_for`]).
    Show { section: String },
}

/// From the window to the tray.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ToTray {
    /// Silence one finding's notifications for `hours` (then it notifies once more if still there).
    SnoozeFinding { key: String, hours: u32 },
}

/// One message as the line that carries it (JSON, no newline inside, then `\n`).
pub fn line<T: Serialize>(message: &T) -> String {
    // A derived Serialize of strings and integers into a String cannot fail.
    let mut text = serde_json::to_string(message).unwrap_or_default();
    text.push('\n');
    text
}

/// One line read from the other process; `None` for anything that is not one message.
pub fn parse<T: for<'de> Deserialize<'de>>(line: &str) -> Option<T> {
    serde_json::from_str(line.trim_end()).ok()
}

/// The window's page for a section the user asked for (`servers`, `findings`, `policy`:
/// blocked, quarantined and disabled servers, `exception`: the first finding's exception form);
/// anything else is the top of the page.
pub fn page_for(section: &str) -> String {
    match section {
        "servers" | "findings" | "exception" | "policy" => format!("index.html#{section}"),
        _ => "index.html".to_string(),
    }
}

/// The section of an `--open[=SECTION]` argument among `args` (`Some("")` for a bare `--open`).
pub fn open_arg<I: IntoIterator<Item = String>>(args: I) -> Option<String> {
    args.into_iter()
        .find(|a| a == "--open" || a.starts_with("--open="))
        .map(|a| a.strip_prefix("--open=").unwrap_or("").to_string())
}

/// Where the window binary is for a tray at `tray_exe`: beside it (`/usr/bin`, the MSI's install
/// folder, `Muster.app/Contents/MacOS`, `target/debug`). Never looked up on `PATH`.
pub fn window_binary_beside(tray_exe: &Path) -> PathBuf {
    let dir = tray_exe.parent().unwrap_or_else(|| Path::new("."));
    dir.join(format!("{WINDOW_BINARY}{}", std::env::consts::EXE_SUFFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_cross_as_one_line_each_and_nothing_else_parses() {
        let snooze = ToTray::SnoozeFinding { key: "k1".into(), hours: 24 };
        let text = line(&snooze);
        assert_eq!(text, "{\"snooze_finding\":{\"key\":\"k1\",\"hours\":24}}\n");
        assert_eq!(parse::<ToTray>(&text), Some(snooze));
        let show = ToWindow::Show { section: "servers".into() };
        assert_eq!(parse::<ToWindow>(&line(&show)), Some(show));
        // Stray output, another message kind, unknown fields: dropped, not guessed at.
        assert_eq!(parse::<ToTray>("hello\n"), None);
        assert_eq!(parse::<ToTray>(&line(&ToWindow::Show { section: String::new() })), None);
        assert_eq!(parse::<ToTray>("{\"snooze_finding\":{\"key\":\"k\",\"hours\":1,\"x\":1}}"), None);
    }

    #[test]
    fn sections_and_the_window_binary() {
        assert_eq!(page_for("servers"), "index.html#servers");
        assert_eq!(page_for("../../etc"), "index.html");
        assert_eq!(open_arg(["--open=policy".to_string()]), Some("policy".into()));
        assert_eq!(open_arg(["x".to_string(), "--open".to_string()]), Some(String::new()));
        assert_eq!(open_arg(["--opened".to_string()]), None);
        let beside = window_binary_beside(Path::new("/usr/bin/muster-tray"));
        assert_eq!(beside, Path::new("/usr/bin").join(format!("muster-window{}", std::env::consts::EXE_SUFFIX)));
    }
}
