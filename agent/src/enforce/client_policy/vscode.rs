//! VS Code (without Copilot's own managed settings): the `ChatMCP` policy (`chat.mcp.access`:
//! `none | registry | all`), which VS Code reads from `/etc/vscode/policy.json` on Linux only.
//!
//! The lever is all or nothing, and machine-wide (every user's VS Code reads the one file; each
//! outcome it carries says so in its note): `ChatMCP = "none"` switches every MCP server off. Muster writes
//! it only when the policy blocks *every* MCP server VS Code has on this machine, so the coarse
//! lever never blocks more than the decisions do; otherwise each `block` is reported as not
//! enforceable here (Copilot's `deniedMcpServers`, which VS Code also honours, blocks it by
//! identity). An administrator's own `ChatMCP` value is never replaced. On macOS (MDM profiles)
//! and Windows (HKLM, not written by this build) the policy has no file.

use std::path::PathBuf;

use serde_json::json;

use super::jsonc::{JsonDoc, path};
use super::{
    ClientPolicyWriter, CompileError, Compiled, OutcomeResult, Owned, Plan, Probe, Shadow, governed, outcome,
    tool_level_not_enforceable,
};
use crate::platform::{Layout, Os};

pub struct VsCode;

const CLIENTS: &[&str] = &["vscode"];
pub const POLICY_FILE: &str = "/etc/vscode/policy.json";
/// Said with every block this lever carries: the file is the machine's, not one user's.
pub const MACHINE_WIDE: &str = "machine-wide: ChatMCP = \"none\" in /etc/vscode/policy.json switches MCP off in VS Code for every user of this machine";

impl ClientPolicyWriter for VsCode {
    fn id(&self) -> &'static str {
        "vscode"
    }

    fn clients(&self) -> &'static [&'static str] {
        CLIENTS
    }

    fn lever(&self) -> &'static str {
        "VS Code policy ChatMCP = \"none\" in /etc/vscode/policy.json (Linux)"
    }

    fn path(&self, layout: &Layout) -> Option<PathBuf> {
        (layout.os() == Os::Linux).then(|| layout.resolve(POLICY_FILE)).flatten()
    }

    fn compile(&self, plan: &Plan<'_>) -> Result<Compiled, CompileError> {
        let doc = JsonDoc::parse(plan.existing)?;
        let mut owned = Owned::default();
        let mut outcomes = Vec::new();
        let servers: Vec<_> = governed(plan, CLIENTS).collect();
        let blocked = servers.iter().filter(|s| s.asks.block.is_some()).count();
        let all_blocked = blocked > 0 && blocked == servers.len();
        let key = path(&["ChatMCP"]);
        let mut admin_value = None;
        if all_blocked {
            admin_value = doc.ensure_key(&key, &json!("none"), plan.owned, &mut owned)?;
        }
        for s in &servers {
            if let Some(rule) = &s.asks.block {
                let result = match (&admin_value, all_blocked) {
                    (None, true) => OutcomeResult::Written,
                    (Some(v), true) if v == "none" => {
                        OutcomeResult::AlreadyEnforced("the administrator's ChatMCP is \"none\"".into())
                    }
                    (Some(v), _) => OutcomeResult::NotEnforceable(format!(
                        "the administrator's ChatMCP is {v}, which Muster does not replace"
                    )),
                    (None, false) => OutcomeResult::NotEnforceable(format!(
                        "ChatMCP switches every MCP server off and {} other VS Code server(s) are allowed; \
                         Copilot's deniedMcpServers blocks it instead",
                        servers.len() - blocked
                    )),
                };
                let mut o = outcome(s, rule, "block", result);
                if matches!(o.result, OutcomeResult::Written | OutcomeResult::AlreadyEnforced(_)) {
                    o.note = Some(MACHINE_WIDE.to_string());
                }
                outcomes.push(o);
            }
            tool_level_not_enforceable(s, "VS Code's policies have no per-server tool setting", &mut outcomes);
        }
        doc.release(plan.owned, &mut owned)?;
        let change = doc.finish(plan.existing, &mut owned, plan.owned);
        Ok(Compiled { change, owned, outcomes })
    }

    fn not_in_force(&self, layout: &Layout, probe: &dyn Probe) -> Vec<Shadow> {
        let mut out = Vec::new();
        if let Some(file) = self.path(layout)
            && let Some(bytes) = probe.read(&file)
            && serde_json::from_slice::<serde_json::Value>(&bytes).is_err()
        {
            out.push(Shadow {
                source: layout.display(&file),
                why: "policy.json is not valid JSON, so VS Code applies none of its policies".into(),
            });
        }
        out
    }

    fn bypasses(&self) -> &'static [&'static str] {
        &[
            "other products of the VS Code family (Insiders, VSCodium, Cursor, Windsurf) are not documented to read /etc/vscode/policy.json",
            "account (GitHub) policy data can set ChatMCP too; VS Code's resolution between them is not documented",
        ]
    }
}
