//! The finding rules, one function per concern, each returning wire findings built from the
//! findings catalog (`agent/data/findings.toml`), so ids, severities, OWASP ids and remediation
//! texts live in data. Messages name servers, locations and kinds, never values.

use std::collections::{BTreeMap, BTreeSet};

use super::git::GitIgnoreCache;
use super::{AnalysisContext, ServerAnalysis};
use crate::advisories::MatchBasis;
use crate::catalog::ServiceCatalog;
use crate::discovery::package::program_name;
use crate::discovery::{Discovery, ServerRecord, SourceRecord};
use crate::findings::catalog::{FindingSeverity, FindingsCatalog};
use crate::secrets::scrub;
use muster_proto::v1 as pb;

/// The service a server reaches: a catalog match, else a low-confidence guess.
pub fn service_of(s: &ServerRecord, catalog: &ServiceCatalog) -> (Option<String>, bool) {
    if let Some(entry) = catalog.lookup(s.package.as_ref(), s.endpoint.as_ref(), s.raw.command.as_deref()) {
        return (Some(entry.service.clone()), false);
    }
    let env_names: Vec<&str> = s.raw.env.iter().map(|(k, _)| k.as_str()).collect();
    let host = s.endpoint.as_ref().map(|e| e.host.as_str());
    match catalog.guess(&s.raw.name, &env_names, host) {
        Some(g) => (Some(g.service.to_string()), true),
        None => (None, false),
    }
}

fn push(out: &mut Vec<pb::Finding>, catalog: &FindingsCatalog, id: &str, message: String) {
    if let Some(def) = catalog.get(id) {
        out.push(def.to_finding(message));
    }
}

fn is_literal(c: &pb::Credential) -> bool {
    c.source == pb::CredentialSource::Literal as i32
}

fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost" || h.ends_with(".localhost") || h == "::1" || h.starts_with("127.")
}

