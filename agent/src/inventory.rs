//! Turns a [`Discovery`] (raw values inside) into the wire model `muster.v1.Inventory` (masked
//! arguments and URLs, names of variables and headers, never values). This is the one place
//! where data crosses from "inside the agent" to "may leave the agent".
//!
//! Masking by known places is the first step; the second is the gate [`scrub_snapshot`]: every
//! string of the snapshot except the agent's own hashes (server ids, fingerprints, the machine
//! id) passes [`scrub::scrub_text`] token by token, whatever field it sits in. The test
//! `agent/tests/scrub_fields.rs` plants a secret in every string field of the `.proto` contract
//! and fails when one comes through.

use crate::analysis::credentials::masked_identity;
use crate::analysis::{Analysis, ServerAnalysis};
use crate::discovery::package;
use crate::discovery::{Discovery, ProblemRecord, ServerRecord, SourceRecord};
use crate::platform::{self, Layout, Os};
use crate::secrets::mask;
use crate::secrets::scrub::{self, scrub_in_place};
use muster_proto::v1 as pb;

/// Facts about the scanned host and the endpoint tags IT configured (already checked against
/// `muster_proto::tags`), as the wire model holds them (scrubbed).
pub fn host(layout: &Layout, tags: &[String]) -> pb::Host {
    let facts = platform::host_facts(layout);
    let os = match facts.os {
        Os::Linux => pb::Os::Linux,
        Os::Macos => pb::Os::Macos,
        Os::Windows => pb::Os::Windows,
    };
    let mut host = pb::Host {
        hostname: facts.hostname,
        os: os as i32,
        os_version: facts.os_version,
        arch: facts.arch,
        machine_id: facts.machine_id,
        scanned_root: facts.scanned_root.map(|r| r.to_string_lossy().into_owned()).unwrap_or_default(),
        tags: tags.to_vec(),
    };
    scrub_host(&mut host);
    host
}

/// Builds the wire inventory from a discovery and its analysis.
pub fn build(
    d: &Discovery,
    analysis: &Analysis,
    layout: &Layout,
    tags: &[String],
    scanned_at_unix: i64,
) -> pb::InventorySnapshot {
    let mut snapshot = pb::InventorySnapshot {
        host: Some(host(layout, tags)),
        users: d
            .users
            .iter()
            .map(|u| pb::OsUser { name: u.name.clone(), uid: u.uid, home: layout.display(&u.home) })
            .collect(),
        sources: d.sources.iter().map(source).collect(),
        servers: d
            .servers
            .iter()
            .zip(analysis.servers.iter().map(Some).chain(std::iter::repeat(None)))
            .map(|(s, a)| server(s, a))
            .collect(),
        processes: d.processes.iter().map(process).collect(),
        problems: d.problems.iter().map(problem).collect(),
        scanned_at_unix,
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        findings: analysis.findings.clone(),
    };
    scrub_snapshot(&mut snapshot);
    snapshot
}

/// The gate every snapshot passes on its way out: every string taken from a config, a command
/// line or a path is scrubbed token by token (see [`scrub`]). Exempt are only what the agent
/// computes itself as hashes: server ids, credential fingerprints, finding ids and server ids,
/// the machine id. Idempotent.
pub fn scrub_snapshot(s: &mut pb::InventorySnapshot) {
    if let Some(h) = s.host.as_mut() {
        scrub_host(h);
    }
    for u in &mut s.users {
        scrub_in_place(&mut u.name);
        scrub_in_place(&mut u.home);
    }
    s.sources.iter_mut().for_each(scrub_source);
    s.servers.iter_mut().for_each(scrub_server);
    s.processes.iter_mut().for_each(scrub_process);
    s.problems.iter_mut().for_each(scrub_problem);
    s.findings.iter_mut().for_each(scrub_finding);
    scrub_in_place(&mut s.agent_version);
}

