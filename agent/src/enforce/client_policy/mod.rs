//! Client-policy writers: one module per AI client that reads a system-wide policy file a
//! root/SYSTEM service can write (Claude Code, GitHub Copilot, VS Code on Linux, Gemini CLI,
//! Codex, Cursor's system hooks). Each is first a pure compiler: the servers the policy acts on,
//! the file as it is now and what Muster wrote there before → the file's new bytes, what Muster
//! owns in it afterwards, and one outcome per decision (written, already enforced by an
//! administrator's entry, or not enforceable with this client's lever, and why).
//!
//! Each writer also says how its lever can be *shadowed* ("written but not in force": a
//! higher-precedence source the client prefers) and lists the known ways around it.
//!
//! The compilers read no file and write none; [`write`] is the one part that does, through the
//! enforcement file-safety layer. Nothing here evaluates policies; [`servers`] turns
//! `muster-policy` decisions and the raw discovery into [`ServerPolicy`] values.

pub mod claude_code;
pub mod claude_code_helper;
pub mod codex;
pub mod copilot;
pub mod cursor;
pub mod gemini_cli;
mod jsonc;
pub mod shadow;
pub mod vscode;
pub mod write;

use std::path::PathBuf;

use muster_policy::{Action, Decisions};
use serde::{Deserialize, Serialize};

use crate::platform::Layout;
use crate::secrets::Secret;
use crate::secrets::detect::detect_embedded;
pub use shadow::{FsProbe, Probe, Shadow};

/// How a client recognises a server: its launch command (program and arguments, in order) or its
/// URL. A part that carries a credential is withheld (`None`): Muster never copies a credential
/// into a policy file every local user can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    Command {
        program: String,
        args: Vec<Option<String>>,
    },
    Url(Option<String>),
    /// Neither a command nor a URL was configured.
    Unknown,
}

impl Identity {
    /// The identity of one configured server.
    pub fn of(raw: &crate::discovery::entry::RawServer) -> Identity {
        let clean = |s: &Secret| if detect_embedded(s).is_empty() { Some(s.expose().to_string()) } else { None };
        if let Some(program) = raw.command.as_deref().filter(|c| !c.is_empty()) {
            let as_secret = Secret::new(program);
            if !detect_embedded(&as_secret).is_empty() {
                return Identity::Unknown;
            }
            return Identity::Command { program: program.to_string(), args: raw.args.iter().map(clean).collect() };
        }
        match &raw.url {
            Some(u) if !u.is_empty() => Identity::Url(clean(u)),
            _ => Identity::Unknown,
        }
    }

    /// The full argv, when no part is withheld.
    pub fn exact_argv(&self) -> Option<Vec<String>> {
        match self {
            Identity::Command { program, args } => {
                let mut argv = vec![program.clone()];
                for a in args {
                    argv.push(a.clone()?);
                }
                Some(argv)
            }
            _ => None,
        }
    }

    /// Why an exact entry cannot be written for this identity, if it cannot.
    pub fn exact_problem(&self) -> Option<&'static str> {
        match self {
            Identity::Command { args, .. } if args.iter().any(Option::is_none) => {
                Some("its launch command carries a credential, which Muster does not copy into a policy file")
            }
            Identity::Url(None) => Some("its URL carries a credential, which Muster does not copy into a policy file"),
            Identity::Unknown => Some("it has neither a launch command nor a URL to match"),
            _ => None,
        }
    }
}

/// Identities by server id, from the raw discovery of one scan.
pub type Identities = std::collections::BTreeMap<String, Identity>;

/// What the policy asks of one server now, strongest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Asks {
    /// The rule asking for `block`.
    pub block: Option<String>,
    /// `deny-tools` rules and their tools.
    pub deny_tools: Vec<(String, Vec<String>)>,
    /// The rule asking for `require-approval`.
    pub require_approval: Option<String>,
}

impl Asks {
    pub fn is_empty(&self) -> bool {
        self.block.is_none() && self.deny_tools.is_empty() && self.require_approval.is_none()
    }
}

