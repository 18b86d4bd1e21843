//! The dashboard in a real browser: Debian's headless Chromium, driven over WebDriver
//! (`support/browser.rs`), against a control plane serving plain HTTP on loopback with a fleet
//! seeded through real ingest (`support/fleet.rs`).
//!
//! A user signs in through the form, opens the overview, signs out, and a protected page then
//! sends them back to the sign-in page. Every page that shows agent-reported names renders the XSS
//! canaries (a hostname, server and package names) as text: no dialog opens, no injected element
//! exists, no `<script>` element is in the DOM at all. An admin writes, dry-runs and publishes a
//! policy in the editor and sees the fleet's compliance once an agent (a test client over mTLS
//! gRPC) reports for that version; a viewer gets no publish control and the POST is refused. An
//! admin goes from the overview's count of waiting exception requests to the queue and one
//! request, approves it for 90 days, and finds it decided and published in the policy.
//! Needs `chromium` and `chromedriver`
//! (`scripts/install-deps.sh`); without them the tests fail, they never skip.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "support/browser.rs"]
mod browser_support;
#[path = "support/fleet.rs"]
mod fleet;
mod support;

use browser_support::Browser;
use fleet::{Fleet, FleetOptions, IMG_CANARY, SCRIPT_CANARY};
use muster_control_plane::access::accounts;
use muster_control_plane::config::HttpConfig;
use muster_control_plane::state::unix_now;
use muster_control_plane::store::Role;
use muster_control_plane::store::read::{FindingQuery, FindingStateFilter};
use muster_control_plane::testing::TestControlPlane;

const PASSWORD: &str = "correct horse battery staple";

struct Setup {
    /// Holds the SQLite database: bind it in the test (`_dir`), or the file is deleted at once.
    _dir: tempfile::TempDir,
    cp: TestControlPlane,
    fleet: Fleet,
    browser: Browser,
}

/// A control plane on plain loopback HTTP (allowed there, and what lets Chromium connect without
/// trusting a test CA) with the seeded fleet, an analyst account created as `user add` does,
/// and a fresh browser.
async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("muster.db").display());
    let options = FleetOptions { history_days: 2, canaries: true };
    let fleet = fleet::seed_database(&url, unix_now(), options).await.unwrap();
    let http = HttpConfig { tls: false, ..HttpConfig::default() };
    let cp = TestControlPlane::start_with_db_and_http(Some(&url), http).await.unwrap();
    accounts::add_local_user(cp.store(), "ana", Role::Analyst, PASSWORD, "cli", unix_now()).await.unwrap();
    let browser = Browser::start(&format!("http://{}", cp.http_addr)).await.unwrap();
    Setup { _dir: dir, cp, fleet, browser }
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
    let Setup { _dir, cp, browser, .. } = setup().await;

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
    let account = browser.wait_for(".account").await.unwrap().text().await.unwrap();
    assert!(account.contains("ana") && account.contains("analyst"), "{account}");
    assert_no_injection(&browser, "/").await;

    browser.log_out().await.unwrap();
    browser.wait_for_path("/login").await.unwrap();
    // The session is gone server-side: the overview sends the browser back to sign in.
    browser.open("/").await.unwrap();
    browser.wait_for_heading("Sign in").await.unwrap();
    assert_eq!(browser.count("form.logout").await.unwrap(), 0);

    browser.close().await.unwrap();
    cp.stop().await.unwrap();
}

