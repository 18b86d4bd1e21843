//! Quarantine in the user's own file: disabling one server entry the way its client understands
//! (its own disabled flag or list, see [`methods`]), else moving the entry into a sidecar file
//! beside the config, through format-preserving editors (JSON/JSONC CST, `toml_edit`, YAML span
//! edits) that change nothing but the entry's switch. Every write goes through the file-safety
//! layer ([`super::files`]), so each quarantine is journalled, backed up and restorable; lifting
//! one is a restore of the file's touches followed by re-applying the quarantines still wanted
//! ([`reconcile`]). This module does not decide what to quarantine (that is the policy).

mod edit_json;
mod edit_toml;
mod edit_yaml;
mod lift;
pub mod methods;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::files::{Change, FileKeeper, FileSafetyError, Intent, Observed};
pub use methods::Method;

/// Why an edit could not be made to a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// Where the file stops parsing; never the parser's message, which may quote content.
    #[error("the file does not parse ({0})")]
    Syntax(String),
    #[error("the server entry is not in the file")]
    NotFound,
    #[error("the file is not shaped as expected here")]
    WrongShape,
}

/// Why a quarantine could not be planned or applied.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    #[error("{path}: {source}")]
    Edit { path: PathBuf, source: EditError },
    #[error("{path}: server {name:?} is found {count} times; refusing to guess")]
    Ambiguous { path: PathBuf, name: String, count: usize },
    #[error("{path}: quarantine in {format} files is not supported for this client")]
    Unsupported { path: PathBuf, format: &'static str },
    #[error(transparent)]
    File(#[from] FileSafetyError),
}

/// One server to quarantine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quarantine {
    pub server_id: String,
    pub client: String,
    pub name: String,
    /// The config file on this host (an image path under `--root`).
    pub config_path: PathBuf,
    /// The project the entry belongs to (`projects[...]` of `~/.claude.json`), as written there.
    pub project: String,
    /// Why, for the journal (rule ids).
    pub decision: String,
}

impl Quarantine {
    /// The journal key of this quarantine's touches.
    pub fn key(&self) -> String {
        format!("quarantine:{}", self.server_id)
    }
}

/// One file change a quarantine needs, planned against what the file held.
#[derive(Debug)]
pub struct PlannedEdit {
    pub observed: Observed,
    pub bytes: Vec<u8>,
    pub mode_if_created: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Toml,
    Yaml,
}

fn format_of(path: &Path) -> Result<Format, QuarantineError> {
    match path.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "toml" => Ok(Format::Toml),
        "yaml" | "yml" => Ok(Format::Yaml),
        "md" => Err(QuarantineError::Unsupported { path: path.into(), format: "markdown" }),
        _ => Ok(Format::Json),
    }
}

/// Keys under which clients keep their server maps.
const SERVER_MAP_KEYS: &[&str] =
    &["mcpServers", "servers", "context_servers", "mcp", "extensions", "mcp_servers", "amp.mcpServers"];

/// The path of the server map holding `q`'s entry (e.g. `["projects", "/p", "mcpServers"]`).
fn locate(doc: &Value, q: &Quarantine) -> Result<Vec<String>, QuarantineError> {
    locate_entry(doc, &q.config_path, &q.name, &q.project)
}

/// The path of the server map holding entry `name` of `project` (empty: outside `projects`).
fn locate_entry(doc: &Value, path: &Path, name: &str, project: &str) -> Result<Vec<String>, QuarantineError> {
    fn walk(v: &Value, path: &mut Vec<String>, name: &str, out: &mut Vec<Vec<String>>) {
        let Value::Object(map) = v else { return };
        if let Some(last) = path.last()
            && SERVER_MAP_KEYS.contains(&last.as_str())
            && map.get(name).is_some_and(Value::is_object)
        {
            out.push(path.clone());
        }
        for (k, child) in map {
            path.push(k.clone());
            walk(child, path, name, out);
            path.pop();
        }
    }
    let mut found = Vec::new();
    walk(doc, &mut Vec::new(), name, &mut found);
    let wanted: Vec<Vec<String>> = if project.is_empty() {
        found.iter().filter(|p| p.first().map(String::as_str) != Some("projects")).cloned().collect()
    } else {
        let inside: Vec<_> = found.iter().filter(|p| p.iter().any(|seg| seg == project)).cloned().collect();
        if inside.is_empty() { found.clone() } else { inside }
    };
    match wanted.len() {
        1 => Ok(wanted.into_iter().next().unwrap_or_default()),
        0 => Err(QuarantineError::Edit { path: path.into(), source: EditError::NotFound }),
        count => Err(QuarantineError::Ambiguous { path: path.into(), name: name.into(), count }),
    }
}

