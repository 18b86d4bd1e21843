//! OCSF JSON lines of findings, for SIEMs: one Detection Finding (class 2004, category 2
//! Findings, activity 1 Create) per line, one line per finding per endpoint.
//!
//! Muster's severities map one to one onto OCSF `severity_id` (1 Informational .. 5 Critical,
//! 0 Unknown). `finding_info.uid` is the stable finding uid, so a SIEM can de-duplicate repeated
//! exports. The endpoint is the `device`; the MCP servers (or, for client-level findings, the
//! client) are the `resources`. This module writes events; it does not ship them anywhere.

use std::io::Write;

use muster_proto::v1::Severity;
use serde_json::{Value, json};

use super::{ExportError, ExportFinding, ExportHost, ExportOs};

/// OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.3.0";
pub const CLASS_UID: u32 = 2004;
pub const CATEGORY_UID: u32 = 2;
/// Create: the finding as observed in the latest report.
pub const ACTIVITY_ID: u32 = 1;
pub const TYPE_UID: u32 = CLASS_UID * 100 + ACTIVITY_ID;

/// OCSF `severity_id` and its caption.
pub fn severity(severity: Severity) -> (u8, &'static str) {
    match severity {
        Severity::Unspecified => (0, "Unknown"),
        Severity::Info => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

fn os(host: &ExportHost) -> Value {
    let (type_id, name) = match host.os {
        ExportOs::Unknown => (0, "Unknown"),
        ExportOs::Windows => (100, "Windows"),
        ExportOs::Linux => (200, "Linux"),
        ExportOs::Macos => (300, "macOS"),
    };
    let mut os = json!({ "name": name, "type_id": type_id });
    if !host.os_version.is_empty() {
        os["version"] = host.os_version.clone().into();
    }
    os
}

fn resources(host: &ExportHost, finding: &ExportFinding) -> Vec<Value> {
    let mut resources: Vec<Value> = finding
        .server_ids
        .iter()
        .map(|id| {
            let server = host.servers.iter().find(|s| &s.id == id);
            let mut resource = json!({ "uid": id, "type": "MCP Server" });
            if let Some(server) = server {
                resource["name"] = server.name.clone().into();
                resource["data"] = json!({
                    "client": server.client,
                    "user": server.user,
                    "config_path": server.config_path,
                    "transport": server.transport,
                });
            }
            resource
        })
        .collect();
    if resources.is_empty() && !finding.client.is_empty() {
        resources.push(json!({
            "uid": format!("{}:{}:{}", host.agent_id, finding.user, finding.client),
            "name": finding.client,
            "type": "MCP Client",
            "data": { "user": finding.user },
        }));
    }
    resources
}

/// The Detection Finding event of one finding on `host`.
pub fn event(host: &ExportHost, finding: &ExportFinding) -> Value {
    let (severity_id, severity_name) = severity(finding.severity);
    let time_ms = host.scanned_at.saturating_mul(1000);
    let mut types = vec![finding.finding_id.clone()];
    if !finding.owasp.is_empty() {
        types.push(finding.owasp.clone());
    }
    let mut event = json!({
        "activity_id": ACTIVITY_ID,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": TYPE_UID,
        "type_name": "Detection Finding: Create",
        "severity_id": severity_id,
        "severity": severity_name,
        "status_id": 1,
        "status": "New",
        "time": time_ms,
        "message": finding.message,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {
                "name": "Muster",
                "vendor_name": "Muster",
                "version": env!("CARGO_PKG_VERSION"),
            },
        },
        "finding_info": {
            "uid": finding.uid,
            "title": finding.message,
            "types": types,
            "analytic": { "uid": finding.finding_id, "name": finding.finding_id, "type_id": 1, "type": "Rule" },
        },
        "device": {
            "uid": host.agent_id,
            "hostname": host.hostname,
            "name": host.hostname,
            "type_id": 0,
            "type": "Unknown",
            "os": os(host),
        },
        "resources": resources(host, finding),
    });
    // OCSF's Remediation object: the catalog's fix, when this server knows the finding id.
    if !finding.remediation.is_empty() {
        event["remediation"] = json!({ "desc": finding.remediation });
    }
    if !finding.title.is_empty() {
        event["finding_info"]["desc"] = json!(finding.title);
    }
    event
}

/// Writes one JSON line per finding of `host`.
pub fn write_host<W: Write>(mut out: W, host: &ExportHost) -> Result<(), ExportError> {
    for finding in &host.findings {
        serde_json::to_writer(&mut out, &event(host, finding))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Every host's findings.
pub fn write_findings<'a, W: Write>(
    mut out: W,
    hosts: impl IntoIterator<Item = &'a ExportHost>,
) -> Result<(), ExportError> {
    for host in hosts {
        write_host(&mut out, host)?;
    }
    Ok(())
}
