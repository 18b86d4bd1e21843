//! Running MCP servers: processes whose command line matches a configured server or a known MCP
//! package pattern, the AI client that started them, and the TCP sockets they listen on.
//!
//! `sysinfo` and `listeners` are touched only by [`SystemProcesses`], behind the
//! [`ProcessSource`] trait; the matching in [`classify`] is pure so tests feed it synthetic
//! process tables. Process environments are never read: they hold the very secrets we protect.

use std::collections::{BTreeMap, HashMap};

use super::package::{self, program_name};
use super::{ProblemRecord, ServerRecord};
use crate::secrets::Secret;
use muster_proto::v1::{Ecosystem, Package, ProblemKind};

/// One process as the OS lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcInfo {
    pub pid: u32,
    pub parent: Option<u32>,
    pub name: String,
    pub exe: String,
    /// The raw command line; may contain secrets (a `--token` flag), so it is masked before
    /// it is reported.
    pub cmd: Vec<String>,
    pub user: Option<String>,
    pub start_time: Option<i64>,
}

/// A TCP socket a process listens on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketInfo {
    pub pid: u32,
    pub address: String,
    pub port: u16,
}

/// Where process facts come from: the OS, or a test.
pub trait ProcessSource {
    fn processes(&self) -> Result<Vec<ProcInfo>, String>;
    fn listening_sockets(&self) -> Result<Vec<SocketInfo>, String>;
}

/// An MCP server process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessRecord {
    pub pid: u32,
    pub parent_pid: Option<u32>,
    pub user: Option<String>,
    pub exe: String,
    /// The launcher as the command line names it (`npx`, `uvx`, `node`), after `node npx-cli.js`
    /// is read as `npx`: what the package is identified from, with `args`.
    pub command: String,
    /// The arguments after `command`.
    pub args: Vec<Secret>,
    pub package: Option<Package>,
    pub parent_client: Option<&'static str>,
    pub server_ids: Vec<String>,
    pub unmanaged: bool,
    pub listeners: Vec<SocketInfo>,
    pub started_unix: Option<i64>,
}

/// Lists MCP server processes on this machine.
pub fn discover(servers: &[ServerRecord]) -> (Vec<ProcessRecord>, Vec<ProblemRecord>) {
    discover_from(&SystemProcesses, servers)
}

/// Lists MCP server processes from `source`; failures become problems.
pub fn discover_from(source: &dyn ProcessSource, servers: &[ServerRecord]) -> (Vec<ProcessRecord>, Vec<ProblemRecord>) {
    let mut problems = Vec::new();
    let problem = |message: String| ProblemRecord {
        path: String::new(),
        client: String::new(),
        user: None,
        kind: ProblemKind::Process,
        message,
        line: None,
        column: None,
    };
    let procs = match source.processes() {
        Ok(p) => p,
        Err(e) => {
            problems.push(problem(format!("cannot list processes: {e}")));
            return (Vec::new(), problems);
        }
    };
    let sockets = source.listening_sockets().unwrap_or_else(|e| {
        problems.push(problem(format!("cannot list listening sockets: {e}")));
        Vec::new()
    });
    (classify(&procs, &sockets, servers), problems)
}