/// The config file `path` holding `text` as a value tree and the path of the server map holding
/// entry `name` of `project`, found as a quarantine finds it (for other edits of one entry, such
/// as a version pin). Markdown files are refused as unsupported.
pub fn locate_server(
    path: &Path,
    text: &str,
    name: &str,
    project: &str,
) -> Result<(Value, Vec<String>), QuarantineError> {
    let format = format_of(path)?;
    let doc = to_value(text, format).map_err(|source| QuarantineError::Edit { path: path.into(), source })?;
    let map = locate_entry(&doc, path, name, project)?;
    Ok((doc, map))
}

/// Where a server entry starts in its file: the 1-based line and column (in characters, a
/// byte-order mark not counted) of its key, for opening the file there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryPlace {
    pub line: u32,
    pub column: u32,
}

/// The places of entries `(name, project)` of the config file `path` holding `text`: found the
/// way a quarantine finds them (the same server-map search and the same format-preserving
/// parsers), the document parsed once. `None` for an entry that cannot be located (not there,
/// found more than once, inside a list, or a format quarantine does not edit).
pub fn entry_places(path: &Path, text: &str, entries: &[(&str, &str)]) -> Vec<Option<EntryPlace>> {
    let none = || vec![None; entries.len()];
    let Ok(format) = format_of(path) else { return none() };
    let Ok(doc) = to_value(text, format) else { return none() };
    let maps: Vec<Option<Vec<String>>> =
        entries.iter().map(|(name, project)| locate_entry(&doc, path, name, project).ok()).collect();
    let located: Vec<(Vec<String>, &str)> =
        entries.iter().zip(&maps).filter_map(|((name, _), map)| Some((map.clone()?, *name))).collect();
    let offsets = match format {
        Format::Json => edit_json::key_offsets(text, &located),
        Format::Toml => edit_toml::key_offsets(text, &located),
        Format::Yaml => edit_yaml::key_offsets(text, &located),
    };
    let Ok(offsets) = offsets else { return none() };
    let mut offsets = offsets.into_iter();
    maps.iter()
        .map(|map| {
            map.as_ref()?;
            let offset = offsets.next().flatten()?;
            let (line, column) = line_column(text, offset);
            Some(EntryPlace { line, column })
        })
        .collect()
}

/// 1-based line and column (in characters; a byte-order mark is not a column) of a byte offset.
fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let column = before[line_start..].chars().filter(|&c| c != '\u{feff}').count() + 1;
    (u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(column).unwrap_or(u32::MAX))
}

fn to_value(text: &str, format: Format) -> Result<Value, EditError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        Format::Json => {
            let opts = jsonc_parser::ParseOptions::default();
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            jsonc_parser::parse_to_serde_value::<Value>(text, &opts)
                .map_err(|e| EditError::Syntax(format!("line {}, column {}", e.line_display(), e.column_display())))
        }
        Format::Toml => toml::from_str(text)
            .map_err(|e: toml::de::Error| EditError::Syntax(position(text, e.span().map_or(0, |r| r.start)))),
        Format::Yaml => serde_norway::from_str(text).map_err(|e| {
            EditError::Syntax(
                e.location()
                    .map_or_else(|| "somewhere".to_string(), |l| format!("line {}, column {}", l.line(), l.column())),
            )
        }),
    }
}

/// `line L, column C` of a byte offset (1-based), for parse errors.
pub(crate) fn position(text: &str, offset: usize) -> String {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.len() - before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
    format!("line {line}, column {column}")
}

