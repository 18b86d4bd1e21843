//! Claude Code: a drop-in file of its own in the managed-settings directory
//! (`managed-settings.d/50-muster.json`, merged after `managed-settings.json`, arrays
//! concatenated), so an administrator's `managed-settings.json` is never edited.
//!
//! `block` → `deniedMcpServers` entries by `serverCommand` (the exact argv) or `serverUrl`, never
//! by `serverName` (Anthropic: names are no security control); a denylist hit cannot be
//! overridden by any other source's allowlist. `deny-tools` → `permissions.deny` rules
//! `mcp__<server>__<tool>`; `require-approval` → `permissions.ask` rule `mcp__<server>` (tool
//! rules name the server, the only form Claude Code's permission rules have).
//!
//! Not in force when an MDM profile (macOS `com.anthropic.claudecode`) or a `policyHelper`
//! provides the managed settings: Claude Code's default `first-wins` source selection then ignores
//! the files, without a warning.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::{
    ClientPolicyWriter, CompileError, Compiled, FileChange, Identity, Outcome, OutcomeResult, Owned, OwnedEntry, Plan,
    Probe, Shadow, governed, outcome,
};
use crate::platform::{Layout, Os};

pub struct ClaudeCode;

const CLIENTS: &[&str] = &["claude-code"];
/// The drop-in's file name: sorted after the usual `10-`…`40-` team fragments.
pub const DROP_IN: &str = "50-muster.json";

/// The managed-settings directory on each OS (as on that machine).
pub fn managed_dir(os: Os) -> &'static str {
    match os {
        Os::Linux => "/etc/claude-code",
        Os::Macos => "/Library/Application Support/ClaudeCode",
        Os::Windows => "C:\\Program Files\\ClaudeCode",
    }
}

