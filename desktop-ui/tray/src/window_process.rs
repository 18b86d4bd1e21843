//! The window process the tray starts on "Open": `muster-window` beside `muster-tray`, at most one
//! at a time. A second "Open" while it runs asks it to show and focus its window (a line on its
//! stdin) instead of starting another. A thread per window reads what the window writes on its
//! stdout (snoozes), then reaps the process when it ends and says so, so no zombie is left and
//! nothing polls. Quitting the tray closes the window's stdin, and the window ends with it.
//!
//! Not here: the window itself (`desktop-ui`), or what the tray does with a snooze (`lib.rs`).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};

use muster_desktop_core::window_link::{self, FROM_TRAY, ToTray, ToWindow};

/// Why the window could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the window program {} is missing", .0.display())]
    Missing(PathBuf),
    #[error("cannot start the window program {}: {source}", .path.display())]
    Start { path: PathBuf, source: std::io::Error },
}

/// What the window process's reader thread reports to the tray's event loop.
#[derive(Debug)]
pub enum WindowEvent {
    /// A message the window wrote.
    Said(ToTray),
    /// The window process with this id ended (its window was closed); it has been reaped.
    Gone(u32),
}

/// The running window process, if any.
#[derive(Debug)]
pub struct WindowProcess {
    binary: PathBuf,
    /// The running window's process id and stdin; `None` while no window runs.
    running: Option<(u32, ChildStdin)>,
}

impl WindowProcess {
    /// Windows started from `binary` (`window_link::window_binary_beside` the tray).
    pub fn new(binary: PathBuf) -> WindowProcess {
        WindowProcess { binary, running: None }
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Shows the window at `section`: focuses the running one, or starts one whose events go to
    /// `report` (called on the reader thread).
    pub fn open(&mut self, section: &str, report: impl Fn(WindowEvent) + Send + 'static) -> Result<(), OpenError> {
        if let Some((_, stdin)) = &mut self.running {
            let line = window_link::line(&ToWindow::Show { section: section.to_string() });
            match stdin.write_all(line.as_bytes()).and_then(|()| stdin.flush()) {
                Ok(()) => return Ok(()),
                // It is ending (its reader will say Gone): start a new one.
                Err(e) => tracing::debug!(error = %e, "the window process is ending"),
            }
        }
        let mut child = Command::new(&self.binary)
            .arg(FROM_TRAY)
            .arg(format!("--open={section}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => OpenError::Missing(self.binary.clone()),
                _ => OpenError::Start { path: self.binary.clone(), source },
            })?;
        let id = child.id();
        self.running = child.stdin.take().map(|stdin| (id, stdin));
        let stdout = child.stdout.take();
        let reader = std::thread::Builder::new().name("window-process".into()).spawn(move || {
            if let Some(stdout) = stdout {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    match window_link::parse::<ToTray>(&line) {
                        Some(message) => report(WindowEvent::Said(message)),
                        None => tracing::debug!("the window wrote a line that is no message"),
                    }
                }
            }
            match child.wait() {
                Ok(status) => tracing::info!(%status, "the window process ended"),
                Err(e) => tracing::warn!(error = %e, "cannot reap the window process"),
            }
            report(WindowEvent::Gone(id));
        });
        if let Err(e) = reader {
            // Without its reader the window could not be reaped: it is not started at all.
            tracing::error!(error = %e, "cannot start the window's reader thread");
            self.running = None;
        }
        Ok(())
    }

    /// The window process `id` ended (an older one's end does not forget a newer one).
    pub fn gone(&mut self, id: u32) {
        if self.running.as_ref().is_some_and(|(running, _)| *running == id) {
            self.running = None;
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt;
    use std::sync::mpsc::{Receiver, channel};
    use std::time::Duration;

    use super::*;

    /// A stand-in window program: counts its starts in `starts`, answers each line the tray
    /// writes with a snooze, and ends when its stdin closes (as the real window does).
    fn fake_window(dir: &Path) -> PathBuf {
        let path = dir.join("muster-window");
        let script = format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nwhile read -r line; do echo '{{\"snooze_finding\":{{\"key\":\"k\",\"hours\":2}}}}'; done\n",
            dir.join("starts").display()
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn next(events: &Receiver<WindowEvent>) -> WindowEvent {
        events.recv_timeout(Duration::from_secs(30)).expect("an event from the window process")
    }

    #[test]
    fn a_second_open_shows_the_running_window_instead_of_starting_another() {
        let dir = tempfile::tempdir().unwrap();
        let mut window = WindowProcess::new(fake_window(dir.path()));
        let (tx, events) = channel();
        let report = move |tx: std::sync::mpsc::Sender<WindowEvent>| move |e| tx.send(e).unwrap();

        window.open("servers", report(tx.clone())).expect("started");
        assert!(window.is_running());
        window.open("", report(tx.clone())).expect("shown");
        // The running window got the tray's line (and answered it), and was started once.
        assert_eq!(next(&events).said(), Some(ToTray::SnoozeFinding { key: "k".into(), hours: 2 }));
        let starts = std::fs::read_to_string(dir.path().join("starts")).unwrap();
        assert_eq!(starts, format!("{FROM_TRAY} --open=servers\n"));

        // The tray's end closes the window's stdin: the window ends, is reaped, and says so.
        let id = window.running.as_ref().map(|(id, _)| *id).unwrap();
        window.running.take();
        loop {
            if let WindowEvent::Gone(gone) = next(&events) {
                assert_eq!(gone, id);
                break;
            }
        }
        window.gone(id);
        assert!(!window.is_running());
    }

    #[test]
    fn a_missing_window_program_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("muster-window");
        let mut window = WindowProcess::new(missing.clone());
        match window.open("", |_| {}) {
            Err(OpenError::Missing(path)) => assert_eq!(path, missing),
            other => panic!("{other:?}"),
        }
        assert!(!window.is_running());
    }

    impl WindowEvent {
        fn said(self) -> Option<ToTray> {
            match self {
                WindowEvent::Said(m) => Some(m),
                WindowEvent::Gone(_) => None,
            }
        }
    }
}
