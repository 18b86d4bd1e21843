//! `muster-tray`: the developer's tray app. Everything lives in the library (`run`).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    muster_desktop_ui::run();
}