/// One configured server as the writers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerPolicy {
    /// Discovery client id (`claude-code`, `vscode`, ...).
    pub client: String,
    pub name: String,
    pub identity: Identity,
    pub asks: Asks,
}

/// The servers of a scan with what the policy asks of each now (servers it asks nothing of are
/// included: the Codex allowlist has to name them). `servers` are (id, client, name) of the
/// inventory; a server without an identity in `identities` is matched by nothing.
pub fn servers<'a>(
    decisions: &Decisions,
    inventory: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    identities: &Identities,
) -> Vec<ServerPolicy> {
    let mut out = Vec::new();
    for (id, client, name) in inventory {
        let mut asks = Asks::default();
        if let Some(d) = decisions.servers.iter().find(|d| d.server_id == id) {
            for v in d.due_now() {
                match v.action {
                    Action::Block => {
                        asks.block.get_or_insert_with(|| v.rule.clone());
                    }
                    Action::DenyTools => asks.deny_tools.push((v.rule.clone(), v.tools.clone())),
                    Action::RequireApproval => {
                        asks.require_approval.get_or_insert_with(|| v.rule.clone());
                    }
                    Action::Notify | Action::Quarantine => {}
                }
            }
        }
        out.push(ServerPolicy {
            client: client.to_string(),
            name: name.to_string(),
            identity: identities.get(id).cloned().unwrap_or(Identity::Unknown),
            asks,
        });
    }
    out
}

/// What a compiler is given.
#[derive(Clone, Copy, Debug)]
pub struct Plan<'a> {
    /// Every server of the clients this writer governs (others are ignored).
    pub servers: &'a [ServerPolicy],
    /// The policy file as it is now, `None` when absent.
    pub existing: Option<&'a [u8]>,
    /// What Muster wrote into it last time.
    pub owned: &'a Owned,
    /// The OS of the machine the file is for.
    pub os: crate::platform::Os,
    /// Which optional levers are turned on.
    pub options: WriterOptions,
}

/// The optional levers (`[enforce]` in agent.toml, or `policy apply` flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterOptions {
    pub claude_code_policy_helper: PolicyHelper,
}

/// Claude Code's `policyHelper` lever.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PolicyHelper {
    /// Not configured by Muster (the default).
    #[default]
    Off,
    /// Turned on, and the helper program is installed.
    On,
    /// Turned on, but the helper program is not on the machine: Muster does not configure it.
    ProgramMissing,
}

/// What Muster owns in one policy file: the entries it added (each as the path of the list or
/// key and the value), the containers it created, and whether it created the file. Kept in the
/// agent's state dir, so an administrator's own entries never need a marker and are never
/// removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owned {
    #[serde(default)]
    pub created_file: bool,
    #[serde(default)]
    pub entries: Vec<OwnedEntry>,
    #[serde(default)]
    pub containers: Vec<Vec<String>>,
    /// The administrator's file as it was before Muster's first entry: when Muster's entries
    /// are gone and the content means the same again, these bytes are written back, so layout
    /// the editor had to touch (an inline object Muster added a key to) is restored too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
}

/// One value Muster added at a path (a list item, or a key's value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedEntry {
    pub at: Vec<String>,
    pub value: serde_json::Value,
}

impl Owned {
    pub fn is_empty(&self) -> bool {
        !self.created_file && self.entries.is_empty() && self.containers.is_empty() && self.original.is_none()
    }

    /// Carry the administrator's original text forward while Muster owns entries.
    fn keep_original(&mut self, previous: &Owned, existing: Option<&[u8]>) {
        if self.entries.is_empty() {
            self.original = None;
            return;
        }
        self.original = previous.original.clone().or_else(|| match existing {
            Some(b) if previous.entries.is_empty() && !previous.created_file => {
                std::str::from_utf8(b).ok().map(str::to_string)
            }
            _ => None,
        });
    }
}

/// What to do with the policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileChange {
    Unchanged,
    Write(Vec<u8>),
    /// Muster created the file and nothing else is left in it.
    Remove,
}

