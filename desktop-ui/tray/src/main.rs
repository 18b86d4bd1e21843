//! `muster-tray`: the developer's tray process (icon, menu, notifications; no webview). Everything
//! lives in the library: `startup` (before GTK starts), then `run`.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    muster_desktop_core::startup::skip_gl_probe();
    muster_tray::run();
}