/// The pure part: which processes are MCP servers, what started them, what they match.
pub fn classify(procs: &[ProcInfo], sockets: &[SocketInfo], servers: &[ServerRecord]) -> Vec<ProcessRecord> {
    let by_pid: HashMap<u32, &ProcInfo> = procs.iter().map(|p| (p.pid, p)).collect();
    let own_pid = std::process::id();

    // Candidate MCP processes with their identity and configured matches.
    let mut found: BTreeMap<u32, ProcessRecord> = BTreeMap::new();
    for p in procs {
        if p.pid == own_pid || p.cmd.is_empty() {
            continue;
        }
        let argv = effective_argv(&p.cmd);
        let Some((cmd, args)) = argv.split_first() else { continue };
        let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let pkg = package::identify(cmd, &arg_refs);
        let matches: Vec<String> = servers
            .iter()
            .filter(|s| p.user.is_none() || s.user.is_none() || s.user == p.user)
            .filter(|s| server_matches(s, cmd, &arg_refs, pkg.as_ref()))
            .map(|s| s.id.clone())
            .collect();
        let looks_mcp = pkg.as_ref().is_some_and(|k| is_mcp_name(&k.name)) || is_mcp_name(&program_name(cmd));
        if matches.is_empty() && !looks_mcp {
            continue;
        }
        if client_of(p).is_some() {
            // The AI client itself (e.g. `claude mcp serve` aside) is not a server process.
            if matches.is_empty() {
                continue;
            }
        }
        found.insert(
            p.pid,
            ProcessRecord {
                pid: p.pid,
                parent_pid: p.parent,
                user: p.user.clone(),
                exe: p.exe.clone(),
                command: cmd.clone(),
                args: args.iter().map(|a| Secret::new(a.as_str())).collect(),
                package: pkg,
                parent_client: None,
                unmanaged: matches.is_empty(),
                server_ids: matches,
                listeners: Vec::new(),
                started_unix: p.start_time,
            },
        );
    }

    // A launcher chain (npm exec → sh → node) is one server: keep the topmost process and give
    // it the sockets of the ones below it.
    let pids: Vec<u32> = found.keys().copied().collect();
    let mut top_of: HashMap<u32, u32> = HashMap::new();
    for pid in &pids {
        let mut top = *pid;
        let mut cur = by_pid.get(pid).and_then(|p| p.parent);
        for _ in 0..16 {
            let Some(parent) = cur else { break };
            if found.contains_key(&parent) {
                top = parent;
            }
            cur = by_pid.get(&parent).and_then(|p| p.parent);
        }
        top_of.insert(*pid, top);
    }
    for s in sockets {
        let owner = top_of.get(&s.pid).copied().or_else(|| {
            // The socket may belong to a child we did not flag (a plain `node` below `npx`).
            let mut cur = by_pid.get(&s.pid).and_then(|p| p.parent);
            for _ in 0..16 {
                let parent = cur?;
                if let Some(top) = top_of.get(&parent) {
                    return Some(*top);
                }
                cur = by_pid.get(&parent).and_then(|p| p.parent);
            }
            None
        });
        if let Some(rec) = owner.and_then(|o| found.get_mut(&o))
            && !rec.listeners.contains(s)
        {
            rec.listeners.push(s.clone());
        }
    }
    found.retain(|pid, _| top_of.get(pid) == Some(pid));

    for rec in found.values_mut() {
        let mut cur = rec.parent_pid;
        for _ in 0..16 {
            let Some(parent) = cur.and_then(|pid| by_pid.get(&pid)) else { break };
            if let Some(client) = client_of(parent) {
                rec.parent_client = Some(client);
                break;
            }
            cur = parent.parent;
        }
    }
    found.into_values().collect()
}

/// npm rewrites its process title to one string (`npm exec pkg`), and node-based launchers run
/// as `node /path/to/npx ...`: both are turned back into the configured shape.
pub(crate) fn effective_argv(cmd: &[String]) -> Vec<String> {
    let mut argv: Vec<String> = if cmd.len() == 1 && cmd[0].contains(' ') {
        cmd[0].split_whitespace().map(str::to_string).collect()
    } else {
        cmd.to_vec()
    };
    if argv.len() >= 2 && matches!(program_name(&argv[0]).as_str(), "node" | "nodejs" | "bun") {
        let script = program_name(&argv[1]);
        let launcher = script.trim_end_matches(".js").trim_end_matches("-cli");
        if ["npx", "npm", "pnpm", "yarn", "bunx", "pnpx"].contains(&launcher) {
            argv.remove(0);
            argv[0] = launcher.to_string();
        }
    }
    argv
}

fn server_matches(s: &ServerRecord, cmd: &str, args: &[&str], pkg: Option<&Package>) -> bool {
    let Some(conf_cmd) = s.raw.command.as_deref() else { return false };
    let conf_args: Vec<&str> = s.raw.args.iter().map(|a| a.expose()).collect();
    if program_name(conf_cmd) == program_name(cmd) && conf_args == args {
        return true;
    }
    match (pkg, &s.package) {
        (Some(a), Some(b)) => {
            a.ecosystem == b.ecosystem
                && a.name == b.name
                && matches!(a.ecosystem(), Ecosystem::Npm | Ecosystem::Pypi | Ecosystem::Oci | Ecosystem::Local)
        }
        _ => false,
    }
}

