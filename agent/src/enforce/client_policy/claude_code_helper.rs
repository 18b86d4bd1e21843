//! Claude Code's `policyHelper`, the stronger channel (opt-in: `[enforce]
//! claude_code_policy_helper = true`). Two halves:
//!
//! - **The writer** adds one key to the administrator's `managed-settings.json`,
//!   `policyHelper: {"path": <Muster's helper program>, "refreshIntervalMs": 300000}`, while
//!   Muster has Claude Code decisions to enforce, and takes it out when they lift (ownership
//!   tracked like every writer's entries; an administrator's own `policyHelper` is never
//!   replaced). It writes the key only when the helper program is installed on the machine:
//!   Claude Code refuses to start when its helper cannot run.
//! - **The helper** ([`helper_answer`], `muster-agent hook claude-code`): Claude Code runs it with
//!   no arguments at start (and on refresh) and takes the `managedSettings` object of its JSON
//!   stdout as the *only* managed source of the run, ignoring the files. So the helper answers
//!   with the administrator's `managed-settings.json` and every `managed-settings.d/*.json`
//!   merged as Claude Code merges them (alphabetically after the main file; objects merged,
//!   arrays concatenated), which includes Muster's own drop-in, compiled by the agent from its
//!   signed policy bundle. It reads two or three small files and evaluates nothing; it never
//!   contacts the control plane.
//!
//! The helper **never blocks a launch**: it always exits 0 with a valid envelope. A missing
//! Muster drop-in gives the administrator's settings alone; an unreadable or non-JSON file is
//! left out (a note on stderr names it, never its content); an answer over Claude Code's 1 MiB
//! stdout limit drops Muster's entries first, then everything.
//!
//! What it does not do: the helper does not read the agent's private state dir (it runs as the
//! developer, who cannot), and it does not pass on MDM or server-managed settings (Claude Code
//! prefers those over any file-configured helper anyway).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::jsonc::{JsonDoc, path};
use super::{
    ClientPolicyWriter, CompileError, Compiled, OutcomeResult, Owned, Plan, PolicyHelper, Probe, Shadow, governed,
    outcome,
};
use crate::platform::{Layout, Os};

pub struct ClaudeCodeHelper;

const CLIENTS: &[&str] = &["claude-code"];
/// The managed-settings key Claude Code reads its helper from.
pub const KEY: &str = "policyHelper";
/// How often Claude Code re-runs the helper (its minimum is 60 000 ms).
pub const REFRESH_MS: u64 = 300_000;
/// The most stdout Claude Code reads from a helper.
pub const MAX_OUTPUT: usize = 1 << 20;
/// The most the helper reads of one settings file.
const MAX_FILE: u64 = 4 << 20;

/// Muster's helper program on each OS (as on that machine). Claude Code runs `path` with no
/// arguments (and on Windows it must be an `.exe`): on Linux and macOS the packages install a
/// two-line script that runs `muster-agent hook claude-code`; on Windows the agent binary answers
/// as the helper when its file is named `muster-claude-policy.exe`.
pub fn helper_program(os: Os) -> &'static str {
    match os {
        Os::Linux => "/usr/lib/muster-agent/claude-policy-helper",
        Os::Macos => "/usr/local/lib/muster-agent/claude-policy-helper",
        Os::Windows => "C:\\Program Files\\Muster\\muster-claude-policy.exe",
    }
}

/// The file stem under which the agent binary acts as the helper (Windows install).
pub const HELPER_BINARY_STEM: &str = "muster-claude-policy";

/// The `policyHelper` value Muster writes.
pub fn helper_entry(os: Os) -> Value {
    json!({ "path": helper_program(os), "refreshIntervalMs": REFRESH_MS })
}

/// Whether a `policyHelper` value in a managed-settings file is Muster's own.
pub fn is_muster_helper(v: &Value, os: Os) -> bool {
    v.get("path").and_then(Value::as_str) == Some(helper_program(os))
}

