//! The human view of a scan: one row per server, grouped by user and client, then processes and
//! problems. Plain text; column widths follow the content.

use std::fmt::Write;

use super::json::{ecosystem, scope, transport};
use muster_proto::v1 as pb;

/// Renders an inventory as aligned text columns.
pub fn render(inv: &pb::InventorySnapshot) -> String {
    let mut out = String::new();
    let host = inv.host.as_ref().map(|h| h.hostname.as_str()).unwrap_or("");
    let _ = writeln!(
        out,
        "host {host}: {} servers in {} files, {} processes, {} problems",
        inv.servers.len(),
        inv.sources.len(),
        inv.processes.len(),
        inv.problems.len()
    );
    let mut rows: Vec<[String; 7]> = vec![[
        "USER".into(),
        "CLIENT".into(),
        "SCOPE".into(),
        "SERVER".into(),
        "TRANSPORT".into(),
        "PACKAGE / URL".into(),
        "CONFIG".into(),
    ]];
    let mut servers: Vec<&pb::McpServer> = inv.servers.iter().collect();
    servers.sort_by(|a, b| (&a.user, &a.client, &a.name).cmp(&(&b.user, &b.client, &b.name)));
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
        rows.push([
            if s.user.is_empty() { "(managed)".into() } else { s.user.clone() },
            s.client.clone(),
            scope(s.scope).into(),
            name,
            transport(s.transport).unwrap_or("?").into(),
            what,
            s.config_path.clone(),
        ]);
    }
    push_table(&mut out, &rows);

    if !inv.processes.is_empty() {
        let _ = writeln!(out, "\nrunning MCP server processes:");
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
        let _ = writeln!(out, "\nproblems:");
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

fn push_table(out: &mut String, rows: &[[String; 7]]) {
    let mut widths = [0usize; 7];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}
