//! Cursor: system-wide hooks (`hooks.json`), which Cursor runs together with the user's and the
//! project's. Muster adds one `beforeMCPExecution` hook, `muster-agent hook cursor`, to the
//! administrator's file and removes only that entry. Before every MCP tool call Cursor hands the
//! hook the call (server command or URL, tool name) on stdin; the hook answers from a decision
//! table the agent writes beside `hooks.json` at each apply ([`HookTable`], [`TABLE_FILE`]), in
//! milliseconds, without evaluating a policy or contacting the control plane.
//!
//! `block` → every call to a server whose command or URL matches is denied; `deny-tools` → calls
//! of the named tools of a server (by name) are denied. `require-approval` is not enforced: the
//! hook's `ask` answer is documented as ignored in one of Cursor's run modes.
//!
//! Failure policy (docs/adr/0006-client-policy-writers.md): the hook **fails open**. Unreadable
//! input, a missing or unreadable table, or no answer within its deadline all answer `allow`,
//! and the entry says `"failClosed": false`, so Cursor also allows when the hook cannot run. A
//! missing or unreadable table, or a missing agent binary, is reported as "not in force".

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::jsonc::{Ensured, JsonDoc, path};
use super::{
    ClientPolicyWriter, CompileError, Compiled, Identity, OutcomeResult, Owned, Plan, Probe, Shadow, governed, outcome,
};
use crate::platform::{Layout, Os};

pub struct Cursor;

const CLIENTS: &[&str] = &["cursor"];
/// The hook's decision table, beside the system `hooks.json`: the hook runs as the developer,
/// who cannot read the agent's private state dir; the table holds nothing the policy files do
/// not (identities that carry a credential are never in it).
pub const TABLE_FILE: &str = "muster-hook-table.json";
/// How long the hook waits for Cursor's input before answering `allow`.
pub const INPUT_DEADLINE: std::time::Duration = std::time::Duration::from_millis(1500);
/// The most input the hook reads.
const MAX_INPUT: u64 = 4 << 20;

/// The system hooks file on each OS (as on that machine).
pub fn hooks_file(os: Os) -> &'static str {
    match os {
        Os::Linux => "/etc/cursor/hooks.json",
        Os::Macos => "/Library/Application Support/Cursor/hooks.json",
        Os::Windows => "C:\\ProgramData\\Cursor\\hooks.json",
    }
}

/// The installed agent on each OS (the packages' paths), which the hook entry runs.
pub fn agent_program(os: Os) -> &'static str {
    match os {
        Os::Linux => "/usr/bin/muster-agent",
        Os::Macos => "/usr/local/bin/muster-agent",
        Os::Windows => "C:\\Program Files\\Muster\\muster-agent.exe",
    }
}

/// The hook entry Muster adds.
pub fn hook_entry(os: Os) -> Value {
    let program = agent_program(os);
    let command =
        if program.contains(' ') { format!("\"{program}\" hook cursor") } else { format!("{program} hook cursor") };
    json!({ "command": command, "failClosed": false })
}

