//! `inventory.csv`: one row per MCP server per endpoint, RFC 4180 (quoted where needed, CRLF
//! line ends) through the `csv` crate.
//!
//! Spreadsheets execute cells that start with `=`, `+`, `-`, `@` (and tab or carriage return) as
//! formulas, and server names, paths and commands come from laptops: such cells get a leading
//! `'` ([`neutralise`]), which spreadsheets hide and other readers can strip. That includes
//! scoped npm names (`'@scope/name`). Nothing else is escaped or reformatted here.

use std::io::Write;

use muster_proto::v1::Severity;

use super::{ExportError, ExportHost, rfc3339};

/// The header row, in column order.
pub const COLUMNS: [&str; 24] = [
    "agent_id",
    "hostname",
    "os",
    "user",
    "client",
    "scope",
    "server_id",
    "server_name",
    "transport",
    "disabled",
    "ecosystem",
    "package",
    "version",
    "pinned",
    "command",
    "url",
    "service",
    "credentials",
    "literal_credentials",
    "credential_fingerprints",
    "high_findings",
    "critical_findings",
    "first_seen",
    "last_seen",
];

/// The cell as written: a leading `'` when a spreadsheet would read it as a formula.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

fn writer<W: Write>(out: W) -> ::csv::Writer<W> {
    ::csv::WriterBuilder::new().has_headers(false).terminator(::csv::Terminator::CRLF).from_writer(out)
}

/// Writes the header row.
pub fn write_header<W: Write>(out: W) -> Result<(), ExportError> {
    let mut csv = writer(out);
    csv.write_record(COLUMNS)?;
    csv.flush()?;
    Ok(())
}

/// Writes one row per server of `host` (no header), so a fleet export can stream host by host.
pub fn write_host<W: Write>(out: W, host: &ExportHost) -> Result<(), ExportError> {
    let mut csv = writer(out);
    for server in &host.servers {
        let about = |severity: Severity| {
            host.findings.iter().filter(|f| f.severity == severity && f.server_ids.contains(&server.id)).count()
        };
        let (ecosystem, name, version, pinned) = match &server.package {
            Some(p) => (p.ecosystem.as_str(), p.name.as_str(), p.version.as_deref().unwrap_or(""), p.pinned),
            None => ("", "", "", false),
        };
        let fingerprints: Vec<&str> = server
            .credentials
            .iter()
            .map(|c| c.fingerprint.as_str())
            .filter(|fingerprint| !fingerprint.is_empty())
            .collect();
        let row: [String; 24] = [
            host.agent_id.clone(),
            host.hostname.clone(),
            host.os.as_str().into(),
            server.user.clone(),
            server.client.clone(),
            server.scope.into(),
            server.id.clone(),
            server.name.clone(),
            server.transport.into(),
            server.disabled.to_string(),
            ecosystem.into(),
            name.into(),
            version.into(),
            pinned.to_string(),
            server.command.clone(),
            server.url.clone(),
            server.service.clone(),
            server.credentials.len().to_string(),
            server.credentials.iter().filter(|c| c.literal).count().to_string(),
            fingerprints.join(";"),
            about(Severity::High).to_string(),
            about(Severity::Critical).to_string(),
            rfc3339(server.first_seen_at),
            rfc3339(server.last_seen_at),
        ];
        csv.write_record(row.iter().map(|cell| neutralise(cell).into_owned()))?;
    }
    csv.flush()?;
    Ok(())
}

/// Header and every host's rows.
pub fn write_inventory<'a, W: Write>(
    mut out: W,
    hosts: impl IntoIterator<Item = &'a ExportHost>,
) -> Result<(), ExportError> {
    write_header(&mut out)?;
    for host in hosts {
        write_host(&mut out, host)?;
    }
    Ok(())
}
