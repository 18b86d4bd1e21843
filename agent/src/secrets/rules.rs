//! The credential rules in force: the built-in shape rules ([`super::providers::RULES`]) and the
//! rows of the built-in `credentials.toml` ([`super::keyshapes`]), with a data bundle's
//! `credentials_toml` rows merged on top (`docs/adr/0028-credential-formats-in-data-bundles.md`).
//!
//! The merge only adds: built-in rules come first in match order and stay whatever a bundle
//! says; a bundle row adds its shape when no rule has the same kind and pattern, its name
//! keywords, and its catalog ids when no row already names them. A bundle cannot remove or
//! narrow a built-in shape, keyword or catalog mapping.
//!
//! One set is in force per process ([`current`]), swapped whole by [`install`] (an `Arc` under
//! an `RwLock`): a scan that started with a set keeps the rules it looked up, the next lookup
//! sees the new set. Only the data holder (`crate::data_bundle::DataHolder`) installs, after it
//! accepted a bundle whose part compiled.
//!
//! Not here: reading bundles and deciding whether they are used (`crate::data_bundle`), the
//! file's schema (`muster_keyshapes`), matching values (`super::providers`).

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock};

use muster_keyshapes::{KeyRow, KeysError, ShapeConfidence};

use super::detection::Confidence;
use super::keyshapes;
use super::providers::{RULES, Rule, ShapeSet};

/// A complete set of credential rules: shapes, name keywords, catalog ids.
pub struct CredentialRules {
    shapes: ShapeSet,
    /// Name keyword (upper case) and the provider it points at, in lookup order.
    hints: Vec<(String, &'static str)>,
    /// Catalog row id and the provider of its credential.
    catalog: Vec<(String, &'static str)>,
}

impl std::fmt::Debug for CredentialRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialRules")
            .field("shapes", &self.shapes.compiled().len())
            .field("hints", &self.hints.len())
            .field("catalog", &self.catalog.len())
            .finish()
    }
}

static BUILTIN: LazyLock<Arc<CredentialRules>> = LazyLock::new(|| {
    let mut rules = CredentialRules::empty();
    rules.merge(&keyshapes::ROWS);
    Arc::new(rules)
});

static CURRENT: LazyLock<RwLock<Arc<CredentialRules>>> = LazyLock::new(|| RwLock::new(BUILTIN.clone()));

/// The rules scans use now.
pub fn current() -> Arc<CredentialRules> {
    // A writer only ever replaces the whole `Arc`, so a poisoned lock still holds a whole set.
    CURRENT.read().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Puts `rules` in force for every lookup from now on.
pub fn install(rules: Arc<CredentialRules>) {
    *CURRENT.write().unwrap_or_else(PoisonError::into_inner) = rules;
}

/// The first rule of the set in force the whole token satisfies, including its offline check.
pub fn match_token(token: &str) -> Option<Rule> {
    current().shapes().match_token(token)
}

/// The first rule of the set in force whose *shape* the whole token has, ignoring its offline
/// check: a GitHub look-alike with a wrong checksum is still masked on its way out, though never
/// reported as GitHub's (see [`super::scrub`]).
pub fn match_shape(token: &str) -> Option<Rule> {
    current().shapes().match_shape(token)
}

/// The provider whose credential a catalog row uses, when a row of the rules in force names it.
pub fn provider_for_catalog_id(id: &str) -> Option<&'static str> {
    current().provider_for_catalog_id(id)
}

fn confidence(c: ShapeConfidence) -> Confidence {
    match c {
        ShapeConfidence::High => Confidence::High,
        ShapeConfidence::Medium => Confidence::Medium,
    }
}

/// Names of kinds and providers, and patterns, live as long as the process: a [`Rule`] and a
/// `Detection` carry `&'static str`. Each distinct text is leaked once, so memory grows with the
/// distinct names bundles ever brought, not with the number of bundles.
fn intern(text: &str) -> &'static str {
    static TEXTS: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Mutex::default);
    let mut texts = TEXTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = texts.get(text) {
        return known;
    }
    let leaked: &'static str = Box::leak(text.to_owned().into_boxed_str());
    texts.insert(leaked);
    leaked
}

impl CredentialRules {
    fn empty() -> CredentialRules {
        CredentialRules { shapes: ShapeSet::new(RULES.to_vec()), hints: Vec::new(), catalog: Vec::new() }
    }

