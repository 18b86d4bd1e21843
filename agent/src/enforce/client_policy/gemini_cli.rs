//! Gemini CLI: the system settings file (`settings.json` beside `system-defaults.json`), which
//! has the final say over user and workspace settings. `block` → the server's name in
//! `mcp.excluded`, an entry Muster owns; Gemini CLI matches servers by name only (no command or
//! URL form exists), which the bypass list says.
//!
//! Per-server `excludeTools` lives in an `mcpServers` entry, and a system entry of the same name
//! replaces the user's definition of the server, so `deny-tools` and `require-approval` are
//! reported as not enforceable here.
//!
//! Not in force when `GEMINI_CLI_SYSTEM_SETTINGS_PATH` points the CLI at another file.

use std::path::PathBuf;

use serde_json::json;

use super::jsonc::{Ensured, JsonDoc, path};
use super::{
    ClientPolicyWriter, CompileError, Compiled, OutcomeResult, Owned, Plan, Probe, Shadow, governed, outcome,
    tool_level_not_enforceable,
};
use crate::platform::{Layout, Os};

pub struct GeminiCli;

const CLIENTS: &[&str] = &["gemini-cli"];
pub const OVERRIDE_VAR: &str = "GEMINI_CLI_SYSTEM_SETTINGS_PATH";

/// The system settings file on each OS (as on that machine).
pub fn system_settings(os: Os) -> &'static str {
    match os {
        Os::Linux => "/etc/gemini-cli/settings.json",
        Os::Macos => "/Library/Application Support/GeminiCli/settings.json",
        Os::Windows => "C:\\ProgramData\\gemini-cli\\settings.json",
    }
}

impl ClientPolicyWriter for GeminiCli {
    fn id(&self) -> &'static str {
        "gemini-cli"
    }

    fn clients(&self) -> &'static [&'static str] {
        CLIENTS
    }

    fn lever(&self) -> &'static str {
        "Gemini CLI system settings.json (mcp.excluded)"
    }

    fn path(&self, layout: &Layout) -> Option<PathBuf> {
        layout.resolve(system_settings(layout.os()))
    }

    fn compile(&self, plan: &Plan<'_>) -> Result<Compiled, CompileError> {
        let doc = JsonDoc::parse(plan.existing)?;
        let mut owned = Owned::default();
        let mut outcomes = Vec::new();
        let list = path(&["mcp", "excluded"]);
        for s in governed(plan, CLIENTS) {
            if let Some(rule) = &s.asks.block {
                let result = match doc.ensure_item(&list, &json!(s.name), plan.owned, &mut owned)? {
                    Ensured::Ours => OutcomeResult::Written,
                    Ensured::Administrators => {
                        OutcomeResult::AlreadyEnforced("an administrator's mcp.excluded entry names it".into())
                    }
                };
                outcomes.push(outcome(s, rule, "block", result));
            }
            tool_level_not_enforceable(
                s,
                "excludeTools sits in an mcpServers entry, and a system entry replaces the user's definition of the server",
                &mut outcomes,
            );
        }
        doc.release(plan.owned, &mut owned)?;
        let change = doc.finish(plan.existing, &mut owned, plan.owned);
        Ok(Compiled { change, owned, outcomes })
    }

    fn not_in_force(&self, layout: &Layout, probe: &dyn Probe) -> Vec<Shadow> {
        let mut out = Vec::new();
        if let Some(v) = probe.system_env(layout, OVERRIDE_VAR)
            && v != system_settings(layout.os())
        {
            out.push(Shadow {
                source: format!("{OVERRIDE_VAR}={v}"),
                why: "the variable points Gemini CLI at another system settings file, so the one Muster writes is not read".into(),
            });
        }
        out
    }

    fn bypasses(&self) -> &'static [&'static str] {
        &[
            "mcp.excluded matches server names only: the same server under another name is not blocked (Gemini CLI has no command or URL matcher)",
            "GEMINI_CLI_SYSTEM_SETTINGS_PATH set in a user's own shell profile points the CLI elsewhere and cannot be seen by the agent",
            "the Gemini Enterprise Admin Controls (Management Console) are server-side and not visible on the laptop",
        ]
    }
}
