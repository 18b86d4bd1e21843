//! Muster's tray process (`muster-tray`, ADR 0027): the icon with the state and count, the menu,
//! the notifications, and the link to the local agent. It links no webview: the window is
//! another process (`muster-window`, the Tauri app in `desktop-ui/`), started from the menu and
//! gone when closed, so the tray idles without WebKit mapped (`tests/no_webkit.rs` checks the
//! binary, `tests/tests/architecture` the dependency graph).
//!
//! One [`tao`] event loop on the main thread (on Linux it initialises GTK and runs its main loop,
//! which the tray icon needs) handles a closed [`TrayEvent`]: statuses from the agent link
//! (a tokio runtime on a thread of its own, `muster_desktop_core::agent_link`), menu clicks,
//! and what the window process says. Between events it sleeps until the notification rules'
//! next wake-up (a snooze ending, the digest hour), the same timer the rules compute
//! (`muster_desktop_core::notify_policy`, pure and tested with paused time).

pub mod notifications;
pub mod tray;
pub mod window_process;

use std::time::Instant;

use muster_desktop_core::agent_link::{self, AgentStatus};
use muster_desktop_core::notify_policy::{Notice, Notifier, NotifySettings, tomorrow_morning};
use muster_desktop_core::view;
use muster_desktop_core::window_link::{self, SNOOZE_HOURS, ToTray};
use tao::event::{Event, StartCause};
use tao::event_loop::{ControlFlow, EventLoopBuilder, EventLoopProxy};
use time::{OffsetDateTime, UtcOffset};
use tray_icon::menu::MenuEvent;

use notifications::Notifications;
use tray::{MenuAction, Tray};
use window_process::{OpenError, WindowEvent, WindowProcess};

/// Everything that wakes the tray.
#[derive(Debug)]
pub enum TrayEvent {
    /// A status from the agent (`None`: no agent answers); boxed, as it is far larger than the
    /// other events.
    Agent(Option<Box<AgentStatus>>),
    Menu(MenuAction),
    Window(WindowEvent),
}

/// The tray's state between events: the notification rules and the window process.
pub struct TrayApp {
    pub notifier: Notifier,
    /// The local UTC offset, read once at start (reading it later is unreliable with threads).
    pub offset: UtcOffset,
    pub window: WindowProcess,
    notifications: Notifications,
}

/// What the event loop must do after an event.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Continue,
    Quit,
}

impl TrayApp {
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc().to_offset(self.offset)
    }

    fn show(&self, notices: Vec<Notice>) {
        for n in notices {
            self.notifications.show(&n.title, &n.body);
        }
    }

    /// Opens the window at `section` (or focuses the open one). A missing or broken window
    /// program is said in a notification and the log; the tray goes on.
    pub fn open_window(&mut self, section: &str, proxy: &EventLoopProxy<TrayEvent>) {
        let proxy = proxy.clone();
        let opened = self.window.open(section, move |e| {
            let _ = proxy.send_event(TrayEvent::Window(e));
        });
        if let Err(e) = opened {
            tracing::error!(error = %e, "cannot open the window");
            let hint = match &e {
                OpenError::Missing(_) => "; reinstall Muster",
                OpenError::Start { .. } => "",
            };
            self.notifications.show("Muster cannot open its window", &format!("{e}{hint}"));
        }
    }

    /// Handles one event; `tray` is `None` until the icon is shown.
    pub fn handle(&mut self, event: TrayEvent, tray: Option<&Tray>, proxy: &EventLoopProxy<TrayEvent>) -> Next {
        let now = self.now();
        match event {
            TrayEvent::Agent(status) => {
                let status = status.map(|s| s.status);
                let notices = match &status {
                    Some(s) => self.notifier.observe(now, &view::candidates(s)),
                    None => Vec::new(),
                };
                let (state, _) = view::tray_state(status.as_ref());
                if let Some(t) = tray {
                    t.refresh(state, view::tray_counts(status.as_ref()));
                }
                self.show(notices);
            }
            TrayEvent::Menu(MenuAction::Open) => self.open_window("", proxy),
            TrayEvent::Menu(MenuAction::SnoozeHour) => self.notifier.snooze_all(now + time::Duration::HOUR),
            TrayEvent::Menu(MenuAction::SnoozeTomorrow) => self.notifier.snooze_all(tomorrow_morning(now)),
            TrayEvent::Menu(MenuAction::Pause) => {
                let paused = !self.notifier.is_paused();
                self.notifier.set_paused(paused);
                if let Some(t) = tray {
                    t.set_paused(paused);
                }
            }
            TrayEvent::Menu(MenuAction::Quit) => return Next::Quit,
            TrayEvent::Window(WindowEvent::Said(ToTray::SnoozeFinding { key, hours })) => {
                if SNOOZE_HOURS.contains(&hours) {
                    self.notifier.snooze_finding(&key, now + time::Duration::hours(i64::from(hours)));
                } else {
                    tracing::warn!(hours, "the window asked for a snooze out of range; ignored");
                }
            }
            TrayEvent::Window(WindowEvent::Gone(id)) => self.window.gone(id),
        }
        Next::Continue
    }

    /// Lets time-based notifications out (snoozes ending, the rate window sliding, the digest)
    /// and says when to wake next.
    pub fn tick(&mut self) -> ControlFlow {
        let now = self.now();
        let notices = self.notifier.tick(now);
        self.show(notices);
        self.control_flow(now)
    }

    fn control_flow(&self, now: OffsetDateTime) -> ControlFlow {
        match self.notifier.next_wakeup(now) {
            Some(at) => {
                ControlFlow::WaitUntil(Instant::now() + std::time::Duration::try_from(at - now).unwrap_or_default())
            }
            None => ControlFlow::Wait,
        }
    }
}

