//! The findings catalog: every finding id with its default severity, OWASP MCP Top 10 id,
//! title and remediation, loaded from the embedded `agent/data/findings.toml` and validated
//! once. The rules take a [`CompleteCatalog`]: one with a definition for every [`FindingId`]
//! they can raise, so [`CompleteCatalog::def`] always has an answer; the bundled catalog is one
//! or fails to load, and a scan then stops before it starts. It turns a rule's verdict into a
//! wire [`Finding`]; it does not decide when a finding applies.

use std::collections::HashSet;
use std::ops::Deref;
use std::sync::LazyLock;

use muster_proto::v1::{Finding, Severity};
use serde::Deserialize;

use super::FindingId;

/// The schema version of `findings.toml` this code understands.
pub const FINDINGS_VERSION: u32 = 1;

const BUNDLED_TOML: &str = include_str!("../../data/findings.toml");

static BUNDLED: LazyLock<Result<CompleteCatalog, FindingsError>> =
    LazyLock::new(|| FindingsCatalog::from_toml(BUNDLED_TOML).and_then(CompleteCatalog::new));

/// Why a findings catalog text was rejected.
#[derive(Debug, thiserror::Error)]
pub enum FindingsError {
    #[error("findings catalog does not match its schema: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("findings catalog version {found} is not supported (expected {expected})")]
    Version { found: u32, expected: u32 },
    #[error("finding id {0:?} appears more than once")]
    DuplicateId(String),
    #[error("finding {id:?}: {problem}")]
    Invalid { id: String, problem: String },
    #[error("the findings catalog has no definition of {0}, which a rule raises")]
    MissingId(FindingId),
}

/// Default severity of a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingSeverity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl FindingSeverity {
    pub fn to_proto(self) -> Severity {
        match self {
            Self::Info => Severity::Info,
            Self::Low => Severity::Low,
            Self::Medium => Severity::Medium,
            Self::High => Severity::High,
            Self::Critical => Severity::Critical,
        }
    }
}

/// One finding kind.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingDef {
    /// Stable id, `MUSTER-...`.
    pub id: String,
    pub severity: FindingSeverity,
    /// OWASP MCP Top 10 (2025) id, `MCP01`..`MCP10`.
    pub owasp: String,
    pub title: String,
    pub remediation: String,
}

impl FindingDef {
    /// A wire finding of this kind with its default severity; the caller fills in the server
    /// ids, client and user.
    pub fn to_finding(&self, message: impl Into<String>) -> Finding {
        self.to_finding_with(self.severity, message)
    }

