//! Format-preserving edits of a JSON (or JSONC) policy file, with ownership: Muster adds list
//! items and keys, records what it added and which containers it created, and later removes
//! exactly those. Comments, key order, indentation and an administrator's entries are kept
//! (jsonc-parser's concrete syntax tree; the document is never re-serialised as a whole).

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstArray, CstInputValue, CstObject, CstRootNode};
use serde_json::Value;

use super::{CompileError, FileChange, Owned, OwnedEntry};

/// A policy file being edited.
pub(super) struct JsonDoc {
    root: CstRootNode,
    existed: bool,
}

/// What [`JsonDoc::ensure`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Ensured {
    /// Muster's entry is there (added now or before).
    Ours,
    /// An equal entry that Muster did not add was already there.
    Administrators,
}

impl JsonDoc {
    pub(super) fn parse(existing: Option<&[u8]>) -> Result<JsonDoc, CompileError> {
        let text = match existing {
            None => "{}\n".to_string(),
            Some(b) => {
                let t = std::str::from_utf8(b)
                    .map_err(|_| CompileError::Unreadable { format: "UTF-8 JSON", detail: "not UTF-8".into() })?;
                if t.trim().is_empty() { "{}\n".to_string() } else { t.to_string() }
            }
        };
        let root = CstRootNode::parse(&text, &ParseOptions::default())
            .map_err(|e| CompileError::Unreadable { format: "JSON", detail: e.to_string() })?;
        match root.value() {
            None => {
                root.object_value_or_set();
            }
            Some(v) if v.as_object().is_none() => {
                return Err(CompileError::UnexpectedShape { key: "the top level".into() });
            }
            Some(_) => {}
        }
        Ok(JsonDoc { root, existed: existing.is_some() })
    }

    fn top(&self) -> CstObject {
        self.root.object_value_or_set()
    }

    /// The object at `path` (all keys), if every step is an object.
    fn object_at(&self, path: &[String]) -> Result<Option<CstObject>, CompileError> {
        let mut obj = self.top();
        for key in path {
            match obj.get(key) {
                None => return Ok(None),
                Some(prop) => match prop.object_value() {
                    Some(o) => obj = o,
                    None => return Err(CompileError::UnexpectedShape { key: path.join(".") }),
                },
            }
        }
        Ok(Some(obj))
    }

    /// The object at `path`, created (and recorded as Muster's) where missing.
    fn object_at_or_create(&self, path: &[String], owned: &mut Owned) -> Result<CstObject, CompileError> {
        let mut obj = self.top();
        for (i, key) in path.iter().enumerate() {
            obj = match obj.get(key) {
                Some(prop) => {
                    prop.object_value().ok_or_else(|| CompileError::UnexpectedShape { key: path[..=i].join(".") })?
                }
                None => {
                    record_container(owned, &path[..=i]);
                    obj.append(key, CstInputValue::Object(Vec::new())).object_value_or_set()
                }
            };
        }
        Ok(obj)
    }

    fn array_at(&self, path: &[String]) -> Result<Option<CstArray>, CompileError> {
        let (last, parent) = split(path)?;
        let Some(obj) = self.object_at(parent)? else { return Ok(None) };
        match obj.get(last) {
            None => Ok(None),
            Some(prop) => {
                prop.array_value().map(Some).ok_or_else(|| CompileError::UnexpectedShape { key: path.join(".") })
            }
        }
    }

    /// The values of the list at `path` (empty when absent).
    pub(super) fn list(&self, path: &[String]) -> Result<Vec<Value>, CompileError> {
        Ok(self
            .array_at(path)?
            .map(|a| a.elements().iter().filter_map(|e| e.to_serde_value()).collect())
            .unwrap_or_default())
    }

    /// The value at a key path, if present.
    pub(super) fn get(&self, path: &[String]) -> Result<Option<Value>, CompileError> {
        let (last, parent) = split(path)?;
        let Some(obj) = self.object_at(parent)? else { return Ok(None) };
        Ok(obj.get(last).and_then(|p| p.value()).and_then(|v| v.to_serde_value()))
    }

    /// Make `value` an item of the list at `path`; `previous` is what Muster owned before.
    pub(super) fn ensure_item(
        &self,
        path: &[String],
        value: &Value,
        previous: &Owned,
        owned: &mut Owned,
    ) -> Result<Ensured, CompileError> {
        let entry = OwnedEntry { at: path.to_vec(), value: value.clone() };
        if self.list(path)?.contains(value) {
            if previous.entries.contains(&entry) {
                owned.entries.push(entry);
                return Ok(Ensured::Ours);
            }
            return Ok(Ensured::Administrators);
        }
        let (last, parent) = split(path)?;
        let obj = self.object_at_or_create(parent, owned)?;
        let (arr, created) = match obj.get(last) {
            Some(prop) => {
                (prop.array_value().ok_or_else(|| CompileError::UnexpectedShape { key: path.join(".") })?, false)
            }
            None => {
                record_container(owned, path);
                (obj.append(last, CstInputValue::Array(Vec::new())).array_value_or_set(), true)
            }
        };
        arr.append(to_input(value));
        // A list Muster created is one item a line; an administrator's keeps its own layout.
        if created {
            arr.ensure_multiline();
        }
        owned.entries.push(entry);
        Ok(Ensured::Ours)
    }