/// Findings about one server.
pub fn server_findings(
    s: &ServerRecord,
    source: &SourceRecord,
    a: &ServerAnalysis,
    ctx: &AnalysisContext<'_>,
    git: &GitIgnoreCache,
) -> Vec<pb::Finding> {
    let cat = ctx.findings;
    let mut out = Vec::new();
    let name = &s.raw.name;

    // Literal secrets, by where they sit.
    let literal: Vec<&pb::Credential> = a.credentials.iter().filter(|c| is_literal(c)).collect();
    let mut by_place: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for c in &literal {
        let place = match c.location.split(':').next().unwrap_or("") {
            "env" => "MUSTER-SECRET-ENV",
            "header" => "MUSTER-SECRET-HEADER",
            "arg" => "MUSTER-SECRET-ARG",
            "url" => "MUSTER-SECRET-URL",
            // Other fields (apiKey, oauth client secrets) sit in the file like env values.
            _ => "MUSTER-SECRET-ENV",
        };
        by_place.entry(place).or_default().push(format!("{} ({})", c.location, c.kind));
    }
    for (id, what) in &by_place {
        push(&mut out, cat, id, format!("server {name:?} holds a literal secret: {}", what.join(", ")));
    }
    if !literal.is_empty() {
        if source.scope == pb::Scope::Project && git.committable(&source.host_path) == Some(true) {
            push(
                &mut out,
                cat,
                "MUSTER-SECRET-COMMITTABLE",
                format!("server {name:?} has a literal secret in {} inside a git work tree, not ignored", source.path),
            );
        }
        if let Some(mode) = source.mode
            && mode & 0o044 != 0
        {
            push(
                &mut out,
                cat,
                "MUSTER-SECRET-FILE-READABLE",
                format!("{} holds a literal secret and is readable by other users (mode {mode:04o})", source.path),
            );
        }
    }

    // Supply chain. Rules judge the raw parse; messages name the masked one (`a.package`).
    if let Some(pkg) = &s.package {
        let shown = a.package.as_ref().unwrap_or(pkg);
        let registry = matches!(pkg.ecosystem(), pb::Ecosystem::Npm | pb::Ecosystem::Pypi | pb::Ecosystem::Oci);
        // The package's identity lost a credential to masking on its way out: say so, or the
        // user would see `git+https://****@github.com/...` and not know why.
        let spec = format!("{} {}", pkg.name, pkg.version.as_deref().unwrap_or(""));
        if scrub::scrub_text(&spec) != spec {
            push(
                &mut out,
                cat,
                "MUSTER-SECRET-PACKAGE-SPEC",
                format!("server {name:?} is installed from a package spec with a credential in it (masked)"),
            );
        }
        if registry && !pkg.pinned {
            let v = shown.version.as_deref().map(|v| format!(" ({v})")).unwrap_or_default();
            push(
                &mut out,
                cat,
                "MUSTER-PKG-UNPINNED",
                format!("server {name:?} runs {}{v} without a pinned version", shown.name),
            );
        }
        for m in ctx.advisories.assess(pkg) {
            let adv = m.advisory;
            let id = if m.basis == MatchBasis::Malicious || adv.is_malicious() {
                "MUSTER-PKG-MALICIOUS"
            } else {
                "MUSTER-PKG-VULNERABLE"
            };
            let why = match m.basis {
                MatchBasis::Version => format!("version {}", pkg.version.as_deref().unwrap_or("?")),
                MatchBasis::UnpinnedLatest => "an unpinned version (the latest releases are affected)".into(),
                MatchBasis::Malicious => "any version".into(),
            };
            let msg = format!("server {name:?} runs {} at {why}: {} {}", shown.name, adv.id, adv.summary);
            match (cat.get(id), adv.severity()) {
                (Some(def), Some(sev)) if id == "MUSTER-PKG-VULNERABLE" => {
                    out.push(def.to_finding_with(to_def(sev), msg))
                }
                (Some(def), _) => out.push(def.to_finding(msg)),
                _ => {}
            }
        }
    }

    // Remote endpoints.
    let remote = matches!(s.raw.transport, Some(pb::Transport::Http | pb::Transport::Sse | pb::Transport::Ws));
    if let Some(ep) = &s.endpoint
        && (ep.scheme == "http" || ep.scheme == "ws")
        && !is_loopback_host(&ep.host)
    {
        push(
            &mut out,
            cat,
            "MUSTER-REMOTE-PLAINTEXT",
            format!("server {name:?} reaches {} over unencrypted {}", ep.host, ep.scheme),
        );
    }
    if s.raw.transport == Some(pb::Transport::Sse) {
        push(
            &mut out,
            cat,
            "MUSTER-REMOTE-SSE-DEPRECATED",
            format!("server {name:?} uses the deprecated SSE transport"),
        );
    }
    if remote {
        let static_auth: Vec<&str> = a
            .credentials
            .iter()
            .filter(|c| {
                let h = c.location.to_ascii_lowercase();
                h == "header:authorization" || h.contains("api-key") || h.contains("apikey") || h.contains("token")
            })
            .map(|c| c.location.as_str())
            .collect();
        if !static_auth.is_empty() {
            push(
                &mut out,
                cat,
                "MUSTER-REMOTE-STATIC-AUTH",
                format!(
                    "remote server {name:?} authenticates with a static credential ({}) instead of OAuth",
                    static_auth.join(", ")
                ),
            );
        }
    }

    // Approvals.
    if s.raw.auto_approve_all {
        push(&mut out, cat, "MUSTER-AUTO-APPROVE", format!("server {name:?} runs every tool without asking"));
    } else if !s.raw.auto_approve_tools.is_empty() {
        push(
            &mut out,
            cat,
            "MUSTER-AUTO-APPROVE",
            format!("server {name:?} runs these tools without asking: {}", s.raw.auto_approve_tools.join(", ")),
        );
    }

    // Containers and filesystem reach.
    let args: Vec<&str> = s.raw.args.iter().map(|a| a.expose()).collect();
    if let Some(cmd) = s.raw.command.as_deref()
        && let Some(why) = docker_risk(cmd, &args)
    {
        push(&mut out, cat, "MUSTER-DOCKER-PRIVILEGED", format!("server {name:?} runs a container with {why}"));
    }
    if a.service.as_deref() == Some("filesystem")
        || s.package.as_ref().is_some_and(|p| p.name.contains("server-filesystem"))
    {
        let broad: Vec<&str> = args.iter().copied().filter(|a| is_broad_path(a)).collect();
        if !broad.is_empty() {
            push(
                &mut out,
                cat,
                "MUSTER-FS-BROAD",
                format!("filesystem server {name:?} is granted {}", broad.join(", ")),
            );
        }
    }

    // The file itself.
    if !source.client_accepts {
        push(
            &mut out,
            cat,
            "MUSTER-CONFIG-IGNORED",
            format!("{} will not be loaded by {}: server {name:?} is configured but not live", source.path, s.client),
        );
    }
    out
}