#[tokio::test]
async fn an_analyst_drills_into_an_endpoint_filters_findings_acknowledges_one_and_signs_out() {
    let Setup { _dir, cp, fleet, browser } = setup().await;
    browser.log_in("ana", PASSWORD).await.unwrap();
    assert_no_injection(&browser, "/").await;

    // Endpoints: click through to one laptop and see its servers.
    browser.wait_for("nav.mainnav a[href='/endpoints']").await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Endpoints").await.unwrap();
    let alice = fleet.agent_id("mbp-alice-chen").unwrap().to_string();
    browser.link_with_text("a.endpoint-link", "mbp-alice-chen").await.unwrap().click().await.unwrap();
    browser.wait_for_path(&format!("/endpoints/{alice}")).await.unwrap();
    browser.wait_for("main h1").await.unwrap();
    let detail = browser.body_text().await.unwrap();
    for expected in ["mbp-alice-chen", "github", "slack", "linear", "notion", "playwright", "cursor", "claude-desktop"]
    {
        assert!(detail.contains(expected), "{expected} missing from the endpoint page:\n{detail}");
    }
    assert_no_injection(&browser, "the endpoint page").await;

    // Findings, filtered to critical with the filter form.
    browser.wait_for("nav.mainnav a[href='/findings']").await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Findings").await.unwrap();
    let all = browser.count("tr[data-finding]").await.unwrap();
    browser.wait_for("form.filters select[name=severity]").await.unwrap().select_by_value("critical").await.unwrap();
    browser.wait_for("form.filters button[type=submit]").await.unwrap().click().await.unwrap();
    browser.wait_for_query_containing("severity=critical").await.unwrap();
    browser.wait_for_heading("Findings").await.unwrap();
    let rows = browser.client.find_all(fantoccini::Locator::Css("tr[data-finding]")).await.unwrap();
    // The malicious postmark-mcp on two laptops: the only critical findings.
    assert_eq!(rows.len(), 2, "critical findings (of {all} in all)");
    assert!(all > rows.len());
    for row in &rows {
        let text = row.text().await.unwrap();
        assert!(text.contains("critical") && text.contains("MUSTER-PKG-MALICIOUS"), "{text}");
    }

    // Acknowledge the first: back on the same filtered page, marked acknowledged.
    let key = rows[0].attr("data-finding").await.unwrap().unwrap();
    let row = format!("tr[data-finding=\"{key}\"]");
    assert_eq!(browser.count(&format!("{row} span.badge.state-acknowledged")).await.unwrap(), 0);
    browser.wait_for(&format!("{row} button[name=action][value=acknowledge]")).await.unwrap().click().await.unwrap();
    browser.wait_for(&format!("{row} span.badge.state-acknowledged")).await.unwrap();
    assert!(browser.current_path().await.unwrap().contains("severity=critical"));
    assert_eq!(browser.count("span.badge.state-acknowledged").await.unwrap(), 1);
    // Stored as ana's decision.
    let query = FindingQuery {
        state: Some(FindingStateFilter::Acknowledged),
        now: unix_now(),
        limit: 50,
        ..FindingQuery::default()
    };
    let decided = cp.store().findings(&query).await.unwrap().items;
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0].decision.as_ref().unwrap().decided_by, "ana");
    assert_eq!(decided[0].key.finding_id, "MUSTER-PKG-MALICIOUS");

    // Sign out: the sign-in page, and a protected page leads back to it.
    browser.log_out().await.unwrap();
    browser.wait_for_path("/login").await.unwrap();
    browser.open("/findings").await.unwrap();
    browser.wait_for_heading("Sign in").await.unwrap();
    assert_eq!(browser.client.current_url().await.unwrap().path(), "/login");

    browser.close().await.unwrap();
    cp.stop().await.unwrap();
}

#[tokio::test]
async fn xss_canaries_render_as_text_on_every_page_that_shows_names() {
    let Setup { _dir, cp, fleet, browser } = setup().await;
    let canary_host = fleet.agent_id(SCRIPT_CANARY).unwrap().to_string();
    browser.log_in("ana", PASSWORD).await.unwrap();
    // (page, canaries it shows as text): the hostname is the script canary; the laptop's two
    // servers and their packages are named after both canaries.
    let detail = format!("/endpoints/{canary_host}");
    let servers = format!("/servers/list?agent={canary_host}");
    let locations = format!("/credentials/locations?agent={canary_host}");
    let pages: [(&str, &[&str]); 8] = [
        // The overview shows counts and the trend, no names; still nothing may be injected.
        ("/", &[]),
        ("/endpoints", &[SCRIPT_CANARY]),
        (&detail, &[SCRIPT_CANARY, IMG_CANARY]),
        ("/servers", &[SCRIPT_CANARY, IMG_CANARY]),
        (&servers, &[SCRIPT_CANARY, IMG_CANARY]),
        (&locations, &[SCRIPT_CANARY]),
        ("/findings", &[SCRIPT_CANARY, IMG_CANARY]),
        ("/activity", &[SCRIPT_CANARY, IMG_CANARY]),
    ];
    for (path, canaries) in pages {
        browser.open(path).await.unwrap();
        browser.wait_for("main h1").await.unwrap();
        assert_no_injection(&browser, path).await;
        let text = browser.body_text().await.unwrap();
        for canary in canaries {
            assert!(text.contains(canary), "{path} does not show {canary:?} as text:\n{text}");
        }
    }
    // The endpoint page is titled after its hostname: the canary is the tab's text too.
    browser.open(&detail).await.unwrap();
    let title = browser.client.title().await.unwrap();
    assert!(title.contains(SCRIPT_CANARY), "{title}");
    browser.close().await.unwrap();
    cp.stop().await.unwrap();
}

