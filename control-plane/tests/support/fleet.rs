//! A small, realistic fleet for the browser test (`tests/browser.rs`) and the screenshot example
//! (`examples/screenshots.rs`, which includes this file by path): a dozen laptops on three OSes
//! with varied MCP clients, servers (npm, PyPI, local scripts, remote endpoints), credentials
//! (literal, shared across hosts, references, OAuth), findings from the agent's catalog, and a
//! day-by-day history so the activity feed and the 30-day trend have something to show.
//!
//! Everything goes in through the real paths: enrollment rows via `Store::enroll_agent` with a
//! real token, reports validated by `Report::from_request` and applied by `Store::ingest` (what
//! the gRPC handler calls), one full snapshot per endpoint per day, then the day's rollups. With
//! `canaries`, one laptop carries XSS canaries in its hostname, server names and package names.
//!
//! Not a benchmark seeder (`store::read::seed` bulk-writes 100,000 endpoints).

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::time::Duration;

use muster_control_plane::enroll::{create_token, hash_token};
use muster_control_plane::ingest::Report;
use muster_control_plane::rollup::ONLINE_WINDOW;
use muster_control_plane::store::{NewAgent, Store};
use muster_proto::v1::{
    AutoApprove, ConfigSource, Credential, CredentialSource, Ecosystem, Finding, Host, InventorySnapshot, Listener,
    McpProcess, McpServer, Os, OsUser, Package, ReferenceKind, RemoteEndpoint, ReportRequest, Severity, Transport,
    report_request,
};
use sha2::{Digest as _, Sha256};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A server name that runs script if a page forgets to escape it.
pub const SCRIPT_CANARY: &str = "<script>alert(1)</script>";
/// A server name that breaks out of an attribute and runs script through an image's error handler.
pub const IMG_CANARY: &str = "\"><img src=x onerror=alert(1)>";

const DAY: i64 = 86_400;

#[derive(Debug, Clone, Copy)]
pub struct FleetOptions {
    /// Days of history before `now` (0: one snapshot per endpoint, at `now`).
    pub history_days: u32,
    /// Add the laptop whose hostname, server and package names are XSS canaries.
    pub canaries: bool,
}

/// What was seeded.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// (hostname, agent id) per endpoint.
    pub endpoints: Vec<(String, String)>,
}

impl Fleet {
    pub fn agent_id(&self, hostname: &str) -> Option<&str> {
        self.endpoints.iter().find(|(h, _)| h == hostname).map(|(_, id)| id.as_str())
    }
}

/// The keyed fingerprint the fleet gives the literal secret labelled `label` (e.g. `gh-alice`,
/// used on mbp-alice-chen and twice on mbp-judy-eng).
pub fn secret_fingerprint(label: &str) -> String {
    hex128(&["secret", label])
}

