//! The built-in rules (`policy/data/builtin.toml`): today's agent findings that need only
//! reported facts, as conditions in the policy language itself, so a built-in rule is
//! evaluated by exactly the same code as a written one.

use std::collections::BTreeMap;

use crate::file::RawCondition;

const CATALOG: &str = include_str!("../data/builtin.toml");

fn catalog() -> BTreeMap<String, toml::Value> {
    // Checked by `catalog_parses` below: the embedded text is a table of tables.
    toml::from_str(CATALOG).unwrap_or_default()
}

/// Ids of the built-in rules, sorted.
pub fn ids() -> Vec<String> {
    catalog().into_keys().collect()
}

/// The condition of one built-in rule.
pub(crate) fn condition(id: &str) -> Option<RawCondition> {
    let table = catalog().remove(id)?;
    crate::file::parse_builtin_condition(&toml::to_string(&table).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_parses() {
        let ids = ids();
        assert!(ids.len() >= 11, "{ids:?}");
        for id in &ids {
            assert!(condition(id).is_some(), "built-in {id} does not parse as a condition");
        }
    }
}
