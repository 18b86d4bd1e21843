//! The credential formats file (`agent/data/credentials.toml`, and the `credentials_toml` part of
//! a data bundle): its schema, parsed and checked with the place (line, column) of every problem,
//! and each key shape compiled exactly as the agent's detector compiles it ([`whole_regex`]).
//!
//! One crate for both sides (`docs/adr/0028-credential-formats-in-data-bundles.md`): the agent
//! parses its built-in file and a bundle's part with [`parse`], and the control plane calls the
//! same [`parse`] before it publishes, so a part an agent would refuse (a bad regex, a row
//! missing its source) is refused at publish with its place, and nothing is published.
//!
//! Not here: matching values and the built-in shape rules (the agent's `secrets::providers`),
//! merging a bundle's rows over the built-in ones (the agent's `secrets::rules`), the service
//! catalog the rows name.

#![forbid(unsafe_code)]

use std::fmt;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use toml::Spanned;

/// The schema version of `credentials.toml` this code understands.
pub const KEYS_VERSION: u32 = 1;

/// Most rows one file may hold (the built-in file has about fifty).
pub const MAX_ROWS: usize = 2_000;

/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 1_024;

/// Shortest value a key shape may match: a shape that matches short words would mask and report
/// ordinary text.
pub const MIN_MATCH_LEN: usize = 8;

/// Most memory one compiled key shape may take (the regex crate's `size_limit`).
pub const REGEX_SIZE_LIMIT: usize = 2 * 1024 * 1024;

/// How sure a shape match is, as written in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShapeConfidence {
    High,
    Medium,
}

/// One `[[key]]` row, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRow {
    pub provider: String,
    pub servers: Vec<String>,
    pub names: Vec<String>,
    pub kind: Option<String>,
    pub pattern: Option<String>,
    pub confidence: Option<ShapeConfidence>,
    pub source: Option<String>,
    pub note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
    provider: Spanned<String>,
    #[serde(default)]
    servers: Vec<String>,
    #[serde(default)]
    names: Vec<String>,
    kind: Option<String>,
    pattern: Option<Spanned<String>>,
    confidence: Option<ShapeConfidence>,
    source: Option<String>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: Spanned<u32>,
    #[serde(default)]
    key: Vec<RawRow>,
}

/// A place in the file, both 1-based (columns count characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub line: usize,
    pub column: usize,
}

impl Place {
    /// The place of byte `offset` in `text` (the end of the text when past it).
    pub fn of(text: &str, offset: usize) -> Place {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Place { line: before.matches('\n').count() + 1, column: before[line_start..].chars().count() + 1 }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why a credentials text was refused. Each names its place; none quotes a value of the file
/// but the row's provider (a slug) and the regex parser's own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    #[error("credential formats: {}: {message}", place.map_or_else(|| "somewhere".to_string(), |p| p.to_string()))]
    Parse { place: Option<Place>, message: String },
    #[error("credential formats: {place}: version {found} is not supported (expected {expected})")]
    Version { place: Place, found: u32, expected: u32 },
    #[error("credential formats: more than {max} rows", max = MAX_ROWS)]
    TooManyRows,
    #[error("credential formats: {place}: row for {provider:?}: {problem}")]
    InvalidRow { place: Place, provider: String, problem: &'static str },
    #[error("credential formats: {place}: pattern of the row for {provider:?}: {problem}")]
    Pattern { place: Place, provider: String, problem: String },
}

impl KeysError {
    /// Where the problem is, when known.
    pub fn place(&self) -> Option<Place> {
        match self {
            KeysError::Parse { place, .. } => *place,
            KeysError::Version { place, .. }
            | KeysError::InvalidRow { place, .. }
            | KeysError::Pattern { place, .. } => Some(*place),
            KeysError::TooManyRows => None,
        }
    }
}

/// Why a pattern cannot be a key shape, with the byte offset in the pattern where the regex
/// parser saw the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternProblem {
    pub offset: usize,
    pub message: String,
}

/// A pattern as a whole-token regex (anchored), compiled with [`REGEX_SIZE_LIMIT`]: how the
/// agent's detector compiles every key shape.
pub fn whole_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&format!("^(?:{pattern})$")).size_limit(REGEX_SIZE_LIMIT).build()
}

