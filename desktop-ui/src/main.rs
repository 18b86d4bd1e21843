//! `muster-tray`: the developer's tray app. Everything lives in the library: `startup` (before
//! GTK starts), then `run`.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    muster_desktop_ui::startup::skip_gl_probe();
    muster_desktop_ui::run();
}
