//! Known advisories for MCP packages: an OSV-format bundle (`agent/data/advisories.osv.json`)
//! shipped in the agent, and the version matching that decides whether a configured package is
//! affected. The control plane can push a newer bundle through [`AdvisoryDb::from_json`].
//!
//! Matching follows OSV range semantics: events are applied in version order, `introduced` is
//! inclusive, `fixed` exclusive, `last_affected` inclusive, and an explicit `versions` list
//! matches exactly. npm versions compare as SemVer 2.0 (the `semver` crate; build metadata
//! ignored, pre-releases sort before their release). PyPI versions compare as PEP 440
//! (`pep440_rs`) in `ECOSYSTEM` ranges; a `SEMVER` range is SemVer whatever the ecosystem.
//!
//! Unpinned packages (no version, `latest`, or a range such as `^1.2.0`) have no version to
//! compare. We count them as possibly affected only when an advisory affects the newest
//! releases, i.e. a range ends in an open `introduced` with no later `fixed` or
//! `last_affected`: a fresh `npx pkg` would install an affected version. A fixed advisory does
//! not match an unpinned package here, because the registry's latest is past the fix; an old
//! copy in the npm or uv cache is for the caller to resolve into a concrete version first.
//! Malicious packages (`MAL-` ids, or `database_specific.malicious`) match every version:
//! whoever published malware under a name controls all of it.
//!
//! Not covered: advisories for hosted services or Go programs (Azure MCP Server CVE-2026-32211,
//! nginx-ui CVE-2026-33032, the Go SDK CVE-2026-34742) and campaigns without package names
//! (SANDWORM_MODE), which no `Package` of ours can match. Records for other ecosystems are
//! kept but never match.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::LazyLock;

use muster_proto::v1::{Ecosystem, Package, Severity};
use serde::Deserialize;

use crate::catalog::normalize_pypi;

pub(crate) const BUNDLED_JSON: &str = include_str!("../../data/advisories.osv.json");

static BUNDLED: LazyLock<Result<AdvisoryDb, AdvisoryError>> = LazyLock::new(|| AdvisoryDb::from_json(BUNDLED_JSON));

/// Why an advisory bundle was rejected.
#[derive(Debug, thiserror::Error)]
pub enum AdvisoryError {
    #[error("advisory bundle is not an array of OSV records: {0}")]
    Json(#[from] serde_json::Error),
    #[error("advisory record {index} has no id")]
    MissingId { index: usize },
    #[error("advisory {id}: version {version:?} is not a valid {scheme} version: {reason}")]
    InvalidVersion { id: String, version: String, scheme: &'static str, reason: String },
    #[error("advisory {id}: {reason}")]
    InvalidRange { id: String, reason: String },
    #[error("advisory {id}: unknown severity {severity:?}")]
    InvalidSeverity { id: String, severity: String },
}

/// One OSV record, as far as the agent uses it. Unknown fields are ignored so newer schema
/// versions still load.
#[derive(Clone, Debug, Deserialize)]
pub struct Advisory {
    pub id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub related: Vec<String>,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub details: String,
    #[serde(default)]
    pub published: Option<String>,
    #[serde(default)]
    pub modified: Option<String>,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub references: Vec<Reference>,
    #[serde(default)]
    pub database_specific: Option<DatabaseSpecific>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Affected {
    pub package: AffectedPackage,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub versions: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AffectedPackage {
    pub ecosystem: String,
    pub name: String,
    #[serde(default)]
    pub purl: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// One range event; OSV sets exactly one of the fields.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Event {
    pub introduced: Option<String>,
    pub fixed: Option<String>,
    pub last_affected: Option<String>,
    pub limit: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Reference {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct DatabaseSpecific {
    /// GitHub-style severity: LOW, MODERATE (or MEDIUM), HIGH, CRITICAL.
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub malicious: bool,
    #[serde(default)]
    pub cwe_ids: Vec<String>,
}

/// The severity an advisory declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AdvisorySeverity {
    Low,
    Moderate,
    High,
    Critical,
}

impl AdvisorySeverity {
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "LOW" => Some(Self::Low),
            "MODERATE" | "MEDIUM" => Some(Self::Moderate),
            "HIGH" => Some(Self::High),
            "CRITICAL" => Some(Self::Critical),
            _ => None,
        }
    }

    pub fn to_proto(self) -> Severity {
        match self {
            Self::Low => Severity::Low,
            Self::Moderate => Severity::Medium,
            Self::High => Severity::High,
            Self::Critical => Severity::Critical,
        }
    }
}

impl Advisory {
    /// A malicious-package record rather than a vulnerability.
    pub fn is_malicious(&self) -> bool {
        self.id.starts_with("MAL-") || self.database_specific.as_ref().is_some_and(|d| d.malicious)
    }

    /// The declared severity; malicious packages are critical when a record leaves it out.
    pub fn severity(&self) -> Option<AdvisorySeverity> {
        let declared =
            self.database_specific.as_ref().and_then(|d| d.severity.as_deref()).and_then(AdvisorySeverity::parse);
        declared.or(self.is_malicious().then_some(AdvisorySeverity::Critical))
    }

    /// CVE ids among the id and aliases.
    pub fn cves(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str())
            .chain(self.aliases.iter().map(String::as_str))
            .filter(|a| a.starts_with("CVE-"))
    }
}

/// Why a package matched an advisory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchBasis {
    /// The exact version is inside an affected range or list.
    Version,
    /// No exact version, and the advisory affects the newest releases.
    UnpinnedLatest,
    /// The package is malicious in every version.
    Malicious,
}

#[derive(Clone, Copy, Debug)]
pub struct AdvisoryMatch<'a> {
    pub advisory: &'a Advisory,
    pub basis: MatchBasis,
}

