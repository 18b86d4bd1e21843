//! The human view of a scan: a summary per user and client (servers, literal secrets, findings by
//! severity), one row per server with its service and worst finding, then every finding grouped
//! by severity, then processes and problems. Fits 120 columns: long cells are cut with `…`.
//!
//! Colour is the caller's decision (a terminal, no `NO_COLOR`): this module never looks at the
//! environment, so the same inventory always renders the same text.

use std::collections::BTreeMap;
use std::fmt::Write;

use owo_colors::{OwoColorize, Style};

use super::json::{ecosystem, scope, severity as severity_name, transport};
use muster_proto::v1 as pb;

/// Width the table is laid out for.
pub const WIDTH: usize = 120;

const SEVERITIES: [pb::Severity; 5] =
    [pb::Severity::Critical, pb::Severity::High, pb::Severity::Medium, pb::Severity::Low, pb::Severity::Info];

/// Renders an inventory as plain aligned text.
pub fn render(inv: &pb::InventorySnapshot) -> String {
    render_styled(inv, false)
}

/// Renders an inventory, with ANSI colours when `colour` is set.
pub fn render_styled(inv: &pb::InventorySnapshot, colour: bool) -> String {
    let paint = Painter { colour };
    let mut out = String::new();
    let host = inv.host.as_ref().map(|h| h.hostname.as_str()).unwrap_or("");
    let counts = count_by_severity(super::all_findings(inv));
    let total: usize = counts.values().sum();
    let breakdown: Vec<String> = SEVERITIES
        .iter()
        .filter_map(|s| counts.get(s).map(|n| paint.severity(*s, &format!("{n} {}", severity_name(*s as i32)))))
        .collect();
    let _ = writeln!(
        out,
        "host {host}: {} servers in {} files, {} processes, {} problems, {total} findings{}",
        inv.servers.len(),
        inv.sources.len(),
        inv.processes.len(),
        inv.problems.len(),
        if breakdown.is_empty() { String::new() } else { format!(" ({})", breakdown.join(", ")) }
    );

    let mut servers: Vec<&pb::McpServer> = inv.servers.iter().collect();
    servers.sort_by(|a, b| (&a.user, &a.client, &a.name).cmp(&(&b.user, &b.client, &b.name)));

    out.push('\n');
    summary(&mut out, inv, &servers, paint);
    if !servers.is_empty() {
        out.push('\n');
        server_rows(&mut out, &servers, paint);
    }
    if total > 0 {
        let _ = writeln!(out, "\n{}", paint.bold("findings by severity:"));
        findings_by_severity(&mut out, inv, paint);
    }

    if !inv.processes.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("running MCP server processes:"));
        for p in &inv.processes {
            let listen: Vec<String> = p.listeners.iter().map(|l| format!("{}:{}", l.address, l.port)).collect();
            let _ = writeln!(
                out,
                "  pid {} {} {}{}{}",
                p.pid,
                if p.user.is_empty() { "?" } else { &p.user },
                p.package.as_ref().map(|k| k.name.as_str()).unwrap_or(&p.exe),
                if p.unmanaged { " [unmanaged]" } else { "" },
                if listen.is_empty() { String::new() } else { format!(" listening on {}", listen.join(", ")) },
            );
        }
    }
    if !inv.problems.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("problems:"));
        for p in &inv.problems {
            let pos = match (p.line, p.column) {
                (Some(l), Some(c)) => format!(":{l}:{c}"),
                (Some(l), None) => format!(":{l}"),
                _ => String::new(),
            };
            let _ = writeln!(out, "  {}{pos} [{}] {}", p.path, p.client, p.message);
        }
    }
    out
}

/// Whether and how to colour.
#[derive(Clone, Copy)]
struct Painter {
    colour: bool,
}

impl Painter {
    fn apply(self, style: Style, text: &str) -> String {
        if self.colour { text.style(style).to_string() } else { text.to_string() }
    }

