//! Rendering an inventory for people and tools: the JSON contract ([`json`]), SARIF for CI
//! pipelines and code-scanning UIs ([`sarif`]) and the terminal table ([`table`]). All read the
//! masked wire model only, so none can print a secret.

pub mod json;
pub mod sarif;
pub mod table;

use muster_proto::v1 as pb;

/// Every finding of an inventory: each server's, then the client- and machine-level ones.
pub fn all_findings(inv: &pb::InventorySnapshot) -> impl Iterator<Item = &pb::Finding> {
    inv.servers.iter().flat_map(|s| s.findings.iter()).chain(inv.findings.iter())
}

/// The worst severity among all findings, `None` when there is no finding.
pub fn worst_severity(inv: &pb::InventorySnapshot) -> Option<pb::Severity> {
    all_findings(inv).map(|f| pb::Severity::try_from(f.severity).unwrap_or_default()).max()
}
