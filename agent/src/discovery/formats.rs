//! Configuration syntaxes: strict JSON, JSON with comments, JSONC, JSON5, YAML, TOML and
//! Markdown front matter, all parsed into one `serde_json::Value` tree.
//!
//! Every JSON dialect is parsed leniently (comments, trailing commas, JSON5 extras) so the
//! inventory is complete; then the text is checked against the rules of the client that owns
//! it, and a file the client would refuse is flagged with [`ParsedDoc::client_rejects`]. Error
//! messages name a kind and a position only: they never quote the file, which may hold secrets.

use serde_json::Value;

/// How a client reads a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// `JSON.parse` / `serde_json`: no comments, no trailing commas.
    Json,
    /// Comments stripped, trailing commas rejected (Gemini CLI's strip-json-comments).
    JsonComments,
    /// Comments and trailing commas accepted (VS Code, Zed, opencode).
    Jsonc,
    /// JSON5 (mcphub.nvim with lua-json5).
    Json5,
    Yaml,
    Toml,
    /// Markdown with a YAML front-matter block (Claude Code subagents).
    MarkdownFrontMatter,
}

impl FileFormat {
    pub fn to_proto(self) -> muster_proto::v1::ConfigFormat {
        use muster_proto::v1::ConfigFormat as F;
        match self {
            FileFormat::Json => F::Json,
            FileFormat::JsonComments | FileFormat::Jsonc => F::Jsonc,
            FileFormat::Json5 => F::Json5,
            FileFormat::Yaml => F::Yaml,
            FileFormat::Toml => F::Toml,
            FileFormat::MarkdownFrontMatter => F::Markdown,
        }
    }
}

/// A syntax error, with a position where the parser gives one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{} at line {l} column {c}", self.message),
            (Some(l), None) => write!(f, "{} at line {l}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// A parsed document and whether its client would load it.
#[derive(Debug)]
pub struct ParsedDoc {
    /// `Value::Null` for an empty document.
    pub value: Value,
    /// Set when we could read the file but the client's own parser would refuse it.
    pub client_rejects: Option<SyntaxError>,
}

/// Which parts of a document a client reads, so a large file (a `~/.claude.json` with
/// megabytes of project history) is read without building the parts nobody looks at.
#[derive(Debug)]
pub enum Keep {
    /// The whole value.
    All,
    /// Only these members of an object (others are skipped unread); anything else whole.
    Keys(&'static [(&'static str, Keep)]),
    /// Every member of an object, each kept as the inner rule says.
    Each(&'static Keep),
}

/// Parses `text` as `format`, keeping only what `keep` names. Only strict JSON is read this way
/// (one pass of `serde_json`, skipped members never allocated); a file strict JSON refuses, and
/// every other format, is read whole as [`parse`] does.
pub fn parse_kept(text: &str, format: FileFormat, keep: Option<&Keep>) -> Result<ParsedDoc, SyntaxError> {
    if format == FileFormat::Json
        && !text.trim().is_empty()
        && let Ok(value) = pruned_json(text, keep.unwrap_or(&Keep::All))
    {
        return Ok(ParsedDoc { value, client_rejects: None });
    }
    parse(text, format)
}

fn pruned_json(text: &str, keep: &Keep) -> Result<Value, serde_json::Error> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Pruned(keep).deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Deserialises a value as a [`Keep`] rule says.
struct Pruned<'k>(&'k Keep);

impl<'de> serde::de::DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self.0 {
            Keep::All => serde::Deserialize::deserialize(d),
            rule => d.deserialize_any(PrunedVisitor(rule)),
        }
    }
}

struct PrunedVisitor<'k>(&'k Keep);