/// Names MCP servers are published under: `@modelcontextprotocol/server-x`, `x-mcp-server`,
/// `mcp-server-x`, `x-mcp`, `mcp_x`, `mcp-remote`.
pub fn is_mcp_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let base = n.rsplit(['/', '\\']).next().unwrap_or(&n);
    if n.starts_with("@modelcontextprotocol/") {
        return true;
    }
    base.split(['-', '_', '.', ':']).any(|part| part == "mcp") && !matches!(base, "muster-agent" | "muster-server")
}

/// Which AI client a process is, by its executable or script.
pub fn client_of(p: &ProcInfo) -> Option<&'static str> {
    let exe = p.exe.to_ascii_lowercase();
    let name = program_name(if p.exe.is_empty() { &p.name } else { &p.exe });
    let joined = p.cmd.iter().take(3).map(|s| s.to_ascii_lowercase()).collect::<Vec<_>>().join(" ");
    const SCRIPTS: &[(&str, &str)] = &[
        ("@anthropic-ai/claude-code", "claude-code"),
        ("@google/gemini-cli", "gemini-cli"),
        ("@openai/codex", "codex"),
        ("@qwen-code/", "qwen-code"),
        ("@github/copilot", "copilot-cli"),
        ("@sourcegraph/amp", "amp"),
        ("opencode-ai", "opencode"),
        ("@augmentcode/auggie", "augment"),
        ("@kilocode/", "kilo-code"),
        ("@continuedev/", "continue"),
    ];
    if matches!(name.as_str(), "node" | "nodejs" | "bun") {
        return SCRIPTS.iter().find(|(pat, _)| joined.contains(pat)).map(|(_, id)| *id);
    }
    if exe.contains("claude.app") || exe.contains("anthropicclaude") || exe.contains("claude-desktop") {
        return Some("claude-desktop");
    }
    let id = match name.as_str() {
        "claude" => "claude-code",
        "cursor" | "cursor-agent" => "cursor",
        "code" | "code-insiders" | "codium" | "code-oss" | "positron" => "vscode",
        "windsurf" => "windsurf",
        "zed" | "zed-editor" | "zeditor" => "zed",
        "goose" | "goosed" => "goose",
        "codex" => "codex",
        "gemini" => "gemini-cli",
        "qwen" => "qwen-code",
        "opencode" => "opencode",
        "crush" => "crush",
        "amp" => "amp",
        "kiro" | "kiro-cli" => "kiro",
        "trae" => "trae",
        "lm studio" | "lm-studio" | "lmstudio" => "lm-studio",
        "warp" | "warp-terminal" => "warp",
        "q" | "qchat" => "amazon-q",
        "copilot" => "copilot-cli",
        "auggie" => "augment",
        "droid" => "factory-droid",
        "kimi" => "kimi-code",
        "vibe" => "mistral-vibe",
        "devin" => "devin",
        "5ire" => "5ire",
        "boltai" => "boltai",
        "antigravity" => "antigravity",
        "nvim" => "mcphub",
        "devenv" => "visual-studio",
        "junie" => "junie",
        _ => return None,
    };
    Some(id)
}

/// The real OS, through sysinfo and listeners.
pub struct SystemProcesses;