impl ClientPolicyWriter for ClaudeCodeHelper {
    fn id(&self) -> &'static str {
        "claude-code-helper"
    }

    fn clients(&self) -> &'static [&'static str] {
        CLIENTS
    }

    fn lever(&self) -> &'static str {
        "Claude Code policyHelper in managed-settings.json, answered by `muster-agent hook claude-code` (opt-in)"
    }

    fn path(&self, layout: &Layout) -> Option<PathBuf> {
        Some(layout.resolve(super::claude_code::managed_dir(layout.os()))?.join("managed-settings.json"))
    }

    fn compile(&self, plan: &Plan<'_>) -> Result<Compiled, CompileError> {
        let mut owned = Owned::default();
        let mut outcomes = Vec::new();
        let wanted: Vec<_> = governed(plan, CLIENTS).filter(|s| !s.asks.is_empty()).collect();
        let setting = plan.options.claude_code_policy_helper;
        // Nothing to do and nothing of Muster's in the file: leave even an unparsable file alone.
        if (setting == PolicyHelper::Off || wanted.is_empty()) && plan.owned.is_empty() {
            return Ok(Compiled { change: super::FileChange::Unchanged, owned, outcomes });
        }
        let doc = JsonDoc::parse(plan.existing)?;
        let result = match setting {
            PolicyHelper::Off => None,
            _ if wanted.is_empty() => None,
            PolicyHelper::ProgramMissing => Some(OutcomeResult::NotEnforceable(format!(
                "policyHelper is turned on but {} is not installed, so Muster does not configure it (Claude Code \
                 would refuse to start); the managed-settings drop-in still applies",
                helper_program(plan.os)
            ))),
            PolicyHelper::On => match doc.ensure_key(&path(&[KEY]), &helper_entry(plan.os), plan.owned, &mut owned)? {
                None => Some(OutcomeResult::Written),
                Some(v) if is_muster_helper(&v, plan.os) => {
                    Some(OutcomeResult::AlreadyEnforced("an administrator configured Muster's policyHelper".into()))
                }
                Some(_) => Some(OutcomeResult::NotEnforceable(
                    "an administrator's own policyHelper is configured; Muster does not replace it".into(),
                )),
            },
        };
        if let Some(result) = result {
            for s in &wanted {
                for (rule, action) in decisions(s) {
                    outcomes.push(outcome(s, rule, action, result.clone()));
                }
            }
        }
        doc.release(plan.owned, &mut owned)?;
        let change = doc.finish(plan.existing, &mut owned, plan.owned);
        Ok(Compiled { change, owned, outcomes })
    }

    fn not_in_force(&self, layout: &Layout, probe: &dyn Probe) -> Vec<Shadow> {
        let mut out = Vec::new();
        let Some(file) = self.path(layout) else { return out };
        let Some(bytes) = probe.read(&file) else { return out };
        let v: Option<Value> = jsonc_parser::parse_to_serde_value(
            &String::from_utf8_lossy(&bytes),
            &jsonc_parser::ParseOptions::default(),
        )
        .ok()
        .flatten();
        let ours = v.as_ref().and_then(|v| v.get(KEY)).is_some_and(|h| is_muster_helper(h, layout.os()));
        let program = helper_program(layout.os());
        if ours && layout.resolve(program).is_none_or(|p| !probe.exists(&p)) {
            out.push(Shadow {
                source: format!("{} ({program})", layout.display(&file)),
                why: "Muster's policyHelper is configured but its program is not installed: Claude Code refuses to \
                      start until it is, or until the key is removed"
                    .into(),
            });
        }
        out
    }

    fn bypasses(&self) -> &'static [&'static str] {
        &[
            "server-managed settings (claude.ai admin console) and, under first-wins, an MDM profile or HKLM policy win over a helper configured in the file",
            "the helper answers what the managed-settings files say: the matching rules (and their bypasses) are the Claude Code drop-in's",
            "a failed refresh keeps the last good answer, so a lifted or new decision reaches a running session only at its next successful refresh",
        ]
    }
}

/// The (rule, action) pairs the policy asks of one server.
fn decisions(s: &super::ServerPolicy) -> Vec<(&str, &'static str)> {
    let mut out = Vec::new();
    if let Some(r) = &s.asks.block {
        out.push((r.as_str(), "block"));
    }
    for (r, _) in &s.asks.deny_tools {
        out.push((r.as_str(), "deny-tools"));
    }
    if let Some(r) = &s.asks.require_approval {
        out.push((r.as_str(), "require-approval"));
    }
    out
}