    fn bold(self, text: &str) -> String {
        self.apply(Style::new().bold(), text)
    }

    fn severity(self, s: pb::Severity, text: &str) -> String {
        let style = match s {
            pb::Severity::Critical => Style::new().bright_red().bold(),
            pb::Severity::High => Style::new().red(),
            pb::Severity::Medium => Style::new().yellow(),
            pb::Severity::Low => Style::new().cyan(),
            pb::Severity::Info | pb::Severity::Unspecified => Style::new().dimmed(),
        };
        self.apply(style, text)
    }
}

fn sev(f: &pb::Finding) -> pb::Severity {
    pb::Severity::try_from(f.severity).unwrap_or_default()
}

fn count_by_severity<'a>(findings: impl Iterator<Item = &'a pb::Finding>) -> BTreeMap<pb::Severity, usize> {
    let mut counts = BTreeMap::new();
    for f in findings {
        *counts.entry(sev(f)).or_insert(0) += 1;
    }
    counts
}

fn user_label(user: &str, scope_value: i32) -> String {
    match (user.is_empty(), scope(scope_value)) {
        (false, _) => user.to_string(),
        (true, "managed") => "(managed)".into(),
        (true, _) => "-".into(),
    }
}

/// One row per user and client: server count, literal secrets and findings by severity.
fn summary(out: &mut String, inv: &pb::InventorySnapshot, servers: &[&pb::McpServer], paint: Painter) {
    #[derive(Default)]
    struct Row {
        servers: usize,
        literal: usize,
        by_severity: BTreeMap<pb::Severity, usize>,
    }
    let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
    for s in servers {
        let row = rows.entry((user_label(&s.user, s.scope), s.client.clone())).or_default();
        row.servers += 1;
        row.literal += s.credentials.iter().filter(|c| c.source == pb::CredentialSource::Literal as i32).count();
        for f in &s.findings {
            *row.by_severity.entry(sev(f)).or_insert(0) += 1;
        }
    }
    // Client- and user-level findings count where they belong: their own client, else the
    // clients of the servers they name.
    for f in &inv.findings {
        let mut keys: Vec<(String, String)> = Vec::new();
        if !f.client.is_empty() {
            keys.push((if f.user.is_empty() { "-".into() } else { f.user.clone() }, f.client.clone()));
        } else {
            for s in servers.iter().filter(|s| f.server_ids.contains(&s.id)) {
                let key = (user_label(&s.user, s.scope), s.client.clone());
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        if keys.is_empty() {
            keys.push((if f.user.is_empty() { "-".into() } else { f.user.clone() }, "-".into()));
        }
        for key in keys {
            *rows.entry(key).or_default().by_severity.entry(sev(f)).or_insert(0) += 1;
        }
    }
    let mut header: Vec<Cell> = ["USER", "CLIENT", "SERVERS", "LITERAL SECRETS"].map(Cell::header).into();
    header.extend(SEVERITIES.iter().map(|s| Cell::header(&severity_name(*s as i32).to_uppercase())));
    let mut table = vec![header];
    for ((user, client), row) in &rows {
        let mut cells = vec![
            Cell::plain(user),
            Cell::plain(client),
            Cell::plain(&row.servers.to_string()),
            match row.literal {
                0 => Cell::plain("-"),
                n => Cell::styled(&n.to_string(), Some(pb::Severity::High)),
            },
        ];
        for s in SEVERITIES {
            cells.push(match row.by_severity.get(&s) {
                Some(n) => Cell::styled(&n.to_string(), Some(s)),
                None => Cell::plain("-"),
            });
        }
        table.push(cells);
    }
    let columns = [
        Column::text(6, Cut::End),
        Column::text(6, Cut::End),
        Column::number(),
        Column::number(),
        Column::number(),
        Column::number(),
        Column::number(),
        Column::number(),
        Column::number(),
    ];
    push_table(out, &table, &columns, paint);
}

/// One row per server: where it is configured, what it runs, the service and its worst finding.
fn server_rows(out: &mut String, servers: &[&pb::McpServer], paint: Painter) {
    let mut table = vec![
        ["USER", "CLIENT", "SCOPE", "SERVER", "TRANSPORT", "SERVICE", "PACKAGE / URL", "WORST FINDING", "CONFIG"]
            .map(Cell::header)
            .into(),
    ];
    for s in servers {
        let what = match &s.package {
            Some(p) if !s.url.is_empty() => format!("{} ({})", s.url, p.name),
            Some(p) => {
                let pin = if p.pinned { "" } else { " [unpinned]" };
                match &p.version {
                    Some(v) => format!("{}:{}@{v}{pin}", ecosystem(p.ecosystem), p.name),
                    None => format!("{}:{}{pin}", ecosystem(p.ecosystem), p.name),
                }
            }
            None => s.url.clone(),
        };
        let name = if s.disabled { format!("{} (disabled)", s.name) } else { s.name.clone() };
        let service = match (s.service.as_str(), s.service_guessed) {
            ("", _) => "-".to_string(),
            (svc, true) => format!("{svc}?"),
            (svc, false) => svc.to_string(),
        };
        let worst = s.findings.iter().max_by_key(|f| sev(f));
        let worst_cell = match worst {
            Some(f) => {
                let more = s.findings.len() - 1;
                let id = f.id.strip_prefix("MUSTER-").unwrap_or(&f.id);
                let text = format!(
                    "{} {id}{}",
                    severity_name(f.severity),
                    if more > 0 { format!(" +{more}") } else { String::new() }
                );
                Cell::styled(&text, Some(sev(f)))
            }
            None => Cell::plain("-"),
        };
        table.push(vec![
            Cell::plain(&user_label(&s.user, s.scope)),
            Cell::plain(&s.client),
            Cell::plain(scope(s.scope)),
            Cell::plain(&name),
            Cell::plain(transport(s.transport).unwrap_or("?")),
            Cell::plain(&service),
            Cell::plain(&what),
            worst_cell,
            Cell::plain(&s.config_path),
        ]);
    }
    let columns = [
        Column::text(6, Cut::End),
        Column::text(8, Cut::End),
        Column::fixed(),
        Column::text(10, Cut::End),
        Column::fixed(),
        Column::text(8, Cut::End),
        Column::text(16, Cut::End),
        Column::text(12, Cut::End),
        // The file name matters most: cut paths at the front.
        Column::text(16, Cut::Start),
    ];
    push_table(out, &table, &columns, paint);
}

/// Every finding under its severity, with where it is and what it says (wrapped to the width).
fn findings_by_severity(out: &mut String, inv: &pb::InventorySnapshot, paint: Painter) {
    let mut entries: Vec<(pb::Severity, String, String, &str)> = Vec::new();
    for s in &inv.servers {
        let place = format!("{}/{}/{}", user_label(&s.user, s.scope), s.client, s.name);
        for f in &s.findings {
            entries.push((sev(f), f.id.clone(), place.clone(), &f.message));
        }
    }
    for f in &inv.findings {
        let place = match (f.user.as_str(), f.client.as_str()) {
            ("", "") => "(several)".to_string(),
            (u, "") => u.to_string(),
            ("", c) => c.to_string(),
            (u, c) => format!("{u}/{c}"),
        };
        entries.push((sev(f), f.id.clone(), place, &f.message));
    }
    for s in SEVERITIES {
        let group: Vec<&(pb::Severity, String, String, &str)> = entries.iter().filter(|e| e.0 == s).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "{}",
            paint.severity(s, &format!("{} ({})", severity_name(s as i32).to_uppercase(), group.len()))
        );
        for (_, id, place, message) in group {
            let id = id.strip_prefix("MUSTER-").unwrap_or(id);
            let head = format!("  {id:<22} {}", truncate(place, 40, Cut::End));
            let indent = 4;
            let _ = writeln!(out, "{head}");
            for line in wrap(message, WIDTH - indent) {
                let _ = writeln!(out, "{:indent$}{line}", "");
            }
        }
    }
}

/// Words of `text` in lines of at most `width` characters (a longer word stands alone).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[derive(Clone, Copy, PartialEq)]
enum Cut {
    End,
    Start,
}

/// How a column may shrink to fit [`WIDTH`].
#[derive(Clone, Copy)]
struct Column {
    min: usize,
    cut: Cut,
    right: bool,
}

impl Column {
    fn text(min: usize, cut: Cut) -> Column {
        Column { min, cut, right: false }
    }
    fn fixed() -> Column {
        Column { min: usize::MAX, cut: Cut::End, right: false }
    }
    fn number() -> Column {
        Column { min: usize::MAX, cut: Cut::End, right: true }
    }
}

struct Cell {
    text: String,
    severity: Option<pb::Severity>,
    header: bool,
}

impl Cell {
    fn plain(text: &str) -> Cell {
        Cell { text: text.to_string(), severity: None, header: false }
    }
    fn styled(text: &str, severity: Option<pb::Severity>) -> Cell {
        Cell { text: text.to_string(), severity, header: false }
    }
    fn header(text: &str) -> Cell {
        Cell { text: text.to_string(), severity: None, header: true }
    }
}

/// `text` cut to `width` characters with `…` at the cut.
fn truncate(text: &str, width: usize, cut: Cut) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_string();
    }
    let keep = width.saturating_sub(1);
    match cut {
        Cut::End => text.chars().take(keep).chain(std::iter::once('…')).collect(),
        Cut::Start => std::iter::once('…').chain(text.chars().skip(n - keep)).collect(),
    }
}