/// Runs the tray until Quit.
pub fn run() -> ! {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MUSTER_LOG").unwrap_or_else(|_| "warn".into()))
        .init();
    // Before any thread starts: afterwards the local offset cannot be read soundly on Linux.
    let offset = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    let window_binary = match std::env::current_exe() {
        Ok(exe) => window_link::window_binary_beside(&exe),
        Err(e) => {
            tracing::error!(error = %e, "cannot tell where the tray runs from; the window will not open");
            std::path::PathBuf::from(window_link::WINDOW_BINARY)
        }
    };
    let open_at_start = window_link::open_arg(std::env::args());

    let event_loop = EventLoopBuilder::<TrayEvent>::with_user_event().build();
    let proxy = event_loop.create_proxy();
    let menu_proxy = proxy.clone();
    MenuEvent::set_event_handler(Some(move |event: MenuEvent| {
        if let Some(action) = MenuAction::from_id(event.id().as_ref()) {
            let _ = menu_proxy.send_event(TrayEvent::Menu(action));
        }
    }));
    spawn_agent_link(proxy.clone());

    let mut app = TrayApp {
        notifier: Notifier::new(NotifySettings::default()),
        offset,
        window: WindowProcess::new(window_binary),
        notifications: Notifications::start(),
    };
    let mut tray: Option<Tray> = None;
    event_loop.run(move |event, _, control_flow| match event {
        Event::NewEvents(StartCause::Init) => {
            // macOS wants the icon made once the loop runs; Linux and Windows accept it here too.
            match Tray::create() {
                Ok(t) => tray = Some(t),
                Err(e) => tracing::error!(error = %e, "no tray icon; notifications still work"),
            }
            if let Some(section) = &open_at_start {
                app.open_window(section, &proxy);
            }
            *control_flow = app.control_flow(app.now());
        }
        Event::NewEvents(StartCause::ResumeTimeReached { .. }) => *control_flow = app.tick(),
        Event::UserEvent(e) => {
            *control_flow = match app.handle(e, tray.as_ref(), &proxy) {
                // The window process's stdin closes with the tray, and it ends too.
                Next::Quit => ControlFlow::Exit,
                Next::Continue => app.control_flow(app.now()),
            };
        }
        _ => {}
    })
}

/// Follows the agent on a thread of its own (a single-threaded tokio runtime); each status wakes
/// the event loop.
fn spawn_agent_link(proxy: EventLoopProxy<TrayEvent>) {
    let link = std::thread::Builder::new().name("agent-link".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the agent link; the tray stays offline");
                return;
            }
        };
        runtime.block_on(agent_link::follow(|status| {
            let _ = proxy.send_event(TrayEvent::Agent(status.map(Box::new)));
        }));
    });
    if let Err(e) = link {
        tracing::error!(error = %e, "cannot start the agent link; the tray stays offline");
    }
}
