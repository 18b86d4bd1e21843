//! Screenshots of every dashboard page, for `docs/screenshots/`: starts an in-process control
//! plane (plain HTTP on loopback) with a realistic seeded fleet and 30 days of history, signs in
//! as an admin in headless Chromium (Debian's `chromium` and `chromedriver`, installed by
//! `scripts/install-deps.sh`) and saves two PNGs per page, `NAME-1280x800.png` and
//! `NAME-1440x900.png`: the two laptop widths, each as tall as the page (up to a limit), and
//! prints whether the page scrolls sideways at that width.
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
    let request = seed_exception_requests(&cp, &fleet, now).await?;

    let browser = Browser::start(&format!("http://{}", cp.http_addr)).await?;
    browser.open("/login").await?;
    browser.wait_for_heading("Sign in").await?;
    shoot(&browser, &out, "login", "/login").await?;
    browser.log_in("admin", PASSWORD).await?;

    let detail = format!(
        "/endpoints/{}",
        fleet.agent_id("mbp-alice-chen").ok_or_else(|| anyhow!("the fleet has no mbp-alice-chen"))?
    );
    browser.open("/findings").await?;
    let finding_link = browser.wait_for("tr[data-finding] a.finding-link").await?;
    let finding = finding_link.attr("href").await?.ok_or_else(|| anyhow!("a finding link without href"))?;
    browser.open("/webhooks").await?;
    let delivery_log = match browser.client.find(fantoccini::Locator::Css("a[href^='/webhooks/']")).await {
        Ok(link) => link.attr("href").await?,
        Err(_) => None,
    };
    let mut pages = vec![
        ("overview", "/".to_string()),
        ("services", "/services".into()),
        ("servers", "/servers".into()),
        ("endpoints", "/endpoints".into()),
        ("endpoint-detail", detail),
        ("credentials", "/credentials".into()),
        ("findings", "/findings".into()),
        ("finding-detail", finding),
        ("policies", "/policies".into()),
        ("policy-editor", "/policies/edit".into()),
        ("policy-draft", "/policies/draft".into()),
        ("compliance", "/compliance".into()),
        ("compliance-endpoints", "/compliance/endpoints".into()),
        ("exceptions", "/exceptions".into()),
        ("exception-detail", format!("/exceptions/{request}")),
        ("activity", "/activity".into()),
        ("agents", "/agents".into()),
        ("webhooks", "/webhooks".into()),
        ("audit", "/audit".into()),
        ("settings", "/settings".into()),
    ];
    if let Some(log) = delivery_log {
        pages.push(("webhook-deliveries", log));
    }
    for (name, path) in &pages {
        shoot(&browser, &out, name, path).await?;
    }
    browser.close().await?;
    cp.stop().await.map_err(|e| anyhow!("stopping the control plane: {e}"))?;
    Ok(())
}

/// The two laptop sizes every page must fit without sideways scrolling.
const SIZES: [(u32, u32); 2] = [(1280, 800), (1440, 900)];

/// `NAME-WIDTHxHEIGHT.png` of `path` at both [`SIZES`], as tall as the page (up to
/// [`MAX_HEIGHT`]); prints the heading and whether the page scrolls sideways.
async fn shoot(browser: &Browser, out: &std::path::Path, name: &str, path: &str) -> Result<()> {
    for (width, height) in SIZES {
        // Server-rendered: the page is complete once navigation returns.
        browser.open(path).await?;
        let heading = match browser.count("main h1").await? {
            1 => browser.heading().await?,
            0 if path == "/login" => "Sign in".to_string(),
            n => format!("WARNING: {n} `main h1` elements (is the page there?)"),
        };
        let file = out.join(format!("{name}-{width}x{height}.png"));
        browser.screenshot_page_at(&file, (width, height), MAX_HEIGHT).await?;
        let sideways =
            browser.client.execute("return document.documentElement.scrollWidth > window.innerWidth;", vec![]).await?;
        let size = std::fs::metadata(&file)?.len() / 1024;
        println!("{name:<22} {width}x{height} {size:>4} KiB  sideways: {sideways:<5} {heading}");
    }
    Ok(())
}

/// The policy the exception requests lift rules of.
const POLICY: &str = "version = 1\nname = \"acme\"\n\n[[rule]]\nid = \"no-unvetted-npx\"\naction = \"notify\"\n\
                      [rule.match]\ncommand = [\"npx\"]\n\n[[rule]]\nid = \"no-sse\"\naction = \"block\"\n\
                      [rule.match]\ntransport = [\"sse\"]\n";

/// A published policy and exception requests from developers' trays: four waiting (filed hours
/// to days ago), one approved (published as policy v2) and one denied. The id of a waiting one,
/// for its page.
async fn seed_exception_requests(cp: &TestControlPlane, fleet: &fleet::Fleet, now: i64) -> Result<String> {
    use muster_control_plane::exception_requests::{self as requests, NewRequest};
    use muster_control_plane::policies::{self, NoListener};
    let store = cp.store();
    policies::publish(store, &NoListener, POLICY, "admin", "notify on npx, block SSE", now - 10 * 86_400).await?;
    let asks = [
        (
            "mbp-alice-chen",
            "github",
            "no-unvetted-npx",
            "The GitHub server is the vendor's official package; security review TICKET-4411 is open, I need it for the release this week.",
            3 * 86_400,
        ),
        (
            "ws-carol-ml",
            "",
            "*",
            "Evaluating MCP servers for the ML platform team until the end of the sprint.",
            26 * 3_600,
        ),
        (
            "mbp-bob-okafor",
            "",
            "no-unvetted-npx",
            "Our CI helper only ships on npm for now; the Docker image is planned for Q3.",
            5 * 3_600,
        ),
        ("mbp-judy-eng", "", "no-unvetted-npx", "Pairing with the vendor on a bug fix today.", 40 * 60),
        (
            "ws-frank-infra",
            "",
            "no-unvetted-npx",
            "Terraform MCP server pinned to 0.9.2, reviewed by platform security.",
            6 * 86_400,
        ),
        ("lt-dave-sales", "", "*", "Demo for a customer tomorrow.", 4 * 86_400),
    ];
    let mut ids = Vec::new();
    for (host, server_name, rule, reason, ago) in asks {
        let agent_id = fleet.agent_id(host).ok_or_else(|| anyhow!("the fleet has no {host}"))?;
        let detail =
            store.endpoint_detail(agent_id, 0, now).await?.ok_or_else(|| anyhow!("no endpoint page for {host}"))?;
        let server = detail
            .servers
            .iter()
            .find(|s| server_name.is_empty() || s.name == server_name)
            .ok_or_else(|| anyhow!("{host} has no server {server_name}"))?;
        let new = NewRequest {
            rules: vec![rule.into()],
            agent_id: agent_id.into(),
            server_id: server.server_id.clone(),
            user: server.user.clone(),
            reason: reason.into(),
        };
        ids.push(requests::create(store, &NoListener, &format!("agent:{agent_id}"), &new, now - ago).await?.0.id);
    }
    requests::approve(store, &NoListener, &ids[4], "admin", now + 30 * 86_400, "reviewed in SEC-212", now - 5 * 86_400)
        .await?;
    requests::deny(store, &NoListener, &ids[5], "admin", "use the demo tenant's laptop instead", now - 3 * 86_400)
        .await?;
    Ok(ids[0].clone())
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