impl ClientPolicyWriter for Cursor {
    fn id(&self) -> &'static str {
        "cursor"
    }

    fn clients(&self) -> &'static [&'static str] {
        CLIENTS
    }

    fn lever(&self) -> &'static str {
        "Cursor system hooks.json: beforeMCPExecution runs `muster-agent hook cursor`"
    }

    fn path(&self, layout: &Layout) -> Option<PathBuf> {
        layout.resolve(hooks_file(layout.os()))
    }

    fn compile(&self, plan: &Plan<'_>) -> Result<Compiled, CompileError> {
        let os = plan.os;
        let doc = JsonDoc::parse(plan.existing)?;
        let mut owned = Owned::default();
        let mut outcomes = Vec::new();
        let table = HookTable::of(plan);
        if !table.is_empty() {
            if let Some(v) = doc.get(&path(&["version"]))?
                && v != json!(1)
            {
                return Err(CompileError::UnexpectedShape { key: "version".into() });
            }
            doc.ensure_key(&path(&["version"]), &json!(1), plan.owned, &mut owned)?;
            let ensured =
                doc.ensure_item(&path(&["hooks", "beforeMCPExecution"]), &hook_entry(os), plan.owned, &mut owned)?;
            debug_assert!(matches!(ensured, Ensured::Ours | Ensured::Administrators));
        }
        for s in governed(plan, CLIENTS) {
            if let Some(rule) = &s.asks.block {
                let result = match s.identity.exact_problem() {
                    None => OutcomeResult::Written,
                    Some(why) => OutcomeResult::NotEnforceable(why.to_string()),
                };
                outcomes.push(outcome(s, rule, "block", result));
            }
            for (rule, _) in &s.asks.deny_tools {
                outcomes.push(outcome(s, rule, "deny-tools", OutcomeResult::Written));
            }
            if let Some(rule) = &s.asks.require_approval {
                outcomes.push(outcome(
                    s,
                    rule,
                    "require-approval",
                    OutcomeResult::NotEnforceable(
                        "Cursor documents its hooks' ask answer as ignored in auto-review mode".into(),
                    ),
                ));
            }
        }
        doc.release(plan.owned, &mut owned)?;
        let change = doc.finish(plan.existing, &mut owned, plan.owned);
        Ok(Compiled { change, owned, outcomes })
    }

    fn not_in_force(&self, layout: &Layout, probe: &dyn Probe) -> Vec<Shadow> {
        let mut out = Vec::new();
        if let Some(file) = self.path(layout)
            && let Some(bytes) = probe.read(&file)
        {
            let v: Option<Value> = jsonc_parser::parse_to_serde_value(
                &String::from_utf8_lossy(&bytes),
                &jsonc_parser::ParseOptions::default(),
            )
            .ok()
            .flatten();
            let ours = hook_entry(layout.os());
            let has_ours = v
                .as_ref()
                .and_then(|v| v.pointer("/hooks/beforeMCPExecution"))
                .and_then(Value::as_array)
                .is_some_and(|a| a.contains(&ours));
            if has_ours {
                let table = layout.resolve(&table_file(layout.os()));
                let readable = table
                    .as_ref()
                    .and_then(|t| probe.read(t))
                    .is_some_and(|b| serde_json::from_slice::<HookTable>(&b).is_ok());
                if !readable {
                    out.push(Shadow {
                        source: table.map_or_else(|| table_file(layout.os()), |t| layout.display(&t)),
                        why: "the hook's decision table is missing or unreadable, so the hook allows every call".into(),
                    });
                }
                let program = agent_program(layout.os());
                if layout.resolve(program).is_none_or(|p| !probe.exists(&p)) {
                    out.push(Shadow {
                        source: format!("{} ({program})", layout.display(&file)),
                        why: "the hook's program is not installed there, so Cursor cannot run it and allows every call"
                            .into(),
                    });
                }
            }
        }
        out
    }

    fn bypasses(&self) -> &'static [&'static str] {
        &[
            "the hook runs per tool call, not at server start: a blocked stdio server is still launched (its own code runs), only its tool calls are refused",
            "the hook fails open: if it cannot run or read its table, Cursor allows the call",
            "deny-tools matches the server by name: the same server under another name escapes it",
            "Cursor's own team-dashboard MCP controls are server-side and not visible on the laptop",
        ]
    }
}

/// What the hook answers from: blocked identities and denied tools, by server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookTable {
    #[serde(default)]
    pub blocked: Vec<BlockedServer>,
    #[serde(default)]
    pub denied_tools: Vec<DeniedTools>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedServer {
    pub rule: String,
    /// The launch command as Cursor reports it (program and arguments joined by spaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeniedTools {
    pub rule: String,
    pub server: String,
    pub tools: Vec<String>,
}

impl HookTable {
    /// The table for a plan's Cursor servers.
    pub fn of(plan: &Plan<'_>) -> HookTable {
        let mut t = HookTable::default();
        for s in governed(plan, CLIENTS) {
            if let Some(rule) = &s.asks.block {
                match &s.identity {
                    Identity::Url(Some(u)) => {
                        t.blocked.push(BlockedServer { rule: rule.clone(), command: None, url: Some(u.clone()) })
                    }
                    other => {
                        if let Some(argv) = other.exact_argv() {
                            t.blocked.push(BlockedServer {
                                rule: rule.clone(),
                                command: Some(argv.join(" ")),
                                url: None,
                            });
                        }
                    }
                }
            }
            for (rule, tools) in &s.asks.deny_tools {
                t.denied_tools.push(DeniedTools { rule: rule.clone(), server: s.name.clone(), tools: tools.clone() });
            }
        }
        t.blocked.sort_by(|a, b| (&a.command, &a.url, &a.rule).cmp(&(&b.command, &b.url, &b.rule)));
        t.blocked.dedup();
        t.denied_tools.sort_by(|a, b| (&a.server, &a.rule).cmp(&(&b.server, &b.rule)));
        t
    }

