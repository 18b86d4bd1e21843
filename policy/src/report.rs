//! Decisions as text for people (`policy check` on the agent; later the control plane's dry
//! run): per server, allowed or each rule broken with its action, when it is due and the
//! exception lifting it. Plain text, no colour, deterministic.

use std::fmt::Write as _;

use crate::evaluate::{Decisions, Due};
use crate::time::format_unix;

/// One block per server, servers in the decisions' order, then a summary line.
pub fn render_text(d: &Decisions) -> String {
    let mut out = String::new();
    let name = if d.policy.is_empty() { "(unnamed)" } else { d.policy.as_str() };
    let revision = if d.revision == 0 { "unpublished".to_string() } else { format!("revision {}", d.revision) };
    let _ = writeln!(out, "policy {name} ({revision}) at {}", format_unix(d.evaluated_at));
    let (mut allowed, mut acting) = (0, 0);
    for s in &d.servers {
        let who = if s.user.is_empty() { "managed".to_string() } else { format!("user {}", s.user) };
        if s.allowed() {
            allowed += 1;
        }
        let verdict = match s.action_now() {
            Some(a) => {
                acting += 1;
                format!("{} now", a.as_str())
            }
            None if s.violations.is_empty() => "allowed".to_string(),
            None if s.allowed() => "allowed by exception".to_string(),
            None => "in grace period".to_string(),
        };
        let _ = writeln!(out, "\n{} ({}, {who}): {verdict}", s.name, s.client);
        for v in &s.violations {
            let due = match v.due {
                Due::Now => "due now".to_string(),
                Due::At { unix } => format!("due {}", format_unix(unix)),
            };
            let tools = if v.tools.is_empty() { String::new() } else { format!(" {}", v.tools.join(", ")) };
            let title = if v.title.is_empty() { String::new() } else { format!(" - {}", v.title) };
            let _ = writeln!(out, "  rule {}: {}{tools}, {due}{title}", v.rule, v.action.as_str());
            if let Some(l) = &v.exception {
                let _ = writeln!(
                    out,
                    "    lifted by exception {} until {} (approved by {}: {})",
                    l.exception,
                    format_unix(l.expires),
                    l.approver,
                    l.reason
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{} servers: {allowed} allowed, {acting} with an action due now, {} in a grace period",
        d.servers.len(),
        d.servers.len() - allowed - acting
    );
    out
}