#[tokio::test]
async fn an_analyst_goes_from_a_finding_in_the_list_to_its_fix_and_decision_history_by_clicking() {
    let Setup { _dir, cp, browser, .. } = setup().await;
    browser.log_in("ana", PASSWORD).await.unwrap();

    // Findings, filtered to one laptop by typing its name in another case: the host filter
    // ignores case.
    browser.wait_for("nav.mainnav a[href='/findings']").await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Findings").await.unwrap();
    browser.wait_for("form.filters input[name=host]").await.unwrap().send_keys("Bob-OKAFOR").await.unwrap();
    browser.wait_for("form.filters button[type=submit]").await.unwrap().click().await.unwrap();
    browser.wait_for_query_containing("host=Bob-OKAFOR").await.unwrap();
    browser.wait_for_heading("Findings").await.unwrap();
    let rows = browser.client.find_all(fantoccini::Locator::Css("tr[data-finding]")).await.unwrap();
    assert!(!rows.is_empty(), "no finding on mbp-bob-okafor");
    for row in &rows {
        assert!(row.text().await.unwrap().contains("mbp-bob-okafor"));
    }
    // Every row says how to fix it, from the findings catalog.
    let fixes = browser.count("tr[data-finding] td.finding .remediation").await.unwrap();
    assert_eq!(fixes, rows.len(), "every row names its fix");

    // The malicious package's row: click its title to the finding's own page.
    let row = "tr[data-finding*=\"/MUSTER-PKG-MALICIOUS\"]";
    browser.wait_for(&format!("{row} a.finding-link")).await.unwrap().click().await.unwrap();
    browser.wait_for_path("/findings/detail").await.unwrap();
    let fix = muster_control_plane::finding_catalog::remediation("MUSTER-PKG-MALICIOUS");
    assert!(!fix.is_empty());
    let shown = browser.wait_for("section.fix p.remediation").await.unwrap().text().await.unwrap();
    assert_eq!(shown, fix);
    let why = browser.wait_for("section.why").await.unwrap().text().await.unwrap();
    assert!(why.contains("OWASP MCP04") && why.contains("Supply Chain"), "{why}");
    let place = browser.wait_for("section.where").await.unwrap().text().await.unwrap();
    assert!(place.contains("mbp-bob-okafor") && place.contains("postmark"), "{place}");
    assert_eq!(browser.count("section.where code.config-path").await.unwrap(), 1, "the config file is named");
    assert_no_injection(&browser, "the finding page").await;

    // Acknowledge it there: back on the same page, with the decision in its history.
    assert_eq!(browser.count("section.decisions table.history").await.unwrap(), 0);
    browser.wait_for("section.decisions button[name=action][value=acknowledge]").await.unwrap().click().await.unwrap();
    browser.wait_for("section.decisions table.history").await.unwrap();
    assert_eq!(browser.current_path().await.unwrap().split('?').next(), Some("/findings/detail"));
    let history = browser.wait_for("section.decisions table.history").await.unwrap().text().await.unwrap();
    assert!(history.contains("ana") && history.contains("acknowledge"), "{history}");
    assert_eq!(browser.count("section.decisions span.badge.state-acknowledged").await.unwrap(), 1);

    // The endpoint link leads on to the laptop.
    browser.wait_for("section.where a.endpoint-link").await.unwrap().click().await.unwrap();
    browser.wait_for("main h1").await.unwrap();
    assert!(browser.heading().await.unwrap().contains("mbp-bob-okafor"));

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

const SSE_POLICY: &str = "version = 1\nname = \"acme\"\n\n[[rule]]\nid = \"no-sse\"\naction = \"block\"\n\
                          [rule.match]\ntransport = [\"sse\"]\n";

#[tokio::test]
async fn an_admin_publishes_a_policy_and_sees_compliance_a_viewer_cannot_publish() {
    use muster_proto::v1::{
        InventoryDelta, PolicyActionResult, PolicyActionState, PolicyReport, PolicyServerState, Transport,
    };

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("muster.db").display());
    let http = HttpConfig { tls: false, ..HttpConfig::default() };
    let cp = TestControlPlane::start_with_db_and_http(Some(&url), http).await.unwrap();
    accounts::add_local_user(cp.store(), "ada", Role::Admin, PASSWORD, "cli", unix_now()).await.unwrap();
    accounts::add_local_user(cp.store(), "vic", Role::Viewer, PASSWORD, "cli", unix_now()).await.unwrap();

    // One agent, enrolled over TLS, reports an SSE server (before any policy exists).
    let agent = support::enroll(&cp).await;
    let mut client = support::inventory(&cp, &agent).await;
    let sse = muster_proto::v1::McpServer {
        transport: Transport::Sse as i32,
        url: "https://mcp.example.com/sse".into(),
        ..support::server("legacy", "")
    };
    client.report(support::full_report(&agent.id, 1, vec![sse])).await.unwrap();

    let browser = Browser::start(&format!("http://{}", cp.http_addr)).await.unwrap();
    browser.log_in("ada", PASSWORD).await.unwrap();

    // Write the policy in the editor and dry-run it: one endpoint would be affected.
    browser.open("/policies/edit").await.unwrap();
    let text = browser.wait_for("textarea[name=policy]").await.unwrap();
    text.clear().await.unwrap();
    text.send_keys(SSE_POLICY).await.unwrap();
    browser.wait_for("button[value=dry-run]").await.unwrap().click().await.unwrap();
    let affected = browser.wait_for("section.dry-run strong.affected-endpoints").await.unwrap();
    assert_eq!(affected.text().await.unwrap(), "1");
    assert_eq!(browser.count("div.rule-impact[data-rule=no-sse]").await.unwrap(), 1);

    // Publish it (the dry-run page keeps the text): version 1, pushed to agents.
    browser.wait_for("input[name=reason]").await.unwrap().send_keys("retire SSE").await.unwrap();
    browser.wait_for("button[formaction='/policies/publish']").await.unwrap().click().await.unwrap();
    browser.wait_for_path("/policies/1").await.unwrap();
    assert_eq!(cp.store().current_policy().await.unwrap().map(|p| p.version), Some(1));

    // Compliance, from the version page: nobody has reported on v1 yet.
    browser.wait_for("a.compliance-link").await.unwrap().click().await.unwrap();
    browser.wait_for_path("/compliance").await.unwrap();
    browser.wait_for_heading("Compliance").await.unwrap();
    assert_eq!(browser.wait_for("dd.endpoints a").await.unwrap().text().await.unwrap(), "0");
    assert!(browser.wait_for("a.current-version").await.unwrap().text().await.unwrap().contains("v1"));

    // The agent applies v1 and reports that blocking failed.
    let mut delta = support::delta_report(&agent.id, 2, 1, InventoryDelta::default());
    delta.policy = Some(PolicyReport {
        applied_version: 1,
        acked_version: 1,
        evaluated_at_unix: unix_now(),
        servers: vec![PolicyServerState {
            server_id: "legacy".into(),
            actions: vec![PolicyActionResult {
                rule_id: "no-sse".into(),
                action: "block".into(),
                state: PolicyActionState::Failed as i32,
                detail: "no policy writer for cursor".into(),
                due_at_unix: 0,
            }],
        }],
        refusal: String::new(),
        ..PolicyReport::default()
    });
    client.report(delta).await.unwrap();

    browser.wait_for("nav.mainnav a[href='/compliance']").await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Compliance").await.unwrap();
    assert_eq!(browser.wait_for("dd.on-current a").await.unwrap().text().await.unwrap(), "1");
    assert_eq!(browser.wait_for("dd.violating a").await.unwrap().text().await.unwrap(), "1");
    let failed = browser.wait_for("tr[data-rule=no-sse] td[data-state=failed] a").await.unwrap();
    assert_eq!(failed.text().await.unwrap(), "1");
    // Every count is a link to the endpoints it counts.
    failed.click().await.unwrap();
    browser.wait_for_query_containing("state=failed").await.unwrap();
    browser.wait_for_heading("Compliance by endpoint").await.unwrap();
    assert_eq!(browser.count("tr[data-agent]").await.unwrap(), 1);
    browser.link_with_text("a.endpoint-link", "laptop-1").await.unwrap().click().await.unwrap();
    browser.wait_for_path(&format!("/endpoints/{}", agent.id)).await.unwrap();
    let policy = browser.wait_for("section.endpoint-policy").await.unwrap().text().await.unwrap();
    for expected in ["v1", "no-sse", "block", "Failed", "no policy writer for cursor"] {
        assert!(policy.contains(expected), "{expected} missing from the endpoint's policy card:\n{policy}");
    }
    assert_eq!(browser.count("section.endpoint-policy span.badge.state-failed").await.unwrap(), 1);

    // A viewer: no publish control anywhere, and the POST itself is refused.
    browser.log_out().await.unwrap();
    browser.wait_for_path("/login").await.unwrap();
    browser.log_in("vic", PASSWORD).await.unwrap();
    browser.open("/policies/edit").await.unwrap();
    let refusal = browser.wait_for("body").await.unwrap().text().await.unwrap();
    assert!(refusal.contains("your role does not allow this"), "the editor is for analysts and admins: {refusal}");
    for page in ["/policies/edit", "/policies/1", "/compliance"] {
        browser.open(page).await.unwrap();
        browser.wait_for("body").await.unwrap();
        assert_eq!(browser.count("button[formaction='/policies/publish']").await.unwrap(), 0, "{page}");
        assert_eq!(browser.count("form[action$='/rollback']").await.unwrap(), 0, "{page}");
    }
    browser.open("/compliance").await.unwrap();
    browser.wait_for_heading("Compliance").await.unwrap();
    let status = browser
        .client
        .execute(
            "const csrf = document.querySelector('form.logout input[name=csrf_token]').value;\n\
             const body = new URLSearchParams({ policy: arguments[0], reason: 'viewer', csrf_token: csrf });\n\
             return fetch('/policies/publish', { method: 'POST', body, credentials: 'same-origin' })\n\
                 .then((response) => response.status);",
            vec![serde_json::Value::from(SSE_POLICY)],
        )
        .await
        .unwrap();
    assert_eq!(status, serde_json::json!(403), "a viewer's publish is refused");
    let last = cp.store().last_policy_version().await.unwrap();
    assert_eq!(last, 1, "nothing was published by the viewer");

    browser.close().await.unwrap();
    cp.stop().await.unwrap();
}