    pub fn is_empty(&self) -> bool {
        self.blocked.is_empty() && self.denied_tools.is_empty()
    }
}

/// The hook's answer to Cursor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HookAnswer {
    pub permission: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_message: Option<String>,
}

impl HookAnswer {
    pub fn allow() -> HookAnswer {
        HookAnswer { permission: "allow", user_message: None, agent_message: None }
    }

    fn deny(why: String) -> HookAnswer {
        HookAnswer {
            permission: "deny",
            user_message: Some(why.clone()),
            agent_message: Some(format!("{why}. Do not retry this call.")),
        }
    }
}

/// The answer to one `beforeMCPExecution` call (`input`, Cursor's JSON) from the table. Pure.
pub fn answer(input: &Value, table: &HookTable) -> HookAnswer {
    let s = |k: &str| input.get(k).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty());
    let norm_cmd = |c: &str| c.split_whitespace().collect::<Vec<_>>().join(" ");
    let norm_url = |u: &str| u.trim_end_matches('/').to_ascii_lowercase();
    let command = s("command").map(norm_cmd);
    let url = s("url").map(norm_url);
    for b in &table.blocked {
        let hit = match (&b.command, &command, &b.url, &url) {
            (Some(bc), Some(c), _, _) if norm_cmd(bc) == *c => true,
            (_, _, Some(bu), Some(u)) => norm_url(bu) == *u,
            _ => false,
        };
        if hit {
            return HookAnswer::deny(format!("blocked by your organisation's MCP policy (rule {})", b.rule));
        }
    }
    // Tool names arrive plain, or as `MCP:<server>:<tool>`.
    let (server, tool) = match s("tool_name") {
        Some(t) => match t.strip_prefix("MCP:").and_then(|r| r.split_once(':')) {
            Some((server, tool)) => (Some(server.to_string()), tool.to_string()),
            None => (s("server").map(str::to_string), t.to_string()),
        },
        None => return HookAnswer::allow(),
    };
    for d in &table.denied_tools {
        if server.as_deref().is_none_or(|srv| srv == d.server) && d.tools.contains(&tool) {
            // Without a server name in the call, a tool denied for any server is denied.
            return HookAnswer::deny(format!(
                "the tool {tool} is denied by your organisation's MCP policy (rule {})",
                d.rule
            ));
        }
    }
    HookAnswer::allow()
}

/// The decision table's path on each OS (as on that machine): beside `hooks.json`.
pub fn table_file(os: Os) -> String {
    let hooks = hooks_file(os);
    let sep = if os == Os::Windows { '\\' } else { '/' };
    let dir = hooks.rsplit_once(sep).map_or(hooks, |(d, _)| d);
    format!("{dir}{sep}{TABLE_FILE}")
}

/// The table file's content for a plan; `None` when there is nothing to enforce (the file is
/// then removed).
pub fn table_bytes(plan: &Plan<'_>) -> Option<Vec<u8>> {
    let t = HookTable::of(plan);
    if t.is_empty() {
        return None;
    }
    let mut text = serde_json::to_string_pretty(&t).ok()?;
    text.push('\n');
    Some(text.into_bytes())
}

/// The table as the hook reads it; `None` (the hook then fails open) when it is missing or
/// unreadable.
pub fn read_table(path: &Path) -> Option<HookTable> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path).ok()?.take(MAX_INPUT).read_to_end(&mut bytes).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `muster-agent hook cursor`: read one JSON value from `input` (Cursor's call) within
/// `deadline`, answer from the table at `table`. Never blocks longer than the deadline, and
/// fails open: no input in time, input that is not JSON, or no readable table → `allow`.
pub fn run_hook(input: impl std::io::Read + Send + 'static, table: &Path, deadline: std::time::Duration) -> HookAnswer {
    let (tx, rx) = std::sync::mpsc::channel();
    // The reader thread may stay blocked on a stdin that never closes; the process exits
    // after answering, which ends it.
    std::thread::spawn(move || {
        let mut de = serde_json::Deserializer::from_reader(std::io::Read::take(input, MAX_INPUT));
        let v: Option<Value> = serde::Deserialize::deserialize(&mut de).ok();
        let _ = tx.send(v);
    });
    let Some(call) = rx.recv_timeout(deadline).ok().flatten() else { return HookAnswer::allow() };
    match read_table(table) {
        Some(t) => answer(&call, &t),
        None => HookAnswer::allow(),
    }
}