impl<'de> serde::de::Visitor<'de> for PrunedVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let rule = match self.0 {
                Keep::Keys(keys) => keys.iter().find(|(k, _)| *k == key).map(|(_, r)| r),
                Keep::Each(inner) => Some(*inner),
                Keep::All => Some(&Keep::All),
            };
            match rule {
                Some(rule) => {
                    let v = map.next_value_seed(Pruned(rule))?;
                    out.insert(key, v);
                }
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// Parses `text` as `format`.
pub fn parse(text: &str, format: FileFormat) -> Result<ParsedDoc, SyntaxError> {
    match format {
        FileFormat::Json | FileFormat::JsonComments | FileFormat::Jsonc | FileFormat::Json5 => {
            match parse_json_family(text, format) {
                Ok(doc) => Ok(doc),
                Err(e) => recover_lines(text, &e, |t| parse_json_family(t, format).map(|d| d.value))
                    .map(|value| ParsedDoc { value, client_rejects: Some(e.clone()) })
                    .ok_or(e),
            }
        }
        FileFormat::Yaml => match parse_yaml(text) {
            Ok(value) => Ok(ParsedDoc { value, client_rejects: None }),
            Err(e) => recover_lines(text, &e, parse_yaml)
                .map(|value| ParsedDoc { value, client_rejects: Some(e.clone()) })
                .ok_or(e),
        },
        FileFormat::Toml => match parse_toml(text) {
            Ok(value) => Ok(ParsedDoc { value, client_rejects: None }),
            // The client refuses the whole file, but its other tables are still what the user
            // configured: a malformed entry never hides its neighbours.
            Err(e) => match recover_toml(text) {
                Some(value) => Ok(ParsedDoc { value, client_rejects: Some(e) }),
                None => Err(e),
            },
        },
        FileFormat::MarkdownFrontMatter => {
            let Some(yaml) = front_matter(text) else {
                return Ok(ParsedDoc { value: Value::Null, client_rejects: None });
            };
            match parse_yaml(yaml) {
                Ok(value) => Ok(ParsedDoc { value, client_rejects: None }),
                Err(e) => recover_lines(yaml, &e, parse_yaml)
                    .map(|value| ParsedDoc { value, client_rejects: Some(e.clone()) })
                    .ok_or(e),
            }
        }
    }
}

fn lenient_options() -> jsonc_parser::ParseOptions {
    jsonc_parser::ParseOptions::default()
}

fn parse_json_family(text: &str, format: FileFormat) -> Result<ParsedDoc, SyntaxError> {
    if text.trim().is_empty() {
        // An empty file is harmless to us, but JSON clients fail on it.
        let rejects = (format != FileFormat::Json5 && format != FileFormat::Jsonc).then(|| SyntaxError {
            message: "file is empty".into(),
            line: None,
            column: None,
        });
        return Ok(ParsedDoc { value: Value::Null, client_rejects: rejects });
    }
    let value: Value = jsonc_parser::parse_to_serde_value(text, &lenient_options()).map_err(|e| jsonc_error(&e))?;
    let client_rejects = match format {
        FileFormat::Json => serde_json::from_str::<serde::de::IgnoredAny>(text).err().map(|e| SyntaxError {
            message: format!("strict JSON parser fails: {}", serde_json_category(&e)),
            line: Some(e.line() as u32),
            column: Some(e.column() as u32),
        }),
        FileFormat::JsonComments | FileFormat::Jsonc => {
            let opts = jsonc_parser::ParseOptions {
                allow_comments: true,
                allow_trailing_commas: format == FileFormat::Jsonc,
                allow_loose_object_property_names: false,
                allow_missing_commas: false,
                allow_single_quoted_strings: false,
                allow_hexadecimal_numbers: false,
                allow_unary_plus_numbers: false,
                allow_bare_decimal_point_numbers: false,
                allow_non_finite_numbers: false,
                allow_extended_string_escapes: false,
            };
            jsonc_parser::parse_to_serde_value::<Value>(text, &opts).err().map(|e| jsonc_error(&e))
        }
        _ => None,
    };
    Ok(ParsedDoc { value, client_rejects })
}

fn jsonc_error(e: &jsonc_parser::errors::ParseError) -> SyntaxError {
    SyntaxError {
        message: e.kind().to_string().to_lowercase(),
        line: Some(e.line_display() as u32),
        column: Some(e.column_display() as u32),
    }
}

fn serde_json_category(e: &serde_json::Error) -> &'static str {
    // serde_json's message can quote the offending token; only its category is safe to show.
    match e.classify() {
        serde_json::error::Category::Syntax => "syntax error (comment, trailing comma or other non-JSON text)",
        serde_json::error::Category::Eof => "unexpected end of file",
        serde_json::error::Category::Data => "invalid data",
        serde_json::error::Category::Io => "read error",
    }
}

fn parse_yaml(text: &str) -> Result<Value, SyntaxError> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_norway::from_str::<Value>(text).map_err(|e| {
        let loc = e.location();
        SyntaxError {
            message: "invalid YAML".into(),
            line: loc.as_ref().map(|l| l.line() as u32),
            column: loc.as_ref().map(|l| l.column() as u32),
        }
    })
}

