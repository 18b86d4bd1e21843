//! Findings: the problems the agent reports about MCP configurations. [`catalog`] holds the
//! stable ids, default severities, OWASP MCP Top 10 mapping and remediation text. The rules
//! that raise findings live elsewhere; this module only describes them.

pub mod catalog;

pub use catalog::{FindingDef, FindingSeverity, FindingsCatalog, FindingsError};