/// Checks that `pattern` is a usable key shape: at most [`MAX_PATTERN_LEN`] bytes, a regex the
/// regex crate accepts, matching nothing shorter than [`MIN_MATCH_LEN`], and compiling within
/// [`REGEX_SIZE_LIMIT`].
pub fn check_pattern(pattern: &str) -> Result<(), PatternProblem> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(PatternProblem { offset: 0, message: format!("longer than {MAX_PATTERN_LEN} bytes") });
    }
    let hir = regex_syntax::parse(pattern).map_err(|e| match e {
        regex_syntax::Error::Parse(e) => {
            PatternProblem { offset: e.span().start.offset, message: e.kind().to_string() }
        }
        regex_syntax::Error::Translate(e) => {
            PatternProblem { offset: e.span().start.offset, message: e.kind().to_string() }
        }
        other => PatternProblem { offset: 0, message: one_line(&other.to_string()) },
    })?;
    if hir.properties().minimum_len().unwrap_or(0) < MIN_MATCH_LEN {
        return Err(PatternProblem {
            offset: 0,
            message: format!("matches values shorter than {MIN_MATCH_LEN} characters"),
        });
    }
    whole_regex(pattern).map_err(|e| PatternProblem {
        offset: 0,
        message: match e {
            regex::Error::CompiledTooBig(limit) => format!("compiles to more than {limit} bytes"),
            other => one_line(&other.to_string()),
        },
    })?;
    Ok(())
}

/// The regex crate's multi-line messages (pattern, caret, message) as their last line.
fn one_line(message: &str) -> String {
    message.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(message).trim().to_string()
}

/// The byte offset in the file of a pattern's character at `offset`: after the opening quote
/// of its string (exact for literal strings, the file's own style; a basic string's escapes
/// shift it).
fn pattern_offset(text: &str, value_start: usize, offset: usize) -> usize {
    let quote = if text[value_start..].starts_with("'''") || text[value_start..].starts_with("\"\"\"") { 3 } else { 1 };
    value_start + quote + offset
}

