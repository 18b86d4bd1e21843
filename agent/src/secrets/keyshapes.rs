//! Credential formats of catalog services, as data: `agent/data/credentials.toml`, embedded at
//! build time and parsed once with the schema shared with the control plane
//! (`muster_keyshapes`). Each row names a provider, the catalog rows whose credential it is, the
//! name keywords that point at it (`BRAVE` in `${BRAVE_API_KEY}`) and, where the vendor has one,
//! the key's whole-token shape. [`super::rules`] merges these rows, and a data bundle's, into the
//! rules in force: the shapes join the built-in rules of [`super::providers`]; the keywords
//! extend [`super::names::provider_hint`].
//!
//! This module only holds the built-in data. It does not match values (the providers' prefix
//! index does) and does not know the service catalog (the file names catalog row ids; a test
//! checks them against `services.toml`).

use std::sync::LazyLock;

pub use muster_keyshapes::{KEYS_VERSION, KeyRow, KeysError, ShapeConfidence, parse};

/// The built-in file, as shipped.
pub const BUNDLED_TOML: &str = include_str!("../../data/credentials.toml");

/// The bundled rows; empty if the bundled file were broken (the `bundled_rows_parse` test
/// makes sure it is not, so the built-in rules are never silently short of them in a release).
pub static ROWS: LazyLock<Vec<KeyRow>> = LazyLock::new(|| parse(BUNDLED_TOML).unwrap_or_default());

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
}