/// A laptop that enrolled three days ago with one server and, today, launches it with `uvx`
/// instead of `npx`, gives it another variable and gets a finding: the report a config edit sends.
async fn laptop_changed_today(store: &dyn muster_control_plane::store::Store) {
    use muster_control_plane::enroll::{create_token, hash_token};
    use muster_control_plane::ingest::{Report, ReportBody};
    use muster_control_plane::store::NewAgent;
    use muster_proto::v1::{Finding, Host, InventorySnapshot, McpServer};
    let now = unix_now();
    let then = now - 3 * 86_400;
    let token = create_token(store, 1, std::time::Duration::from_secs(3600), then).await.unwrap();
    let id = "00000000-0000-4000-8000-00000000ac71".to_string();
    let agent = NewAgent {
        id: id.clone(),
        hostname: "enrolled-as-something-else".into(),
        cert_serial: "ac71".into(),
        cert_not_after: now + 86_400,
        agent_version: "0.1.0".into(),
        enrolled_at: then,
    };
    store.enroll_agent(&hash_token(&token.token), then, &agent).await.unwrap();
    let server = McpServer {
        id: "activity-server".into(),
        name: "github-activity".into(),
        client: "cursor".into(),
        user: "dev".into(),
        command: "npx".into(),
        env_names: vec!["GITHUB_TOKEN".into()],
        ..Default::default()
    };
    let host = Some(Host { hostname: "laptop-activity".into(), ..Default::default() });
    let snapshot = |server: McpServer, at: i64| InventorySnapshot {
        host: host.clone(),
        servers: vec![server],
        scanned_at_unix: at,
        ..Default::default()
    };
    let report =
        |sequence, snapshot| Report { sequence, base_sequence: 0, body: ReportBody::Full(snapshot), policy: None };
    store.ingest(&id, &report(1, snapshot(server.clone(), then)), then).await.unwrap();
    let edited = McpServer {
        command: "uvx".into(),
        env_names: vec!["GITHUB_HOST".into(), "GITHUB_TOKEN".into()],
        findings: vec![Finding { id: "MUSTER-PKG-UNPINNED".into(), severity: 3, ..Default::default() }],
        ..server
    };
    store.ingest(&id, &report(2, snapshot(edited, now)), now).await.unwrap();
}

