//! Screenshots of every dashboard page, for `docs/screenshots/`: starts an in-process control
//! plane (plain HTTP on loopback) with a realistic seeded fleet and 30 days of history, signs in
//! as an admin in headless Chromium (Debian's `chromium` and `chromedriver`, installed by
//! `scripts/install-deps.sh`) and saves one PNG per page, 1440 wide and as tall as the page
//! (up to a limit).
//!
//! ```text
//! cargo run -p muster-control-plane --features testing --example screenshots -- docs/screenshots
//! ```
//!
//! Shares the browser driver and the fleet with the browser test (`tests/support/`).

#[path = "../tests/support/browser.rs"]
mod browser_support;
#[path = "../tests/support/fleet.rs"]
mod fleet;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use browser_support::Browser;
use fleet::FleetOptions;
use muster_control_plane::access::{accounts, api_tokens};
use muster_control_plane::config::HttpConfig;
use muster_control_plane::state::unix_now;
use muster_control_plane::store::Role;
use muster_control_plane::store::exports::{DeliveryAttempt, DeliveryStatus};
use muster_control_plane::testing::TestControlPlane;
use muster_proto::v1::Severity;

const PASSWORD: &str = "correct horse battery staple";
/// Tallest screenshot, in CSS pixels (keeps each PNG small).
const MAX_HEIGHT: u32 = 2200;

#[tokio::main]
async fn main() -> Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "docs/screenshots".into()));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("muster.db").display());
    let now = unix_now();
    let fleet = fleet::seed_database(&url, now, FleetOptions { history_days: 30, canaries: false })
        .await
        .map_err(|e| anyhow!("seeding the fleet: {e:?}"))?;
    let http = HttpConfig { tls: false, ..HttpConfig::default() };
    let cp = TestControlPlane::start_with_db_and_http(Some(&url), http)
        .await
        .map_err(|e| anyhow!("starting the control plane: {e}"))?;
    seed_admin_data(&cp, now).await?;

    let browser = Browser::start(&format!("http://{}", cp.http_addr)).await?;
    browser.open("/login").await?;
    browser.wait_for_heading("Sign in").await?;
    browser.screenshot_page(&out.join("login.png"), MAX_HEIGHT).await?;
    browser.log_in("admin", PASSWORD).await?;

    let detail = format!(
        "/endpoints/{}",
        fleet.agent_id("mbp-alice-chen").ok_or_else(|| anyhow!("the fleet has no mbp-alice-chen"))?
    );
    let pages = [
        ("overview", "/"),
        ("services", "/services"),
        ("servers", "/servers"),
        ("endpoints", "/endpoints"),
        ("endpoint-detail", detail.as_str()),
        ("credentials", "/credentials"),
        ("findings", "/findings"),
        ("activity", "/activity"),
        ("agents", "/agents"),
        ("webhooks", "/webhooks"),
        ("audit", "/audit"),
        ("settings", "/settings"),
    ];
    for (name, path) in pages {
        // Server-rendered: the page is complete once navigation returns.
        browser.open(path).await?;
        let heading = match browser.count("main h1").await? {
            1 => browser.heading().await?,
            n => format!("WARNING: {n} `main h1` elements (is the page there?)"),
        };
        let file = out.join(format!("{name}.png"));
        browser.screenshot_page(&file, MAX_HEIGHT).await?;
        let size = std::fs::metadata(&file)?.len();
        println!("{:<16} {:<50} {:>4} KiB  {heading}", name, path, size / 1024);
    }
    // The findings pages at the two laptop sizes the layout must fit without sideways scrolling.
    browser.open("/findings").await?;
    let finding_link = browser.wait_for("tr[data-finding] a.finding-link").await?;
    let finding = finding_link.attr("href").await?.ok_or_else(|| anyhow!("a finding link without href"))?;
    for (name, path) in [("findings", "/findings"), ("finding-detail", finding.as_str()), ("overview", "/")] {
        for (width, height) in [(1280, 800), (1440, 900)] {
            browser.open(path).await?;
            let file = out.join(format!("{name}-{width}x{height}.png"));
            browser.screenshot_page_at(&file, (width, height), MAX_HEIGHT).await?;
            let sideways = browser
                .client
                .execute("return document.documentElement.scrollWidth > window.innerWidth;", vec![])
                .await?;
            println!("{:<16} {:<50} {width}x{height} scrolls sideways: {sideways}", name, path);
        }
    }
    browser.close().await?;
    cp.stop().await.map_err(|e| anyhow!("stopping the control plane: {e}"))?;
    Ok(())
}

/// Accounts, API tokens, a webhook with a delivery log: what the admin pages list.
async fn seed_admin_data(cp: &TestControlPlane, now: i64) -> Result<()> {
    let store = cp.store();
    for (name, role) in [("admin", Role::Admin), ("priya.analyst", Role::Analyst), ("sam.viewer", Role::Viewer)] {
        accounts::add_local_user(store, name, role, PASSWORD, "cli", now).await?;
    }
    for (name, role, days) in [("siem-export", Role::Viewer, 90), ("ticket-sync", Role::Analyst, 30)] {
        api_tokens::create_api_token(store, name, role, Duration::from_secs(days * 86_400), "admin", now).await?;
    }
    let webhook =
        muster_control_plane::webhook::register(store, "https://siem.example.com/hooks/muster", Severity::High).await?;
    let attempts = [
        (3 * 3600, 1, DeliveryStatus::Delivered, Some(200), ""),
        (2 * 3600, 1, DeliveryStatus::Retrying, Some(503), "receiver answered 503"),
        (2 * 3600 - 30, 2, DeliveryStatus::Delivered, Some(200), ""),
        (900, 1, DeliveryStatus::Delivered, Some(204), ""),
    ];
    for (i, (ago, attempt, status, code, error)) in attempts.into_iter().enumerate() {
        store
            .record_delivery(&DeliveryAttempt {
                endpoint_id: webhook.id.clone(),
                event_id: format!("evt-{}", 1000 + i),
                attempt,
                status,
                response_code: code,
                latency_ms: 80 + 40 * u64::try_from(i)?,
                error: error.into(),
                attempted_at: now - ago,
                next_retry_at: (status == DeliveryStatus::Retrying).then_some(now - ago + 30),
            })
            .await?;
    }
    Ok(())
}
