//! Format-preserving edits of TOML documents through `toml_edit`: only the touched key changes;
//! comments, key order, whitespace and table layout stay as they were. Pure.

use toml_edit::{Document, DocumentMut, Item, value};

use super::EditError;

/// Sets `key` to `flag` in the table (or inline table) of entry `name` under `map`.
pub fn set_flag(text: &str, map: &[String], name: &str, key: &str, flag: bool) -> Result<String, EditError> {
    let (bom, text) = match text.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", text),
    };
    // `toml_edit` writes `\n` line endings: edit a CRLF file as LF and turn every LF back (a
    // bijection when the file has no bare LF; a file mixing both is refused).
    let crlf = text.contains("\r\n");
    if crlf && text.replace("\r\n", "").contains('\n') {
        return Err(EditError::WrongShape);
    }
    let lf = if crlf { text.replace("\r\n", "\n") } else { text.to_string() };
    let mut doc: DocumentMut = lf
        .parse()
        .map_err(|e: toml_edit::TomlError| EditError::Syntax(super::position(&lf, e.span().map_or(0, |r| r.start))))?;
    if doc.to_string() != lf {
        // The editor would not give the untouched document back byte for byte: refuse.
        return Err(EditError::WrongShape);
    }
    let mut item: &mut Item = doc.as_item_mut();
    for seg in map.iter().map(String::as_str).chain([name]) {
        item = item.as_table_like_mut().and_then(|t| t.get_mut(seg)).ok_or(EditError::NotFound)?;
    }
    let entry = item.as_table_like_mut().ok_or(EditError::WrongShape)?;
    match entry.get_mut(key) {
        Some(existing) if existing.as_bool() == Some(flag) => {}
        Some(existing) => {
            // Keep the comment and spacing around the old value.
            let decor = existing.as_value().map(|v| v.decor().clone());
            *existing = value(flag);
            if let (Some(decor), Some(v)) = (decor, existing.as_value_mut()) {
                *v.decor_mut() = decor;
            }
        }
        None => {
            entry.insert(key, value(flag));
        }
    }
    let out = doc.to_string();
    Ok(format!("{bom}{}", if crlf { out.replace('\n', "\r\n") } else { out }))
}

/// Byte offsets of the keys of entries `(map, name)` (for `[map.name]` tables, the header),
/// parsing the document once; `None` for an entry not in it.
pub fn key_offsets(text: &str, entries: &[(Vec<String>, &str)]) -> Result<Vec<Option<usize>>, EditError> {
    let (bom, body) = match text.strip_prefix('\u{feff}') {
        Some(rest) => ('\u{feff}'.len_utf8(), rest),
        None => (0, text),
    };
    // The immutable document keeps source spans (the mutable one used for edits does not).
    let doc =
        Document::parse(body).map_err(|e| EditError::Syntax(super::position(body, e.span().map_or(0, |r| r.start))))?;
    Ok(entries
        .iter()
        .map(|(map, name)| {
            let mut item: &Item = doc.as_item();
            for seg in map {
                item = item.as_table_like()?.get(seg)?;
            }
            let (key, entry) = item.as_table_like()?.get_key_value(name)?;
            key.span().or_else(|| entry.span()).map(|r| bom + r.start)
        })
        .collect())
}