/// The rows of the activity table on screen: (kind, endpoint, what changed).
async fn activity_rows(browser: &Browser) -> Vec<(String, String, String)> {
    let mut rows = Vec::new();
    for row in browser.client.find_all(fantoccini::Locator::Css("table.activity tbody tr")).await.unwrap() {
        let kind = row.attr("data-kind").await.unwrap().unwrap_or_default();
        let cells = row.find_all(fantoccini::Locator::Css("td")).await.unwrap();
        rows.push((kind, cells[2].text().await.unwrap(), cells[5].text().await.unwrap()));
    }
    rows
}

#[tokio::test]
async fn an_analyst_sees_what_changed_today_and_in_the_last_week_by_clicking() {
    let Setup { _dir, cp, browser, .. } = setup().await;
    laptop_changed_today(cp.store()).await;
    browser.log_in("ana", PASSWORD).await.unwrap();

    browser.wait_for("nav.mainnav a[href='/activity']").await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Activity").await.unwrap();
    // One laptop, by the name its agent scans (in another case), then today's changes on it:
    // the edit, said field by field, and the finding it raised; not the enrollment.
    browser.wait_for("form.filters input[name=host]").await.unwrap().send_keys("LAPTOP-Activity").await.unwrap();
    browser.wait_for("form.filters button[type=submit]").await.unwrap().click().await.unwrap();
    browser.wait_for_query_containing("host=LAPTOP-Activity").await.unwrap();
    browser.wait_for_heading("Activity").await.unwrap();
    browser.link_with_text("nav.range-tabs a", "Today").await.unwrap().click().await.unwrap();
    browser.wait_for_query_containing("range=today").await.unwrap();
    browser.wait_for("table.activity").await.unwrap();
    let today = activity_rows(&browser).await;
    assert!(today.iter().all(|(_, host, _)| host == "laptop-activity"), "{today:?}");
    let kinds: Vec<&str> = today.iter().map(|(kind, _, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["finding_appeared", "changed"], "{today:?}");
    let what = &today[1].2;
    assert!(what.contains("command npx → uvx") && what.contains("env names added: GITHUB_HOST"), "{what}");
    assert!(today[0].2.contains("MUSTER-PKG-UNPINNED"), "{today:?}");
    assert_eq!(browser.count("nav.range-tabs a[aria-current=page]").await.unwrap(), 1);
    assert_eq!(browser.count("table.activity [data-event]").await.unwrap(), browser.count("tbody tr").await.unwrap());

    // The last 7 days also hold the day it enrolled, under the scanned host's name.
    browser.link_with_text("nav.range-tabs a", "Last 7 days").await.unwrap().click().await.unwrap();
    browser.wait_for_query_containing("range=7d").await.unwrap();
    browser.wait_for("table.activity").await.unwrap();
    browser.wait_for_query_containing("host=LAPTOP-Activity").await.unwrap();
    let week: Vec<String> = activity_rows(&browser).await.into_iter().map(|(kind, _, _)| kind).collect();
    assert_eq!(week, ["finding_appeared", "changed", "appeared"]);
    assert!(!browser.body_text().await.unwrap().contains("enrolled-as-something-else"));

    // A custom range of days before the enrollment: nothing of this laptop.
    let day = |offset: i64| muster_control_plane::timefmt::iso_date(unix_now() - offset * 86_400);
    let set = format!(
        "document.querySelector('form.filters select[name=range]').value = 'custom';\
         document.querySelector('form.filters input[name=from]').value = '{}';\
         document.querySelector('form.filters input[name=to]').value = '{}';",
        day(6),
        day(4)
    );
    browser.client.execute(&set, vec![]).await.unwrap();
    browser.wait_for("form.filters button[type=submit]").await.unwrap().click().await.unwrap();
    browser.wait_for_query_containing("range=custom").await.unwrap();
    browser.wait_for("p.range-note").await.unwrap();
    let note = browser.wait_for("p.range-note").await.unwrap().text().await.unwrap();
    assert!(note.starts_with(&format!("From {} 00:00 UTC", day(6))), "{note}");
    assert!(activity_rows(&browser).await.is_empty());
    assert_eq!(browser.count("p.empty").await.unwrap(), 1);
    assert_no_injection(&browser, "/activity").await;

    browser.close().await.unwrap();
    cp.stop().await.unwrap();
}

#[tokio::test]
async fn an_admin_adds_a_laptop_from_the_agents_page_with_a_command_to_copy() {
    let Setup { _dir, cp, browser, .. } = setup().await;
    accounts::add_local_user(cp.store(), "root", Role::Admin, PASSWORD, "cli", unix_now()).await.unwrap();
    browser.log_in("root", PASSWORD).await.unwrap();
    browser.wait_for("nav.mainnav a[href='/agents']").await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Agents").await.unwrap();

    // The panel: the exact command, with this server's gRPC address and CA fingerprint.
    let fingerprint = cp.state.pki.ca_fingerprint().to_string();
    let address = format!("https://127.0.0.1:{}", cp.grpc_addr.port());
    let command = browser.wait_for("section.add-laptop code#enroll-command").await.unwrap().text().await.unwrap();
    assert_eq!(
        command,
        format!("sudo muster-agent enroll --server {address} --token TOKEN --ca-fingerprint {fingerprint}")
    );
    let copy = browser.wait_for("section.add-laptop button[data-copy=enroll-command]").await.unwrap();
    copy.click().await.unwrap();
    browser.wait_for("section.add-laptop button[data-copied=true]").await.unwrap();
    assert_eq!(browser.wait_for("section.add-laptop button[data-copy]").await.unwrap().text().await.unwrap(), "Copied");

    // A token for one laptop: the command again, now with the token, shown once.
    browser
        .link_with_text("section.add-laptop button", "Create a token for one laptop")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_for_heading("Enrollment token created").await.unwrap();
    let token = browser.wait_for("code#once-secret").await.unwrap().text().await.unwrap();
    assert!(token.starts_with("mst_"), "{token}");
    let command = browser.wait_for("code#enroll-command").await.unwrap().text().await.unwrap();
    assert_eq!(
        command,
        format!("sudo muster-agent enroll --server {address} --token {token} --ca-fingerprint {fingerprint}")
    );
    browser.wait_for("button[data-copy=enroll-command]").await.unwrap().click().await.unwrap();
    browser.wait_for("button[data-copy=enroll-command][data-copied=true]").await.unwrap();
    let facts = browser.body_text().await.unwrap();
    assert!(facts.contains("1") && facts.contains("Expires"), "{facts}");

    browser.close().await.unwrap();
    cp.stop().await.unwrap();
}

/// `document.scrollingElement` and every table card at the current window size: none wider than
/// its box (the page needs no horizontal scrolling, no table hides columns behind a scrollbar).
async fn assert_fits_width(browser: &Browser, page: &str) {
    let widths = browser
        .client
        .execute(
            "const s = document.scrollingElement; \
             const cards = [...document.querySelectorAll('.table-card')] \
               .filter(c => c.scrollWidth > c.clientWidth) \
               .map(c => (c.querySelector('h2') || c).textContent.trim().slice(0, 40)); \
             return [s.scrollWidth, s.clientWidth, cards];",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, client) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
    assert!(scroll <= client, "{page}: the page scrolls sideways ({scroll} > {client})");
    assert_eq!(widths[2], serde_json::json!([]), "{page}: these tables scroll sideways");
}

/// Issue 15's analyst questions, answered by clicking only (the sign-in page is the one typed
/// address): which laptops use a service and what the server is on one of them; where one
/// secret is used, across hosts and within one; which endpoints run a package or one version
/// of it; which servers a user and a client have. The browser's back button returns to a list
/// with its filters. The endpoint page fits a 1280x800 screen without sideways scrolling.
#[tokio::test]
async fn an_analyst_answers_drill_down_questions_by_clicking_only() {
    let Setup { _dir, cp, fleet, browser } = setup().await;
    browser.log_in("ana", PASSWORD).await.unwrap();
    let hosts_in = |css: &'static str| {
        let browser = &browser;
        async move {
            let mut hosts = Vec::new();
            for row in browser.client.find_all(fantoccini::Locator::Css(css)).await.unwrap() {
                hosts.push(row.attr("data-host").await.unwrap().unwrap());
            }
            hosts.sort();
            hosts
        }
    };

    // Which laptops use GitHub? Services → the service's endpoints.
    browser.wait_for("nav.mainnav a[href='/services']").await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Services").await.unwrap();
    browser.wait_for("tr[data-service=github] td.service a").await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Endpoints").await.unwrap();
    let mut laptops = Vec::new();
    for link in browser.client.find_all(fantoccini::Locator::Css("a.endpoint-link")).await.unwrap() {
        laptops.push(link.text().await.unwrap());
    }
    let github = ["mbp-alice-chen", "mbp-bob-okafor", "mbp-erin-sec", "mbp-judy-eng", "ws-carol-ml", "ws-niaj-build"];
    for laptop in github {
        assert!(laptops.iter().any(|l| l == laptop), "{laptop} runs a GitHub server: {laptops:?}");
    }
    assert!(!laptops.iter().any(|l| l == "lt-dave-sales"), "{laptops:?}");

    // Back on Services, its server count: the servers one by one, then the server on one laptop.
    browser.client.back().await.unwrap();
    browser.wait_for_heading("Services").await.unwrap();
    browser.wait_for("tr[data-service=github] a.servers-link").await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Servers on endpoints").await.unwrap();
    assert!(browser.current_path().await.unwrap().contains("service=github"));
    let servers = hosts_in("table.server-list tr[data-host]").await;
    assert!(servers.iter().filter(|h| *h == "mbp-judy-eng").count() == 2, "judy has two: {servers:?}");
    browser.wait_for("tr[data-host=mbp-alice-chen] a.server-link").await.unwrap().click().await.unwrap();
    let alice = fleet.agent_id("mbp-alice-chen").unwrap().to_string();
    browser.wait_for_path(&format!("/endpoints/{alice}")).await.unwrap();
    let fragment = browser.client.current_url().await.unwrap().fragment().map(str::to_string).unwrap();
    let server = browser.wait_for(&format!("tr#{fragment}")).await.unwrap().text().await.unwrap();
    for part in ["github", "cursor", ".cursor/mcp.json", "GITHUB_PERSONAL_ACCESS_TOKEN", "github-pat"] {
        assert!(server.contains(part), "{part} missing from the server on the endpoint:\n{server}");
    }
    let secret = fleet::secret_fingerprint("gh-alice");
    assert!(server.contains(&secret), "the full fingerprint is shown:\n{server}");
    // The running Playwright server and its socket.
    let playwright = browser.wait_for("tr[data-server=playwright]").await.unwrap().text().await.unwrap();
    assert!(playwright.contains("running") && playwright.contains("tcp 127.0.0.1:8931"), "{playwright}");
    assert!(browser.wait_for("table.processes").await.unwrap().text().await.unwrap().contains("8931"));

    // The endpoint page fits a 1280x800 laptop screen.
    browser.client.set_window_size(1280, 800).await.unwrap();
    assert_fits_width(&browser, "the endpoint page at 1280x800").await;

    // Where else is this token used? Its fingerprint: every place, on two hosts and twice on one.
    browser.wait_for(&format!("tr#{fragment} a.fingerprint-link")).await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Where credentials are used").await.unwrap();
    assert_eq!(
        hosts_in("table.credential-locations tr[data-host]").await,
        ["mbp-alice-chen", "mbp-judy-eng", "mbp-judy-eng"],
        "every use of the secret"
    );
    assert_fits_width(&browser, "the credential locations at 1280x800").await;

    // The same from the Credentials page: the reused secret's fingerprint and its host count.
    browser.wait_for("nav.mainnav a[href='/credentials']").await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Credentials").await.unwrap();
    browser.wait_for(&format!("tr[data-fingerprint='{secret}'] td.num a")).await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Where credentials are used").await.unwrap();
    assert_eq!(hosts_in("table.credential-locations tr[data-host]").await.len(), 3);

    // Which laptops run the Slack server, and which run version 2025.4.25? Servers, filtered to
    // packages with the form, then the version; back keeps the filter.
    browser.wait_for("nav.mainnav a[href='/servers']").await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Servers").await.unwrap();
    browser.wait_for("select[name=kind] option[value=package]").await.unwrap().click().await.unwrap();
    browser.wait_for("form.filters button[type=submit]").await.unwrap().click().await.unwrap();
    browser.wait_for_query_containing("kind=package").await.unwrap();
    let slack = "tr[data-group='@modelcontextprotocol/server-slack']";
    browser.link_with_text(&format!("{slack} a.version-link"), "2025.4.25").await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Endpoints").await.unwrap();
    assert!(browser.current_path().await.unwrap().contains("version=2025.4.25"));
    let mut on_version = Vec::new();
    for link in browser.client.find_all(fantoccini::Locator::Css("a.endpoint-link")).await.unwrap() {
        on_version.push(link.text().await.unwrap());
    }
    on_version.sort();
    assert_eq!(on_version, ["lt-dave-sales", "mbp-alice-chen", "mbp-heidi-pm"]);
    browser.client.back().await.unwrap();
    browser.wait_for_heading("Servers").await.unwrap();
    assert!(browser.current_path().await.unwrap().contains("kind=package"), "back keeps the filter");
    let kind = browser.wait_for("select[name=kind] option[selected]").await.unwrap().attr("value").await.unwrap();
    assert_eq!(kind.as_deref(), Some("package"));
    // The package's name: its servers, each on its endpoint.
    browser.wait_for(&format!("{slack} td a")).await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Servers on endpoints").await.unwrap();
    assert_eq!(hosts_in("table.server-list tr[data-host]").await, ["lt-dave-sales", "mbp-alice-chen", "mbp-heidi-pm"]);

    // Which servers does carol have, and which run in Zed? From the endpoint list's chips.
    browser.wait_for("nav.mainnav a[href='/endpoints']").await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Endpoints").await.unwrap();
    browser.link_with_text("a.chip[href^='/servers/list?user=']", "carol").await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Servers on endpoints").await.unwrap();
    assert_eq!(hosts_in("table.server-list tr[data-host]").await, ["ws-carol-ml"; 3]);
    browser.client.back().await.unwrap();
    browser.wait_for_heading("Endpoints").await.unwrap();
    browser.link_with_text("a.chip[href^='/servers/list?client=']", "zed").await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Servers on endpoints").await.unwrap();
    let zed = browser.wait_for("table.server-list tr[data-host]").await.unwrap().text().await.unwrap();
    assert!(zed.contains("jenkins") && zed.contains("ws-carol-ml"), "{zed}");
    assert_eq!(browser.count("table.server-list tr[data-host]").await.unwrap(), 1);

    browser.close().await.unwrap();
    cp.stop().await.unwrap();
}

