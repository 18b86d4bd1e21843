//! Codex: the admin-enforced `requirements.toml`, whose `[mcp_servers.<name>.identity]` tables
//! are an allowlist: a configured server is enabled only when its name **and** its identity
//! (command and arguments, or URL) match an entry; every other server is disabled. Codex has no
//! denylist, so a `block` is written as the allowlist of the machine's other Codex servers,
//! each by name and exact identity (an argument carrying a credential is matched by a regex
//! instead of copied). A server added later stays disabled until the agent's next scan adds it.
//!
//! Muster owns only the tables it added (recorded in its state, and marked by a comment). When
//! an administrator keeps an allowlist of their own, Muster adds nothing to it (that would widen
//! it) and reports whether the administrator's list already leaves the server out. Edits are
//! format-preserving (`toml_edit`).
//!
//! Not in force when a higher requirements layer sets `mcp_servers`: cloud-managed requirements
//! (not visible on the laptop) or, on macOS, the MDM key `requirements_toml_base64` of
//! `com.openai.codex`.

use std::path::PathBuf;

use serde_json::json;
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, value};

use super::{
    ClientPolicyWriter, CompileError, Compiled, FileChange, Identity, OutcomeResult, Owned, OwnedEntry, Plan, Probe,
    ServerPolicy, Shadow, governed, outcome, tool_level_not_enforceable,
};
use crate::platform::{Layout, Os};

pub struct Codex;

const CLIENTS: &[&str] = &["codex"];
const MARK: &str = "\n# muster: allowed by the endpoint policy; removed when the block lifts\n";

/// The system requirements file on each OS (as on that machine). Windows: the location used by
/// existing endpoint tools; OpenAI documents the Unix path.
pub fn requirements_file(os: Os) -> &'static str {
    match os {
        Os::Linux | Os::Macos => "/etc/codex/requirements.toml",
        Os::Windows => "C:\\ProgramData\\OpenAI\\Codex\\requirements.toml",
    }
}