/// One server as configured on one laptop over time.
#[derive(Clone)]
struct Placed {
    server: McpServer,
    /// Days before now it was added (None: there since enrollment).
    added: Option<u32>,
    /// Days before now it was removed.
    removed: Option<u32>,
    /// Until this many days before now, its package was at this older version.
    previous: Option<(u32, &'static str)>,
}

struct Laptop {
    hostname: String,
    os: Os,
    users: Vec<&'static str>,
    /// Days before now it enrolled.
    enrolled: u32,
    /// Days before now it last reported (0: online now).
    last_report: u32,
    servers: Vec<Placed>,
}

fn home(os: Os, user: &str) -> String {
    match os {
        Os::Macos => format!("/Users/{user}"),
        Os::Windows => format!("C:\\Users\\{user}"),
        _ => format!("/home/{user}"),
    }
}

fn config_path(os: Os, user: &str, client: &str) -> String {
    let home = home(os, user);
    let sep = if os == Os::Windows { "\\" } else { "/" };
    let rest = match (client, os) {
        ("claude-desktop", Os::Macos) => "Library/Application Support/Claude/claude_desktop_config.json",
        ("claude-desktop", Os::Windows) => "AppData\\Roaming\\Claude\\claude_desktop_config.json",
        ("claude-desktop", _) => ".config/Claude/claude_desktop_config.json",
        ("claude-code", _) => ".claude.json",
        ("vscode", Os::Macos) => "Library/Application Support/Code/User/mcp.json",
        ("vscode", Os::Windows) => "AppData\\Roaming\\Code\\User\\mcp.json",
        ("vscode", _) => ".config/Code/User/mcp.json",
        ("windsurf", Os::Windows) => ".codeium\\windsurf\\mcp_config.json",
        ("windsurf", _) => ".codeium/windsurf/mcp_config.json",
        ("zed", _) => ".config/zed/settings.json",
        ("codex", _) => ".codex/config.toml",
        ("gemini-cli", _) => ".gemini/settings.json",
        (_, Os::Windows) => ".cursor\\mcp.json",
        _ => ".cursor/mcp.json",
    };
    format!("{home}{sep}{rest}")
}

fn hex128(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(&hash.finalize()[..16])
}

/// The kinds of server the fleet uses.
#[derive(Clone, Copy)]
enum Kind {
    GithubNpm,
    GithubRemote,
    AtlassianSse,
    SlackNpm,
    FilesystemRoot,
    PostgresArg,
    LinearViaMcpRemote,
    SentryStaticHeader,
    AwsPypi,
    StripeNpm,
    NotionRemote,
    PostmarkMalicious,
    Playwright,
    LocalScript,
    InternalPlaintext,
    Context7AutoApprove,
    ScriptCanary,
    ImgCanary,
}

fn finding(id: &str, severity: Severity, owasp: &str, message: &str) -> Finding {
    Finding {
        id: id.into(),
        severity: severity as i32,
        owasp: owasp.into(),
        message: message.into(),
        ..Default::default()
    }
}

fn literal(location: &str, kind: &str, provider: &str, secret_label: &str) -> Credential {
    Credential {
        location: location.into(),
        kind: kind.into(),
        source: CredentialSource::Literal as i32,
        fingerprint: hex128(&["secret", secret_label]),
        provider: provider.into(),
        ..Default::default()
    }
}

fn reference(location: &str, kind: &str, provider: &str, name: &str, kept: ReferenceKind) -> Credential {
    Credential {
        location: location.into(),
        kind: kind.into(),
        source: CredentialSource::Reference as i32,
        provider: provider.into(),
        reference: name.into(),
        reference_kind: kept as i32,
        ..Default::default()
    }
}

fn npm(name: &str, version: Option<&str>, pinned: bool) -> Option<Package> {
    Some(Package { ecosystem: Ecosystem::Npm as i32, name: name.into(), version: version.map(str::to_string), pinned })
}

fn remote(url: &str, transport: Transport) -> (String, i32, Option<RemoteEndpoint>) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let (authority, path) = rest.split_once('/').map(|(a, p)| (a, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, port.parse().ok()),
        None => (authority, None),
    };
    (
        url.to_string(),
        transport as i32,
        Some(RemoteEndpoint { scheme: scheme.into(), host: host.into(), port, path, auth: None }),
    )
}