    /// Set the key at `path` to `value` unless it is set already; an existing value (an
    /// administrator's, or Muster's own from before) is reported, never replaced.
    pub(super) fn ensure_key(
        &self,
        path: &[String],
        value: &Value,
        previous: &Owned,
        owned: &mut Owned,
    ) -> Result<Option<Value>, CompileError> {
        let entry = OwnedEntry { at: path.to_vec(), value: value.clone() };
        if let Some(current) = self.get(path)? {
            if previous.entries.contains(&entry) && &current == value {
                owned.entries.push(entry);
                return Ok(None);
            }
            return Ok(Some(current));
        }
        let (last, parent) = split(path)?;
        let obj = self.object_at_or_create(parent, owned)?;
        obj.append(last, to_input(value));
        owned.entries.push(entry);
        Ok(None)
    }

    /// Remove what Muster owned before and does not own now; then the containers it created
    /// that are left empty.
    pub(super) fn release(&self, previous: &Owned, owned: &mut Owned) -> Result<(), CompileError> {
        for e in &previous.entries {
            if owned.entries.contains(e) {
                continue;
            }
            self.remove_entry(e)?;
        }
        let mut created: Vec<Vec<String>> = previous.containers.clone();
        for c in &owned.containers {
            if !created.contains(c) {
                created.push(c.clone());
            }
        }
        // Deepest first, so a parent emptied by its child's removal goes too.
        created.sort_by_key(|c| std::cmp::Reverse(c.len()));
        owned.containers.clear();
        for c in created {
            if !self.remove_if_empty(&c)? && self.exists(&c)? {
                owned.containers.push(c);
            }
        }
        owned.containers.sort();
        Ok(())
    }

    fn exists(&self, path: &[String]) -> Result<bool, CompileError> {
        Ok(self.get(path)?.is_some())
    }

    fn remove_entry(&self, e: &OwnedEntry) -> Result<(), CompileError> {
        let (last, parent) = split(&e.at)?;
        let Some(obj) = self.object_at(parent)? else { return Ok(()) };
        let Some(prop) = obj.get(last) else { return Ok(()) };
        if let Some(arr) = prop.array_value() {
            if let Some(el) = arr.elements().into_iter().find(|el| el.to_serde_value().as_ref() == Some(&e.value)) {
                el.remove();
            }
        } else if prop.value().and_then(|v| v.to_serde_value()).as_ref() == Some(&e.value) {
            prop.remove();
        }
        Ok(())
    }

    fn remove_if_empty(&self, path: &[String]) -> Result<bool, CompileError> {
        let (last, parent) = split(path)?;
        let Some(obj) = self.object_at(parent)? else { return Ok(false) };
        let Some(prop) = obj.get(last) else { return Ok(false) };
        let empty = match prop.value().and_then(|v| v.to_serde_value()) {
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::Object(o)) => o.is_empty(),
            _ => false,
        };
        if empty {
            prop.remove();
        }
        Ok(empty)
    }

    /// The edited document as a file change.
    pub(super) fn finish(self, original: Option<&[u8]>, owned: &mut Owned, previous: &Owned) -> FileChange {
        let created = previous.created_file || !self.existed;
        let empty = self.root.to_serde_value().is_none_or(|v| v.as_object().is_some_and(|o| o.is_empty()));
        if created && empty && owned.entries.is_empty() {
            owned.containers.clear();
            owned.created_file = false;
            return if self.existed { FileChange::Remove } else { FileChange::Unchanged };
        }
        owned.created_file = created;
        owned.keep_original(previous, original);
        let mut text = self.root.to_string();
        if owned.entries.is_empty()
            && let Some(before) = &previous.original
            && same_json(before, &text)
        {
            text = before.clone();
        }
        match original {
            Some(b) if b == text.as_bytes() => FileChange::Unchanged,
            _ => FileChange::Write(text.into_bytes()),
        }
    }
}

/// The last key of a path and the path before it; an empty path (only possible from a damaged
/// ownership record) is refused.
fn split(path: &[String]) -> Result<(&String, &[String]), CompileError> {
    path.split_last()
        .ok_or_else(|| CompileError::UnexpectedShape { key: "(an empty path in Muster's ownership record)".into() })
}

/// Whether two JSONC texts hold the same value.
fn same_json(a: &str, b: &str) -> bool {
    let parse = |t: &str| jsonc_parser::parse_to_serde_value::<Value>(t, &ParseOptions::default()).ok();
    matches!((parse(a), parse(b)), (Some(x), Some(y)) if x == y)
}

fn record_container(owned: &mut Owned, path: &[String]) {
    let p = path.to_vec();
    if !owned.containers.contains(&p) {
        owned.containers.push(p);
    }
}

/// A serde value as jsonc-parser input.
pub(super) fn to_input(v: &Value) -> CstInputValue {
    match v {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(a) => CstInputValue::Array(a.iter().map(to_input).collect()),
        Value::Object(o) => CstInputValue::Object(o.iter().map(|(k, v)| (k.clone(), to_input(v))).collect()),
    }
}

/// A path of keys.
pub(super) fn path(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| (*k).to_string()).collect()
}
