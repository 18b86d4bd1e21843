//! What the tray and the window do before GTK starts, to keep them small.
//!
//! GTK 3 on X11 loads the display's OpenGL driver when it opens the display (it probes GLX to
//! choose visuals for GL windows), before any window exists. Under Mesa that maps the driver and
//! LLVM — about 50 MB resident for the whole life of a tray that never draws with OpenGL
//! (`docs/benchmarks.md`, "Tray app idle memory"). `GDK_GL=disable` skips the probe; the
//! webview then composites without GDK's OpenGL (WebKit's own process still renders as before).
//! GDK reads the variable only from the environment, and setting it in-process needs `unsafe`
//! (the workspace forbids it), so each process re-executes itself once with the variable set (the
//! window started by the tray inherits it and needs none). A `GDK_GL` the user set is left
//! alone. Not here: WebKit, which only the window process links (ADR 0027).

/// Set (to `1`) when the app itself set `GDK_GL`, so programs it starts (an editor) get the
/// user's environment back.
pub const SET_BY_APP: &str = "MUSTER_TRAY_GDK_GL";

/// The environment to re-execute with, or `None` to go on as we are: `GDK_GL` already set (by the
/// user, or by this function before the re-exec).
pub fn gl_switch(gdk_gl: Option<&std::ffi::OsStr>) -> Option<[(&'static str, &'static str); 2]> {
    gdk_gl.is_none().then_some([("GDK_GL", "disable"), (SET_BY_APP, "1")])
}

/// On Linux, re-executes the app with `GDK_GL=disable` unless `GDK_GL` is set; returns only when
/// no re-exec happened (elsewhere, already set, or the exec failed, which is logged to stderr
/// and costs only memory).
pub fn skip_gl_probe() {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let Some(env) = gl_switch(std::env::var_os("GDK_GL").as_deref()) else { return };
        let Ok(exe) = std::env::current_exe() else { return };
        let error = std::process::Command::new(exe).args(std::env::args_os().skip(1)).envs(env).exec();
        eprintln!("warning: cannot restart without the OpenGL probe ({error}); going on with it");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gl_probe_is_switched_off_once_and_a_users_choice_is_kept() {
        assert_eq!(gl_switch(None), Some([("GDK_GL", "disable"), (SET_BY_APP, "1")]));
        assert_eq!(gl_switch(Some(std::ffi::OsStr::new("disable"))), None, "after the re-exec");
        assert_eq!(gl_switch(Some(std::ffi::OsStr::new("always"))), None, "the user's own setting");
    }
}
