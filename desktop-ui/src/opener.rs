//! Opens a file in the desktop's default application (`xdg-open`, `open`, `explorer`): the one
//! place the app starts another program. Callers check the path is one the agent named.

use std::path::Path;

pub fn open(path: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    let program = "xdg-open";
    #[cfg(target_os = "macos")]
    let program = "open";
    #[cfg(target_os = "windows")]
    let program = "explorer";
    #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
    let program = "xdg-open";
    std::process::Command::new(program).arg(path).spawn().map(drop)
}
