//! Minimal span edits of YAML documents: a real YAML parser (`saphyr-parser`, with source
//! spans) locates the entry, and only the bytes of one scalar are replaced, or one `key: value`
//! is inserted before the entry's first key with that key's indentation. Everything else
//! (comments, quoting, anchors, blank lines, CRLF) is untouched. No YAML editing crate is
//! mature enough to trust with a developer's file (see docs/adr). Pure.

use saphyr_parser::{Event, Parser, Span};

use super::EditError;

/// A node of the document: its span and, for mappings, key text → child.
#[derive(Debug)]
enum Node {
    Scalar { text: String, span: Span },
    Map { start: Span, entries: Vec<(String, Span, Node)> },
    Other,
}

fn build(events: &mut std::iter::Peekable<impl Iterator<Item = (Event<'static>, Span)>>) -> Node {
    match events.next() {
        Some((Event::Scalar(text, ..), span)) => Node::Scalar { text: text.into_owned(), span },
        Some((Event::MappingStart(..), start)) => {
            let mut entries = Vec::new();
            loop {
                match events.peek() {
                    Some((Event::MappingEnd, _)) | None => {
                        events.next();
                        break;
                    }
                    _ => {}
                }
                let key = build(events);
                let value = build(events);
                if let Node::Scalar { text, span } = key {
                    entries.push((text, span, value));
                }
            }
            Node::Map { start, entries }
        }
        Some((Event::SequenceStart(..), _)) => {
            loop {
                match events.peek() {
                    Some((Event::SequenceEnd, _)) | None => {
                        events.next();
                        break;
                    }
                    _ => {
                        build(events);
                    }
                }
            }
            Node::Other
        }
        _ => Node::Other,
    }
}

fn document(text: &str) -> Result<Node, EditError> {
    let mut events = Vec::new();
    for ev in Parser::new_from_str(text) {
        let (ev, span) =
            ev.map_err(|e| EditError::Syntax(format!("line {}, column {}", e.marker().line(), e.marker().col() + 1)))?;
        let owned: Event<'static> = match ev {
            Event::Scalar(t, style, a, _) => Event::Scalar(t.into_owned().into(), style, a, None),
            Event::MappingStart(a, _) => Event::MappingStart(a, None),
            Event::SequenceStart(a, _) => Event::SequenceStart(a, None),
            Event::MappingEnd => Event::MappingEnd,
            Event::SequenceEnd => Event::SequenceEnd,
            Event::DocumentStart(e) => {
                if !events.is_empty() {
                    return Err(EditError::WrongShape); // several documents: not a config file
                }
                Event::DocumentStart(e)
            }
            Event::Alias(_) => Event::Alias(0),
            _ => continue,
        };
        if !matches!(owned, Event::DocumentStart(_)) {
            events.push((owned, span));
        }
    }
    let mut it = events.into_iter().peekable();
    Ok(build(&mut it))
}

/// Byte offset of a marker's character index.
fn byte_at(text: &str, char_index: usize) -> usize {
    text.char_indices().nth(char_index).map_or(text.len(), |(b, _)| b)
}

/// Sets `key` to `flag` in entry `name` of the mapping at `map`.
pub fn set_flag(text: &str, map: &[String], name: &str, key: &str, flag: bool) -> Result<String, EditError> {
    let body_start = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let body = &text[body_start..];
    let mut node = document(body)?;
    for seg in map.iter().map(String::as_str).chain([name]) {
        let Node::Map { entries, .. } = node else { return Err(EditError::NotFound) };
        node = entries.into_iter().find(|(k, ..)| k == seg).map(|(_, _, v)| v).ok_or(EditError::NotFound)?;
    }
    let Node::Map { start, entries } = node else { return Err(EditError::WrongShape) };
    let word = if flag { "true" } else { "false" };
    let mut out = body.to_string();
    if let Some((_, _, value)) = entries.iter().find(|(k, ..)| k == key) {
        let Node::Scalar { span, text: old } = value else { return Err(EditError::WrongShape) };
        if old == word {
            return Ok(text.to_string());
        }
        let (a, b) = (byte_at(body, span.start.index()), byte_at(body, span.end.index()));
        out.replace_range(a..b, word);
    } else {
        let Some((_, first_key, _)) = entries.first() else { return Err(EditError::WrongShape) };
        let at = byte_at(body, first_key.start.index());
        let flow = body[byte_at(body, start.start.index())..].starts_with('{');
        let insert = if flow {
            format!("{key}: {word}, ")
        } else {
            let newline = if body.contains("\r\n") { "\r\n" } else { "\n" };
            format!("{key}: {word}{newline}{}", " ".repeat(first_key.start.col()))
        };
        out.insert_str(at, &insert);
    }
    Ok(format!("{}{out}", &text[..body_start]))
}

/// Byte offsets of the keys of entries `(map, name)`, parsing the document once; `None` for an
/// entry not in it.
pub fn key_offsets(text: &str, entries: &[(Vec<String>, &str)]) -> Result<Vec<Option<usize>>, EditError> {
    let body_start = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let body = &text[body_start..];
    let root = document(body)?;
    Ok(entries
        .iter()
        .map(|(map, name)| {
            let mut node = &root;
            for seg in map {
                let Node::Map { entries, .. } = node else { return None };
                node = entries.iter().find(|(k, ..)| k == seg).map(|(_, _, v)| v)?;
            }
            let Node::Map { entries, .. } = node else { return None };
            let (_, key, _) = entries.iter().find(|(k, ..)| k == name)?;
            Some(body_start + byte_at(body, key.start.index()))
        })
        .collect())
}