fn parse_toml(text: &str) -> Result<Value, SyntaxError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        SyntaxError {
            // toml's message names the problem; its Display would also quote the source line.
            message: format!("invalid TOML: {}", e.message().lines().next().unwrap_or("").to_lowercase()),
            line: (line > 0).then_some(line),
            column: (column > 0).then_some(column),
        }
    })?;
    Ok(toml_to_json(toml::Value::Table(table)))
}

/// The tables of a TOML text that does not parse as a whole: the text is cut before every
/// line that opens a table header (`[x]`, `[[x]]`), each piece is parsed alone (an array of
/// tables with its header), and the pieces that parse are merged. A piece with a bad value is
/// left out whole — its table is the malformed entry — and so is a table a piece defines twice.
/// `None` when no piece parses.
fn recover_toml(text: &str) -> Option<Value> {
    let mut pieces: Vec<&str> = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') && offset > start {
            pieces.push(&text[start..offset]);
            start = offset;
        }
        offset += line.len();
    }
    pieces.push(&text[start..]);
    let mut merged = serde_json::Map::new();
    let mut any = false;
    for piece in pieces {
        let Ok(table) = toml::from_str::<toml::Table>(piece) else { continue };
        if let Value::Object(map) = toml_to_json(toml::Value::Table(table)) {
            any = true;
            merge_tables(&mut merged, map);
        }
    }
    any.then_some(Value::Object(merged))
}

/// How many blocks [`recover_lines`] may leave out of one file.
const MAX_LEFT_OUT: usize = 8;

/// A JSON-family or YAML text with a syntax error, read without the block of lines holding it:
/// the innermost block around the error line (the line itself when it opens a block, else the
/// nearest line above it that is indented less) down to the line before the next one indented
/// no deeper than that block's first line (that line too when it closes the block: `}`, `]`).
/// The lines are blanked, not removed, so a later error still names its real line; repeated
/// while the text still fails, at most [`MAX_LEFT_OUT`] times. Never a block starting at the
/// left margin (that would be the whole document). `None` when nothing parses this way.
///
/// This relies on the file's layout, which editors and the clients themselves write indented;
/// a file on one line, or an error the parser reports past its block (an unclosed string or
/// bracket running on), is lost as before. The client still refuses the file, which the caller
/// reports.
fn recover_lines(
    text: &str,
    first: &SyntaxError,
    parse_once: impl Fn(&str) -> Result<Value, SyntaxError>,
) -> Option<Value> {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let mut error = first.clone();
    for _ in 0..MAX_LEFT_OUT {
        let line = usize::try_from(error.line?).ok()?.checked_sub(1)?;
        let (start, end) = block_around(&lines, line)?;
        for l in &mut lines[start..=end] {
            l.clear();
        }
        match parse_once(&lines.join("\n")) {
            Ok(value) => return Some(value),
            Err(next) => error = next,
        }
    }
    None
}

/// The block of lines [`recover_lines`] leaves out for an error on line index `at`.
fn block_around(lines: &[String], at: usize) -> Option<(usize, usize)> {
    let indent = |l: &str| (!l.trim().is_empty()).then(|| l.len() - l.trim_start().len());
    let opens = |l: &str| matches!(l.trim_end().chars().last(), Some('{' | '[' | ':'));
    let here = lines.get(at)?;
    let start = match indent(here) {
        Some(i) if i > 0 && opens(here) => at,
        Some(i) => (0..at).rev().find(|&n| indent(&lines[n]).is_some_and(|j| j < i))?,
        None => return None,
    };
    let base = indent(&lines[start])?;
    if base == 0 {
        return None;
    }
    let mut end = at.max(start);
    for (n, l) in lines.iter().enumerate().skip(end + 1) {
        match indent(l) {
            Some(i) if i < base => break,
            Some(i) if i == base => {
                if matches!(l.trim_start().chars().next(), Some('}' | ']')) {
                    end = n;
                }
                break;
            }
            _ => end = n,
        }
    }
    Some((start, end))
}

/// Deep-merges `from` into `into`: tables merge, arrays (of tables) append, a scalar already
/// present is kept (the first definition, as a duplicate key would be refused anyway).
fn merge_tables(into: &mut serde_json::Map<String, Value>, from: serde_json::Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge_tables(a, b),
            (Some(Value::Array(a)), Value::Array(b)) => a.extend(b),
            (Some(_), _) => {}
            (None, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect()),
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) as u32 + 1;
    (line, column)
}