/// A server of `kind` for `user` in `client` on a laptop running `os`. `secret` names the literal
/// secret it carries (the same name on two laptops: the same fingerprint, a reused credential).
fn server(kind: Kind, os: Os, client: &str, user: &str, secret: &str) -> McpServer {
    let path = config_path(os, user, client);
    let home = home(os, user);
    let mut s = McpServer {
        client: client.into(),
        user: user.into(),
        config_path: path.clone(),
        transport: Transport::Stdio as i32,
        command: "npx".into(),
        ..Default::default()
    };
    match kind {
        Kind::GithubNpm => {
            s.name = "github".into();
            s.args = vec!["-y".into(), "@modelcontextprotocol/server-github".into()];
            s.package = npm("@modelcontextprotocol/server-github", Some("2025.4.8"), false);
            s.env_names = vec!["GITHUB_PERSONAL_ACCESS_TOKEN".into()];
            s.service = "github".into();
            s.credentials = vec![literal("env:GITHUB_PERSONAL_ACCESS_TOKEN", "github-pat", "github", secret)];
            s.findings = vec![
                finding(
                    "MUSTER-SECRET-ENV",
                    Severity::Medium,
                    "MCP01",
                    "GitHub personal access token written into the env block of github",
                ),
                finding(
                    "MUSTER-PKG-UNPINNED",
                    Severity::Medium,
                    "MCP04",
                    "@modelcontextprotocol/server-github runs without a pinned version",
                ),
            ];
        }
        Kind::GithubRemote => {
            s.name = "github-remote".into();
            (s.url, s.transport, s.endpoint) = remote("https://api.githubcopilot.com/mcp/", Transport::Http);
            s.command = String::new();
            s.service = "github".into();
        }
        Kind::AtlassianSse => {
            s.name = "atlassian".into();
            (s.url, s.transport, s.endpoint) = remote("https://mcp.atlassian.com/v1/sse", Transport::Sse);
            s.command = String::new();
            s.service = "jira".into();
            s.findings = vec![finding(
                "MUSTER-REMOTE-SSE-DEPRECATED",
                Severity::Low,
                "MCP07",
                "atlassian uses the deprecated HTTP+SSE transport",
            )];
        }
        Kind::SlackNpm => {
            s.name = "slack".into();
            s.args = vec!["-y".into(), "@modelcontextprotocol/server-slack@2025.4.25".into()];
            s.package = npm("@modelcontextprotocol/server-slack", Some("2025.4.25"), true);
            s.env_names = vec!["SLACK_BOT_TOKEN".into(), "SLACK_TEAM_ID".into()];
            s.service = "slack".into();
            s.credentials = vec![literal("env:SLACK_BOT_TOKEN", "slack-bot-token", "slack", secret)];
            s.findings = vec![finding(
                "MUSTER-SECRET-ENV",
                Severity::Medium,
                "MCP01",
                "Slack bot token written into the env block of slack",
            )];
        }
        Kind::FilesystemRoot => {
            s.name = "filesystem".into();
            s.args = vec!["-y".into(), "@modelcontextprotocol/server-filesystem@2025.8.21".into(), home.clone()];
            s.package = npm("@modelcontextprotocol/server-filesystem", Some("2025.8.21"), true);
            s.findings = vec![finding(
                "MUSTER-FS-BROAD",
                Severity::High,
                "MCP02",
                &format!("filesystem is granted the whole home directory {home}"),
            )];
        }
        Kind::PostgresArg => {
            s.name = "postgres-analytics".into();
            s.args = vec![
                "-y".into(),
                "@modelcontextprotocol/server-postgres".into(),
                "postgresql://analyst:****@db.analytics.internal:5432/warehouse".into(),
            ];
            s.package = npm("@modelcontextprotocol/server-postgres", None, false);
            s.service = "postgres".into();
            s.credentials = vec![literal("arg:2", "connection-string-password", "postgres", secret)];
            s.findings = vec![
                finding(
                    "MUSTER-SECRET-ARG",
                    Severity::High,
                    "MCP01",
                    "database password passed on the command line of postgres-analytics",
                ),
                finding(
                    "MUSTER-PKG-UNPINNED",
                    Severity::Medium,
                    "MCP04",
                    "@modelcontextprotocol/server-postgres runs without a pinned version",
                ),
            ];
        }
        Kind::LinearViaMcpRemote => {
            s.name = "linear".into();
            s.args = vec!["-y".into(), "mcp-remote@0.1.15".into(), "https://mcp.linear.app/sse".into()];
            s.package = npm("mcp-remote", Some("0.1.15"), true);
            s.service = "linear".into();
            s.findings = vec![finding(
                "MUSTER-PKG-VULNERABLE",
                Severity::High,
                "MCP04",
                "mcp-remote 0.1.15: CVE-2025-6514 (OS command injection via authorization endpoint)",
            )];
        }
        Kind::SentryStaticHeader => {
            s.name = "sentry".into();
            (s.url, s.transport, s.endpoint) = remote("https://mcp.sentry.dev/mcp", Transport::Http);
            s.command = String::new();
            s.header_names = vec!["Authorization".into()];
            s.service = "sentry".into();
            s.credentials = vec![literal("header:Authorization", "sentry-auth-token", "sentry", secret)];
            s.findings = vec![
                finding(
                    "MUSTER-SECRET-HEADER",
                    Severity::Medium,
                    "MCP01",
                    "Sentry auth token written into the headers of sentry",
                ),
                finding(
                    "MUSTER-REMOTE-STATIC-AUTH",
                    Severity::Medium,
                    "MCP07",
                    "sentry authenticates with a static token instead of OAuth",
                ),
            ];
        }
        Kind::AwsPypi => {
            s.name = "aws-api".into();
            s.command = "uvx".into();
            s.args = vec!["awslabs.aws-api-mcp-server@0.2.11".into()];
            s.package = Some(Package {
                ecosystem: Ecosystem::Pypi as i32,
                name: "awslabs.aws-api-mcp-server".into(),
                version: Some("0.2.11".into()),
                pinned: true,
            });
            s.env_names = vec!["AWS_PROFILE".into()];
            s.service = "aws".into();
            s.credentials =
                vec![reference("env:AWS_PROFILE", "aws-profile", "aws", "AWS_PROFILE", ReferenceKind::Environment)];
        }
        Kind::StripeNpm => {
            s.name = "stripe".into();
            s.args = vec!["-y".into(), "@stripe/mcp@0.2.4".into(), "--tools=all".into()];
            s.package = npm("@stripe/mcp", Some("0.2.4"), true);
            s.env_names = vec!["STRIPE_SECRET_KEY".into()];
            s.service = "stripe".into();
            s.credentials = vec![literal("env:STRIPE_SECRET_KEY", "stripe-secret-key", "stripe", secret)];
            s.findings = vec![finding(
                "MUSTER-SECRET-ENV",
                Severity::Medium,
                "MCP01",
                "Stripe secret key written into the env block of stripe",
            )];
        }
        Kind::NotionRemote => {
            s.name = "notion".into();
            (s.url, s.transport, s.endpoint) = remote("https://mcp.notion.com/mcp", Transport::Http);
            s.command = String::new();
            s.service = "notion".into();
        }
        Kind::PostmarkMalicious => {
            s.name = "postmark".into();
            s.args = vec!["-y".into(), "postmark-mcp@1.0.16".into()];
            s.package = npm("postmark-mcp", Some("1.0.16"), true);
            s.env_names = vec!["POSTMARK_SERVER_TOKEN".into()];
            s.service = "postmark".into();
            s.credentials = vec![literal("env:POSTMARK_SERVER_TOKEN", "postmark-server-token", "postmark", secret)];
            s.findings = vec![
                finding(
                    "MUSTER-PKG-MALICIOUS",
                    Severity::Critical,
                    "MCP04",
                    "postmark-mcp 1.0.16 is known to be malicious (BCCs every email to an outside address)",
                ),
                finding(
                    "MUSTER-SECRET-ENV",
                    Severity::Medium,
                    "MCP01",
                    "Postmark server token written into the env block of postmark",
                ),
            ];
        }
        Kind::Playwright => {
            s.name = "playwright".into();
            s.args = vec!["-y".into(), "@playwright/mcp@latest".into()];
            s.package = npm("@playwright/mcp", Some("latest"), false);
            s.service = "browser".into();
            s.findings = vec![finding(
                "MUSTER-PKG-UNPINNED",
                Severity::Medium,
                "MCP04",
                "@playwright/mcp follows the latest tag",
            )];
        }
        Kind::LocalScript => {
            s.name = "release-notes".into();
            s.command = "python3".into();
            s.args = vec![format!("{home}/src/tools/release_notes_mcp.py")];
            s.package = Some(Package {
                ecosystem: Ecosystem::Local as i32,
                name: "release_notes_mcp.py".into(),
                version: None,
                pinned: false,
            });
        }
        Kind::InternalPlaintext => {
            s.name = "wiki-internal".into();
            (s.url, s.transport, s.endpoint) = remote("http://wiki-mcp.corp.internal:8080/mcp", Transport::Http);
            s.command = String::new();
            s.service = "confluence".into();
            s.findings = vec![finding(
                "MUSTER-REMOTE-PLAINTEXT",
                Severity::High,
                "MCP01",
                "wiki-internal is reached over plaintext http://",
            )];
        }
        Kind::Context7AutoApprove => {
            s.name = "context7".into();
            s.args = vec!["-y".into(), "@upstash/context7-mcp@1.0.14".into()];
            s.package = npm("@upstash/context7-mcp", Some("1.0.14"), true);
            s.auto_approve = Some(AutoApprove { all: true, tools: vec![] });
            s.findings = vec![finding(
                "MUSTER-AUTO-APPROVE",
                Severity::Medium,
                "MCP02",
                "every tool of context7 runs without asking for approval",
            )];
        }
        Kind::ScriptCanary | Kind::ImgCanary => {
            let canary = if matches!(kind, Kind::ScriptCanary) { SCRIPT_CANARY } else { IMG_CANARY };
            s.name = canary.into();
            s.args = vec!["-y".into(), canary.into()];
            s.package = npm(canary, None, false);
            s.findings = vec![finding("MUSTER-PKG-UNPINNED", Severity::Medium, "MCP04", canary)];
        }
    }
    s.id = hex128(&[&s.user, &s.client, &path, &s.name]);
    for f in &mut s.findings {
        f.server_ids = vec![s.id.clone()];
        f.client = s.client.clone();
        f.user = s.user.clone();
    }
    s
}