/// Lays out rows in aligned columns, shrinking the widest shrinkable column until the table
/// fits [`WIDTH`] or nothing can shrink further.
fn push_table(out: &mut String, rows: &[Vec<Cell>], columns: &[Column], paint: Painter) {
    const GAP: usize = 2;
    let mut widths = vec![0usize; columns.len()];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.text.chars().count());
        }
    }
    loop {
        let total: usize = widths.iter().sum::<usize>() + GAP * (widths.len().saturating_sub(1));
        if total <= WIDTH {
            break;
        }
        let widest = (0..widths.len()).filter(|&i| widths[i] > columns[i].min).max_by_key(|&i| widths[i]);
        match widest {
            Some(i) => widths[i] -= 1,
            None => break,
        }
    }
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let text = truncate(&cell.text, widths[i], columns[i].cut);
            let last = i + 1 == row.len();
            let padded = if columns[i].right {
                format!("{text:>w$}", w = widths[i])
            } else if last {
                text
            } else {
                format!("{text:<w$}", w = widths[i])
            };
            // Colour after padding: escape codes have no width.
            let painted = match (cell.header, cell.severity) {
                (true, _) => paint.bold(&padded),
                (false, Some(s)) => paint.severity(s, &padded),
                (false, None) => padded,
            };
            line.push_str(&painted);
            if !last {
                line.push_str(&" ".repeat(GAP));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use super::*;

    fn inventory() -> pb::InventorySnapshot {
        let finding = |id: &str, s: pb::Severity, m: &str| pb::Finding {
            id: id.into(),
            severity: s as i32,
            owasp: "MCP01".into(),
            message: m.into(),
            ..Default::default()
        };
        let literal = pb::Credential {
            location: "env:GITHUB_TOKEN".into(),
            kind: "github-pat".into(),
            source: pb::CredentialSource::Literal as i32,
            ..Default::default()
        };
        let long = "/home/alice/src/a/very/deeply/nested/checkout/of/a/repository/with/a/long/name/.mcp.json";
        pb::InventorySnapshot {
            servers: vec![
                pb::McpServer {
                    id: "a".into(),
                    name: "github".into(),
                    user: "alice".into(),
                    client: "claude-code".into(),
                    scope: pb::Scope::Project as i32,
                    config_path: long.into(),
                    service: "github".into(),
                    credentials: vec![literal],
                    findings: vec![
                        finding("MUSTER-SECRET-ENV", pb::Severity::Medium, "literal secret in env GITHUB_TOKEN"),
                        finding("MUSTER-SECRET-ARG", pb::Severity::High, "secret passed as an argument"),
                    ],
                    package: Some(pb::Package {
                        ecosystem: pb::Ecosystem::Npm as i32,
                        name: "@modelcontextprotocol/server-github-with-a-rather-long-package-name".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                pb::McpServer {
                    id: "b".into(),
                    name: "notes".into(),
                    user: "bob".into(),
                    client: "cursor".into(),
                    scope: pb::Scope::User as i32,
                    config_path: "/home/bob/.cursor/mcp.json".into(),
                    ..Default::default()
                },
            ],
            findings: vec![pb::Finding {
                client: "cursor".into(),
                user: "bob".into(),
                ..finding("MUSTER-LETHAL-TRIFECTA", pb::Severity::Critical, "all three legs")
            }],
            ..Default::default()
        }
    }

    #[test]
    fn summary_counts_servers_literals_and_severities_per_user_and_client() {
        let text = render(&inventory());
        let row = |user: &str| {
            text.lines()
                .find(|l| l.split_whitespace().next() == Some(user) && !l.contains('/'))
                .unwrap_or_else(|| panic!("no summary row for {user}: {text}"))
                .split_whitespace()
                .collect::<Vec<_>>()
        };
        // USER CLIENT SERVERS LITERAL CRITICAL HIGH MEDIUM LOW INFO
        assert_eq!(row("alice"), ["alice", "claude-code", "1", "1", "-", "1", "1", "-", "-"]);
        assert_eq!(row("bob"), ["bob", "cursor", "1", "-", "1", "-", "-", "-", "-"]);
        assert!(text.contains("3 findings (1 critical, 1 high, 1 medium)"), "{text}");
    }

    #[test]
    fn server_rows_show_service_and_worst_finding_and_fit_120_columns() {
        let text = render(&inventory());
        let line = text.lines().find(|l| l.contains("github") && l.contains("SECRET-ARG")).expect("server row");
        assert!(line.contains("high SECRET-ARG +1"), "{line}");
        assert!(line.ends_with("/.mcp.json"), "paths are cut at the front: {line}");
        for l in text.lines() {
            assert!(l.chars().count() <= WIDTH || l.starts_with("host "), "too wide ({}): {l}", l.chars().count());
        }
    }

    #[test]
    fn findings_are_grouped_worst_first() {
        let text = render(&inventory());
        let critical = text.find("CRITICAL (1)").expect("critical group");
        let high = text.find("HIGH (1)").expect("high group");
        let medium = text.find("MEDIUM (1)").expect("medium group");
        assert!(critical < high && high < medium, "{text}");
        assert!(text[critical..high].contains("LETHAL-TRIFECTA") && text[critical..high].contains("bob/cursor"));
        assert!(!text.contains("LOW ("), "empty groups are left out");
    }

    #[test]
    fn colour_only_when_asked() {
        let inv = inventory();
        assert!(!render_styled(&inv, false).contains('\u{1b}'));
        let coloured = render_styled(&inv, true);
        assert!(coloured.contains("\u{1b}["), "{coloured}");
        // Escape codes do not change the layout: without them the text is the plain one.
        let stripped = strip_ansi(&coloured);
        assert_eq!(stripped, render(&inv));
    }

    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for d in chars.by_ref() {
                    if d == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn truncate_and_wrap() {
        assert_eq!(truncate("abcdef", 4, Cut::End), "abc…");
        assert_eq!(truncate("abcdef", 4, Cut::Start), "…def");
        assert_eq!(truncate("abc", 4, Cut::Start), "abc");
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
    }
}