/// Parses and checks a credentials text: `version` is [`KEYS_VERSION`]; a provider is a
/// lower-case slug; names are upper-case keywords; a row with a pattern has a kind, a confidence
/// and a source, and its pattern passes [`check_pattern`]; a row without one says why in `note`.
/// The first problem is returned with its place.
pub fn parse(text: &str) -> Result<Vec<KeyRow>, KeysError> {
    let file: RawFile = toml::from_str(text).map_err(|e| KeysError::Parse {
        place: e.span().map(|span| Place::of(text, span.start)),
        message: one_line(e.message()),
    })?;
    if *file.version.get_ref() != KEYS_VERSION {
        return Err(KeysError::Version {
            place: Place::of(text, file.version.span().start),
            found: *file.version.get_ref(),
            expected: KEYS_VERSION,
        });
    }
    if file.key.len() > MAX_ROWS {
        return Err(KeysError::TooManyRows);
    }
    let mut rows = Vec::with_capacity(file.key.len());
    for raw in file.key {
        let place = Place::of(text, raw.provider.span().start);
        let provider = raw.provider.into_inner();
        let invalid = |problem| KeysError::InvalidRow { place, provider: provider.clone(), problem };
        if provider.is_empty() || provider.chars().any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        {
            return Err(KeysError::InvalidRow {
                place,
                provider: String::new(),
                problem: "provider must be a lower-case slug",
            });
        }
        if raw
            .names
            .iter()
            .any(|n| n.is_empty() || n.chars().any(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')))
        {
            return Err(invalid("names are upper-case keywords"));
        }
        if raw.kind.as_deref().is_some_and(|k| {
            k.is_empty() || k.chars().any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        }) {
            return Err(invalid("kind must be a lower-case slug"));
        }
        match &raw.pattern {
            Some(_) if raw.kind.is_none() || raw.confidence.is_none() || raw.source.is_none() => {
                return Err(invalid("a pattern needs a kind, a confidence and a source"));
            }
            None if raw.note.is_none() || raw.kind.is_some() => {
                return Err(invalid("a row without a pattern has no kind and says why in note"));
            }
            Some(pattern) => {
                if let Err(problem) = check_pattern(pattern.get_ref()) {
                    return Err(KeysError::Pattern {
                        place: Place::of(text, pattern_offset(text, pattern.span().start, problem.offset)),
                        provider,
                        problem: problem.message,
                    });
                }
            }
            None => {}
        }
        rows.push(KeyRow {
            provider,
            servers: raw.servers,
            names: raw.names,
            kind: raw.kind,
            pattern: raw.pattern.map(Spanned::into_inner),
            confidence: raw.confidence,
            source: raw.source,
            note: raw.note,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const ROW: &str =
        "version = 1\n\n[[key]]\nprovider = \"zorblax\"\nnames = [\"ZORBLAX\"]\nkind = \"zorblax-api-key\"\n";

    fn with_pattern(pattern: &str) -> String {
        format!("{ROW}pattern = '{pattern}'\nconfidence = \"high\"\nsource = \"test\"\n")
    }

    #[test]
    fn the_built_in_file_parses() {
        let rows = parse(include_str!("../../agent/data/credentials.toml")).expect("built-in credentials.toml");
        assert!(rows.iter().filter(|r| r.pattern.is_some()).count() >= 15);
    }

    #[test]
    fn a_bad_regex_is_refused_at_its_place() {
        let e = parse(&with_pattern("zbx_[a-z0-9{32}")).expect_err("unclosed class");
        // Line 7 is `pattern = 'zbx_[a-z0-9{32}'`; the class opens at column 16.
        assert_eq!(e.place(), Some(Place { line: 7, column: 16 }), "{e}");
        assert!(
            e.to_string().starts_with("credential formats: line 7, column 16: pattern of the row for \"zorblax\""),
            "{e}"
        );
        assert!(!e.to_string().contains('\n'), "{e}");
    }

    #[test]
    fn a_shape_matching_short_values_is_refused() {
        let e = parse(&with_pattern("z[a-z]{2}")).expect_err("too short");
        assert!(e.to_string().contains("shorter than 8"), "{e}");
        parse(&with_pattern("zbx_[a-z0-9]{32}")).expect("a good shape");
    }

    #[test]
    fn a_shape_too_big_to_compile_is_refused() {
        let e = parse(&with_pattern("zbx_\\w{1000}")).expect_err("too big");
        assert!(e.to_string().contains("compiles to more than"), "{e}");
    }

    #[test]
    fn toml_and_schema_problems_name_their_line() {
        let e =
            parse("version = 1\n[[key]]\nprovider = \"x\"\nnote = \"n\"\nnames = [\"lower\"]\n").expect_err("lower");
        assert_eq!(e.place(), Some(Place { line: 3, column: 12 }), "{e}");
        let e = parse(
            "version = 1\n[[key]]\nprovider = \"x\"\nkind = \"x-key\"\npattern = 'x_[a-z]{9}'\nconfidence = \"high\"\n",
        )
        .expect_err("no source");
        assert!(e.to_string().contains("\"x\""), "{e}");
        let e = parse("version = 1\n[[key]]\nprovider = \"x\"\nnote = \"n\"\ncolour = 1\n").expect_err("unknown field");
        assert_eq!(e.place().map(|p| p.line), Some(5), "{e}");
        let e = parse("version = 2\n").expect_err("version");
        assert_eq!(e.place(), Some(Place { line: 1, column: 11 }), "{e}");
        let e = parse("version = 1\n[[key]\n").expect_err("not toml");
        assert_eq!(e.place().map(|p| p.line), Some(2), "{e}");
    }

    #[test]
    fn places_count_characters() {
        assert_eq!(Place::of("ab\ncé d", 7), Place { line: 2, column: 4 });
        assert_eq!(Place::of("x", 99), Place { line: 1, column: 2 });
    }
}