fn to_def(sev: crate::advisories::AdvisorySeverity) -> FindingSeverity {
    match sev.to_proto() {
        pb::Severity::Critical => FindingSeverity::Critical,
        pb::Severity::High => FindingSeverity::High,
        pb::Severity::Medium => FindingSeverity::Medium,
        pb::Severity::Low => FindingSeverity::Low,
        _ => FindingSeverity::Info,
    }
}

/// `/`, a drive root, `~`, `$HOME` or a home directory itself.
fn is_broad_path(a: &str) -> bool {
    let t = a.trim_end_matches(['/', '\\']);
    if t.is_empty() || a == "/" {
        return true;
    }
    let lower = t.to_ascii_lowercase();
    if lower.len() == 2 && lower.ends_with(':') {
        return true;
    }
    if t == "~" || t == "$HOME" || t == "${HOME}" || t == "%USERPROFILE%" || t == "${userHome}" {
        return true;
    }
    let parts: Vec<&str> = t.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    matches!(parts.as_slice(), ["home", _] | ["Users", _] | ["root"] | [_, "Users", _] | ["home"] | ["Users"])
        && (t.starts_with('/') || t.contains(':'))
}

/// Why a `docker run` is dangerous: privileged, host namespaces, or the home or root mounted.
fn docker_risk(cmd: &str, args: &[&str]) -> Option<String> {
    let prog = program_name(cmd);
    if !matches!(prog.as_str(), "docker" | "podman" | "nerdctl") || !args.contains(&"run") {
        return None;
    }
    let mut why = Vec::new();
    for (i, a) in args.iter().enumerate() {
        let next = args.get(i + 1).copied().unwrap_or("");
        match *a {
            "--privileged" | "--privileged=true" => why.push("--privileged".to_string()),
            "--network=host" | "--net=host" | "--pid=host" | "--ipc=host" => why.push(a.to_string()),
            "--network" | "--net" | "--pid" | "--ipc" if next == "host" => why.push(format!("{a} host")),
            "-v" | "--volume" => {
                let host = next.split(':').next().unwrap_or("");
                if is_broad_path(host) || host == "/var/run/docker.sock" {
                    why.push(format!("{host} mounted"));
                }
            }
            _ => {
                if let Some(spec) = a.strip_prefix("--volume=").or_else(|| a.strip_prefix("-v=")) {
                    let host = spec.split(':').next().unwrap_or("");
                    if is_broad_path(host) || host == "/var/run/docker.sock" {
                        why.push(format!("{host} mounted"));
                    }
                }
                if let Some(spec) = a.strip_prefix("--mount=").or_else(|| (*a == "--mount").then_some(next))
                    && let Some(src) =
                        spec.split(',').find_map(|kv| kv.strip_prefix("source=").or_else(|| kv.strip_prefix("src=")))
                    && (is_broad_path(src) || src == "/var/run/docker.sock")
                {
                    why.push(format!("{src} mounted"));
                }
            }
        }
    }
    (!why.is_empty()).then(|| why.join(", "))
}

