//! Replacing one launch argument of one server entry without touching anything else: JSON /
//! JSONC through `jsonc-parser`'s concrete syntax tree, TOML through `toml_edit` (the editors of
//! ADR 0007, with the same guard: the untouched document must come back byte for byte, or the
//! edit is refused). The argument must still read as planned, so a stale plan never lands on
//! another argument. Pure: text in, text out.

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::CstRootNode;
use toml_edit::{DocumentMut, Item};

use crate::enforce::quarantine::EditError;

const BOM: &str = "\u{feff}";

fn split_bom(text: &str) -> (&'static str, &str) {
    match text.strip_prefix(BOM) {
        Some(rest) => (BOM, rest),
        None => ("", text),
    }
}

/// Replaces `args[index]` (which must read `old`) of entry `name` under `map` with `new`.
pub fn json_replace_arg(
    text: &str,
    map: &[String],
    name: &str,
    index: usize,
    old: &str,
    new: &str,
) -> Result<String, EditError> {
    let (bom, body) = split_bom(text);
    let root = CstRootNode::parse(body, &ParseOptions::default())
        .map_err(|e| EditError::Syntax(format!("line {}, column {}", e.line_display(), e.column_display())))?;
    if root.to_string() != body {
        return Err(EditError::WrongShape);
    }
    let mut obj = root.object_value().ok_or(EditError::NotFound)?;
    for seg in map {
        obj = obj.object_value(seg).ok_or(EditError::NotFound)?;
    }
    let entry = obj.object_value(name).ok_or(EditError::NotFound)?;
    let args = entry.array_value("args").ok_or(EditError::WrongShape)?;
    let element = args.elements().get(index).and_then(|e| e.as_string_lit()).ok_or(EditError::WrongShape)?;
    if element.decoded_value().ok().as_deref() != Some(old) {
        return Err(EditError::WrongShape);
    }
    // Keep the quote the file uses (JSON5 allows single quotes); the new text needs no escapes
    // beyond what serde writes for double quotes.
    let raw = if element.raw_value().starts_with('\'') && !new.contains(['\'', '\\']) {
        format!("'{new}'")
    } else {
        serde_json::to_string(new).map_err(|_| EditError::WrongShape)?
    };
    element.set_raw_value(raw);
    Ok(format!("{bom}{root}"))
}

/// [`json_replace_arg`] for TOML: the array element's value is replaced, its comments and
/// spacing kept.
pub fn toml_replace_arg(
    text: &str,
    map: &[String],
    name: &str,
    index: usize,
    old: &str,
    new: &str,
) -> Result<String, EditError> {
    let (bom, body) = split_bom(text);
    let crlf = body.contains("\r\n");
    if crlf && body.replace("\r\n", "").contains('\n') {
        return Err(EditError::WrongShape);
    }
    let lf = if crlf { body.replace("\r\n", "\n") } else { body.to_string() };
    let mut doc: DocumentMut = lf.parse().map_err(|e: toml_edit::TomlError| {
        EditError::Syntax(crate::enforce::quarantine::position(&lf, e.span().map_or(0, |r| r.start)))
    })?;
    if doc.to_string() != lf {
        return Err(EditError::WrongShape);
    }
    let mut item: &mut Item = doc.as_item_mut();
    for seg in map.iter().map(String::as_str).chain([name]) {
        item = item.as_table_like_mut().and_then(|t| t.get_mut(seg)).ok_or(EditError::NotFound)?;
    }
    let entry = item.as_table_like_mut().ok_or(EditError::WrongShape)?;
    let args = entry.get_mut("args").and_then(Item::as_array_mut).ok_or(EditError::WrongShape)?;
    let element = args.get_mut(index).ok_or(EditError::WrongShape)?;
    if element.as_str() != Some(old) {
        return Err(EditError::WrongShape);
    }
    let decor = element.decor().clone();
    *element = toml_edit::Value::from(new);
    *element.decor_mut() = decor;
    let out = doc.to_string();
    Ok(format!("{bom}{}", if crlf { out.replace('\n', "\r\n") } else { out }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_the_argument_changes_in_json_with_comments() {
        let text = "{\n  // mine\n  \"mcpServers\": {\n    \"gh\": {\"command\": \"npx\", \"args\": [\"-y\",   \"pkg\" ],},\n  },\n}\n";
        let out = json_replace_arg(text, &["mcpServers".into()], "gh", 1, "pkg", "pkg@1.2.3").unwrap();
        assert_eq!(out, text.replace("\"pkg\" ]", "\"pkg@1.2.3\" ]"));
        assert!(json_replace_arg(text, &["mcpServers".into()], "gh", 1, "other", "x").is_err(), "stale plan");
    }

    #[test]
    fn only_the_argument_changes_in_toml_with_crlf_and_comments() {
        let text = "# codex\r\n[mcp_servers.time]\r\ncommand = \"uvx\"\r\nargs = [ \"mcp-server-time\" , \"--local-timezone=UTC\" ] # tz\r\n";
        let out =
            toml_replace_arg(text, &["mcp_servers".into()], "time", 0, "mcp-server-time", "mcp-server-time@0.6.2")
                .unwrap();
        assert_eq!(out, text.replace("\"mcp-server-time\" ,", "\"mcp-server-time@0.6.2\" ,"));
    }
}
