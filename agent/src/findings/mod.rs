//! Findings: the problems the agent reports about MCP configurations. [`FindingId`] names every
//! id a rule can raise; [`catalog`] holds their default severities, OWASP MCP Top 10 mapping and
//! remediation text, and refuses to load without a definition for each id. The rules that
//! raise findings live elsewhere (`analysis`); this module only describes them.

pub mod catalog;
mod id;

pub use catalog::{CompleteCatalog, FindingDef, FindingSeverity, FindingsCatalog, FindingsError};
pub use id::FindingId;