/// One secret (by fingerprint) used by several servers: a finding naming them.
pub fn reuse_findings(d: &Discovery, analyses: &[ServerAnalysis], cat: &FindingsCatalog) -> Vec<pb::Finding> {
    let mut by_fp: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (i, a) in analyses.iter().enumerate() {
        for c in a.credentials.iter().filter(|c| is_literal(c) && !c.fingerprint.is_empty()) {
            by_fp.entry(c.fingerprint.as_str()).or_default().insert(i);
        }
    }
    let mut out = Vec::new();
    let Some(def) = cat.get("MUSTER-SECRET-REUSED") else { return out };
    for (fp, servers) in by_fp {
        if servers.len() < 2 {
            continue;
        }
        let names: Vec<String> = servers
            .iter()
            .map(|&i| {
                let s = &d.servers[i];
                format!("{}/{} ({})", s.client, s.raw.name, s.user.as_deref().unwrap_or("managed"))
            })
            .collect();
        let mut f = def.to_finding(format!(
            "one secret (fingerprint {fp}) is used by {} servers: {}",
            servers.len(),
            names.join(", ")
        ));
        f.server_ids = servers.iter().map(|&i| d.servers[i].id.clone()).collect();
        out.push(f);
    }
    out
}

/// Findings about running processes: shadow servers and non-loopback listeners.
pub fn process_findings(d: &Discovery, cat: &FindingsCatalog) -> Vec<pb::Finding> {
    let mut out = Vec::new();
    for p in &d.processes {
        let what = p.package.as_ref().map(|k| k.name.clone()).unwrap_or_else(|| p.exe.clone());
        if p.unmanaged {
            let mut f = match cat.get("MUSTER-SHADOW-SERVER") {
                Some(def) => def.to_finding(format!(
                    "MCP server process {what} (pid {}) runs but no configuration starts it",
                    p.pid
                )),
                None => continue,
            };
            f.user = p.user.clone().unwrap_or_default();
            out.push(f);
        }
        let exposed: Vec<String> = p
            .listeners
            .iter()
            .filter(|l| !is_loopback_host(&l.address))
            .map(|l| format!("{}:{}", l.address, l.port))
            .collect();
        if !exposed.is_empty()
            && let Some(def) = cat.get("MUSTER-LISTEN-NONLOOPBACK")
        {
            let mut f =
                def.to_finding(format!("MCP server process {what} (pid {}) listens on {}", p.pid, exposed.join(", ")));
            f.server_ids = p.server_ids.clone();
            f.user = p.user.clone().unwrap_or_default();
            out.push(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broad_paths() {
        for p in ["/", "~", "/home/dev", "/Users/dev/", "C:\\", "C:\\Users\\dev", "$HOME", "/root"] {
            assert!(is_broad_path(p), "{p}");
        }
        for p in ["/home/dev/src/app", "/tmp/x", "./data", "C:\\Users\\dev\\work"] {
            assert!(!is_broad_path(p), "{p}");
        }
    }

    #[test]
    fn docker_risks() {
        assert!(docker_risk("docker", &["run", "--privileged", "img"]).is_some());
        assert!(docker_risk("docker", &["run", "--network", "host", "img"]).is_some());
        assert!(docker_risk("docker", &["run", "-v", "/home/dev:/data", "img"]).is_some());
        assert!(docker_risk("docker", &["run", "--mount", "type=bind,source=/,target=/host", "img"]).is_some());
        assert!(docker_risk("docker", &["run", "-v", "/home/dev/proj:/data", "img"]).is_none());
        assert!(docker_risk("npx", &["run", "--privileged"]).is_none());
    }
}