fn read_text(path: &Path) -> Result<(Observed, String), QuarantineError> {
    let (observed, bytes) = Observed::read(path)?;
    let bytes = bytes.ok_or_else(|| QuarantineError::Edit { path: path.into(), source: EditError::NotFound })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| QuarantineError::Edit { path: path.into(), source: EditError::Syntax("not UTF-8".into()) })?;
    Ok((observed, text))
}

/// Plans the edits that quarantine `q`, reading the files involved now. An edit whose bytes
/// equal the file's (already disabled) is still returned; applying it records nothing.
pub fn plan(q: &Quarantine) -> Result<Vec<PlannedEdit>, QuarantineError> {
    let path = &q.config_path;
    let format = format_of(path)?;
    let (observed, text) = read_text(path)?;
    let edit_err = |source| QuarantineError::Edit { path: path.clone(), source };
    let doc = to_value(&text, format).map_err(edit_err)?;
    let map = locate(&doc, q)?;
    match methods::method_for(&q.client, path, &map) {
        Method::Flag { key, value } => {
            let new = match format {
                Format::Json => edit_json::set_flag(&text, &map, &q.name, key, value),
                Format::Toml => edit_toml::set_flag(&text, &map, &q.name, key, value),
                Format::Yaml => edit_yaml::set_flag(&text, &map, &q.name, key, value),
            }
            .map_err(edit_err)?;
            Ok(vec![PlannedEdit { observed, bytes: new.into_bytes(), mode_if_created: 0o600 }])
        }
        Method::NameList { sibling: None, parent, list } if format == Format::Json => {
            let new = edit_json::add_to_list(&text, &parent, list, &q.name).map_err(edit_err)?;
            Ok(vec![PlannedEdit { observed, bytes: new.into_bytes(), mode_if_created: 0o600 }])
        }
        Method::NameList { sibling: Some(rel), parent, list } => {
            let target = path.parent().unwrap_or(Path::new(".")).join(rel);
            let (observed, bytes) = Observed::read(&target)?;
            let current = String::from_utf8(bytes.unwrap_or_default()).map_err(|_| QuarantineError::Edit {
                path: target.clone(),
                source: EditError::Syntax("not UTF-8".into()),
            })?;
            let new = edit_json::add_to_list(&current, &parent, list, &q.name)
                .map_err(|source| QuarantineError::Edit { path: target.clone(), source })?;
            Ok(vec![PlannedEdit { observed, bytes: with_newline(new).into_bytes(), mode_if_created: 0o644 }])
        }
        Method::Sidecar | Method::NameList { .. } => {
            if format != Format::Json {
                return Err(QuarantineError::Unsupported {
                    path: path.clone(),
                    format: if format == Format::Toml { "TOML" } else { "YAML" },
                });
            }
            let (new, removed) = edit_json::remove_entry(&text, &map, &q.name).map_err(edit_err)?;
            let sidecar = sidecar_path(path);
            let (side_observed, side_bytes) = Observed::read(&sidecar)?;
            let side = add_to_sidecar(side_bytes.as_deref(), path, q, &map, &removed);
            Ok(vec![
                PlannedEdit { observed: side_observed, bytes: side, mode_if_created: 0o600 },
                PlannedEdit { observed, bytes: new.into_bytes(), mode_if_created: 0o600 },
            ])
        }
    }
}

fn with_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// `<config>.muster-quarantined`: a name no client reads.
pub fn sidecar_path(config: &Path) -> PathBuf {
    let mut name = config.file_name().unwrap_or_default().to_os_string();
    name.push(".muster-quarantined");
    config.with_file_name(name)
}

/// The sidecar is Muster's own JSON file: entries moved out of the config, each with its text.
fn add_to_sidecar(current: Option<&[u8]>, config: &Path, q: &Quarantine, map: &[String], removed: &str) -> Vec<u8> {
    let mut doc: Value = current
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_else(|| serde_json::json!({ "version": 1, "config": config, "entries": [] }));
    let entry = serde_json::json!({
        "server_id": q.server_id, "client": q.client, "name": q.name, "map": map,
        "decision": q.decision, "text": removed,
    });
    if let Some(list) = doc.get_mut("entries").and_then(Value::as_array_mut) {
        list.retain(|e| e.get("server_id") != Some(&Value::String(q.server_id.clone())));
        list.push(entry);
    }
    with_newline(serde_json::to_string_pretty(&doc).unwrap_or_default()).into_bytes()
}

