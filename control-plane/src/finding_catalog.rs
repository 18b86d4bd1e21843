//! The findings catalog as the control plane reads it: for a finding id, its title and the
//! remediation shown to people (finding pages, `/api/v1/findings`, the OCSF export), and the name
//! of its OWASP MCP Top 10 category. The agent owns the file (`agent/data/findings.toml`, validated
//! there against every id a rule raises); the control plane embeds the same file at build time
//! (ADR 0010), reads only the fields it shows, and never decides from it.
//!
//! A report names findings by id; an id this build's catalog lacks (an agent newer than the
//! server) is shown with an empty title and remediation, never refused.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

const BUNDLED_TOML: &str = include_str!("../../agent/data/findings.toml");

/// What the pages and exports show about one catalog id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FindingDefinition {
    pub id: String,
    pub owasp: String,
    pub title: String,
    pub remediation: String,
}

#[derive(Deserialize)]
struct CatalogFile {
    finding: Vec<FindingDefinition>,
}

/// The bundled catalog by id. A catalog that does not parse yields an empty map: the agent's own
/// tests refuse such a file, so this is never the case in a build that passed them, and a
/// server must not stop for want of help texts.
static BUNDLED: LazyLock<BTreeMap<String, FindingDefinition>> = LazyLock::new(|| parse(BUNDLED_TOML));

fn parse(text: &str) -> BTreeMap<String, FindingDefinition> {
    match toml::from_str::<CatalogFile>(text) {
        Ok(file) => file.finding.into_iter().map(|def| (def.id.clone(), def)).collect(),
        Err(error) => {
            tracing::error!(%error, "the bundled findings catalog does not parse");
            BTreeMap::new()
        }
    }
}

/// The catalog entry of `finding_id`, if this build knows it.
pub fn definition(finding_id: &str) -> Option<&'static FindingDefinition> {
    BUNDLED.get(finding_id)
}

/// The remediation text of `finding_id` (empty when unknown).
pub fn remediation(finding_id: &str) -> &'static str {
    definition(finding_id).map_or("", |def| def.remediation.as_str())
}

/// The title of `finding_id` (empty when unknown).
pub fn title(finding_id: &str) -> &'static str {
    definition(finding_id).map_or("", |def| def.title.as_str())
}

/// The name of an OWASP MCP Top 10 (2025) category, e.g. `MCP01` → "Token Mismanagement & Secret
/// Exposure" (empty for an id outside the list).
pub fn owasp_name(owasp: &str) -> &'static str {
    match owasp.to_ascii_uppercase().as_str() {
        "MCP01" => "Token Mismanagement & Secret Exposure",
        "MCP02" => "Privilege Escalation via Scope Creep",
        "MCP03" => "Tool Poisoning",
        "MCP04" => "Software Supply Chain Attacks & Dependency Tampering",
        "MCP05" => "Command Injection & Execution",
        "MCP06" => "Intent Flow Subversion",
        "MCP07" => "Insufficient Authentication & Authorization",
        "MCP08" => "Lack of Audit and Telemetry",
        "MCP09" => "Shadow MCP Servers",
        "MCP10" => "Context Injection & Over-Sharing",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_entry_has_a_title_a_remediation_and_a_named_owasp_category() {
        assert!(BUNDLED.len() >= 20, "the bundled catalog parsed to {} entries", BUNDLED.len());
        for def in BUNDLED.values() {
            assert!(!def.title.is_empty() && !def.remediation.is_empty(), "{}", def.id);
            assert!(!owasp_name(&def.owasp).is_empty(), "{}: owasp {}", def.id, def.owasp);
        }
        assert!(remediation("MUSTER-SECRET-ENV").contains("rotate"));
        assert_eq!(remediation("MUSTER-NOT-A-FINDING"), "");
    }

    #[test]
    fn a_catalog_that_does_not_parse_gives_no_entries_instead_of_stopping() {
        assert!(parse("version = 1\n[[finding]]\nid = 3").is_empty());
    }
}
