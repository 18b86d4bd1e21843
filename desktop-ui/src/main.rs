//! `muster-window`: the developer's status window, started by `muster-tray` on "Open" (or by
//! hand, e.g. `muster-window --open=servers`) and ending when its window closes. Everything
//! lives in the library: `startup` (before GTK starts), then `run`.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    muster_desktop_core::startup::skip_gl_probe();
    muster_desktop_ui::run();
}