/// One decision's fate in one client's lever.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub client: String,
    pub server: String,
    pub rule: String,
    pub action: &'static str,
    #[serde(flatten)]
    pub result: OutcomeResult,
    /// What a person should know beyond the result (e.g. that the lever is machine-wide).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", content = "why", rename_all = "kebab-case")]
pub enum OutcomeResult {
    /// Muster's entry is in the file.
    Written,
    /// An administrator's own entry already enforces it.
    AlreadyEnforced(String),
    /// The client's lever cannot express it.
    NotEnforceable(String),
}

/// A compiler's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compiled {
    pub change: FileChange,
    pub owned: Owned,
    pub outcomes: Vec<Outcome>,
}

/// Why a compiler refused to produce a file (nothing is written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    #[error("the existing policy file is not valid {format}: {detail}")]
    Unreadable { format: &'static str, detail: String },
    #[error("the existing policy file has {key} of an unexpected type; Muster leaves it alone")]
    UnexpectedShape { key: String },
    #[error("the file would be malformed after the edit: {0}")]
    WouldBeMalformed(String),
}

/// One client's lever: where it lives, how a plan becomes its content, and how it can be
/// shadowed or bypassed.
pub trait ClientPolicyWriter: Sync {
    /// Stable id of the lever (`claude-code`, `copilot`, ...).
    fn id(&self) -> &'static str;
    /// Discovery client ids whose servers this lever governs.
    fn clients(&self) -> &'static [&'static str];
    /// One line for people: the lever and its file.
    fn lever(&self) -> &'static str;
    /// The policy file on this machine (under `--root` when the layout is an image); `None`
    /// when the client has no locally writable lever on this OS.
    fn path(&self, layout: &Layout) -> Option<PathBuf>;
    /// The pure compiler.
    fn compile(&self, plan: &Plan<'_>) -> Result<Compiled, CompileError>;
    /// Higher-precedence sources that make the written file not in force, each with why.
    fn not_in_force(&self, layout: &Layout, probe: &dyn Probe) -> Vec<Shadow>;
    /// Known ways around the lever (from the vendors' documentation).
    fn bypasses(&self) -> &'static [&'static str];
}

/// The environment variables the "not in force" checks ask about (the only ones a caller needs
/// to put into [`FsProbe::env`]).
pub const SHADOW_VARS: &[&str] = &[gemini_cli::OVERRIDE_VAR];

/// Every writer, in a stable order.
pub static REGISTRY: &[&dyn ClientPolicyWriter] = &[
    &claude_code::ClaudeCode,
    &claude_code_helper::ClaudeCodeHelper,
    &copilot::Copilot,
    &vscode::VsCode,
    &gemini_cli::GeminiCli,
    &codex::Codex,
    &cursor::Cursor,
];

/// The writer with this id.
pub fn by_id(id: &str) -> Option<&'static dyn ClientPolicyWriter> {
    REGISTRY.iter().copied().find(|w| w.id() == id)
}

/// The servers of `plan` that belong to one of `clients`.
fn governed<'a>(plan: &Plan<'a>, clients: &'static [&'static str]) -> impl Iterator<Item = &'a ServerPolicy> {
    plan.servers.iter().filter(move |s| clients.contains(&s.client.as_str()))
}

fn outcome(s: &ServerPolicy, rule: &str, action: &'static str, result: OutcomeResult) -> Outcome {
    Outcome { client: s.client.clone(), server: s.name.clone(), rule: rule.to_string(), action, result, note: None }
}

/// `deny-tools` and `require-approval` outcomes for a client without such a setting.
fn tool_level_not_enforceable(s: &ServerPolicy, why: &str, out: &mut Vec<Outcome>) {
    for (rule, _) in &s.asks.deny_tools {
        out.push(outcome(s, rule, "deny-tools", OutcomeResult::NotEnforceable(why.to_string())));
    }
    if let Some(rule) = &s.asks.require_approval {
        out.push(outcome(s, rule, "require-approval", OutcomeResult::NotEnforceable(why.to_string())));
    }
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