/// How versions of one range compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    Semver,
    Pep440,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Semver => "SemVer",
            Scheme::Pep440 => "PEP 440",
        }
    }

    fn parse(self, text: &str) -> Result<Version, String> {
        match self {
            Scheme::Semver => parse_semver(text).map(Version::Semver),
            Scheme::Pep440 => pep440_rs::Version::from_str(text.trim()).map(Version::Pep440).map_err(|e| e.to_string()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Version {
    Semver(semver::Version),
    Pep440(pep440_rs::Version),
}

impl Version {
    /// Versions of different schemes never meet: every range is parsed in one scheme.
    fn cmp_same(&self, other: &Version) -> Option<Ordering> {
        match (self, other) {
            (Version::Semver(a), Version::Semver(b)) => Some(a.cmp(b)),
            (Version::Pep440(a), Version::Pep440(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
enum Bound {
    /// `introduced`; `None` is OSV's "0", before every version.
    Introduced(Option<Version>),
    Fixed(Version),
    LastAffected(Version),
}

impl Bound {
    fn version(&self) -> Option<&Version> {
        match self {
            Bound::Introduced(v) => v.as_ref(),
            Bound::Fixed(v) | Bound::LastAffected(v) => Some(v),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Bound::Introduced(_) => 0,
            Bound::LastAffected(_) => 1,
            Bound::Fixed(_) => 2,
        }
    }
}

#[derive(Clone, Debug)]
struct CompiledRange {
    scheme: Scheme,
    /// Sorted by version; "0" first.
    bounds: Vec<Bound>,
}

impl CompiledRange {
    fn contains(&self, v: &Version) -> bool {
        let mut affected = false;
        for bound in &self.bounds {
            let at_or_after = |b: &Version| matches!(v.cmp_same(b), Some(Ordering::Greater | Ordering::Equal));
            match bound {
                Bound::Introduced(None) => affected = true,
                Bound::Introduced(Some(b)) if at_or_after(b) => affected = true,
                Bound::Fixed(b) if at_or_after(b) => affected = false,
                Bound::LastAffected(b) if v.cmp_same(b) == Some(Ordering::Greater) => affected = false,
                _ => {}
            }
        }
        affected
    }

    /// The newest releases are affected: the last event opens a range that nothing closes.
    fn open_ended(&self) -> bool {
        matches!(self.bounds.last(), Some(Bound::Introduced(_)))
    }
}

#[derive(Clone, Debug)]
struct CompiledAffected {
    advisory: usize,
    ranges: Vec<CompiledRange>,
    /// The explicit `versions` list, parsed in the ecosystem's own scheme.
    versions: Vec<Version>,
    native: Scheme,
}

/// A loaded advisory bundle, indexed by (ecosystem, package name).
#[derive(Debug)]
pub struct AdvisoryDb {
    advisories: Vec<Advisory>,
    by_package: HashMap<(Ecosystem, String), Vec<CompiledAffected>>,
}

impl AdvisoryDb {
    /// The bundle shipped in the agent, parsed on first use.
    pub fn bundled() -> Result<&'static AdvisoryDb, &'static AdvisoryError> {
        BUNDLED.as_ref()
    }

    /// Loads an OSV array, checking every version of the npm and PyPI records it can match.
    pub fn from_json(text: &str) -> Result<AdvisoryDb, AdvisoryError> {
        let advisories: Vec<Advisory> = serde_json::from_str(text)?;
        let mut by_package: HashMap<(Ecosystem, String), Vec<CompiledAffected>> = HashMap::new();
        for (index, advisory) in advisories.iter().enumerate() {
            if advisory.id.trim().is_empty() {
                return Err(AdvisoryError::MissingId { index });
            }
            if let Some(severity) = advisory.database_specific.as_ref().and_then(|d| d.severity.as_deref())
                && AdvisorySeverity::parse(severity).is_none()
            {
                return Err(AdvisoryError::InvalidSeverity { id: advisory.id.clone(), severity: severity.to_string() });
            }
            for affected in &advisory.affected {
                let Some((ecosystem, native)) = ecosystem_of(&affected.package.ecosystem) else { continue };
                let compiled = compile_affected(advisory, affected, index, native)?;
                let key = (ecosystem, package_key(ecosystem, &affected.package.name));
                by_package.entry(key).or_default().push(compiled);
            }
        }
        Ok(AdvisoryDb { advisories, by_package })
    }

    pub fn advisories(&self) -> &[Advisory] {
        &self.advisories
    }

    /// The advisory with this id or alias.
    pub fn get(&self, id: &str) -> Option<&Advisory> {
        self.advisories.iter().find(|a| a.id == id || a.aliases.iter().any(|x| x == id))
    }

    /// Advisories that affect the package (see the module docs for unpinned packages).
    pub fn matches(&self, package: &Package) -> Vec<&Advisory> {
        self.assess(package).into_iter().map(|m| m.advisory).collect()
    }

    /// Like [`AdvisoryDb::matches`], with the reason for each match. Each advisory appears once.
    pub fn assess(&self, package: &Package) -> Vec<AdvisoryMatch<'_>> {
        let ecosystem = package.ecosystem();
        let Some(entries) = self.by_package.get(&(ecosystem, package_key(ecosystem, &package.name))) else {
            return Vec::new();
        };
        let mut out: Vec<AdvisoryMatch<'_>> = Vec::new();
        for entry in entries {
            let advisory = &self.advisories[entry.advisory];
            if advisory.withdrawn.is_some() || out.iter().any(|m| std::ptr::eq(m.advisory, advisory)) {
                continue;
            }
            if let Some(basis) = entry_matches(entry, advisory, package.version.as_deref()) {
                out.push(AdvisoryMatch { advisory, basis });
            }
        }
        out
    }
}

fn entry_matches(entry: &CompiledAffected, advisory: &Advisory, version: Option<&str>) -> Option<MatchBasis> {
    if advisory.is_malicious() {
        return Some(MatchBasis::Malicious);
    }
    let exact = version.and_then(|v| exact_version_text(v, entry.native));
    let Some(text) = exact else {
        return entry.ranges.iter().any(CompiledRange::open_ended).then_some(MatchBasis::UnpinnedLatest);
    };
    let in_list = entry.native.parse(text).is_ok_and(|v| entry.versions.contains(&v));
    let in_range = entry.ranges.iter().any(|r| r.scheme.parse(text).is_ok_and(|v| r.contains(&v)));
    (in_list || in_range).then_some(MatchBasis::Version)
}

/// The version text if it names one exact release in the ecosystem's scheme, `None` for
/// `latest`, tags, ranges and empty strings.
fn exact_version_text(version: &str, native: Scheme) -> Option<&str> {
    let v = version.trim();
    let v = v.strip_prefix("==").unwrap_or(v).trim();
    if v.is_empty() || v.eq_ignore_ascii_case("latest") {
        return None;
    }
    let exact = match native {
        // npm reads `1.2` as "latest 1.2.x", so only a full SemVer version is exact.
        Scheme::Semver => parse_semver_strict(v).is_ok(),
        Scheme::Pep440 => native.parse(v).is_ok(),
    };
    exact.then_some(v)
}

fn ecosystem_of(osv: &str) -> Option<(Ecosystem, Scheme)> {
    match osv {
        "npm" => Some((Ecosystem::Npm, Scheme::Semver)),
        "PyPI" => Some((Ecosystem::Pypi, Scheme::Pep440)),
        _ => None,
    }
}

fn package_key(ecosystem: Ecosystem, name: &str) -> String {
    match ecosystem {
        Ecosystem::Pypi => normalize_pypi(name),
        _ => name.trim().to_string(),
    }
}

/// SemVer with a leading `v` allowed and build metadata dropped (it has no precedence).
fn parse_semver_strict(text: &str) -> Result<semver::Version, semver::Error> {
    let t = text.trim();
    let t = t.strip_prefix('v').unwrap_or(t);
    semver::Version::parse(t).map(|v| semver::Version { build: semver::BuildMetadata::EMPTY, ..v })
}

/// [`parse_semver_strict`], except that a plain `1.2` or `1` is padded with zeros so
/// PyPI-style releases can sit in a `SEMVER` range. Never used to decide whether an npm
/// version is exact.
fn parse_semver(text: &str) -> Result<semver::Version, String> {
    let t = text.trim();
    let t = t.strip_prefix('v').unwrap_or(t);
    parse_semver_strict(t).or_else(|e| {
        let parts = t.split('.').count();
        let numeric = t.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if numeric && parts < 3 {
            parse_semver_strict(&format!("{t}{}", ".0".repeat(3 - parts))).map_err(|e| e.to_string())
        } else {
            Err(e.to_string())
        }
    })
}

fn compile_affected(
    advisory: &Advisory,
    affected: &Affected,
    index: usize,
    native: Scheme,
) -> Result<CompiledAffected, AdvisoryError> {
    let parse = |scheme: Scheme, text: &str| {
        scheme.parse(text).map_err(|reason| AdvisoryError::InvalidVersion {
            id: advisory.id.clone(),
            version: text.to_string(),
            scheme: scheme.name(),
            reason,
        })
    };
    let invalid = |reason: &str| AdvisoryError::InvalidRange { id: advisory.id.clone(), reason: reason.to_string() };
    let mut ranges = Vec::new();
    for range in &affected.ranges {
        let scheme = match range.kind.as_str() {
            "SEMVER" => Scheme::Semver,
            "ECOSYSTEM" => native,
            // GIT ranges name commits; nothing on a laptop config maps to them.
            _ => continue,
        };
        let mut bounds = Vec::new();
        let (mut has_fixed, mut has_last) = (false, false);
        for event in &range.events {
            let set = [&event.introduced, &event.fixed, &event.last_affected, &event.limit];
            if set.iter().filter(|f| f.is_some()).count() != 1 {
                return Err(invalid("each event must set exactly one of introduced, fixed, last_affected, limit"));
            }
            if let Some(v) = &event.introduced {
                bounds.push(Bound::Introduced(if v == "0" { None } else { Some(parse(scheme, v)?) }));
            } else if let Some(v) = &event.fixed {
                has_fixed = true;
                bounds.push(Bound::Fixed(parse(scheme, v)?));
            } else if let Some(v) = &event.last_affected {
                has_last = true;
                bounds.push(Bound::LastAffected(parse(scheme, v)?));
            }
            // `limit` only bounds GIT ranges, which are skipped above.
        }
        if has_fixed && has_last {
            return Err(invalid("a range may not mix fixed and last_affected events"));
        }
        if !bounds.iter().any(|b| matches!(b, Bound::Introduced(_))) {
            return Err(invalid("a range needs an introduced event"));
        }
        bounds.sort_by(|a, b| match (a.version(), b.version()) {
            (None, None) => a.rank().cmp(&b.rank()),
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => x.cmp_same(y).unwrap_or(Ordering::Equal).then(a.rank().cmp(&b.rank())),
        });
        ranges.push(CompiledRange { scheme, bounds });
    }
    // Registries hold some legacy version strings their own scheme rejects; such an entry can
    // never equal a parseable configured version, so it is dropped rather than failing the bundle.
    let versions = affected.versions.iter().filter_map(|v| native.parse(v).ok()).collect();
    Ok(CompiledAffected { advisory: index, ranges, versions, native })
}

#[cfg(test)]
mod tests;