    /// The rules built into this agent: the floor every bundle is merged over.
    pub fn builtin() -> Arc<CredentialRules> {
        BUILTIN.clone()
    }

    /// The built-in rules with the rows of a bundle's `credentials.toml` merged on top; the
    /// text's first problem, with its place, when it does not parse or a pattern does not compile.
    pub fn with_bundle(text: &str) -> Result<CredentialRules, KeysError> {
        let rows = keyshapes::parse(text)?;
        let mut rules = CredentialRules::empty();
        rules.merge(&keyshapes::ROWS);
        rules.merge(&rows);
        Ok(rules)
    }

    /// Adds what `rows` have that the set lacks (see the module doc).
    fn merge(&mut self, rows: &[KeyRow]) {
        let mut shapes: Vec<Rule> = self.shapes.rules().copied().collect();
        for row in rows {
            let provider = intern(&row.provider);
            if let (Some(kind), Some(pattern), Some(c)) = (&row.kind, &row.pattern, row.confidence)
                && !shapes.iter().any(|r| r.kind == kind && r.pattern == pattern)
            {
                shapes.push(Rule {
                    kind: intern(kind),
                    provider,
                    pattern: intern(pattern),
                    check: None,
                    confidence: confidence(c),
                });
            }
            for name in &row.names {
                if !self.hints.iter().any(|(n, p)| n == name && *p == provider) {
                    self.hints.push((name.clone(), provider));
                }
            }
            for id in &row.servers {
                if !self.catalog.iter().any(|(known, _)| known == id) {
                    self.catalog.push((id.clone(), provider));
                }
            }
        }
        self.shapes = ShapeSet::new(shapes);
    }

    /// The shape rules, in match order.
    pub fn shapes(&self) -> &ShapeSet {
        &self.shapes
    }

    /// The provider of the first keyword `matches` accepts.
    pub fn hint(&self, matches: impl Fn(&str) -> bool) -> Option<&'static str> {
        self.hints.iter().find(|(keyword, _)| matches(keyword)).map(|(_, provider)| *provider)
    }

    /// The provider whose credential a catalog row uses, when a row names it.
    pub fn provider_for_catalog_id(&self, id: &str) -> Option<&'static str> {
        self.catalog.iter().find(|(known, _)| known == id).map(|(_, provider)| *provider)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const BUILTIN_TOML: &str = include_str!("../../data/credentials.toml");

    fn kinds(rules: &CredentialRules) -> Vec<(&'static str, &'static str)> {
        rules.shapes().rules().map(|r| (r.kind, r.pattern)).collect()
    }

    #[test]
    fn the_built_in_file_as_a_bundle_changes_nothing() {
        let merged = CredentialRules::with_bundle(BUILTIN_TOML).unwrap();
        assert_eq!(kinds(&merged), kinds(&CredentialRules::builtin()));
        assert_eq!(merged.hints, CredentialRules::builtin().hints);
        assert_eq!(merged.catalog, CredentialRules::builtin().catalog);
    }

    #[test]
    fn a_bundle_row_for_a_built_in_kind_adds_and_never_replaces() {
        let text = "version = 1\n[[key]]\nprovider = \"tavily\"\nservers = [\"tavily-local\", \"new-row\"]\n\
                    names = [\"TAVILY\"]\nkind = \"tavily-api-key\"\npattern = 'tvly2-[a-z]{30}'\n\
                    confidence = \"high\"\nsource = \"test\"\n";
        let merged = CredentialRules::with_bundle(text).unwrap();
        let builtin = CredentialRules::builtin();
        assert_eq!(kinds(&merged)[..kinds(&builtin).len()], kinds(&builtin)[..], "built-in shapes first, unchanged");
        assert_eq!(kinds(&merged).len(), kinds(&builtin).len() + 1);
        assert_eq!(merged.provider_for_catalog_id("new-row"), Some("tavily"));
        assert_eq!(merged.provider_for_catalog_id("brave-search"), Some("brave"));
    }

    #[test]
    fn catalog_ids_map_to_providers() {
        let builtin = CredentialRules::builtin();
        assert_eq!(builtin.provider_for_catalog_id("brave-search"), Some("brave"));
        assert_eq!(builtin.provider_for_catalog_id("sentry-local"), Some("sentry"));
        assert_eq!(builtin.provider_for_catalog_id("no-such-row"), None);
    }

    #[test]
    fn interned_names_are_shared() {
        assert!(std::ptr::eq(intern("zorblax-key"), intern(&String::from("zorblax-key"))));
    }
}