/// The YAML between a leading `---` line and the next `---` line.
fn front_matter(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("---")?;
    let rest = rest.strip_prefix("\r\n").or_else(|| rest.strip_prefix('\n'))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return Some(&rest[..offset]);
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_json_client_rejects_trailing_comma_but_we_still_read_it() {
        let doc = parse("{\"mcpServers\": {\"a\": {\"command\": \"x\"},},}", FileFormat::Json).expect("lenient");
        assert_eq!(doc.value["mcpServers"]["a"]["command"], "x");
        let err = doc.client_rejects.expect("strict parser rejects");
        assert_eq!(err.line, Some(1));
    }

    #[test]
    fn jsonc_accepts_comments_and_trailing_commas() {
        let doc = parse("// c\n{\"servers\": {\"a\": {},},}", FileFormat::Jsonc).expect("parse");
        assert!(doc.client_rejects.is_none());
        let doc = parse("// c\n{\"servers\": {\"a\": {},},}", FileFormat::JsonComments).expect("parse");
        assert!(doc.client_rejects.is_some(), "gemini rejects trailing commas");
    }

    #[test]
    fn json5_extras_parse() {
        let doc = parse("{mcpServers: {'a': {command: 'x', n: 0x10,}}}", FileFormat::Json5).expect("parse");
        assert_eq!(doc.value["mcpServers"]["a"]["n"], 16);
    }

    #[test]
    fn broken_json_reports_position_without_quoting_content() {
        let err = parse("{\n  \"env\": {\"TOKEN\": \"ghp_secretvalue\"\n", FileFormat::Json).expect_err("broken");
        assert!(err.line.is_some());
        assert!(!err.message.contains("ghp_"));
    }

    #[test]
    fn toml_error_does_not_quote_source_line() {
        let err = parse("[mcp_servers.x]\nenv = { TOKEN = \"sk-secret\" \n", FileFormat::Toml).expect_err("broken");
        assert!(!err.to_string().contains("sk-secret"), "{err}");
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn a_bad_value_in_one_toml_table_keeps_the_other_tables() {
        let text = "model = \"o3\"\n[mcp_servers.good]\ncommand = \"npx\"\nargs = [\"-y\", \"a\"]\n\n[mcp_servers.bad]\ncommand = npx\n\n[mcp_servers.also_good]\nurl = \"https://x/mcp\"\n[[profiles]]\nname = \"p1\"\n[[profiles]]\nname = \"p2\"\n";
        let doc = parse(text, FileFormat::Toml).expect("recovered");
        let servers = doc.value["mcp_servers"].as_object().expect("servers");
        assert_eq!(servers.keys().collect::<Vec<_>>(), ["also_good", "good"]);
        assert_eq!(doc.value["model"], "o3");
        assert_eq!(doc.value["profiles"].as_array().map(Vec::len), Some(2));
        let rejects = doc.client_rejects.expect("the client refuses the file");
        assert_eq!(rejects.line, Some(7), "{rejects}");
    }

    #[test]
    fn kept_parts_only_and_a_refused_file_read_whole() {
        static KEEP: Keep = Keep::Keys(&[
            ("mcpServers", Keep::All),
            ("projects", Keep::Each(&Keep::Keys(&[("mcpServers", Keep::All)]))),
        ]);
        let text = r#"{"history": [1, 2], "mcpServers": {"a": {"command": "x"}}, "projects": {"/p": {"history": ["big"], "mcpServers": {}}, "/q": 3}}"#;
        let doc = parse_kept(text, FileFormat::Json, Some(&KEEP)).expect("parse");
        assert_eq!(
            doc.value,
            serde_json::json!({"mcpServers": {"a": {"command": "x"}}, "projects": {"/p": {"mcpServers": {}}, "/q": 3}})
        );
        assert!(doc.client_rejects.is_none());
        // Strict JSON refuses a trailing comma: read whole and leniently, flagged as before.
        let doc = parse_kept(
            "{\"mcpServers\": {\"a\": {\"command\": \"x\"},},\"history\": 1}",
            FileFormat::Json,
            Some(&KEEP),
        )
        .expect("lenient");
        assert_eq!(doc.value["history"], 1);
        assert!(doc.client_rejects.is_some());
        assert!(parse_kept("{\"a\": ", FileFormat::Json, Some(&KEEP)).is_err());
    }

    #[test]
    fn yaml_and_front_matter() {
        let doc =
            parse("---\nname: a\nmcpServers:\n  - x\n---\n# body\n", FileFormat::MarkdownFrontMatter).expect("parse");
        assert_eq!(doc.value["mcpServers"][0], "x");
        let err = parse("a: [1, 2\nb: c", FileFormat::Yaml).expect_err("broken");
        assert!(err.line.is_some());
    }
}