/// What reconcile did about one quarantine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Written now (journal ids).
    Applied(Vec<u64>),
    /// Already in force from an earlier run.
    InForce,
    /// The entry was already disabled by its owner; nothing written.
    AlreadyDisabled,
    /// Lifted: the file's touches were undone (ids).
    Lifted(Vec<u64>),
    /// Could not be applied or lifted, with the reason.
    Failed(String),
}

/// Brings the files in line with `desired`: quarantines no longer wanted are lifted (the files
/// they touched restored byte-identical, newest touch first), then every wanted quarantine not
/// in force is planned and applied (re-planned when a file changes underneath). Returns one
/// outcome per key (`quarantine:<server id>`).
pub fn reconcile(keeper: &FileKeeper, desired: &[Quarantine]) -> Result<Vec<(String, Outcome)>, FileSafetyError> {
    let wanted: BTreeSet<String> = desired.iter().map(Quarantine::key).collect();
    let mut out = Vec::new();
    let touches = keeper.touches()?;
    let active = |t: &super::Touch| t.status == super::TouchStatus::Applied && t.key.starts_with("quarantine:");
    let stale: BTreeSet<String> =
        touches.iter().filter(|t| active(t) && !wanted.contains(&t.key)).map(|t| t.key.clone()).collect();
    for key in stale {
        let outcome = lift(keeper, &key)?;
        out.push((key, outcome));
    }
    let touches = keeper.touches()?;
    for q in desired {
        let key = q.key();
        if touches.iter().any(|t| active(t) && t.key == key) {
            out.push((key, Outcome::InForce));
            continue;
        }
        out.push((key, apply_one(keeper, q)));
    }
    Ok(out)
}

/// Lifts every quarantine in force with a touch `select` picks (for `restore --all`).
pub fn lift_all(
    keeper: &FileKeeper,
    select: impl Fn(&super::Touch) -> bool,
) -> Result<Vec<(String, Outcome)>, FileSafetyError> {
    let keys: BTreeSet<String> = keeper
        .touches()?
        .into_iter()
        .filter(|t| t.status == super::TouchStatus::Applied && t.key.starts_with("quarantine:") && select(t))
        .map(|t| t.key)
        .collect();
    let mut out = Vec::new();
    for key in keys {
        let outcome = lift(keeper, &key)?;
        out.push((key, outcome));
    }
    Ok(out)
}

/// Undoes the touches of `key` alone: restored byte-identical where the file still holds what
/// Muster wrote, else taken back out of the current file ([`lift::take_back`]); a file edited on
/// the same lines is left as it is ([`Outcome::Failed`]). Unlike [`lift`], never restores another
/// key's later touch of the same file.
pub fn undo_key(keeper: &FileKeeper, key: &str) -> Result<Outcome, FileSafetyError> {
    let (undone, _) = keeper.restore_where(|t| t.key == key)?;
    let left = keeper.touches()?.iter().any(|t| t.key == key && t.status == super::TouchStatus::Applied);
    if !left {
        return Ok(Outcome::Lifted(undone));
    }
    Ok(match take_back_key(keeper, key)? {
        Outcome::Lifted(more) => Outcome::Lifted(undone.into_iter().chain(more).collect()),
        other => other,
    })
}

/// Lifts quarantine `key`: its files are restored byte-identical where they are as Muster left
/// them; what a restore cannot undo is taken back out of the current file.
fn lift(keeper: &FileKeeper, key: &str) -> Result<Outcome, FileSafetyError> {
    let current = keeper.touches()?;
    let files: BTreeSet<PathBuf> = current
        .iter()
        .filter(|t| t.status == super::TouchStatus::Applied && t.key == key)
        .map(|t| t.real_path.clone())
        .collect();
    // A restore never goes back past a lift made by taking a change out of an edited file:
    // undoing that lift would put the lifted quarantine back.
    let barrier = |path: &PathBuf| {
        current
            .iter()
            .filter(|t| t.status == super::TouchStatus::Applied && t.key.starts_with("lift:") && t.real_path == *path)
            .map(|t| t.id)
            .max()
            .unwrap_or(0)
    };
    let (undone, _) = keeper.restore_where(|t| files.contains(&t.real_path) && t.id > barrier(&t.real_path))?;
    // What a restore could not undo (the file was edited, or the touch lies behind a barrier)
    // is taken back out of the current file.
    let left = keeper.touches()?.iter().any(|t| t.key == key && t.status == super::TouchStatus::Applied);
    if !left {
        return Ok(Outcome::Lifted(undone));
    }
    Ok(match take_back_key(keeper, key)? {
        Outcome::Lifted(more) => Outcome::Lifted(undone.into_iter().chain(more).collect()),
        other => other,
    })
}