fn scrub_host(h: &mut pb::Host) {
    for f in [&mut h.hostname, &mut h.os_version, &mut h.arch, &mut h.scanned_root] {
        scrub_in_place(f);
    }
    // Tags come from IT's config file, not a user's, and pass `muster_proto::tags`; they pass the
    // gate anyway, like every other string that leaves.
    h.tags.iter_mut().for_each(scrub_in_place);
}

fn scrub_source(s: &mut pb::ConfigSource) {
    for f in [&mut s.path, &mut s.real_path, &mut s.client, &mut s.user, &mut s.project, &mut s.owner] {
        scrub_in_place(f);
    }
}

fn scrub_package(p: &mut pb::Package) {
    scrub_in_place(&mut p.name);
    if let Some(v) = p.version.as_mut() {
        scrub_in_place(v);
    }
}

/// A remote server's auth posture: the agent's own words, plus a host named by the server's
/// metadata; gated like every other string.
pub fn scrub_remote_auth(a: &mut pb::RemoteAuth) {
    for f in [&mut a.reason, &mut a.discovery, &mut a.authorization_server] {
        scrub_in_place(f);
    }
    a.missing.iter_mut().for_each(scrub_in_place);
}

fn scrub_server(s: &mut pb::McpServer) {
    for f in [
        &mut s.name,
        &mut s.client,
        &mut s.user,
        &mut s.config_path,
        &mut s.project,
        &mut s.url,
        &mut s.origin,
        &mut s.cwd,
        &mut s.service,
        &mut s.registry_name,
    ] {
        scrub_in_place(f);
    }
    s.command = scrub::scrub_command_line(&s.command);
    s.args.iter_mut().chain(&mut s.env_names).chain(&mut s.header_names).for_each(scrub_in_place);
    if let Some(p) = s.package.as_mut() {
        scrub_package(p);
    }
    if let Some(e) = s.endpoint.as_mut() {
        for f in [&mut e.scheme, &mut e.host, &mut e.path] {
            scrub_in_place(f);
        }
        if let Some(a) = e.auth.as_mut() {
            scrub_remote_auth(a);
        }
    }
    if let Some(a) = s.auto_approve.as_mut() {
        a.tools.iter_mut().for_each(scrub_in_place);
    }
    for c in &mut s.credentials {
        for f in [&mut c.location, &mut c.kind, &mut c.provider, &mut c.reference] {
            scrub_in_place(f);
        }
    }
    s.findings.iter_mut().for_each(scrub_finding);
}

fn scrub_finding(f: &mut pb::Finding) {
    for f in [&mut f.owasp, &mut f.message, &mut f.client, &mut f.user] {
        scrub_in_place(f);
    }
}

fn scrub_process(p: &mut pb::McpProcess) {
    for f in [&mut p.user, &mut p.exe, &mut p.parent_client] {
        scrub_in_place(f);
    }
    p.args.iter_mut().for_each(scrub_in_place);
    if let Some(pkg) = p.package.as_mut() {
        scrub_package(pkg);
    }
    for l in &mut p.listeners {
        scrub_in_place(&mut l.address);
        scrub_in_place(&mut l.protocol);
    }
}

fn scrub_problem(p: &mut pb::Problem) {
    for f in [&mut p.path, &mut p.client, &mut p.message, &mut p.user] {
        scrub_in_place(f);
    }
}

fn source(s: &SourceRecord) -> pb::ConfigSource {
    pb::ConfigSource {
        path: s.path.clone(),
        real_path: s.real_path.clone().unwrap_or_default(),
        client: s.client.to_string(),
        scope: s.scope as i32,
        format: s.format.to_proto() as i32,
        user: s.user.clone().unwrap_or_default(),
        project: s.project.clone().unwrap_or_default(),
        mtime_unix: s.mtime_unix,
        owner: s.uid.map(|u| u.to_string()).unwrap_or_default(),
        mode: s.mode,
        size: s.size,
        client_accepts: s.client_accepts,
        server_count: s.server_count,
    }
}

