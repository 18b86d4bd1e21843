//! The one part of the client-policy writers that touches files: for each writer, read its
//! policy file and what Muster owned in it, compile, and write the result through the
//! file-safety layer ([`FileKeeper`]: re-check unchanged, backup, atomic write keeping owner and
//! mode, journal for `restore`). The ownership record is saved in the agent's state dir, as the
//! union of the old and new records before the write and the new one after it, so a crash in
//! between never makes Muster forget an entry it wrote. Cursor's decision table is written the
//! same way, beside `hooks.json`.

use std::path::{Path, PathBuf};

use super::{
    ClientPolicyWriter, CompileError, FileChange, Outcome, Owned, Plan, PolicyHelper, Probe, REGISTRY, ServerPolicy,
    Shadow, WriterOptions,
};
use crate::enforce::files::{Change, ENFORCE_DIR, FileKeeper, Intent, Observed};
use crate::platform::Layout;

/// What happened to one writer's file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileResult {
    /// Nothing to write (already as wanted, or nothing wanted and nothing there).
    Unchanged,
    Written,
    Removed,
    /// `--dry-run`: this change would be made.
    WouldChange,
    /// The client has no locally writable lever on this OS.
    NoLever,
    Failed(String),
}

/// One writer's result: its file, the outcome of every decision it was given, and the sources
/// that shadow it.
#[derive(Clone, Debug)]
pub struct WriterReport {
    pub writer: &'static str,
    pub path: Option<PathBuf>,
    pub file: FileResult,
    pub outcomes: Vec<Outcome>,
    pub shadows: Vec<Shadow>,
}

/// Runs every writer over `servers` (a dry run when `keeper` is `None`).
pub fn enforce_all(
    layout: &Layout,
    servers: &[ServerPolicy],
    state_dir: &Path,
    keeper: Option<&FileKeeper>,
    probe: &dyn Probe,
    options: WriterOptions,
) -> Vec<WriterReport> {
    let options = installed(layout, probe, options);
    REGISTRY.iter().map(|w| enforce_one(*w, layout, servers, state_dir, keeper, probe, options)).collect()
}

/// The options as this machine can honour them: a policyHelper whose program is missing would
/// stop Claude Code from starting, so it becomes [`PolicyHelper::ProgramMissing`].
fn installed(layout: &Layout, probe: &dyn Probe, mut options: WriterOptions) -> WriterOptions {
    if options.claude_code_policy_helper == PolicyHelper::On {
        let program = super::claude_code_helper::helper_program(layout.os());
        if layout.resolve(program).is_none_or(|p| !probe.exists(&p)) {
            // Each Claude Code decision also says so, but the drop-in's outcome decides its line.
            tracing::warn!(
                client = "claude-code",
                path = program,
                "claude_code_policy_helper is on but the helper program is not installed; policyHelper is not configured"
            );
            options.claude_code_policy_helper = PolicyHelper::ProgramMissing;
        }
    }
    options
}

fn owned_path(state_dir: &Path, writer: &str) -> PathBuf {
    state_dir.join(ENFORCE_DIR).join("client-policy").join(format!("{writer}.json"))
}

