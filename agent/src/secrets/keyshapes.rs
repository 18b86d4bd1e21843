//! Credential formats of catalog services, as data: `agent/data/credentials.toml`, embedded at
//! build time and parsed once. Each row names a provider, the catalog rows whose credential it
//! is, the name keywords that point at it (`BRAVE` in `${BRAVE_API_KEY}`) and, where the vendor
//! has one, the key's whole-token shape. The shapes join the built-in rules of
//! [`super::providers`]; the keywords extend [`super::names::provider_hint`].
//!
//! This module only holds the data. It does not match values (the providers' prefix index
//! does) and does not know the service catalog (the file names catalog row ids; a test checks
//! them against `services.toml`).

use std::sync::LazyLock;

use serde::Deserialize;

use super::detection::Confidence;

/// The schema version of `credentials.toml` this code understands.
pub const KEYS_VERSION: u32 = 1;

const BUNDLED_TOML: &str = include_str!("../../data/credentials.toml");

/// How sure a shape match is, as written in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShapeConfidence {
    High,
    Medium,
}

impl ShapeConfidence {
    pub fn confidence(self) -> Confidence {
        match self {
            ShapeConfidence::High => Confidence::High,
            ShapeConfidence::Medium => Confidence::Medium,
        }
    }
}

/// One `[[key]]` row.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRow {
    pub provider: String,
    #[serde(default)]
    pub servers: Vec<String>,
    #[serde(default)]
    pub names: Vec<String>,
    pub kind: Option<String>,
    pub pattern: Option<String>,
    pub confidence: Option<ShapeConfidence>,
    pub source: Option<String>,
    pub note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    version: u32,
    #[serde(default)]
    key: Vec<KeyRow>,
}

/// Why a credentials text was rejected.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("credential formats do not match their schema: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("credential formats version {found} is not supported (expected {expected})")]
    Version { found: u32, expected: u32 },
    #[error("credential format row for {provider:?}: {problem}")]
    InvalidRow { provider: String, problem: &'static str },
}

/// Parses and checks a credentials text: a row with a pattern has a kind, a confidence and a
/// source; a row without one says why in `note`; names are upper case.
pub fn parse(text: &str) -> Result<Vec<KeyRow>, KeysError> {
    let file: KeysFile = toml::from_str(text)?;
    if file.version != KEYS_VERSION {
        return Err(KeysError::Version { found: file.version, expected: KEYS_VERSION });
    }
    for row in &file.key {
        let invalid = |problem| KeysError::InvalidRow { provider: row.provider.clone(), problem };
        if row.provider.is_empty()
            || row.provider.chars().any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        {
            return Err(invalid("provider must be a lower-case slug"));
        }
        if row
            .names
            .iter()
            .any(|n| n.is_empty() || n.chars().any(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')))
        {
            return Err(invalid("names are upper-case keywords"));
        }
        match &row.pattern {
            Some(_) if row.kind.is_none() || row.confidence.is_none() || row.source.is_none() => {
                return Err(invalid("a pattern needs a kind, a confidence and a source"));
            }
            None if row.note.is_none() || row.kind.is_some() => {
                return Err(invalid("a row without a pattern has no kind and says why in note"));
            }
            _ => {}
        }
    }
    Ok(file.key)
}

/// The bundled rows; empty if the bundled file were broken (the `bundled_rows_parse` test
/// makes sure it is not, so the built-in rules are never silently short of them in a release).
pub static ROWS: LazyLock<Vec<KeyRow>> = LazyLock::new(|| parse(BUNDLED_TOML).unwrap_or_default());

/// The provider whose credential a catalog row uses, when a row names it.
pub fn provider_for_catalog_id(id: &str) -> Option<&'static str> {
    let rows: &'static [KeyRow] = &ROWS;
    rows.iter().find(|r| r.servers.iter().any(|s| s == id)).map(|r| r.provider.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_rows_parse() {
        let rows = parse(BUNDLED_TOML).expect("bundled credentials.toml");
        assert!(rows.iter().filter(|r| r.pattern.is_some()).count() >= 15);
        assert_eq!(ROWS.len(), rows.len());
    }

    #[test]
    fn broken_rows_are_refused_with_the_provider_named() {
        let no_source =
            "version = 1\n[[key]]\nprovider = \"x\"\nkind = \"x-key\"\npattern = 'x_[a-z]{9}'\nconfidence = \"high\"\n";
        let e = parse(no_source).expect_err("no source");
        assert!(e.to_string().contains("\"x\""), "{e}");
        assert!(parse("version = 1\n[[key]]\nprovider = \"x\"\n").is_err(), "no pattern and no note");
        assert!(parse("version = 2\n").is_err());
        assert!(parse("version = 1\n[[key]]\nprovider = \"x\"\nnote = \"n\"\nnames = [\"lower\"]\n").is_err());
    }

    #[test]
    fn catalog_ids_map_to_providers() {
        assert_eq!(provider_for_catalog_id("brave-search"), Some("brave"));
        assert_eq!(provider_for_catalog_id("sentry-local"), Some("sentry"));
        assert_eq!(provider_for_catalog_id("no-such-row"), None);
    }
}