    /// Like [`FindingDef::to_finding`] with a rule-chosen severity (e.g. an advisory's own).
    pub fn to_finding_with(&self, severity: FindingSeverity, message: impl Into<String>) -> Finding {
        Finding {
            id: self.id.clone(),
            severity: severity.to_proto() as i32,
            owasp: self.owasp.clone(),
            message: message.into(),
            ..Finding::default()
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FindingsFile {
    version: u32,
    #[serde(default)]
    finding: Vec<FindingDef>,
}

/// A parsed findings catalog.
#[derive(Debug)]
pub struct FindingsCatalog {
    findings: Vec<FindingDef>,
}

impl FindingsCatalog {
    /// The catalog shipped inside the agent, parsed and checked for every rule's id on first
    /// use.
    pub fn bundled() -> Result<&'static CompleteCatalog, &'static FindingsError> {
        BUNDLED.as_ref()
    }

    /// Parses and validates a catalog text: unique `MUSTER-` ids, an OWASP id in
    /// `MCP01`..`MCP10`, non-empty title and remediation.
    pub fn from_toml(text: &str) -> Result<FindingsCatalog, FindingsError> {
        let file: FindingsFile = toml::from_str(text)?;
        if file.version != FINDINGS_VERSION {
            return Err(FindingsError::Version { found: file.version, expected: FINDINGS_VERSION });
        }
        let mut seen = HashSet::new();
        for def in &file.finding {
            let invalid = |problem: &str| FindingsError::Invalid { id: def.id.clone(), problem: problem.to_string() };
            let id_ok = def.id.strip_prefix("MUSTER-").is_some_and(|rest| {
                !rest.is_empty()
                    && rest.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
                    && !rest.ends_with('-')
            });
            if !id_ok {
                return Err(invalid("id must be MUSTER- followed by upper-case words joined by '-'"));
            }
            if !is_owasp_mcp_id(&def.owasp) {
                return Err(invalid("owasp must be one of MCP01..MCP10"));
            }
            if def.title.trim().is_empty() || def.remediation.trim().is_empty() {
                return Err(invalid("title and remediation must not be empty"));
            }
            if !seen.insert(def.id.as_str()) {
                return Err(FindingsError::DuplicateId(def.id.clone()));
            }
        }
        Ok(FindingsCatalog { findings: file.finding })
    }

    pub fn all(&self) -> &[FindingDef] {
        &self.findings
    }

    /// The definition of an id as text (a finding read back from the wire); `None` when this
    /// catalog does not know it.
    pub fn get(&self, id: &str) -> Option<&FindingDef> {
        self.findings.iter().find(|f| f.id == id)
    }
}

/// A findings catalog with a definition for every [`FindingId`]: what the rules take, so no
/// finding is ever dropped for want of its definition. Reads like the [`FindingsCatalog`] it is.
#[derive(Debug)]
pub struct CompleteCatalog {
    catalog: FindingsCatalog,
    /// For each [`FindingId`] (by [`FindingId::index`]), its definition's place in the catalog.
    by_id: Vec<usize>,
}

impl CompleteCatalog {
    /// Checks that `catalog` defines every id a rule can raise.
    pub fn new(catalog: FindingsCatalog) -> Result<CompleteCatalog, FindingsError> {
        let by_id = FindingId::ALL
            .iter()
            .map(|id| {
                catalog.findings.iter().position(|def| def.id == id.as_str()).ok_or(FindingsError::MissingId(*id))
            })
            .collect::<Result<_, _>>()?;
        Ok(CompleteCatalog { catalog, by_id })
    }

    /// The definition of an id a rule raises.
    pub fn def(&self, id: FindingId) -> &FindingDef {
        // `new` built `by_id` with one in-range position per `FindingId`: this cannot panic.
        &self.catalog.findings[self.by_id[id.index()]]
    }
}

impl Deref for CompleteCatalog {
    type Target = FindingsCatalog;

    fn deref(&self) -> &FindingsCatalog {
        &self.catalog
    }
}

/// A finding definition from the bundled catalog (`None` for an unknown id, or if the bundle
/// failed to parse, which a unit test rules out).
pub fn get(id: &str) -> Option<&'static FindingDef> {
    FindingsCatalog::bundled().ok()?.get(id)
}

/// `MCP01`..`MCP10`.
pub fn is_owasp_mcp_id(id: &str) -> bool {
    // Digits only: `str::parse` would also accept a sign ("+1").
    id.strip_prefix("MCP")
        .filter(|n| n.len() == 2 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u8>().ok())
        .is_some_and(|n| (1..=10).contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPECTED_IDS: [&str; 25] = [
        "MUSTER-SECRET-ENV",
        "MUSTER-SECRET-HEADER",
        "MUSTER-SECRET-URL",
        "MUSTER-SECRET-ARG",
        "MUSTER-SECRET-PACKAGE-SPEC",
        "MUSTER-SECRET-COMMITTABLE",
        "MUSTER-SECRET-FILE-READABLE",
        "MUSTER-SECRET-REUSED",
        "MUSTER-PKG-UNPINNED",
        "MUSTER-PKG-VULNERABLE",
        "MUSTER-PKG-MALICIOUS",
        "MUSTER-PKG-DEPRECATED-VERSION",
        "MUSTER-REMOTE-PLAINTEXT",
        "MUSTER-REMOTE-SSE-DEPRECATED",
        "MUSTER-REMOTE-STATIC-AUTH",
        "MUSTER-REMOTE-NO-AUTH",
        "MUSTER-REMOTE-OAUTH-NO-PKCE",
        "MUSTER-REMOTE-OAUTH-DCR-ONLY",
        "MUSTER-LISTEN-NONLOOPBACK",
        "MUSTER-AUTO-APPROVE",
        "MUSTER-DOCKER-PRIVILEGED",
        "MUSTER-FS-BROAD",
        "MUSTER-SHADOW-SERVER",
        "MUSTER-CONFIG-IGNORED",
        "MUSTER-LETHAL-TRIFECTA",
    ];

    fn bundled() -> &'static FindingsCatalog {
        FindingsCatalog::bundled().expect("bundled findings catalog parses")
    }

    #[test]
    fn bundled_catalog_ids_unique_severities_valid_owasp_in_range() {
        let c = bundled();
        let ids: HashSet<&str> = c.all().iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids.len(), c.all().len(), "ids are unique");
        for f in c.all() {
            assert!(is_owasp_mcp_id(&f.owasp), "{} maps to {}", f.id, f.owasp);
            assert_ne!(f.severity.to_proto(), Severity::Unspecified, "{}", f.id);
            assert!(f.id.starts_with("MUSTER-"), "{}", f.id);
        }
        for id in EXPECTED_IDS {
            assert!(c.get(id).is_some(), "{id} missing");
        }
        assert_eq!(c.all().len(), EXPECTED_IDS.len(), "a new id needs a line in EXPECTED_IDS");
    }

    #[test]
    fn severities_encode_the_intended_ordering() {
        let sev = |id: &str| get(id).map(|f| f.severity).expect("known id");
        // Arguments are world-readable through the process list: worse than a config value.
        assert!(sev("MUSTER-SECRET-ARG") > sev("MUSTER-SECRET-ENV"));
        assert!(sev("MUSTER-SECRET-COMMITTABLE") > sev("MUSTER-SECRET-ENV"));
        assert_eq!(sev("MUSTER-PKG-MALICIOUS"), FindingSeverity::Critical);
        assert_eq!(get("MUSTER-SHADOW-SERVER").map(|f| f.owasp.as_str()), Some("MCP09"));
        assert_eq!(get("MUSTER-LETHAL-TRIFECTA").map(|f| f.owasp.as_str()), Some("MCP06"));
        assert!(get("MUSTER-NOT-A-FINDING").is_none());
    }

    #[test]
    fn to_finding_fills_id_severity_owasp_and_message() {
        let def = get("MUSTER-PKG-VULNERABLE").expect("known id");
        let f = def.to_finding("mcp-remote 0.1.15: CVE-2025-6514");
        assert_eq!(
            (f.id.as_str(), f.severity, f.owasp.as_str(), f.message.as_str()),
            ("MUSTER-PKG-VULNERABLE", Severity::High as i32, "MCP04", "mcp-remote 0.1.15: CVE-2025-6514")
        );
        assert_eq!(def.to_finding_with(FindingSeverity::Critical, "x").severity, Severity::Critical as i32);
    }

    #[test]
    fn owasp_ids_outside_mcp01_to_mcp10_are_rejected() {
        for ok in ["MCP01", "MCP05", "MCP10"] {
            assert!(is_owasp_mcp_id(ok), "{ok}");
        }
        for bad in ["MCP00", "MCP11", "MCP1", "MCP001", "mcp01", "LLM01", "MCP+1", ""] {
            assert!(!is_owasp_mcp_id(bad), "{bad}");
        }
    }

    #[test]
    fn invalid_catalogs_are_rejected() {
        let row = |id: &str, sev: &str, owasp: &str| {
            format!(
                "[[finding]]\nid = \"{id}\"\nseverity = \"{sev}\"\nowasp = \"{owasp}\"\ntitle = \"t\"\nremediation = \"r\"\n"
            )
        };
        let ok = format!("version = 1\n{}", row("MUSTER-A", "low", "MCP01"));
        assert_eq!(FindingsCatalog::from_toml(&ok).expect("valid").all().len(), 1);
        let dup = format!("version = 1\n{}{}", row("MUSTER-A", "low", "MCP01"), row("MUSTER-A", "high", "MCP02"));
        assert!(
            matches!(FindingsCatalog::from_toml(&dup), Err(FindingsError::DuplicateId(ref id)) if id == "MUSTER-A")
        );
        let sev = format!("version = 1\n{}", row("MUSTER-A", "severe", "MCP01"));
        assert!(matches!(FindingsCatalog::from_toml(&sev), Err(FindingsError::Parse(_))));
        let owasp = format!("version = 1\n{}", row("MUSTER-A", "low", "MCP11"));
        assert!(matches!(FindingsCatalog::from_toml(&owasp), Err(FindingsError::Invalid { .. })));
        let id = format!("version = 1\n{}", row("muster-a", "low", "MCP01"));
        assert!(matches!(FindingsCatalog::from_toml(&id), Err(FindingsError::Invalid { .. })));
        let version = format!("version = 3\n{}", row("MUSTER-A", "low", "MCP01"));
        assert!(matches!(FindingsCatalog::from_toml(&version), Err(FindingsError::Version { found: 3, .. })));
    }

    #[test]
    fn a_catalog_missing_an_id_a_rule_raises_does_not_load() {
        for id in FindingId::ALL {
            let header = format!("[[finding]]\nid = \"{id}\"\n");
            let start = BUNDLED_TOML.find(&header).unwrap_or_else(|| panic!("{id} is in the bundled catalog"));
            let end = BUNDLED_TOML[start + header.len()..]
                .find("[[finding]]")
                .map_or(BUNDLED_TOML.len(), |i| start + header.len() + i);
            let without = format!("{}{}", &BUNDLED_TOML[..start], &BUNDLED_TOML[end..]);
            let catalog = FindingsCatalog::from_toml(&without).expect("still a valid catalog text");
            assert_eq!(catalog.all().len(), FindingId::ALL.len() - 1, "{id} removed");
            let err = CompleteCatalog::new(catalog).expect_err("an id a rule raises is missing");
            assert!(matches!(err, FindingsError::MissingId(missing) if missing == *id), "{id}: {err}");
            assert!(err.to_string().contains(id.as_str()), "{err}");
        }
    }

    #[test]
    fn every_id_a_rule_raises_has_its_own_definition() {
        let c = bundled();
        for id in FindingId::ALL {
            assert_eq!(FindingsCatalog::bundled().expect("bundled").def(*id).id, id.as_str());
            assert!(c.get(id.as_str()).is_some(), "{id}");
        }
    }
}