/// What the helper prints, and the notes it writes to stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelperAnswer {
    /// The JSON envelope `{"managedSettings": {...}}` and a newline; always valid, at most
    /// [`MAX_OUTPUT`] bytes.
    pub stdout: Vec<u8>,
    /// What was left out and why (file names, never content).
    pub notes: Vec<String>,
}

/// The helper's answer from the managed-settings directory `dir` (host path): the
/// administrator's `managed-settings.json`, then every `managed-settings.d/*.json` in name order,
/// merged. Never fails.
pub fn helper_answer(dir: &Path) -> HelperAnswer {
    let mut notes = Vec::new();
    let mut files: Vec<(String, bool, Value)> = Vec::new();
    let main = dir.join("managed-settings.json");
    if let Some(v) = read_settings(&main, "managed-settings.json", &mut notes) {
        files.push(("managed-settings.json".into(), false, v));
    }
    let drop_ins = dir.join("managed-settings.d");
    let mut names: Vec<String> = std::fs::read_dir(&drop_ins)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    for name in names {
        let shown = format!("managed-settings.d/{name}");
        if let Some(v) = read_settings(&drop_ins.join(&name), &shown, &mut notes) {
            files.push((shown, name == super::claude_code::DROP_IN, v));
        }
    }
    if !files.iter().any(|(_, ours, _)| *ours) {
        notes.push("no Muster entries (managed-settings.d/50-muster.json is absent or unreadable)".into());
    }
    let envelope = |include_ours: bool| {
        let mut merged = Map::new();
        for (_, ours, v) in &files {
            if *ours && !include_ours {
                continue;
            }
            if let Value::Object(o) = v {
                merge_into(&mut merged, o);
            }
        }
        merged.remove(KEY);
        let mut text = json!({ "managedSettings": Value::Object(merged) }).to_string();
        text.push('\n');
        text.into_bytes()
    };
    let mut stdout = envelope(true);
    if stdout.len() > MAX_OUTPUT {
        notes.push("the merged settings exceed Claude Code's 1 MiB limit; Muster's entries are left out".into());
        stdout = envelope(false);
        if stdout.len() > MAX_OUTPUT {
            notes.push("the administrator's settings alone exceed the 1 MiB limit; answering with none".into());
            stdout = b"{\"managedSettings\":{}}\n".to_vec();
        }
    }
    HelperAnswer { stdout, notes }
}

/// One settings file as a JSON object, or `None` with a note.
fn read_settings(path: &Path, shown: &str, notes: &mut Vec<String>) -> Option<Value> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            notes.push(format!("{shown} cannot be read ({}); left out", e.kind()));
            return None;
        }
    };
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        notes.push(format!("{shown} is not a regular file; left out"));
        return None;
    }
    let mut bytes = Vec::new();
    if file.take(MAX_FILE + 1).read_to_end(&mut bytes).is_err() || bytes.len() as u64 > MAX_FILE {
        notes.push(format!("{shown} cannot be read or is over 4 MiB; left out"));
        return None;
    }
    let text = String::from_utf8_lossy(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes)).into_owned();
    match jsonc_parser::parse_to_serde_value(&text, &jsonc_parser::ParseOptions::default()) {
        Ok(Some(v @ Value::Object(_))) => Some(v),
        // Parser messages can quote the file: only the file is named.
        _ => {
            notes.push(format!("{shown} is not a JSON object; left out"));
            None
        }
    }
}

/// Merge `from` into `into` as Claude Code merges its drop-ins: objects key by key, arrays
/// concatenated (an item already there is not repeated), anything else replaced.
fn merge_into(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge_into(a, b),
            (Some(Value::Array(a)), Value::Array(b)) => {
                // By text, so a long list stays linear.
                let mut seen: std::collections::BTreeSet<String> = a.iter().map(Value::to_string).collect();
                for item in b {
                    if seen.insert(item.to_string()) {
                        a.push(item.clone());
                    }
                }
            }
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests;
