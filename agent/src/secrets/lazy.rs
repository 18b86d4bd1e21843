//! Regexes compiled on first use, behind cheap checks that decide most values without them.
//!
//! The detector has about a hundred shape rules; compiling them all at start-up cost most of a
//! scan's time and memory, while a typical value can only ever match the few rules whose literal
//! prefix it starts with (`ghp_`, `xoxb-`, `AKIA`, ...). A [`LazyRegex`] checks what the parsed
//! pattern tells without compiling it ([`PatternFacts`]: the literal prefixes every match starts
//! with, a literal every match contains, the length range) and compiles its pattern only when a
//! value gets past them.

use std::sync::OnceLock;

use regex::Regex;
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Hir, HirKind};

/// What a pattern says about every one of its matches, read from its syntax tree (no automaton
/// is built). Sound: a text that fails one of these checks cannot match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatternFacts {
    /// Every match starts with one of these (empty: no literal prefix is known).
    pub prefixes: Vec<String>,
    /// A literal every match contains (the longest top-level one), if any.
    pub required: Option<String>,
    /// Length bounds of a match, in bytes.
    pub min_len: usize,
    pub max_len: Option<usize>,
}

/// More prefixes than this are cut shorter until they fit (`ntn_[0-9]{11}` would give hundreds).
const MAX_PREFIXES: usize = 16;

impl PatternFacts {
    /// The facts of `pattern`; none (everything may match) when it does not parse.
    pub fn of(pattern: &str) -> PatternFacts {
        let Ok(hir) = regex_syntax::parse(pattern) else { return PatternFacts::default() };
        let props = hir.properties();
        PatternFacts {
            prefixes: prefixes(&hir),
            required: required_literal(&hir),
            min_len: props.minimum_len().unwrap_or(0),
            max_len: props.maximum_len(),
        }
    }

    /// Whether a whole value could match (length, prefix, required literal).
    pub fn could_match_whole(&self, value: &str) -> bool {
        value.len() >= self.min_len
            && self.max_len.is_none_or(|max| value.len() <= max)
            && (self.prefixes.is_empty() || self.prefixes.iter().any(|p| value.starts_with(p.as_str())))
            && self.required.as_deref().is_none_or(|r| value.contains(r))
    }
}

fn prefixes(hir: &Hir) -> Vec<String> {
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
    let Some(literals) = seq.literals() else { return Vec::new() };
    let mut bytes: Vec<Vec<u8>> = literals.iter().map(|l| l.as_bytes().to_vec()).collect();
    let mut keep = bytes.iter().map(Vec::len).max().unwrap_or(0);
    loop {
        bytes.iter_mut().for_each(|b| b.truncate(keep));
        bytes.sort();
        bytes.dedup();
        if bytes.len() <= MAX_PREFIXES || keep <= 1 {
            break;
        }
        keep -= 1;
    }
    // An empty prefix says nothing; one that is not text (a class cut inside a UTF-8
    // sequence) is dropped with all others rather than leave a match unannounced.
    if bytes.len() > MAX_PREFIXES || bytes.iter().any(Vec::is_empty) {
        return Vec::new();
    }
    bytes.into_iter().map(String::from_utf8).collect::<Result<Vec<_>, _>>().unwrap_or_default()
}

fn required_literal(hir: &Hir) -> Option<String> {
    let HirKind::Concat(parts) = hir.kind() else { return None };
    parts
        .iter()
        .filter_map(|p| match p.kind() {
            HirKind::Literal(l) => std::str::from_utf8(&l.0).ok(),
            _ => None,
        })
        .max_by_key(|l| l.len())
        .map(str::to_string)
}

/// A whole-value (anchored) regex, compiled when first needed.
pub struct LazyRegex {
    pattern: String,
    /// [`literal_prefix`]: found by a scan of the pattern text, far cheaper than parsing it, and
    /// enough to turn away most values before the facts are read.
    prefix: String,
    facts: OnceLock<PatternFacts>,
    compiled: OnceLock<Option<Regex>>,
}

impl LazyRegex {
    /// Matches the whole value against `pattern` (given without anchors).
    pub fn whole(pattern: &str) -> LazyRegex {
        LazyRegex {
            pattern: pattern.to_string(),
            prefix: literal_prefix(pattern),
            facts: OnceLock::new(),
            compiled: OnceLock::new(),
        }
    }

    pub fn is_match(&self, value: &str) -> bool {
        value.starts_with(&self.prefix)
            && self.facts().could_match_whole(value)
            && self.regex().is_some_and(|re| re.is_match(value))
    }

    /// The literal prefix found without parsing (empty when there is none or it is not simple).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// What the pattern says without compiling it (parsed on first need).
    pub fn facts(&self) -> &PatternFacts {
        self.facts.get_or_init(|| PatternFacts::of(&self.pattern))
    }

    /// Whether the pattern compiles (tests call this for every rule).
    pub fn compiles(&self) -> bool {
        self.regex().is_some()
    }

    fn regex(&self) -> Option<&Regex> {
        self.compiled.get_or_init(|| muster_keyshapes::whole_regex(&self.pattern).ok()).as_ref()
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
    fn facts_read_from_the_syntax() {
        let f = PatternFacts::of(r"(?:AKIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}");
        assert_eq!(f.prefixes, ["A3T", "ABIA", "ACCA", "AKIA"]);
        assert_eq!((f.min_len, f.max_len), (20, Some(20)));
        let f = PatternFacts::of(r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=\-]{60,70}");
        assert!(f.prefixes.is_empty());
        assert_eq!(f.required.as_deref(), Some(".atlasv1."));
        let f = PatternFacts::of(r"ntn_[0-9]{11}[A-Za-z0-9]{35}");
        assert!(!f.prefixes.is_empty() && f.prefixes.len() <= MAX_PREFIXES, "{:?}", f.prefixes);
        assert!(f.prefixes.iter().all(|p| p.starts_with("ntn_")), "{:?}", f.prefixes);
        assert!(PatternFacts::of(r"[A-Za-z0-9]{84}").could_match_whole(&"a".repeat(84)));
        assert!(!PatternFacts::of(r"[A-Za-z0-9]{84}").could_match_whole(&"a".repeat(83)));
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