fn placed(server: McpServer) -> Placed {
    Placed { server, added: None, removed: None, previous: None }
}

fn laptops(canaries: bool) -> Vec<Laptop> {
    use Kind::*;
    let mut out = Vec::new();
    // (hostname, os, users, enrolled days ago, last report days ago, servers: (kind, client, user
    // index, secret label, added, removed))
    type Spec = (Kind, &'static str, usize, &'static str, Option<u32>, Option<u32>);
    type LaptopSpec = (&'static str, Os, Vec<&'static str>, u32, u32, Vec<Spec>);
    let fleet: Vec<LaptopSpec> = vec![
        (
            "mbp-alice-chen",
            Os::Macos,
            vec!["alice"],
            29,
            0,
            vec![
                (GithubNpm, "cursor", 0, "gh-alice", None, None),
                (SlackNpm, "claude-desktop", 0, "slack-eng-bot", None, None),
                (LinearViaMcpRemote, "cursor", 0, "", Some(12), None),
                (NotionRemote, "claude-desktop", 0, "", None, None),
                (Playwright, "claude-code", 0, "", Some(3), None),
            ],
        ),
        (
            "mbp-bob-okafor",
            Os::Macos,
            vec!["bob"],
            28,
            0,
            vec![
                (GithubRemote, "vscode", 0, "", None, None),
                (StripeNpm, "cursor", 0, "stripe-live", None, None),
                (PostmarkMalicious, "claude-desktop", 0, "postmark-prod", Some(6), None),
                (Context7AutoApprove, "cursor", 0, "", None, None),
            ],
        ),
        (
            "ws-carol-ml",
            Os::Linux,
            vec!["carol", "jenkins"],
            27,
            0,
            vec![
                (PostgresArg, "claude-code", 0, "pg-warehouse", None, None),
                (AwsPypi, "claude-code", 0, "", None, None),
                (FilesystemRoot, "codex", 0, "", Some(9), None),
                (GithubNpm, "zed", 1, "gh-ci-bot", None, None),
            ],
        ),
        (
            "lt-dave-sales",
            Os::Windows,
            vec!["dave"],
            25,
            0,
            vec![
                (SlackNpm, "claude-desktop", 0, "slack-eng-bot", None, None),
                (NotionRemote, "claude-desktop", 0, "", None, None),
                (AtlassianSse, "claude-desktop", 0, "", None, None),
            ],
        ),
        (
            "mbp-erin-sec",
            Os::Macos,
            vec!["erin"],
            24,
            0,
            vec![
                (SentryStaticHeader, "cursor", 0, "sentry-erin", None, None),
                (GithubRemote, "claude-code", 0, "", None, None),
                (AwsPypi, "claude-code", 0, "", Some(4), None),
            ],
        ),
        (
            "ws-frank-infra",
            Os::Linux,
            vec!["frank"],
            22,
            0,
            vec![
                (AwsPypi, "claude-code", 0, "", None, None),
                (InternalPlaintext, "cursor", 0, "", None, None),
                (GithubNpm, "cursor", 0, "gh-frank", None, Some(2)),
                (LocalScript, "claude-code", 0, "", None, None),
            ],
        ),
        (
            "lt-grace-design",
            Os::Windows,
            vec!["grace"],
            20,
            0,
            vec![(NotionRemote, "claude-desktop", 0, "", None, None), (Playwright, "windsurf", 0, "", None, None)],
        ),
        (
            "mbp-heidi-pm",
            Os::Macos,
            vec!["heidi"],
            18,
            0,
            vec![
                (AtlassianSse, "claude-desktop", 0, "", None, None),
                (LinearViaMcpRemote, "claude-desktop", 0, "", None, None),
                (SlackNpm, "claude-desktop", 0, "slack-eng-bot", Some(7), None),
            ],
        ),
        (
            "ws-ivan-data",
            Os::Linux,
            vec!["ivan"],
            15,
            3,
            vec![
                (PostgresArg, "vscode", 0, "pg-warehouse", None, None),
                (StripeNpm, "vscode", 0, "stripe-live", None, None),
                (Context7AutoApprove, "gemini-cli", 0, "", None, None),
            ],
        ),
        (
            "mbp-judy-eng",
            Os::Macos,
            vec!["judy"],
            12,
            0,
            vec![
                (GithubNpm, "claude-code", 0, "gh-alice", None, None),
                // The same token again in another client: one secret reused within a host.
                (GithubNpm, "cursor", 0, "gh-alice", None, None),
                (Playwright, "claude-code", 0, "", None, None),
                (Context7AutoApprove, "cursor", 0, "", Some(1), None),
                (SentryStaticHeader, "cursor", 0, "sentry-erin", None, None),
            ],
        ),
        (
            "lt-mallory-contractor",
            Os::Windows,
            vec!["mallory"],
            8,
            6,
            vec![
                (PostmarkMalicious, "cursor", 0, "postmark-prod", None, None),
                (FilesystemRoot, "cursor", 0, "", None, None),
            ],
        ),
        (
            "ws-niaj-build",
            Os::Linux,
            vec!["niaj", "buildkite"],
            5,
            0,
            vec![(AwsPypi, "codex", 0, "", None, None), (GithubRemote, "codex", 1, "", None, None)],
        ),
    ];
    for (hostname, os, users, enrolled, last_report, servers) in fleet {
        out.push(Laptop {
            hostname: hostname.into(),
            os,
            users: users.clone(),
            enrolled,
            last_report,
            servers: servers
                .into_iter()
                .map(|(kind, client, user, secret, added, removed)| Placed {
                    added,
                    removed,
                    ..placed(server(kind, os, client, users[user], secret))
                })
                .collect(),
        });
    }
    // Version upgrades: a changed server in the activity feed.
    if let Some(first) = out.first_mut()
        && let Some(slack) = first.servers.get_mut(1)
    {
        slack.previous = Some((10, "2025.1.17"));
    }
    if canaries {
        let os = Os::Linux;
        out.push(Laptop {
            hostname: SCRIPT_CANARY.into(),
            os,
            users: vec!["eve"],
            enrolled: 2,
            last_report: 0,
            servers: vec![
                Placed { added: Some(1), ..placed(server(ScriptCanary, os, "cursor", "eve", "")) },
                Placed { added: Some(1), ..placed(server(ImgCanary, os, "cursor", "eve", "")) },
                placed(server(GithubNpm, os, "cursor", "eve", "gh-eve")),
            ],
        });
    }
    out
}

