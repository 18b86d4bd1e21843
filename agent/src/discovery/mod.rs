//! Discovery: finds every MCP server configured for every user on the scanned machine, and every
//! MCP server process running on it.
//!
//! The scan walks the [`clients::REGISTRY`] three times per user (user files, recorded
//! projects, project files) and once for managed files; each file is read by [`fsread`], parsed
//! by [`formats`] and handed to its client module. Every failure becomes a [`ProblemRecord`]
//! next to the results: one broken file never hides another. Raw values stay inside
//! [`entry::RawServer`]; turning records into the masked wire model is `crate::inventory`'s job.

pub mod clients;
pub mod entry;
pub mod formats;
pub mod fsread;
pub mod package;
pub mod processes;
pub mod projects;
pub mod stream_json;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::platform::{EnvMap, Layout, UserCtx, UserHome};
use clients::{Candidate, ClientSource, DisabledElsewhere, ProjectDir, REGISTRY};
use entry::RawServer;
use muster_proto::v1::{Package, ProblemKind, RemoteEndpoint, Scope};
pub use stream_json::TextPosition;

/// Finds where entries are in a file's text: for each `(server name, project)` the position of
/// its key, when it can be told. The scan calls it with the text it read (the quarantine's
/// format-preserving locator, handed in by the caller: discovery does not depend on `enforce`).
pub type LocateEntries = fn(&Path, &str, &[(&str, &str)]) -> Vec<Option<TextPosition>>;

/// What to scan.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    pub layout: Layout,
    /// Users whose homes are scanned.
    pub users: Vec<UserHome>,
    /// Environment of the user the agent runs as (relocating variables such as `CODEX_HOME`);
    /// applied to that user only.
    pub env_user: Option<(String, EnvMap)>,
    /// Also list running processes and their listening sockets (never for images).
    pub processes: bool,
    /// Scan only this directory (a host path), as a project: every client's project files in
    /// it, and nothing else (no managed files, no users, no processes). This is what a CI
    /// pipeline runs on a checked-out repository.
    pub project_only: Option<PathBuf>,
    /// Also find where each server's entry is in its file ([`ServerRecord::place`]), from the
    /// text the scan reads anyway (the daemon's local API shows it; `scan` does not need it).
    pub locate_entries: Option<LocateEntries>,
}

/// One configuration file that was looked at.
#[derive(Clone, Debug)]
pub struct SourceRecord {
    pub client: &'static str,
    pub user: Option<String>,
    pub scope: Scope,
    /// Path as on the scanned machine.
    pub path: String,
    pub host_path: PathBuf,
    pub real_path: Option<String>,
    pub format: formats::FileFormat,
    pub project: Option<String>,
    pub size: u64,
    pub mtime_unix: Option<i64>,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub client_accepts: bool,
    pub server_count: u32,
}

/// One configured server with everything needed to report and judge it.
#[derive(Clone, Debug)]
pub struct ServerRecord {
    pub id: String,
    pub client: &'static str,
    pub user: Option<String>,
    pub scope: Scope,
    pub config_path: String,
    /// Index into [`Discovery::sources`].
    pub source: usize,
    pub project: Option<String>,
    pub raw: RawServer,
    pub package: Option<Package>,
    pub endpoint: Option<RemoteEndpoint>,
    /// Where the entry's key is in its file, when [`ScanOptions::locate_entries`] asked.
    pub place: Option<TextPosition>,
}

/// Something that could not be read or understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProblemRecord {
    pub path: String,
    pub client: String,
    pub user: Option<String>,
    pub kind: ProblemKind,
    pub message: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

/// Everything a scan found.
#[derive(Debug, Default)]
pub struct Discovery {
    pub users: Vec<UserHome>,
    pub sources: Vec<SourceRecord>,
    pub servers: Vec<ServerRecord>,
    pub processes: Vec<processes::ProcessRecord>,
    pub problems: Vec<ProblemRecord>,
}