impl ClientPolicyWriter for Codex {
    fn id(&self) -> &'static str {
        "codex"
    }

    fn clients(&self) -> &'static [&'static str] {
        CLIENTS
    }

    fn lever(&self) -> &'static str {
        "Codex requirements.toml MCP allowlist ([mcp_servers.<name>.identity], name and identity)"
    }

    fn path(&self, layout: &Layout) -> Option<PathBuf> {
        layout.resolve(requirements_file(layout.os()))
    }

    fn compile(&self, plan: &Plan<'_>) -> Result<Compiled, CompileError> {
        let text = match plan.existing {
            None => String::new(),
            Some(b) => String::from_utf8(b.to_vec())
                .map_err(|_| CompileError::Unreadable { format: "UTF-8 TOML", detail: "not UTF-8".into() })?,
        };
        let mut doc: DocumentMut = text
            .parse()
            .map_err(|e: toml_edit::TomlError| CompileError::Unreadable { format: "TOML", detail: e.to_string() })?;
        let previous_names: Vec<String> = plan.owned.entries.iter().filter_map(|e| e.at.get(1).cloned()).collect();

        if let Some(item) = doc.get("mcp_servers")
            && !item.is_table_like()
        {
            return Err(CompileError::UnexpectedShape { key: "mcp_servers".into() });
        }
        // Muster's tables from before are rebuilt from scratch below.
        if let Some(t) = doc.get_mut("mcp_servers").and_then(Item::as_table_like_mut) {
            for n in &previous_names {
                t.remove(n);
            }
        }
        let admin_names: Vec<String> = doc
            .get("mcp_servers")
            .and_then(Item::as_table_like)
            .map(|t| t.iter().map(|(k, _)| k.to_string()).collect())
            .unwrap_or_default();

        let servers: Vec<&ServerPolicy> = governed(plan, CLIENTS).collect();
        let blocked: Vec<&&ServerPolicy> = servers.iter().filter(|s| s.asks.block.is_some()).collect();
        let mut owned = Owned::default();
        let mut outcomes = Vec::new();
        let write_allowlist = !blocked.is_empty() && admin_names.is_empty();
        if write_allowlist {
            let created_table = doc.get("mcp_servers").is_none();
            let table = doc.entry("mcp_servers").or_insert_with(|| {
                let mut t = Table::new();
                t.set_implicit(true);
                Item::Table(t)
            });
            let table =
                table.as_table_mut().ok_or_else(|| CompileError::UnexpectedShape { key: "mcp_servers".into() })?;
            if created_table {
                owned.containers.push(vec!["mcp_servers".into()]);
            }
            let blocked_names: Vec<&str> = blocked.iter().map(|s| s.name.as_str()).collect();
            let mut allowed: Vec<&&ServerPolicy> = servers.iter().filter(|s| s.asks.block.is_none()).collect();
            allowed.sort_by(|a, b| a.name.cmp(&b.name));
            for s in allowed {
                if table.contains_key(&s.name) {
                    continue; // one identity per name; the first (sorted) is kept
                }
                match identity_item(&s.identity) {
                    Some((ident, as_json)) => {
                        let mut server = Table::new();
                        server.set_implicit(true);
                        server.insert("identity", ident);
                        table.insert(&s.name, Item::Table(server));
                        owned
                            .entries
                            .push(OwnedEntry { at: vec!["mcp_servers".into(), s.name.clone()], value: as_json });
                    }
                    None if !blocked_names.contains(&s.name.as_str()) => outcomes.push(outcome(
                        s,
                        "",
                        "allowlist",
                        OutcomeResult::NotEnforceable(format!(
                            "Codex will disable this allowed server too: {}",
                            s.identity.exact_problem().unwrap_or("no identity")
                        )),
                    )),
                    None => {}
                }
            }
        }
        for s in &servers {
            if let Some(rule) = &s.asks.block {
                let result = if write_allowlist {
                    OutcomeResult::Written
                } else if admin_names.contains(&s.name) {
                    OutcomeResult::NotEnforceable(
                        "the administrator's mcp_servers allowlist names it; Muster does not edit that list".into(),
                    )
                } else {
                    OutcomeResult::AlreadyEnforced("the administrator's mcp_servers allowlist leaves it out".into())
                };
                outcomes.push(outcome(s, rule, "block", result));
            }
            tool_level_not_enforceable(
                s,
                "requirements.toml constrains which servers run, not their tools",
                &mut outcomes,
            );
        }
        // Drop an `mcp_servers` table Muster created once it holds nothing.
        let created_before = plan.owned.containers.iter().any(|c| c == &["mcp_servers".to_string()]);
        if (created_before || owned.containers.iter().any(|c| c == &["mcp_servers".to_string()]))
            && doc.get("mcp_servers").and_then(Item::as_table_like).is_some_and(|t| t.is_empty())
        {
            doc.remove("mcp_servers");
            owned.containers.clear();
        } else if created_before && !owned.containers.iter().any(|c| c == &["mcp_servers".to_string()]) {
            owned.containers.push(vec!["mcp_servers".into()]);
        }

        let created_file = plan.owned.created_file || plan.existing.is_none();
        owned.keep_original(plan.owned, plan.existing);
        let mut out = doc.to_string();
        if owned.entries.is_empty()
            && let Some(before) = &plan.owned.original
            && toml::from_str::<toml::Value>(before).ok() == toml::from_str::<toml::Value>(&out).ok()
        {
            out = before.clone();
        }
        let change = if created_file && out.trim().is_empty() && owned.entries.is_empty() {
            owned.containers.clear();
            if plan.existing.is_some() { FileChange::Remove } else { FileChange::Unchanged }
        } else {
            owned.created_file = created_file;
            // Re-read what is written: a file Codex could not parse would fail its requirements.
            out.parse::<DocumentMut>().map_err(|e| CompileError::WouldBeMalformed(e.to_string()))?;
            if plan.existing == Some(out.as_bytes()) {
                FileChange::Unchanged
            } else {
                FileChange::Write(out.into_bytes())
            }
        };
        Ok(Compiled { change, owned, outcomes })
    }

    fn not_in_force(&self, layout: &Layout, probe: &dyn Probe) -> Vec<Shadow> {
        let mut out = Vec::new();
        if layout.os() == Os::Macos {
            for (shown, _) in super::shadow::managed_preferences(layout, "com.openai.codex", probe) {
                out.push(Shadow {
                    source: shown,
                    why: "an MDM profile for com.openai.codex can carry requirements_toml_base64, an earlier \
                          requirements layer: if it sets mcp_servers, the file's allowlist is not used"
                        .into(),
                });
            }
        }
        out
    }

    fn bypasses(&self) -> &'static [&'static str] {
        &[
            "cloud-managed requirements (ChatGPT Business and Enterprise) are an earlier layer and cannot be seen on the laptop",
            "a server whose name and identity match an allowed entry runs: an allowed launcher (npx, uvx) given another package by an argument matched with a regex",
            "on Windows the requirements path is not documented by OpenAI; this build uses the one existing endpoint tools use",
        ]
    }
}

/// The `identity` item for an allowed server, and its JSON form for the ownership record.
fn identity_item(identity: &Identity) -> Option<(Item, serde_json::Value)> {
    match identity {
        Identity::Url(Some(u)) => {
            let mut t = Table::new();
            t.decor_mut().set_prefix(MARK);
            t.insert("url", value(u.as_str()));
            Some((Item::Table(t), json!({ "url": u })))
        }
        Identity::Command { program, args } => {
            let mut arr = Array::new();
            let mut as_json = Vec::new();
            for a in args {
                let mut m = InlineTable::new();
                match a {
                    Some(v) => {
                        m.insert("match", "exact".into());
                        m.insert("value", v.as_str().into());
                        as_json.push(json!({ "match": "exact", "value": v }));
                    }
                    None => {
                        m.insert("match", "regex".into());
                        m.insert("expression", ".*".into());
                        as_json.push(json!({ "match": "regex", "expression": ".*" }));
                    }
                }
                arr.push(m);
            }
            let mut cmd = Table::new();
            cmd.decor_mut().set_prefix(MARK);
            cmd.insert("executable", value(program.as_str()));
            cmd.insert("args", value(arr));
            let mut t = Table::new();
            t.set_implicit(true);
            t.insert("command", Item::Table(cmd));
            Some((Item::Table(t), json!({ "command": { "executable": program, "args": as_json } })))
        }
        _ => None,
    }
}