/// Lifts quarantine `key` from files the developer edited since: each of its touches still in
/// force, newest first, is taken back out of the current file ([`lift::take_back`]) as a new
/// journalled touch, and marked superseded.
fn take_back_key(keeper: &FileKeeper, key: &str) -> Result<Outcome, FileSafetyError> {
    let mut ids = Vec::new();
    let mut touches: Vec<super::Touch> =
        keeper.touches()?.into_iter().filter(|t| t.key == key && t.status == super::TouchStatus::Applied).collect();
    touches.reverse();
    for t in touches {
        let bytes = keeper.written_and_replaced(t.id)?;
        let (Some(before), Some(after)) = (bytes.replaced, bytes.written) else {
            return Ok(Outcome::Failed(format!(
                "not lifted: {} changed since Muster wrote it and was created by Muster; left as it is",
                t.real_path.display()
            )));
        };
        let (observed, current) = Observed::read(&t.real_path)?;
        let Some(lifted) = current.as_deref().and_then(|c| lift::take_back(&before, &after, c)) else {
            return Ok(Outcome::Failed(format!(
                "not lifted: {} was edited where Muster changed it; left as it is",
                t.real_path.display()
            )));
        };
        let intent = Intent { key: format!("lift:{key}"), decision: format!("lift of touch {}", t.id) };
        let change = Change::Write { bytes: &lifted, mode_if_created: 0o600 };
        match keeper.apply(&observed, change, &intent) {
            Ok(Some(done)) => {
                keeper.supersede(t.id, done.id)?;
                ids.push(done.id);
            }
            Ok(None) => keeper.supersede(t.id, t.id)?,
            Err(e) => return Ok(Outcome::Failed(format!("not lifted: {e}"))),
        }
    }
    Ok(Outcome::Lifted(ids))
}

/// Plans and applies one quarantine, planning again (a few times) when a file changed between
/// planning and writing.
pub fn apply_one(keeper: &FileKeeper, q: &Quarantine) -> Outcome {
    apply_keyed(keeper, q, &q.key())
}

/// [`apply_one`] under another journal key: the developer's own disables (`disable:<server id>`,
/// see `local_api::fixes`) are kept apart from the policy's, so [`reconcile`] never lifts them.
pub fn apply_keyed(keeper: &FileKeeper, q: &Quarantine, key: &str) -> Outcome {
    let intent = Intent { key: key.to_string(), decision: q.decision.clone() };
    let mut last = String::new();
    for _ in 0..3 {
        let edits = match plan(q) {
            Ok(e) => e,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        let mut ids = Vec::new();
        let mut changed = false;
        for edit in &edits {
            let change = Change::Write { bytes: &edit.bytes, mode_if_created: edit.mode_if_created };
            match keeper.apply(&edit.observed, change, &intent) {
                Ok(Some(t)) => ids.push(t.id),
                Ok(None) => {}
                Err(FileSafetyError::Changed { path }) => {
                    last = format!("{} kept changing", path.display());
                    changed = true;
                    break;
                }
                Err(e) => return Outcome::Failed(e.to_string()),
            }
        }
        if changed {
            // Undo the part already written (a sidecar) so the next plan starts clean.
            if !ids.is_empty() {
                let _ = keeper.restore_where(|t| ids.contains(&t.id));
            }
            continue;
        }
        return if ids.is_empty() { Outcome::AlreadyDisabled } else { Outcome::Applied(ids) };
    }
    Outcome::Failed(last)
}
