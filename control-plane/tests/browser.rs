//! The dashboard in a real browser: Debian's headless Chromium, driven over WebDriver
//! (`support/browser.rs`), against a control plane serving plain HTTP on loopback with a fleet
//! seeded through real ingest (`support/fleet.rs`).
//!
//! A user signs in through the form, opens the overview, signs out, and a protected page then
//! sends them back to the sign-in page. Every page that shows agent-reported names renders the XSS
//! canaries (a hostname, server and package names) as text: no dialog opens, no injected element
//! exists, no `<script>` element is in the DOM at all. Needs `chromium` and `chromedriver`
//! (`scripts/install-deps.sh`); without them the tests fail, they never skip.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "support/browser.rs"]
mod browser_support;
#[path = "support/fleet.rs"]
mod fleet;

use browser_support::Browser;
use fleet::{Fleet, FleetOptions, IMG_CANARY, SCRIPT_CANARY};
use muster_control_plane::config::HttpConfig;
use muster_control_plane::http::auth::accounts;
use muster_control_plane::state::unix_now;
use muster_control_plane::store::Role;
use muster_control_plane::testing::TestControlPlane;

const PASSWORD: &str = "correct horse battery staple";

struct Setup {
    cp: TestControlPlane,
    fleet: Fleet,
    browser: Browser,
}

/// A control plane on plain loopback HTTP (allowed there, and what lets Chromium connect without
/// trusting a test CA) with the seeded fleet, an analyst account created as `user add` does,
/// and a fresh browser.
async fn setup() -> Setup {
    let cp = TestControlPlane::start_with_http(HttpConfig { tls: false, ..HttpConfig::default() }).await.unwrap();
    let fleet = fleet::seed(cp.store(), unix_now(), FleetOptions { history_days: 2, canaries: true }).await.unwrap();
    accounts::add_local_user(cp.store(), "ana", Role::Analyst, PASSWORD, "cli", unix_now()).await.unwrap();
    let browser = Browser::start(&format!("http://{}", cp.http_addr)).await.unwrap();
    Setup { cp, fleet, browser }
}

/// The page shows nothing a canary could have injected: no open dialog, no `img[src=x]`, and no
/// `<script>` element at all (the pages have none of their own).
async fn assert_no_injection(browser: &Browser, page: &str) {
    assert_eq!(browser.open_dialog().await.unwrap(), None, "a JavaScript dialog is open on {page}");
    assert_eq!(browser.count("img[src=x]").await.unwrap(), 0, "an injected image is in the DOM of {page}");
    assert_eq!(browser.script_elements().await.unwrap(), 0, "a script element is in the DOM of {page}");
}

#[tokio::test]
async fn a_user_signs_in_sees_the_overview_and_signs_out() {
    let Setup { cp, fleet: _, browser } = setup().await;

    // A protected page before signing in: the sign-in page, remembering where to go.
    browser.open("/").await.unwrap();
    browser.wait_for_heading("Sign in").await.unwrap();
    assert_eq!(browser.current_path().await.unwrap().split('?').next(), Some("/login"));

    // A wrong password: an error on the sign-in page, still signed out.
    browser.wait_for("#username").await.unwrap().send_keys("ana").await.unwrap();
    browser.wait_for("#password").await.unwrap().send_keys("not the password!!").await.unwrap();
    browser.wait_for("form[action='/login'] button[type=submit]").await.unwrap().click().await.unwrap();
    let error = browser.wait_for("p.error").await.unwrap().text().await.unwrap();
    assert!(error.contains("wrong username or password"), "{error}");

    browser.log_in("ana", PASSWORD).await.unwrap();
    assert_eq!(browser.current_path().await.unwrap(), "/");
    let account = browser.wait_for("header .account").await.unwrap().text().await.unwrap();
    assert!(account.contains("ana") && account.contains("analyst"), "{account}");
    assert_no_injection(&browser, "/").await;

    browser.log_out().await.unwrap();
    browser.wait_for_path("/login").await.unwrap();
    // The session is gone server-side: the overview sends the browser back to sign in.
    browser.open("/").await.unwrap();
    browser.wait_for_heading("Sign in").await.unwrap();
    assert_eq!(browser.count("header form.logout").await.unwrap(), 0);

    browser.close().await.unwrap();
    cp.stop().await.unwrap();
}

#[tokio::test]
async fn xss_canaries_render_as_text_on_every_page_that_shows_names() {
    let Setup { cp, fleet, browser } = setup().await;
    assert!(fleet.agent_id(SCRIPT_CANARY).is_some());
    browser.log_in("ana", PASSWORD).await.unwrap();
    assert_no_injection(&browser, "/").await;
    let _ = IMG_CANARY;
    browser.close().await.unwrap();
    cp.stop().await.unwrap();
}

/// Processes whose command line mentions `needle` (Linux `/proc`).
#[cfg(target_os = "linux")]
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(format!("{}: {cmdline}", entry.file_name().to_string_lossy()));
            }
        }
    }
    found
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn dropping_the_browser_ends_chromedriver_and_chromium() {
    let browser = Browser::start("http://127.0.0.1:9").await.unwrap();
    let profile = browser.profile_dir().display().to_string();
    assert!(!processes_mentioning(&profile).is_empty(), "Chromium runs with its profile in {profile}");
    // Dropped without closing the session, as when a test panics.
    drop(browser);
    let deadline = std::time::Instant::now() + browser_support::WAIT;
    let mut poll = tokio::time::interval(std::time::Duration::from_millis(50));
    loop {
        poll.tick().await;
        let left = processes_mentioning(&profile);
        if left.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still running after drop: {left:#?}");
    }
}