/// Issue 13's loop, from the analysts' side and by clicking only (the sign-in page is the one
/// typed address): a developer's request waits; the overview says so and links to the queue; the
/// admin opens the request, chooses a 90-day expiry and approves; the request's page shows it
/// approved, the queue lists it as decided, and the policy version it was published in carries
/// the exception.
#[tokio::test]
async fn an_admin_approves_a_waiting_exception_request_from_the_overview_by_clicking_only() {
    use muster_control_plane::exception_requests::{self as requests, NewRequest};
    use muster_control_plane::policies::{self, NoListener};
    use muster_proto::v1::Transport;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("muster.db").display());
    let http = HttpConfig { tls: false, ..HttpConfig::default() };
    let cp = TestControlPlane::start_with_db_and_http(Some(&url), http).await.unwrap();
    accounts::add_local_user(cp.store(), "ada", Role::Admin, PASSWORD, "cli", unix_now()).await.unwrap();
    let agent = support::enroll(&cp).await;
    let mut client = support::inventory(&cp, &agent).await;
    let sse = muster_proto::v1::McpServer {
        transport: Transport::Sse as i32,
        url: "https://mcp.example.com/sse".into(),
        ..support::server("legacy", "")
    };
    client.report(support::full_report(&agent.id, 1, vec![sse])).await.unwrap();
    policies::publish(cp.store(), &NoListener, SSE_POLICY, "ada", "retire SSE", unix_now()).await.unwrap();
    let ask = NewRequest {
        rules: vec!["no-sse".into()],
        agent_id: agent.id.clone(),
        server_id: "legacy".into(),
        user: "alice".into(),
        reason: "the ticket vendor ships SSE only until March".into(),
    };
    let (request, _) = requests::create(cp.store(), &NoListener, "dev", &ask, unix_now() - 7_200).await.unwrap();
    let row = format!("tr[data-request='{}']", request.id);

    let browser = Browser::start(&format!("http://{}", cp.http_addr)).await.unwrap();
    browser.log_in("ada", PASSWORD).await.unwrap();
    browser.wait_for_heading("Overview").await.unwrap();
    let waiting = browser.wait_for("a.waiting-requests").await.unwrap();
    assert_eq!(waiting.text().await.unwrap(), "1 exception request waiting");
    waiting.click().await.unwrap();
    browser.wait_for_heading("Exception requests").await.unwrap();
    browser.wait_for_query_containing("status=pending").await.unwrap();
    let listed = browser.wait_for(&row).await.unwrap().text().await.unwrap();
    for expected in ["laptop-1", "alice", "server-legacy", "no-sse", "SSE only until March", "2 h"] {
        assert!(listed.contains(expected), "{expected} missing from the queue row: {listed}");
    }
    browser.wait_for(&format!("{row} a.review")).await.unwrap().click().await.unwrap();
    browser.wait_for_path(&format!("/exceptions/{}", request.id)).await.unwrap();
    browser.wait_for_heading("Exception request").await.unwrap();

    // Approve for 90 days.
    browser.wait_for("form.approve input[name=expiry][value='90']").await.unwrap().click().await.unwrap();
    browser.wait_for("form.approve button[type=submit]").await.unwrap().click().await.unwrap();
    browser.wait_for("span.badge.request-approved").await.unwrap();
    assert_eq!(browser.current_path().await.unwrap(), format!("/exceptions/{}", request.id));
    assert_eq!(browser.count("form.approve").await.unwrap(), 0, "decided: no form");
    let stored = cp.store().exception_request(&request.id).await.unwrap().unwrap();
    let expires = stored.expires_at.unwrap();
    assert!((expires - unix_now() - 90 * 86_400).abs() < 600, "90 days: {expires}");
    let decision = browser.wait_for("section.request-decision").await.unwrap().text().await.unwrap();
    assert!(decision.contains("ada") && decision.contains("policy v2"), "{decision}");

    // The queue lists it as decided, with nothing waiting.
    browser.wait_for("p.crumbs a[href='/exceptions']").await.unwrap().click().await.unwrap();
    browser.wait_for_heading("Exception requests").await.unwrap();
    browser.wait_for(&format!("{row}[data-state=approved]")).await.unwrap();
    assert_eq!(browser.count("section.queue-waiting").await.unwrap(), 0);
    assert!(browser.body_text().await.unwrap().contains("No exception request waiting"));

    // The policy version it was published in carries the exception.
    browser.wait_for(&format!("{row} a.decision-link")).await.unwrap().click().await.unwrap();
    browser.wait_for("a.policy-version").await.unwrap().click().await.unwrap();
    browser.wait_for_path("/policies/2").await.unwrap();
    let policy = browser.body_text().await.unwrap();
    for expected in [format!("request-{}", request.id), "approver = \"ada\"".to_string(), "[[exception]]".to_string()] {
        assert!(policy.contains(&expected), "{expected} missing from the published policy:\n{policy}");
    }
    assert_eq!(cp.store().current_policy().await.unwrap().map(|p| p.version), Some(2));

    browser.close().await.unwrap();
    cp.stop().await.unwrap();
}
