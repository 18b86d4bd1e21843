//! Headless Chromium driven over WebDriver, for the browser test (`tests/browser.rs`) and the
//! screenshot example (`examples/screenshots.rs`, which includes this file by path).
//!
//! Starts Debian's `chromedriver` on a free loopback port in a process group of its own, opens one
//! session of Debian's `chromium` with a fresh profile in a temp dir, and kills the whole group
//! (driver and browser) when dropped. It never downloads a browser: a missing `chromedriver` or
//! `chromium` is an error that says how to install them. Waits poll WebDriver state with a
//! deadline; nothing here sleeps to synchronise.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::error::{CmdError, ErrorStatus, NewSessionError};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

/// Window size of every session (a laptop screen).
pub const WINDOW: (u32, u32) = (1440, 900);
/// How long a wait for a page state may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// The flags every Chromium session gets (see `/work/shared/ENVIRONMENT.md`): headless, no
/// sandbox (CI runs as root), and no background networking, which would otherwise flood the
/// closed network with refused connections.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

const INSTALL_HINT: &str = "install Debian's chromium and chromium-driver with scripts/install-deps.sh \
                            (the README's test command does this)";

#[derive(thiserror::Error)]
pub enum BrowserError {
    #[error("{0} not found on PATH: {INSTALL_HINT}")]
    Missing(&'static str),
    #[error("cannot start chromedriver: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("chromedriver did not accept a session within {timeout:?}: {last}; its log:\n{log}")]
    NoSession { timeout: Duration, last: String, log: String },
    #[error("webdriver: {0}")]
    Command(#[from] CmdError),
    #[error("timed out after {WAIT:?} waiting for {what} (at {url})")]
    Timeout { what: String, url: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("unexpected page state: {0}")]
    Unexpected(String),
}

/// The message itself, so that a test's `unwrap()` says what to do (install Chromium, which element
/// it waited for) instead of printing a variant name.
impl std::fmt::Debug for BrowserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// One headless Chromium session talking to a server at `base_url`.
pub struct Browser {
    pub client: Client,
    pub base_url: String,
    driver: Child,
    profile: tempfile::TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").field("base_url", &self.base_url).field("driver", &self.driver.id()).finish()
    }
}

/// The first `name` found in `PATH`.
fn on_path(name: &'static str) -> Result<PathBuf, BrowserError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or(BrowserError::Missing(name))
}

/// A loopback port nobody listens on right now (chromedriver binds it a moment later; a lost
/// race shows up as chromedriver exiting, and the caller tries another port).
fn free_port() -> Result<u16, BrowserError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl Browser {
    /// Starts chromedriver and one Chromium session for pages under `base_url` (no trailing slash).
    pub async fn start(base_url: &str) -> Result<Self, BrowserError> {
        let chromedriver = on_path("chromedriver")?;
        let chromium = on_path("chromium")?;
        let profile = tempfile::tempdir()?;
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            let mut driver = spawn_driver(&chromedriver, port, profile.path())?;
            match open_session(&mut driver, port, &chromium, profile.path()).await {
                Ok(client) => {
                    let browser =
                        Self { client, base_url: base_url.trim_end_matches('/').to_string(), driver, profile };
                    browser.client.set_window_size(WINDOW.0, WINDOW.1).await?;
                    return Ok(browser);
                }
                Err(error) => {
                    kill_group(&mut driver);
                    last = error;
                }
            }
        }
        let log = std::fs::read_to_string(profile.path().join("chromedriver.log")).unwrap_or_default();
        let tail: String =
            log.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        Err(BrowserError::NoSession { timeout: SESSION_TIMEOUT, last, log: tail })
    }

    /// Ends the session (chromedriver closes Chromium) and stops chromedriver.
    pub async fn close(self) -> Result<(), BrowserError> {
        let client = self.client.clone();
        client.close().await?;
        drop(self);
        Ok(())
    }

    /// The temp dir holding the Chromium profile and chromedriver's log.
    pub fn profile_dir(&self) -> &Path {
        self.profile.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Navigates to `path` (relative to the server) and waits for the load to finish.
    pub async fn open(&self, path: &str) -> Result<(), BrowserError> {
        self.client.goto(&self.url(path)).await?;
        Ok(())
    }

    /// The path (and query) of the current page.
    pub async fn current_path(&self) -> Result<String, BrowserError> {
        let url = self.client.current_url().await?;
        Ok(match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        })
    }

