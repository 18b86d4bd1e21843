//! GitHub Copilot (Copilot CLI, VS Code, JetBrains): the file channel of Copilot's enterprise
//! managed settings, `managed-settings.json`, shared with the administrator: Muster adds its own
//! `deniedMcpServers` entries and removes only those.
//!
//! `block` → `{"serverCommand": argv}` for a local server (exact, no wildcards) or
//! `{"serverUrl": url}` for a remote one, never `serverName`. A malformed list counts as an empty
//! allowlist and blocks every server but the built-ins, so the whole edited file is validated
//! ([`validate`]) before it is handed out; a file that would not pass is not written.
//! Copilot's `permissions` rules have no documented form for MCP tools, so `deny-tools` and
//! `require-approval` are reported as not enforceable here.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::jsonc::{Ensured, JsonDoc, path};
use super::{
    ClientPolicyWriter, CompileError, Compiled, Identity, OutcomeResult, Owned, Plan, Probe, Shadow, governed, outcome,
    tool_level_not_enforceable,
};
use crate::platform::{Layout, Os};

pub struct Copilot;

const CLIENTS: &[&str] = &["copilot-cli", "vscode", "copilot-jetbrains"];
const LISTS: &[&str] = &["allowedMcpServers", "deniedMcpServers"];
const MATCHERS: &[&str] = &["serverName", "serverUrl", "serverCommand"];

/// The file channel's path on each OS (as on that machine).
pub fn managed_file(os: Os) -> &'static str {
    match os {
        Os::Linux => "/etc/github-copilot/managed-settings.json",
        Os::Macos => "/Library/Application Support/GitHubCopilot/managed-settings.json",
        Os::Windows => "C:\\Program Files\\GitHubCopilot\\managed-settings.json",
    }
}

impl ClientPolicyWriter for Copilot {
    fn id(&self) -> &'static str {
        "copilot"
    }

    fn clients(&self) -> &'static [&'static str] {
        CLIENTS
    }

    fn lever(&self) -> &'static str {
        "Copilot enterprise managed-settings.json, file channel (deniedMcpServers)"
    }

    fn path(&self, layout: &Layout) -> Option<PathBuf> {
        layout.resolve(managed_file(layout.os()))
    }

    fn compile(&self, plan: &Plan<'_>) -> Result<Compiled, CompileError> {
        let doc = JsonDoc::parse(plan.existing)?;
        let mut owned = Owned::default();
        let mut outcomes = Vec::new();
        let list = path(&["deniedMcpServers"]);
        for s in governed(plan, CLIENTS) {
            if let Some(rule) = &s.asks.block {
                let entry = match &s.identity {
                    Identity::Url(Some(u)) => Some(json!({ "serverUrl": u })),
                    other => other.exact_argv().map(|argv| json!({ "serverCommand": argv })),
                };
                let result = match entry {
                    Some(e) => match doc.ensure_item(&list, &e, plan.owned, &mut owned)? {
                        Ensured::Ours => OutcomeResult::Written,
                        Ensured::Administrators => OutcomeResult::AlreadyEnforced(
                            "an administrator's deniedMcpServers entry matches it".into(),
                        ),
                    },
                    None => OutcomeResult::NotEnforceable(format!(
                        "{}; a name-only entry is no security control",
                        s.identity.exact_problem().unwrap_or("no exact identity")
                    )),
                };
                outcomes.push(outcome(s, rule, "block", result));
            }
            tool_level_not_enforceable(
                s,
                "Copilot's managed permissions rules have no documented form for MCP tools",
                &mut outcomes,
            );
        }
        doc.release(plan.owned, &mut owned)?;
        let change = doc.finish(plan.existing, &mut owned, plan.owned);
        if let super::FileChange::Write(bytes) = &change {
            validate(bytes).map_err(CompileError::WouldBeMalformed)?;
        }
        Ok(Compiled { change, owned, outcomes })
    }

    fn not_in_force(&self, layout: &Layout, probe: &dyn Probe) -> Vec<Shadow> {
        let mut out = Vec::new();
        if layout.os() == Os::Macos {
            for (shown, _) in super::shadow::managed_preferences(layout, "com.github.copilot", probe) {
                out.push(Shadow {
                    source: shown,
                    why: "an MDM profile delivers Copilot's managed settings; MDM wins over the file channel \
                          (VS Code uses a single source: server, then MDM, then file)"
                        .into(),
                });
            }
        }
        if let Some(file) = self.path(layout)
            && let Some(bytes) = probe.read(&file)
            && let Err(why) = validate(&bytes)
        {
            out.push(Shadow {
                source: layout.display(&file),
                why: format!("the file is malformed ({why}); Copilot treats a malformed list as an empty allowlist"),
            });
        }
        out
    }

    fn bypasses(&self) -> &'static [&'static str] {
        &[
            "server-managed settings (the enterprise's .github-private repository) and, on Windows, SOFTWARE\\Policies\\GitHubCopilot win over the file channel in VS Code and cannot be read by this build",
            "built-in default servers (the GitHub MCP server) are always allowed and exempt from deny lists",
            "serverCommand matches the exact argv: the same package launched with other arguments is a different server",
            "the Copilot cloud agent does not honour the allow and deny lists",
        ]
    }
}

/// Whether a Copilot managed-settings document is well formed where a mistake would block
/// everything: strict JSON, an object, and each MCP list an array (or `{"overridable": [...]}`)
/// of objects with exactly one matcher: `serverName` or `serverUrl` a non-empty string,
/// `serverCommand` a non-empty array of strings.
pub fn validate(bytes: &[u8]) -> Result<(), String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not strict JSON: {e}"))?;
    let obj = v.as_object().ok_or("the top level is not an object")?;
    for key in LISTS {
        let Some(list) = obj.get(*key) else { continue };
        let list = match list {
            Value::Object(o) if o.len() == 1 && o.contains_key("overridable") => &o["overridable"],
            other => other,
        };
        let items = list.as_array().ok_or_else(|| format!("{key} is not an array"))?;
        for (i, item) in items.iter().enumerate() {
            let at = format!("{key}[{i}]");
            let entry = item.as_object().ok_or_else(|| format!("{at} is not an object"))?;
            if entry.len() != 1 {
                return Err(format!("{at} must have exactly one of serverName, serverUrl, serverCommand"));
            }
            let (matcher, value) = entry.iter().next().ok_or_else(|| format!("{at} is empty"))?;
            if !MATCHERS.contains(&matcher.as_str()) {
                return Err(format!("{at} has the unknown matcher {matcher:?}"));
            }
            let ok = match (matcher.as_str(), value) {
                ("serverCommand", Value::Array(a)) => {
                    !a.is_empty() && a.iter().all(|x| x.as_str().is_some_and(|s| !s.is_empty()))
                }
                (_, Value::String(s)) => !s.is_empty(),
                _ => false,
            };
            if !ok {
                return Err(format!("{at}.{matcher} has an invalid value"));
            }
        }
    }
    Ok(())
}
