//! Shows the notices the notification rules release, through the desktop's notification service
//! (`notify-rust`: D-Bus `org.freedesktop.Notifications` on Linux, the notification centre on
//! macOS and Windows; what tauri-plugin-notification uses). Sending can block (a D-Bus round
//! trip, or no service at all), so it happens on one thread of its own, never on the event loop.
//! Not here: deciding what to show (`muster_desktop_core::notify_policy`).

use std::sync::mpsc::{Sender, channel};

/// One notification to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    pub title: String,
    pub body: String,
}

/// The sending side of the notification thread.
#[derive(Debug)]
pub struct Notifications {
    sender: Option<Sender<Shown>>,
}

impl Notifications {
    /// Starts the notification thread; without it, notices are logged instead.
    pub fn start() -> Notifications {
        let (sender, receiver) = channel::<Shown>();
        let thread = std::thread::Builder::new().name("notifications".into()).spawn(move || {
            for n in receiver {
                let shown = notify_rust::Notification::new()
                    .appname("Muster")
                    .summary(&n.title)
                    .body(&n.body)
                    // The icon the Linux packages install (hicolor theme); elsewhere the app's own.
                    .icon("muster-tray")
                    .show();
                if let Err(e) = shown {
                    tracing::warn!(error = %e, "cannot show a notification");
                }
            }
        });
        match thread {
            Ok(_) => Notifications { sender: Some(sender) },
            Err(e) => {
                tracing::error!(error = %e, "cannot start the notification thread; notices go to the log");
                Notifications { sender: None }
            }
        }
    }

    pub fn show(&self, title: &str, body: &str) {
        let shown = Shown { title: title.to_string(), body: body.to_string() };
        match &self.sender {
            Some(s) if s.send(shown.clone()).is_ok() => {}
            _ => tracing::warn!(title = %shown.title, body = %shown.body, "notification not shown"),
        }
    }
}