impl ClientPolicyWriter for ClaudeCode {
    fn id(&self) -> &'static str {
        "claude-code"
    }

    fn clients(&self) -> &'static [&'static str] {
        CLIENTS
    }

    fn lever(&self) -> &'static str {
        "managed settings drop-in managed-settings.d/50-muster.json (deniedMcpServers, permissions)"
    }

    fn path(&self, layout: &Layout) -> Option<PathBuf> {
        Some(layout.resolve(managed_dir(layout.os()))?.join("managed-settings.d").join(DROP_IN))
    }

    fn compile(&self, plan: &Plan<'_>) -> Result<Compiled, CompileError> {
        let mut denied: Vec<Value> = Vec::new();
        let mut deny: Vec<String> = Vec::new();
        let mut ask: Vec<String> = Vec::new();
        let mut outcomes: Vec<Outcome> = Vec::new();
        for s in governed(plan, CLIENTS) {
            if let Some(rule) = &s.asks.block {
                let entry = match &s.identity {
                    Identity::Url(Some(u)) => Some(json!({ "serverUrl": u })),
                    other => other.exact_argv().map(|argv| json!({ "serverCommand": argv })),
                };
                match entry {
                    Some(e) => {
                        denied.push(e);
                        outcomes.push(outcome(s, rule, "block", OutcomeResult::Written));
                    }
                    None => {
                        let why = s.identity.exact_problem().unwrap_or("no exact identity");
                        outcomes.push(outcome(
                            s,
                            rule,
                            "block",
                            OutcomeResult::NotEnforceable(format!("{why}; a name-only entry is no security control")),
                        ));
                    }
                }
            }
            for (rule, tools) in &s.asks.deny_tools {
                for t in tools {
                    deny.push(format!("mcp__{}__{}", s.name, t));
                }
                outcomes.push(outcome(s, rule, "deny-tools", OutcomeResult::Written));
            }
            if let Some(rule) = &s.asks.require_approval {
                ask.push(format!("mcp__{}", s.name));
                outcomes.push(outcome(s, rule, "require-approval", OutcomeResult::Written));
            }
        }
        sort_dedup(&mut denied);
        deny.sort();
        deny.dedup();
        ask.sort();
        ask.dedup();

        let mut doc = serde_json::Map::new();
        let mut owned = Owned::default();
        if !denied.is_empty() {
            doc.insert("deniedMcpServers".into(), Value::Array(denied.clone()));
            owned
                .entries
                .extend(denied.into_iter().map(|v| OwnedEntry { at: vec!["deniedMcpServers".into()], value: v }));
        }
        let mut permissions = serde_json::Map::new();
        if !deny.is_empty() {
            permissions.insert("deny".into(), json!(deny));
        }
        if !ask.is_empty() {
            permissions.insert("ask".into(), json!(ask));
        }
        for (k, v) in &permissions {
            for item in v.as_array().into_iter().flatten() {
                owned.entries.push(OwnedEntry { at: vec!["permissions".into(), k.clone()], value: item.clone() });
            }
        }
        if !permissions.is_empty() {
            doc.insert("permissions".into(), Value::Object(permissions));
        }
        let change = if doc.is_empty() {
            if plan.existing.is_some() { FileChange::Remove } else { FileChange::Unchanged }
        } else {
            owned.created_file = true;
            let mut text = serde_json::to_string_pretty(&Value::Object(doc))
                .map_err(|e| CompileError::WouldBeMalformed(e.to_string()))?;
            text.push('\n');
            if plan.existing == Some(text.as_bytes()) {
                FileChange::Unchanged
            } else {
                FileChange::Write(text.into_bytes())
            }
        };
        Ok(Compiled { change, owned, outcomes })
    }

    fn not_in_force(&self, layout: &Layout, probe: &dyn Probe) -> Vec<Shadow> {
        let mut out = Vec::new();
        if layout.os() == Os::Macos {
            for (shown, _) in super::shadow::managed_preferences(layout, "com.anthropic.claudecode", probe) {
                out.push(Shadow {
                    source: shown,
                    why: "an MDM profile delivers Claude Code's managed settings; with the default first-wins \
                          source selection Claude Code then ignores the managed-settings files (unless that \
                          profile sets managedSourcesBehavior to \"merge\")"
                        .into(),
                });
            }
        }
        // Server-managed settings are cached per user in ~/.claude/remote-settings.json (the
        // client's own cache, as third-party analyses of it describe): a non-empty one means
        // the server source wins under first-wins for that user.
        for user in probe.users(layout) {
            let cache = user.home.join(".claude").join("remote-settings.json");
            let Some(bytes) = probe.read(&cache) else { continue };
            let non_empty = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .is_some_and(|v| v.as_object().is_some_and(|o| !o.is_empty()));
            if non_empty {
                out.push(Shadow {
                    source: layout.display(&cache),
                    why: format!(
                        "server-managed settings are cached for {}; they win over the managed-settings files \
                         under first-wins",
                        user.name
                    ),
                });
            }
        }
        if let Some(dir) = layout.resolve(managed_dir(layout.os())) {
            let base = dir.join("managed-settings.json");
            if let Some(bytes) = probe.read(&base) {
                let v: Option<Value> = jsonc_parser::parse_to_serde_value(
                    &String::from_utf8_lossy(&bytes),
                    &jsonc_parser::ParseOptions::default(),
                )
                .ok()
                .flatten();
                match v {
                    None => out.push(Shadow {
                        source: layout.display(&base),
                        why: "managed-settings.json is not valid JSON, so Claude Code may reject the file \
                              source and the drop-in with it"
                            .into(),
                    }),
                    // Muster's own helper answers with the drop-in included.
                    Some(v)
                        if v.get("policyHelper")
                            .is_some_and(|h| !super::claude_code_helper::is_muster_helper(h, layout.os())) =>
                    {
                        out.push(Shadow {
                            source: format!("{} (policyHelper)", layout.display(&base)),
                            why: "an administrator's policyHelper is configured: its output is the only managed \
                                  source, so the managed-settings files are ignored"
                                .into(),
                        })
                    }
                    Some(_) => {}
                }
            }
        }
        out
    }

    fn bypasses(&self) -> &'static [&'static str] {
        &[
            "server-managed settings (claude.ai admin console) win over the files under first-wins; they are seen only once the client has cached them for a user",
            "Windows: a policy in HKLM\\SOFTWARE\\Policies\\ClaudeCode wins over the files (first-wins); this build reads no registry",
            "serverCommand matches the exact argv: the same package launched with other arguments (or another launcher) is a different server",
            "serverUrl: `${VAR}` expansion in the user's config is done with the user's environment",
            "tool rules (mcp__server__tool) name the server: the same server under another name escapes deny-tools and require-approval",
        ]
    }
}

fn sort_dedup(v: &mut Vec<Value>) {
    v.sort_by_key(|a| a.to_string());
    v.dedup();
}