    /// Waits until an element matching `css` exists and returns it.
    pub async fn wait_for(&self, css: &str) -> Result<fantoccini::elements::Element, BrowserError> {
        match self.client.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
            Ok(element) => Ok(element),
            Err(CmdError::WaitTimeout) => Err(self.timeout(format!("an element matching `{css}`")).await),
            Err(error) => Err(error.into()),
        }
    }

    /// Waits until the page's `main h1` reads exactly `title` (every page has exactly one).
    pub async fn wait_for_heading(&self, title: &str) -> Result<(), BrowserError> {
        let xpath = format!("//main//h1[normalize-space(.)={}]", xpath_literal(title));
        match self.client.wait().at_most(WAIT).for_element(Locator::XPath(&xpath)).await {
            Ok(_) => Ok(()),
            Err(CmdError::WaitTimeout) => {
                let heading = self.heading().await.unwrap_or_else(|e| format!("<{e}>"));
                Err(self.timeout(format!("the heading {title:?} (the page says {heading:?})")).await)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The text of the page's `main h1`.
    pub async fn heading(&self) -> Result<String, BrowserError> {
        Ok(self.client.find(Locator::Css("main h1")).await?.text().await?)
    }

    /// Waits until the current path (without query) is `path`.
    pub async fn wait_for_path(&self, path: &str) -> Result<(), BrowserError> {
        let deadline = Instant::now() + WAIT;
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        loop {
            poll.tick().await;
            if self.client.current_url().await?.path() == path {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.timeout(format!("the path {path}")).await);
            }
        }
    }

    /// Waits until the query string of the current page contains `part`.
    pub async fn wait_for_query_containing(&self, part: &str) -> Result<(), BrowserError> {
        let deadline = Instant::now() + WAIT;
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        loop {
            poll.tick().await;
            if self.client.current_url().await?.query().is_some_and(|q| q.contains(part)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.timeout(format!("a query containing {part}")).await);
            }
        }
    }

    /// Waits for an element matching `css` whose text is exactly `text` (whitespace trimmed).
    pub async fn link_with_text(&self, css: &str, text: &str) -> Result<fantoccini::elements::Element, BrowserError> {
        let deadline = Instant::now() + WAIT;
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        loop {
            poll.tick().await;
            for element in self.client.find_all(Locator::Css(css)).await? {
                if element.text().await?.trim() == text {
                    return Ok(element);
                }
            }
            if Instant::now() > deadline {
                return Err(self.timeout(format!("`{css}` reading {text:?}")).await);
            }
        }
    }

    /// Fills the login form and submits it; waits for the overview.
    pub async fn log_in(&self, username: &str, password: &str) -> Result<(), BrowserError> {
        self.open("/login").await?;
        self.wait_for("form[action='/login'] #username").await?.send_keys(username).await?;
        self.client.find(Locator::Css("form[action='/login'] #password")).await?.send_keys(password).await?;
        self.client.find(Locator::Css("form[action='/login'] button[type=submit]")).await?.click().await?;
        self.wait_for_heading("Overview").await
    }

    /// Clicks the sign-out button and waits for the sign-in page.
    pub async fn log_out(&self) -> Result<(), BrowserError> {
        self.client.find(Locator::Css("form.logout button[type=submit]")).await?.click().await?;
        self.wait_for_heading("Sign in").await
    }

    /// The text of an open JavaScript dialog (alert, confirm, prompt), if any.
    pub async fn open_dialog(&self) -> Result<Option<String>, BrowserError> {
        match self.client.get_alert_text().await {
            Ok(text) => Ok(Some(text)),
            Err(CmdError::Standard(error)) if error.error == ErrorStatus::NoSuchAlert => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// The whole rendered text of the page body (what a user can read).
    pub async fn body_text(&self) -> Result<String, BrowserError> {
        Ok(self.client.find(Locator::Css("body")).await?.text().await?)
    }

    /// How many elements match `css` right now.
    pub async fn count(&self, css: &str) -> Result<usize, BrowserError> {
        Ok(self.client.find_all(Locator::Css(css)).await?.len())
    }

    /// How many `<script>` elements the page holds besides the dashboard's own copy-button
    /// script (`/static/copy.js`), through WebDriver's script execution (which the page's CSP
    /// does not govern).
    pub async fn script_elements(&self) -> Result<u64, BrowserError> {
        let count = "return document.querySelectorAll('script:not([src=\"/static/copy.js\"])').length;";
        let value = self.client.execute(count, vec![]).await?;
        value.as_u64().ok_or_else(|| BrowserError::Unexpected(format!("script count {value}")))
    }

    /// Saves a PNG of the whole page: a viewport 1440 wide and as tall as the page (at least 900,
    /// at most `max_height` CSS pixels); then puts the window back to 1440x900.
    pub async fn screenshot_page(&self, path: &Path, max_height: u32) -> Result<(), BrowserError> {
        self.screenshot_page_at(path, WINDOW, max_height).await
    }

    /// [`Self::screenshot_page`] at another window size `(width, least height)`: the layout a
    /// 1280x800 laptop screen sees, say.
    pub async fn screenshot_page_at(
        &self,
        path: &Path,
        window: (u32, u32),
        max_height: u32,
    ) -> Result<(), BrowserError> {
        self.client.set_window_size(window.0, window.1).await?;
        let sizes = self
            .client
            .execute(
                "return [Math.ceil(document.documentElement.scrollHeight), \
                 window.outerHeight - window.innerHeight];",
                vec![],
            )
            .await?;
        let number = |i: usize| sizes.get(i).and_then(serde_json::Value::as_u64).and_then(|n| u32::try_from(n).ok());
        let (Some(page), Some(frame)) = (number(0), number(1)) else {
            return Err(BrowserError::Unexpected(format!("page sizes {sizes}")));
        };
        let viewport = page.clamp(window.1, max_height.max(window.1));
        self.client.set_window_size(window.0, viewport + frame).await?;
        let png = self.client.screenshot().await;
        self.client.set_window_size(WINDOW.0, WINDOW.1).await?;
        std::fs::write(path, png?)?;
        Ok(())
    }

    async fn timeout(&self, what: String) -> BrowserError {
        let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_else(|e| format!("<{e}>"));
        BrowserError::Timeout { what, url }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}

const SESSION_TIMEOUT: Duration = Duration::from_secs(30);

fn spawn_driver(chromedriver: &Path, port: u16, dir: &Path) -> Result<Child, BrowserError> {
    let mut command = Command::new(chromedriver);
    command
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}", dir.join("chromedriver.log").display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Its own process group, so that killing the group also ends the Chromium it started.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command.spawn().map_err(BrowserError::Spawn)
}

/// Opens a session once chromedriver listens; polls until `SESSION_TIMEOUT`. Err: what went
/// wrong last.
async fn open_session(driver: &mut Child, port: u16, chromium: &Path, profile: &Path) -> Result<Client, String> {
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.join("profile").display()));
    args.push(format!("--window-size={},{}", WINDOW.0, WINDOW.1));
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), "chrome".into());
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": chromium.display().to_string(), "args": args }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + SESSION_TIMEOUT;
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    loop {
        poll.tick().await;
        if let Ok(Some(status)) = driver.try_wait() {
            return Err(format!("chromedriver exited with {status}"));
        }
        let connector = HttpConnector::new();
        match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&url).await {
            Ok(client) => return Ok(client),
            // Not listening yet: try again until the deadline.
            Err(NewSessionError::Failed(_) | NewSessionError::FailedC(_) | NewSessionError::Lost(_))
                if Instant::now() < deadline => {}
            Err(error) => return Err(error.to_string()),
        }
        if Instant::now() > deadline {
            return Err("chromedriver never answered".into());
        }
    }
}

/// Kills chromedriver's process group (driver, Chromium and its helpers) and reaps chromedriver.
fn kill_group(driver: &mut Child) {
    #[cfg(unix)]
    {
        let pid = rustix::process::Pid::from_child(driver);
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = driver.kill();
    let _ = driver.wait();
}

/// `text` as an XPath string literal (XPath 1.0 has no escapes: quotes need `concat`).
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}