/// Laptops enrolled early still run the first release; an offline one runs a pre-release.
fn agent_version(laptop: &Laptop) -> &'static str {
    match (laptop.last_report, laptop.enrolled) {
        (days, _) if days > 4 => "0.0.9",
        (_, enrolled) if enrolled > 20 => "0.1.0",
        _ => "0.1.1",
    }
}

/// The laptop's snapshot as its agent would send it `days_ago` days before `now`.
fn snapshot(laptop: &Laptop, days_ago: u32, at: i64) -> InventorySnapshot {
    let servers: Vec<McpServer> = laptop
        .servers
        .iter()
        .filter(|p| p.added.is_none_or(|added| days_ago <= added) && p.removed.is_none_or(|gone| days_ago > gone))
        .map(|p| {
            let mut server = p.server.clone();
            if let Some((until, version)) = p.previous
                && days_ago > until
                && let Some(package) = &mut server.package
            {
                package.version = Some(version.to_string());
            }
            server
        })
        .collect();
    // A running MCP server with its listening socket: Playwright's on the first laptop running it.
    let processes: Vec<McpProcess> = servers
        .iter()
        .filter(|s| s.name == "playwright" && laptop.hostname == "mbp-alice-chen")
        .map(|s| McpProcess {
            pid: 48_213,
            user: s.user.clone(),
            exe: "node".into(),
            args: vec!["@playwright/mcp".into(), "--port".into(), "8931".into()],
            parent_client: s.client.clone(),
            server_ids: vec![s.id.clone()],
            listeners: vec![Listener { address: "127.0.0.1".into(), port: 8931, protocol: "tcp".into() }],
            started_unix: Some(at - 3_600),
            ..Default::default()
        })
        .collect();
    let mut sources: BTreeSet<(String, String, String)> = BTreeSet::new();
    for s in &servers {
        sources.insert((s.config_path.clone(), s.client.clone(), s.user.clone()));
    }
    InventorySnapshot {
        host: Some(Host {
            hostname: laptop.hostname.clone(),
            os: laptop.os as i32,
            os_version: match laptop.os {
                Os::Macos => "15.1".into(),
                Os::Windows => "11 23H2".into(),
                _ => "Ubuntu 24.04".into(),
            },
            arch: if laptop.os == Os::Macos { "aarch64".into() } else { "x86_64".into() },
            ..Default::default()
        }),
        users: laptop
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| OsUser {
                name: (*u).into(),
                uid: Some(1000 + u32::try_from(i).unwrap_or(0)),
                home: home(laptop.os, u),
            })
            .collect(),
        sources: sources
            .into_iter()
            .map(|(path, client, user)| ConfigSource {
                server_count: u32::try_from(servers.iter().filter(|s| s.config_path == path).count()).unwrap_or(0),
                path,
                client,
                user,
                client_accepts: true,
                ..Default::default()
            })
            .collect(),
        servers,
        processes,
        scanned_at_unix: at,
        agent_version: agent_version(laptop).into(),
        ..Default::default()
    }
}