fn load_owned(state_dir: &Path, writer: &str) -> Owned {
    std::fs::read(owned_path(state_dir, writer)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

fn save_owned(state_dir: &Path, writer: &str, owned: &Owned) -> Result<(), String> {
    let path = owned_path(state_dir, writer);
    if let Some(dir) = path.parent() {
        crate::state::create_private_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let bytes = serde_json::to_vec_pretty(owned).map_err(|e| e.to_string())?;
    crate::state::write_atomic(&path, &bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// After a restore: deletes the ownership record of every writer none of whose changes is still
/// applied in the journal, so a later apply does not believe it still owns entries that the
/// restore took away (it would then "remove" an administrator's identical entry, or refuse to
/// re-add its own). A writer with a change still applied (a refused restore) keeps its record.
/// Returns the writers whose record was deleted.
pub fn forget_restored(state_dir: &Path, keeper: &FileKeeper) -> Result<Vec<&'static str>, String> {
    let touches = keeper.touches().map_err(|e| e.to_string())?;
    let mut forgotten = Vec::new();
    for w in REGISTRY {
        let prefix = format!("client-policy:{}:", w.id());
        let still_applied = touches
            .iter()
            .any(|t| t.key.starts_with(&prefix) && t.status == crate::enforce::files::TouchStatus::Applied);
        let path = owned_path(state_dir, w.id());
        if still_applied || !path.exists() {
            continue;
        }
        std::fs::remove_file(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
        forgotten.push(w.id());
    }
    Ok(forgotten)
}

fn union(a: &Owned, b: &Owned) -> Owned {
    let mut u = a.clone();
    u.created_file |= b.created_file;
    for e in &b.entries {
        if !u.entries.contains(e) {
            u.entries.push(e.clone());
        }
    }
    for c in &b.containers {
        if !u.containers.contains(c) {
            u.containers.push(c.clone());
        }
    }
    u
}

fn enforce_one(
    w: &dyn ClientPolicyWriter,
    layout: &Layout,
    servers: &[ServerPolicy],
    state_dir: &Path,
    keeper: Option<&FileKeeper>,
    probe: &dyn Probe,
    options: WriterOptions,
) -> WriterReport {
    let mut report = WriterReport {
        writer: w.id(),
        path: None,
        file: FileResult::Unchanged,
        outcomes: Vec::new(),
        shadows: Vec::new(),
    };
    let Some(path) = w.path(layout) else {
        report.file = FileResult::NoLever;
        for s in servers.iter().filter(|s| w.clients().contains(&s.client.as_str())) {
            let why = format!("{} has no locally writable policy file on this OS", w.id());
            if let Some(rule) = &s.asks.block {
                report.outcomes.push(super::outcome(s, rule, "block", super::OutcomeResult::NotEnforceable(why)));
            }
        }
        return report;
    };
    report.path = Some(path.clone());
    let previous = load_owned(state_dir, w.id());
    let result = (|| -> Result<(FileResult, Vec<Outcome>), String> {
        let (observed, bytes) = Observed::read(&path).map_err(|e| e.to_string())?;
        let plan = Plan { servers, existing: bytes.as_deref(), owned: &previous, os: layout.os(), options };
        let compiled = w.compile(&plan).map_err(|e: CompileError| format!("{}: {e}", layout.display(&path)))?;
        let mut result = change_file(keeper, &observed, &compiled.change, &intent(w.id(), "file"), || {
            save_owned(state_dir, w.id(), &union(&previous, &compiled.owned))
        })?;
        if keeper.is_some() {
            save_owned(state_dir, w.id(), &compiled.owned)?;
        }
        if w.id() == "cursor" {
            let table = super::cursor::table_bytes(&plan);
            let tr = write_cursor_table(layout, keeper, table.as_deref())?;
            if result == FileResult::Unchanged {
                result = tr;
            }
        }
        Ok((result, compiled.outcomes))
    })();
    match result {
        Ok((file, outcomes)) => {
            report.file = file;
            report.outcomes = outcomes;
        }
        Err(why) => report.file = FileResult::Failed(why),
    }
    report.shadows = w.not_in_force(layout, probe);
    report
}

fn intent(writer: &str, what: &str) -> Intent {
    Intent { key: format!("client-policy:{writer}:{what}"), decision: format!("client policy for {writer} ({what})") }
}

/// Policy files are read by every user's client: created `0644`.
const POLICY_FILE_MODE: u32 = 0o644;

fn change_file(
    keeper: Option<&FileKeeper>,
    observed: &Observed,
    change: &FileChange,
    intent: &Intent,
    before_write: impl FnOnce() -> Result<(), String>,
) -> Result<FileResult, String> {
    let c = match change {
        FileChange::Unchanged => return Ok(FileResult::Unchanged),
        FileChange::Write(bytes) => Change::Write { bytes, mode_if_created: POLICY_FILE_MODE },
        FileChange::Remove => Change::Remove,
    };
    let Some(keeper) = keeper else { return Ok(FileResult::WouldChange) };
    before_write()?;
    match keeper.apply(observed, c, intent) {
        Ok(_) => Ok(if matches!(change, FileChange::Remove) { FileResult::Removed } else { FileResult::Written }),
        Err(e) => Err(e.to_string()),
    }
}

fn write_cursor_table(
    layout: &Layout,
    keeper: Option<&FileKeeper>,
    table: Option<&[u8]>,
) -> Result<FileResult, String> {
    let Some(path) = layout.resolve(&super::cursor::table_file(layout.os())) else { return Ok(FileResult::Unchanged) };
    let (observed, bytes) = Observed::read(&path).map_err(|e| e.to_string())?;
    let change = match (table, bytes) {
        (Some(t), Some(b)) if t == b.as_slice() => FileChange::Unchanged,
        (Some(t), _) => FileChange::Write(t.to_vec()),
        (None, Some(_)) => FileChange::Remove,
        (None, None) => FileChange::Unchanged,
    };
    change_file(keeper, &observed, &change, &intent("cursor", "decision table"), || Ok(()))
}