/// The masked wire form of one server. Without an analysis, arguments and URL are masked by
/// flag names and URL structure only.
pub fn server(s: &ServerRecord, analysis: Option<&ServerAnalysis>) -> pb::McpServer {
    let raw = &s.raw;
    let args = match analysis {
        Some(a) => a.masked_args.clone(),
        None => mask::mask_args(&raw.args, &|_, _| false),
    };
    let url = match analysis.and_then(|a| a.masked_url.clone()) {
        Some(u) => u,
        None => raw.url.as_ref().map(|u| mask::mask_url(u.expose())).unwrap_or_default(),
    };
    let (package, endpoint) = match analysis {
        Some(a) => (a.package.clone(), a.endpoint.clone()),
        None => masked_identity(s, &args, (!url.is_empty()).then_some(url.as_str())),
    };
    let command = scrub::scrub_command_line(raw.command.as_deref().unwrap_or_default());
    pb::McpServer {
        id: s.id.clone(),
        name: raw.name.clone(),
        client: s.client.to_string(),
        user: s.user.clone().unwrap_or_default(),
        scope: s.scope as i32,
        config_path: s.config_path.clone(),
        project: s.project.clone().unwrap_or_default(),
        transport: raw.transport.unwrap_or(pb::Transport::Unspecified) as i32,
        command,
        args,
        env_names: raw.env.iter().map(|(k, _)| k.clone()).collect(),
        url,
        header_names: raw.headers.iter().map(|(k, _)| k.clone()).collect(),
        package,
        endpoint,
        disabled: raw.disabled,
        auto_approve: (raw.auto_approve_all || !raw.auto_approve_tools.is_empty())
            .then(|| pb::AutoApprove { all: raw.auto_approve_all, tools: raw.auto_approve_tools.clone() }),
        origin: raw.origin.clone().unwrap_or_default(),
        cwd: raw.cwd.clone().unwrap_or_default(),
        service: analysis.and_then(|a| a.service.clone()).unwrap_or_default(),
        service_guessed: analysis.is_some_and(|a| a.service_guessed),
        credentials: analysis.map(|a| a.credentials.clone()).unwrap_or_default(),
        findings: analysis.map(|a| a.findings.clone()).unwrap_or_default(),
        registry_name: analysis.and_then(|a| a.registry.as_ref()).map(|r| r.name.clone()).unwrap_or_default(),
    }
}

fn process(p: &crate::discovery::processes::ProcessRecord) -> pb::McpProcess {
    let args = mask::mask_args(&p.args, &|_, _| false);
    // As for servers: the package is parsed again from the masked arguments (after the gate's
    // token pass), with the launcher the command line named.
    let package = p.package.as_ref().and_then(|_| {
        let gated: Vec<String> = args.iter().map(|a| crate::secrets::scrub::scrub_text(a).into_owned()).collect();
        let rest: Vec<&str> = gated.iter().map(String::as_str).collect();
        package::identify(&p.command, &rest)
    });
    pb::McpProcess {
        pid: p.pid,
        user: p.user.clone().unwrap_or_default(),
        exe: p.exe.clone(),
        args,
        package,
        parent_client: p.parent_client.unwrap_or("").to_string(),
        parent_pid: p.parent_pid,
        server_ids: p.server_ids.clone(),
        unmanaged: p.unmanaged,
        listeners: p
            .listeners
            .iter()
            .map(|l| pb::Listener { address: l.address.clone(), port: u32::from(l.port), protocol: "tcp".into() })
            .collect(),
        started_unix: p.started_unix,
    }
}

fn problem(p: &ProblemRecord) -> pb::Problem {
    pb::Problem {
        path: p.path.clone(),
        client: p.client.clone(),
        message: p.message.clone(),
        line: p.line,
        column: p.column,
        user: p.user.clone().unwrap_or_default(),
        kind: p.kind as i32,
    }
}