/// Seeds a new SQLite database at `url` (before any control plane runs on it, so no rollup task
/// writes concurrently) and closes it.
pub async fn seed_database(url: &str, now: i64, options: FleetOptions) -> Result<Fleet, BoxError> {
    let store = muster_control_plane::store::open(url).await?;
    let fleet = seed(store.as_ref(), now, options).await?;
    drop(store);
    Ok(fleet)
}

/// Enrolls every laptop and ingests one full snapshot per laptop per day from `history_days` days
/// before `now` up to `now`, refreshing the rollups (today's trend point) after each day.
pub async fn seed(store: &dyn Store, now: i64, options: FleetOptions) -> Result<Fleet, BoxError> {
    let laptops = laptops(options.canaries);
    let window = i64::try_from(ONLINE_WINDOW.as_secs())?;
    let mut ids = Vec::new();
    for laptop in &laptops {
        let enrolled = laptop.enrolled.min(options.history_days);
        let enrolled_at = now - i64::from(enrolled) * DAY - 3600;
        let token = create_token(store, 1, Duration::from_secs(3600), enrolled_at).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let agent = NewAgent {
            id: id.clone(),
            hostname: laptop.hostname.clone(),
            cert_serial: hex128(&["serial", &id]),
            cert_not_after: now + 365 * DAY,
            agent_version: agent_version(laptop).into(),
            enrolled_at,
        };
        store.enroll_agent(&hash_token(&token.token), enrolled_at, &agent).await?;
        ids.push(id);
    }
    let mut sequences = vec![0u64; laptops.len()];
    for days_ago in (0..=options.history_days).rev() {
        // Reports arrive through the day; the last day's arrive just before `now`.
        let day_at = now - i64::from(days_ago) * DAY;
        for (i, laptop) in laptops.iter().enumerate() {
            let (enrolled, last_report) = (laptop.enrolled, laptop.last_report);
            let clamp = |days: u32| days.min(options.history_days);
            if days_ago > clamp(enrolled) || days_ago < clamp(last_report) {
                continue;
            }
            let at = day_at - 60 * i64::try_from(laptops.len() - i)?;
            sequences[i] += 1;
            let request = ReportRequest {
                agent_id: ids[i].clone(),
                sequence: sequences[i],
                base_sequence: 0,
                body: Some(report_request::Body::Full(snapshot(laptop, days_ago, at))),
                policy: None,
            };
            let report = Report::from_request(request)?;
            store.ingest(&ids[i], &report, at).await?;
        }
        store.refresh_rollups(day_at, day_at - window).await?;
    }
    Ok(Fleet { endpoints: laptops.iter().map(|l| l.hostname.clone()).zip(ids).collect() })
}