/// What a scan carries between files: the (client, file) pairs already read, and disabled
/// state read from files other than the entries' own, until the scan applies it.
#[derive(Default)]
struct Pending {
    seen: HashSet<(&'static str, PathBuf)>,
    disabled_elsewhere: Vec<(&'static str, Option<String>, DisabledElsewhere)>,
    locate: Option<LocateEntries>,
}

/// Scans configuration (and, when asked, processes) as `opts` says.
pub fn scan(opts: &ScanOptions) -> Discovery {
    let mut d = Discovery { users: opts.users.clone(), ..Discovery::default() };
    let mut seen = Pending { locate: opts.locate_entries, ..Pending::default() };
    if let Some(dir) = &opts.project_only {
        read_project(&mut d, &opts.layout, dir, None, &mut seen);
        apply_disabled_elsewhere(&mut d, &opts.layout, seen.disabled_elsewhere);
        return d;
    }
    let markers = projects::marker_names(opts.layout.os());

    let sys = opts.layout.system_ctx();
    for client in REGISTRY {
        let mut cands = Vec::new();
        client.managed_files(&sys, &mut cands);
        for c in cands {
            read_candidate(&mut d, &opts.layout, *client, &c, None, None, &mut seen);
        }
    }

    for user in &opts.users {
        let env = match &opts.env_user {
            Some((name, env)) if *name == user.name => env.clone(),
            _ => EnvMap::new(),
        };
        let ctx = UserCtx::new(user, opts.layout.os(), env);
        let mut project_dirs: BTreeSet<PathBuf> = BTreeSet::new();

        for client in REGISTRY {
            let mut cands = Vec::new();
            client.user_files(&ctx, &mut cands);
            for c in cands {
                let hints = read_candidate(&mut d, &opts.layout, *client, &c, Some(&user.name), None, &mut seen);
                project_dirs.extend(hints);
            }
            project_dirs.extend(client.recorded_projects(&ctx, &opts.layout));
        }
        project_dirs.extend(projects::walk_code_roots(&user.home, &markers));

        for dir in project_dirs {
            if dir.is_dir() {
                read_project(&mut d, &opts.layout, &dir, Some(&user.name), &mut seen);
            }
        }
    }

    apply_disabled_elsewhere(&mut d, &opts.layout, seen.disabled_elsewhere);

    if opts.processes && !opts.layout.is_image() {
        let (procs, problems) = processes::discover(&d.servers);
        d.processes = procs;
        d.problems.extend(problems);
    }
    d
}

/// Reads every client's project files in `dir`, attributed to `user` (none for `--project`).
fn read_project(d: &mut Discovery, layout: &Layout, dir: &Path, user: Option<&str>, seen: &mut Pending) {
    let project = layout.display(dir);
    for client in REGISTRY {
        let mut cands = Vec::new();
        client.project_files(dir, layout.os(), &mut cands);
        for c in cands {
            read_candidate(d, layout, *client, &c, user, Some(&project), seen);
        }
    }
}

/// Files at least this large are streamed ([`stream_json`]) when their client needs only some
/// members; smaller ones are read whole (one `serde_json` pass over the text, as cheap).
const STREAM_FROM_BYTES: u64 = 256 * 1024;

/// Reads, parses and records one candidate; returns the project dirs the file records.
fn read_candidate(
    d: &mut Discovery,
    layout: &Layout,
    client: &'static dyn ClientSource,
    c: &Candidate,
    user: Option<&str>,
    project: Option<&str>,
    seen: &mut Pending,
) -> Vec<PathBuf> {
    if !fsread::exists(&c.path) || !seen.seen.insert((client.id(), c.path.clone())) {
        return Vec::new();
    }
    let user = if c.scope == Scope::Managed { None } else { user.map(str::to_string) };
    let path = layout.display(&c.path);
    let problem = |kind, message: String, line, column| ProblemRecord {
        path: path.clone(),
        client: client.id().to_string(),
        user: user.clone(),
        kind,
        message,
        line,
        column,
    };
    // A large strict-JSON file whose client needs only some members (`~/.claude.json` with its
    // project history) is read as a stream: its text is never held.
    let stream_keep = client.keep(c).filter(|_| c.format == formats::FileFormat::Json);
    let read = match stream_keep {
        Some(keep) => fsread::read_config_streamed(&c.path, STREAM_FROM_BYTES, |r| stream_json::read_kept(r, keep)),
        None => fsread::read_config(&c.path).map(|data| (data, None)),
    };
    let (data, streamed) = match read {
        Ok(read) => read,
        Err(e) => {
            let kind = match e {
                fsread::ReadError::TooLarge { .. } => ProblemKind::TooLarge,
                fsread::ReadError::NotUtf8(_) | fsread::ReadError::NotUtf16 => ProblemKind::Syntax,
                _ => ProblemKind::Unreadable,
            };
            d.problems.push(problem(kind, e.to_string(), None, None));
            return Vec::new();
        }
    };
    let (parsed_doc, members) = match streamed {
        Some(kept) => (Ok(formats::ParsedDoc { value: kept.value, client_rejects: None }), Some(kept.members)),
        None => (formats::parse_kept(&data.text, c.format, client.keep(c)), None),
    };
    let doc = match parsed_doc {
        Ok(doc) => doc,
        Err(e) => {
            d.problems.push(problem(
                ProblemKind::Syntax,
                format!("cannot parse file: {}", e.message),
                e.line,
                e.column,
            ));
            return Vec::new();
        }
    };
    if let Some(e) = &doc.client_rejects {
        d.problems.push(problem(
            ProblemKind::ClientWillIgnore,
            format!("the client will ignore this file: {}", e.message),
            e.line,
            e.column,
        ));
    }
    let parsed = client.parse(c, &doc.value);
    seen.disabled_elsewhere.extend(parsed.disabled_elsewhere.iter().map(|x| (client.id(), user.clone(), x.clone())));
    for msg in parsed.entry_errors {
        d.problems.push(problem(ProblemKind::InvalidEntry, msg, None, None));
    }
    let source = d.sources.len();
    d.sources.push(SourceRecord {
        client: client.id(),
        user: user.clone(),
        scope: c.scope,
        path: path.clone(),
        host_path: c.path.clone(),
        real_path: data.real_path.as_deref().map(|p| layout.display(p)),
        format: c.format,
        project: project.map(str::to_string),
        size: data.size,
        mtime_unix: data.mtime_unix,
        // An image of a Windows machine sits on a Unix disk: its permission bits mean nothing.
        mode: data.mode.filter(|_| layout.os() != crate::platform::Os::Windows),
        uid: data.uid.filter(|_| layout.os() != crate::platform::Os::Windows),
        client_accepts: doc.client_rejects.is_none(),
        server_count: parsed.servers.len() as u32,
    });
    let first = d.servers.len();
    for raw in parsed.servers {
        let project = raw.project.clone().or_else(|| project.map(str::to_string));
        d.servers.push(server_record(client.id(), user.clone(), c.scope, &path, source, project, raw));
    }
    if let Some(locate) = seen.locate {
        place_entries(&mut d.servers[first..], locate, &c.path, &data.text, members.as_deref());
    }
    let mut hints: Vec<PathBuf> = parsed.projects.iter().filter_map(|p| layout.resolve(p)).collect();
    for (linked, origin) in &parsed.linked {
        let before = d.servers.len();
        hints.extend(read_candidate(d, layout, client, linked, user.as_deref(), project, seen));
        for s in &mut d.servers[before..] {
            if s.raw.origin.is_none() {
                s.raw.origin.clone_from(origin);
            }
        }
    }
    hints
}

/// Finds where the entries of one file's `servers` are: from the streamed reader's member
/// positions for a streamed file, else by `locate` on the text just read (never read again).
fn place_entries(
    servers: &mut [ServerRecord],
    locate: LocateEntries,
    path: &Path,
    text: &str,
    members: Option<&[(Vec<String>, TextPosition)]>,
) {
    match members {
        Some(members) => {
            for s in servers {
                s.place = member_place(members, &s.raw.name, s.project.as_deref().unwrap_or(""));
            }
        }
        None => {
            let entries: Vec<(&str, &str)> =
                servers.iter().map(|s| (s.raw.name.as_str(), s.project.as_deref().unwrap_or(""))).collect();
            let places = locate(path, text, &entries);
            for (s, place) in servers.iter_mut().zip(places) {
                s.place = place;
            }
        }
    }
}

/// The position of entry `name` among a streamed file's kept members, chosen as the
/// quarantine's locator chooses in a whole text: a project's entry is the one under that
/// project's key, a user-level one is outside `projects`; none when it is not unique.
fn member_place(members: &[(Vec<String>, TextPosition)], name: &str, project: &str) -> Option<TextPosition> {
    let named: Vec<&(Vec<String>, TextPosition)> =
        members.iter().filter(|(p, _)| p.last().is_some_and(|last| last == name)).collect();
    let wanted: Vec<&&(Vec<String>, TextPosition)> = if project.is_empty() {
        named.iter().filter(|(p, _)| p.first().map(String::as_str) != Some("projects")).collect()
    } else {
        let inside: Vec<_> = named.iter().filter(|(p, _)| p[..p.len() - 1].iter().any(|seg| seg == project)).collect();
        if inside.is_empty() { named.iter().collect() } else { inside }
    };
    match wanted[..] {
        [(_, at)] => Some(*at),
        _ => None,
    }
}

/// Applies disabled state kept outside the entries (see [`DisabledElsewhere`]) to the servers
/// of the same client and user.
fn apply_disabled_elsewhere(
    d: &mut Discovery,
    layout: &Layout,
    states: Vec<(&'static str, Option<String>, DisabledElsewhere)>,
) {
    for (client, user, state) in &states {
        for s in d.servers.iter_mut().filter(|s| s.client == *client && s.user == *user) {
            let hit = match state {
                DisabledElsewhere::Origin(origin) => s.raw.origin.as_deref() == Some(origin.as_str()),
                DisabledElsewhere::ProjectMcpJson { project, names } => {
                    let host = &d.sources[s.source].host_path;
                    let dir = match project {
                        ProjectDir::Written(p) => layout.resolve(p),
                        ProjectDir::Host(p) => Some(p.clone()),
                    };
                    s.scope == Scope::Project
                        && host.file_name().is_some_and(|n| n == ".mcp.json")
                        && dir.is_some_and(|dir| host.parent() == Some(dir.as_path()))
                        && names.contains(&s.raw.name)
                }
            };
            if hit {
                s.raw.disabled = true;
            }
        }
    }
}

fn server_record(
    client: &'static str,
    user: Option<String>,
    scope: Scope,
    config_path: &str,
    source: usize,
    project: Option<String>,
    raw: RawServer,
) -> ServerRecord {
    let args: Vec<&str> = raw.args.iter().map(|a| a.expose()).collect();
    let package = raw.command.as_deref().and_then(|c| package::identify(c, &args));
    let endpoint = package::endpoint(raw.url.as_ref().map(|u| u.expose()), package.as_ref(), &args);
    // Per-project entries of one user file share a path and a name: the project tells them apart.
    let id = server_id(
        user.as_deref(),
        client,
        config_path,
        project.as_deref().filter(|_| raw.project.is_some()),
        &raw.name,
    );
    ServerRecord {
        id,
        client,
        user,
        scope,
        config_path: config_path.to_string(),
        source,
        project,
        raw,
        package,
        endpoint,
        place: None,
    }
}

/// Stable server id: a hash of user, client, config path and name (and, for per-project entries
/// inside a user file, the project), hex, 128 bits.
pub fn server_id(user: Option<&str>, client: &str, config_path: &str, project: Option<&str>, name: &str) -> String {
    let mut h = Sha256::new();
    for part in [user.unwrap_or(""), client, config_path, project.unwrap_or(""), name] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}
