//! Format-preserving edits of JSON / JSONC documents through `jsonc-parser`'s concrete syntax
//! tree: only the touched property changes; comments, key order, indentation, trailing commas,
//! line endings and a byte-order mark stay as they were. Pure: text in, text out.

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstNode, CstObject, CstRootNode};

use super::EditError;

const BOM: &str = "\u{feff}";

fn parse(text: &str) -> Result<(&'static str, CstRootNode), EditError> {
    let (bom, body) = match text.strip_prefix(BOM) {
        Some(rest) => (BOM, rest),
        None => ("", text),
    };
    let body = if body.trim().is_empty() { "{}" } else { body };
    let root = CstRootNode::parse(body, &ParseOptions::default())
        .map_err(|e| EditError::Syntax(format!("line {}, column {}", e.line_display(), e.column_display())))?;
    if root.to_string() != body {
        // The tree would not give the untouched document back byte for byte: refuse.
        return Err(EditError::WrongShape);
    }
    Ok((bom, root))
}

fn finish(bom: &str, root: &CstRootNode) -> String {
    format!("{bom}{root}")
}

/// The object at `path` (each segment a property name), if every step is an object.
fn object_at(root: &CstRootNode, path: &[String]) -> Result<CstObject, EditError> {
    let mut obj = root.object_value().ok_or(EditError::NotFound)?;
    for seg in path {
        obj = obj.object_value(seg).ok_or(EditError::NotFound)?;
    }
    Ok(obj)
}

/// Sets `key` to `value` in the entry `name` of the server map at `map`.
pub fn set_flag(text: &str, map: &[String], name: &str, key: &str, value: bool) -> Result<String, EditError> {
    let (bom, root) = parse(text)?;
    let entry = object_at(&root, map)?.object_value(name).ok_or(EditError::NotFound)?;
    match entry.get(key) {
        Some(prop) => prop.set_value(CstInputValue::Bool(value)),
        None => {
            entry.append(key, CstInputValue::Bool(value));
        }
    }
    Ok(finish(bom, &root))
}

/// Adds `name` to the string list `list` inside the object at `parent` (creating the objects
/// and the list when missing; unchanged when it is already listed).
pub fn add_to_list(text: &str, parent: &[String], list: &str, name: &str) -> Result<String, EditError> {
    let (bom, root) = parse(text)?;
    let mut obj = root.object_value_or_create().ok_or(EditError::WrongShape)?;
    for seg in parent {
        obj = obj.object_value_or_create(seg).ok_or(EditError::WrongShape)?;
    }
    let arr = obj.array_value_or_create(list).ok_or(EditError::WrongShape)?;
    let listed =
        arr.elements().iter().any(|e| e.as_string_lit().and_then(|s| s.decoded_value().ok()).as_deref() == Some(name));
    if !listed {
        arr.append(CstInputValue::String(name.to_string()));
    }
    Ok(finish(bom, &root))
}

/// Removes the entry `name` from the server map at `map`; returns the new text and the removed
/// property's own text (`"name": {...}`), for the sidecar.
pub fn remove_entry(text: &str, map: &[String], name: &str) -> Result<(String, String), EditError> {
    let (bom, root) = parse(text)?;
    let prop = object_at(&root, map)?.get(name).ok_or(EditError::NotFound)?;
    let removed = prop.to_string();
    prop.remove();
    Ok((finish(bom, &root), removed))
}

/// Byte offsets of the keys of entries `(map, name)` (where [`set_flag`] would edit), parsing
/// the document once; `None` for an entry not in it.
pub fn key_offsets(text: &str, entries: &[(Vec<String>, &str)]) -> Result<Vec<Option<usize>>, EditError> {
    let (bom, root) = parse(text)?;
    Ok(entries
        .iter()
        .map(|(map, name)| {
            let prop = object_at(&root, map).ok()?.get(name)?;
            // The tree gives the document back byte for byte (checked in `parse`), so a node's
            // offset is the length of everything before it: its earlier siblings, then its
            // ancestors' earlier siblings.
            let mut node: CstNode = prop.into();
            let mut offset = bom.len();
            loop {
                offset += node.previous_siblings().map(|s| s.to_string().len()).sum::<usize>();
                match node.parent() {
                    Some(parent) => node = parent.into(),
                    None => break,
                }
            }
            Some(offset)
        })
        .collect())
}