impl ProcessSource for SystemProcesses {
    fn processes(&self) -> Result<Vec<ProcInfo>, String> {
        use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind, Users};
        let mut sys = System::new().map_err(|e| e.to_string())?;
        // Command line, executable and owner only: never the environment.
        sys.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing()
                .with_cmd(UpdateKind::Always)
                .with_exe(UpdateKind::Always)
                .with_user(UpdateKind::Always),
        );
        let users = Users::new_with_refreshed_list().ok();
        let mut out: Vec<ProcInfo> = sys
            .processes()
            .values()
            // Threads show up as processes on Linux; they repeat their process's command line.
            .filter(|p| p.thread_kind().is_none())
            .map(|p| ProcInfo {
                pid: p.pid().as_u32(),
                parent: p.parent().map(|pp| pp.as_u32()),
                name: p.name().to_string_lossy().into_owned(),
                exe: p.exe().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default(),
                cmd: p.cmd().iter().map(|a| a.to_string_lossy().into_owned()).collect(),
                user: p
                    .user_id()
                    .and_then(|uid| users.as_ref().and_then(|u| u.get_user_by_id(uid)))
                    .map(|u| u.name().to_string()),
                start_time: Some(p.start_time() as i64),
            })
            .collect();
        out.sort_by_key(|p| p.pid);
        Ok(out)
    }

    fn listening_sockets(&self) -> Result<Vec<SocketInfo>, String> {
        let all = listeners::get_all().map_err(|e| e.to_string())?;
        let mut out: Vec<SocketInfo> = all
            .into_iter()
            .filter(|l| l.protocol == listeners::Protocol::TCP && l.state == listeners::SocketState::Listen)
            .map(|l| SocketInfo { pid: l.process.pid, address: l.socket.ip().to_string(), port: l.socket.port() })
            .collect();
        out.sort_by(|a, b| (a.pid, a.port, &a.address).cmp(&(b.pid, b.port, &b.address)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::entry::RawServer;
    use muster_proto::v1::Scope;

    fn proc(pid: u32, parent: Option<u32>, exe: &str, cmd: &[&str]) -> ProcInfo {
        ProcInfo {
            pid,
            parent,
            name: program_name(exe),
            exe: exe.into(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            user: Some("dev".into()),
            start_time: None,
        }
    }

    fn configured(id: &str, cmd: &str, args: &[&str]) -> ServerRecord {
        let raw = RawServer {
            name: id.into(),
            command: Some(cmd.into()),
            args: args.iter().map(|a| Secret::new(*a)).collect(),
            ..RawServer::default()
        };
        let arg_refs: Vec<&str> = args.to_vec();
        ServerRecord {
            id: id.into(),
            client: "cursor",
            user: Some("dev".into()),
            scope: Scope::User,
            config_path: "/home/dev/.cursor/mcp.json".into(),
            source: 0,
            project: None,
            package: package::identify(cmd, &arg_refs),
            endpoint: None,
            raw,
            place: None,
        }
    }

    #[test]
    fn configured_server_chain_is_one_record_with_parent_client_and_sockets() {
        let procs = vec![
            proc(10, None, "/usr/share/cursor/cursor", &["/usr/share/cursor/cursor"]),
            proc(20, Some(10), "/usr/bin/node", &["npm exec @modelcontextprotocol/server-github"]),
            proc(
                21,
                Some(20),
                "/usr/bin/node",
                &["node", "/home/dev/.npm/_npx/abc/node_modules/.bin/mcp-server-github"],
            ),
            proc(30, Some(1), "/usr/bin/python3", &["python3", "-m", "http.server"]),
        ];
        let sockets = vec![SocketInfo { pid: 21, address: "0.0.0.0".into(), port: 3000 }];
        let servers = vec![configured("gh", "npx", &["-y", "@modelcontextprotocol/server-github"])];
        let recs = classify(&procs, &sockets, &servers);
        assert_eq!(recs.len(), 1, "{recs:?}");
        let r = &recs[0];
        assert_eq!((r.pid, r.parent_client, r.unmanaged), (20, Some("cursor"), false));
        assert_eq!(r.server_ids, ["gh"]);
        assert_eq!(r.listeners, sockets);
    }

    #[test]
    fn unconfigured_mcp_process_is_unmanaged() {
        let procs = vec![
            proc(5, None, "/usr/bin/bash", &["bash"]),
            proc(
                6,
                Some(5),
                "/usr/local/bin/shadow-mcp-server",
                &["shadow-mcp-server", "--port", "9000", "--token", "x"],
            ),
        ];
        let recs = classify(&procs, &[], &[]);
        assert_eq!(recs.len(), 1);
        assert!(recs[0].unmanaged);
        assert_eq!(recs[0].parent_client, None);
    }

    #[test]
    fn mcp_names() {
        for n in [
            "@modelcontextprotocol/server-filesystem",
            "github-mcp-server",
            "mcp-server-git",
            "mcp-remote",
            "mcp_atlassian",
        ] {
            assert!(is_mcp_name(n), "{n}");
        }
        for n in ["node", "mcpherson", "compact", "muster-agent"] {
            assert!(!is_mcp_name(n), "{n}");
        }
    }

    struct Failing;
    impl ProcessSource for Failing {
        fn processes(&self) -> Result<Vec<ProcInfo>, String> {
            Err("permission denied".into())
        }
        fn listening_sockets(&self) -> Result<Vec<SocketInfo>, String> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn failing_process_listing_is_a_problem() {
        let (recs, problems) = discover_from(&Failing, &[]);
        assert!(recs.is_empty());
        assert_eq!(problems[0].kind, ProblemKind::Process);
    }
}
