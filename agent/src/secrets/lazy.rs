//! Regexes compiled on first use, behind a literal-prefix check.
//!
//! The detector has about a hundred shape rules; compiling them all at start-up cost most of a
//! scan's time and memory, while a typical value can only ever match the few rules whose literal
//! prefix it starts with (`ghp_`, `xoxb-`, `AKIA`, ...). A [`LazyRegex`] compares that prefix
//! first and compiles its pattern only when a value gets past it.

use std::sync::OnceLock;

use regex::Regex;

/// A whole-value (anchored) regex, compiled when first needed.
pub struct LazyRegex {
    anchored: String,
    prefix: String,
    compiled: OnceLock<Option<Regex>>,
}

impl LazyRegex {
    /// Matches the whole value against `pattern` (given without anchors).
    pub fn whole(pattern: &str) -> LazyRegex {
        LazyRegex { anchored: format!("^(?:{pattern})$"), prefix: literal_prefix(pattern), compiled: OnceLock::new() }
    }

    pub fn is_match(&self, value: &str) -> bool {
        value.starts_with(&self.prefix) && self.regex().is_some_and(|re| re.is_match(value))
    }

    /// Whether the pattern compiles (tests call this for every rule).
    pub fn compiles(&self) -> bool {
        self.regex().is_some()
    }

    fn regex(&self) -> Option<&Regex> {
        self.compiled.get_or_init(|| Regex::new(&self.anchored).ok()).as_ref()
    }
}

/// The literal text every match of `pattern` starts with: the characters before the first
/// regex metacharacter, minus a last character that a quantifier makes optional or repeats.
pub fn literal_prefix(pattern: &str) -> String {
    let mut out = String::new();
    for c in pattern.chars() {
        match c {
            '*' | '+' | '?' | '{' => {
                out.pop();
                break;
            }
            '\\' | '[' | '(' | '.' | '|' | '^' | '$' | ')' | ']' | '}' => break,
            c => out.push(c),
        }
    }
    // An alternation anywhere at the top level means no common prefix.
    if pattern.contains('|') && !pattern.starts_with("(?:") && top_level_alternation(pattern) {
        return String::new();
    }
    out
}

fn top_level_alternation(pattern: &str) -> bool {
    let mut depth = 0i32;
    let mut escaped = false;
    let mut in_class = false;
    for c in pattern.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => depth -= 1,
            '|' if !in_class && depth == 0 => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(literal_prefix(r"ghp_[A-Za-z0-9]{36}"), "ghp_");
        assert_eq!(literal_prefix(r"xoxb-[0-9]+"), "xoxb-");
        assert_eq!(literal_prefix(r"ab?c"), "a");
        assert_eq!(literal_prefix(r"(?:glrt-|GR1348941)[A-Z]+"), "");
        assert_eq!(literal_prefix(r"sk-ant-api03-[A-Za-z0-9_\-]{93}AA"), "sk-ant-api03-");
        assert_eq!(literal_prefix(r"AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}"), "");
        assert_eq!(literal_prefix(r"s\.[A-Za-z0-9]{24}"), "s");
    }

    #[test]
    fn lazy_matching_agrees_with_the_regex() {
        let re = LazyRegex::whole(r"ghp_[A-Za-z0-9]{4}");
        assert!(re.is_match("ghp_abcd"));
        assert!(!re.is_match("ghp_abcde"));
        assert!(!re.is_match("xghp_abcd"));
        let alt = LazyRegex::whole(r"AKIA[0-9]{2}|ASIA[0-9]{2}");
        assert!(alt.is_match("ASIA12"));
    }
}
