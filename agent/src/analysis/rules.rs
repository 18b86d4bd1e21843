//! The finding rules, one function per concern, each returning wire findings built from the
//! findings catalog (`agent/data/findings.toml`), so ids, severities, OWASP ids and remediation
//! texts live in data. Messages name servers, locations and kinds, never values.

use std::collections::{BTreeMap, BTreeSet};

use super::git::GitIgnoreCache;
use super::{AnalysisContext, ServerAnalysis};
use crate::advisories::{AdvisoryDb, MatchBasis};
use crate::catalog::{Leg, ServiceCatalog};
use crate::discovery::package::program_name;
use crate::discovery::{Discovery, ServerRecord, SourceRecord};
use crate::findings::{CompleteCatalog, FindingId, FindingSeverity};
use crate::secrets::rules as credential_rules;
use crate::secrets::scrub;
use muster_proto::v1 as pb;

/// What the catalog says about one server: the service it reaches (guessed by name, env names or
/// host when the catalog has no row for it) and the lethal-trifecta legs it brings by default.
/// Computed once per server, for the service column and the trifecta both.
#[derive(Clone, Debug, Default)]
pub struct ServiceFacts {
    pub service: Option<String>,
    pub guessed: bool,
    pub legs: Vec<Leg>,
    /// The provider of the server's credentials when its catalog row says (not for guesses):
    /// the `credentials.toml` row naming the catalog row, else the row's service.
    pub credential_provider: Option<String>,
}

const LEGS: [Leg; 3] = [Leg::PrivateData, Leg::UntrustedContent, Leg::ExternalCommunication];

/// The service and legs of a server: its catalog row, else a guess ("maybe" legs do not count).
pub fn service_of(s: &ServerRecord, catalog: &ServiceCatalog) -> ServiceFacts {
    if let Some(entry) = catalog.lookup(s.package.as_ref(), s.endpoint.as_ref(), s.raw.command.as_deref()) {
        let legs = LEGS.iter().copied().filter(|l| entry.brings(*l)).collect();
        let credential_provider = Some(
            credential_rules::provider_for_catalog_id(&entry.id).map_or_else(|| entry.service.clone(), str::to_string),
        );
        return ServiceFacts { service: Some(entry.service.clone()), guessed: false, legs, credential_provider };
    }
    let env_names: Vec<&str> = s.raw.env.iter().map(|(k, _)| k.as_str()).collect();
    let host = s.endpoint.as_ref().map(|e| e.host.as_str());
    match catalog.guess(&s.raw.name, &env_names, host) {
        Some(g) => ServiceFacts {
            service: Some(g.service.to_string()),
            guessed: true,
            legs: g.legs.to_vec(),
            credential_provider: None,
        },
        None => ServiceFacts::default(),
    }
}

fn is_literal(c: &pb::Credential) -> bool {
    c.source == pb::CredentialSource::Literal as i32
}

fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost" || h.ends_with(".localhost") || h == "::1" || h.starts_with("127.")
}

/// One configured server as the per-server rules see it: its record (raw parse), the file it
/// is in, and what analysis found (credentials; package and endpoint parsed from masked text,
/// which is what messages name).
struct ServerCase<'a> {
    server: &'a ServerRecord,
    source: &'a SourceRecord,
    analysis: &'a ServerAnalysis,
    catalog: &'a CompleteCatalog,
}

impl ServerCase<'_> {
    fn name(&self) -> &str {
        &self.server.raw.name
    }

    fn finding(&self, id: FindingId, message: String) -> pb::Finding {
        self.catalog.def(id).to_finding(message)
    }

    fn literal_credentials(&self) -> impl Iterator<Item = &pb::Credential> {
        self.analysis.credentials.iter().filter(|c| is_literal(c))
    }
}

/// Findings about one server, one rule per concern, in the order they are reported.
pub fn server_findings(
    s: &ServerRecord,
    source: &SourceRecord,
    a: &ServerAnalysis,
    ctx: &AnalysisContext<'_>,
    git: &GitIgnoreCache,
) -> Vec<pb::Finding> {
    let case = ServerCase { server: s, source, analysis: a, catalog: ctx.findings };
    let mut out = literal_secrets(&case);
    out.extend(committable_secret_file(&case, git));
    out.extend(readable_secret_file(&case));
    out.extend(credential_in_package_spec(&case));
    out.extend(unpinned_package(&case));
    out.extend(package_advisories(&case, ctx.advisories));
    out.extend(deprecated_registry_version(&case));
    out.extend(plaintext_remote(&case));
    out.extend(deprecated_sse(&case));
    out.extend(static_remote_auth(&case));
    out.extend(auto_approval(&case));
    out.extend(privileged_container(&case));
    out.extend(broad_filesystem(&case));
    out.extend(ignored_config(&case));
    out
}

/// Literal secrets, one finding per kind of place they sit in (env, header, argument, URL).
fn literal_secrets(case: &ServerCase<'_>) -> Vec<pb::Finding> {
    // Keyed by the id's text, the order they are reported in (ARG, ENV, HEADER, URL).
    let mut by_place: BTreeMap<&'static str, (FindingId, Vec<String>)> = BTreeMap::new();
    for c in case.literal_credentials() {
        let place = match c.location.split(':').next().unwrap_or("") {
            "env" => FindingId::SecretEnv,
            "header" => FindingId::SecretHeader,
            "arg" => FindingId::SecretArg,
            "url" => FindingId::SecretUrl,
            // Other fields (apiKey, oauth client secrets) sit in the file like env values.
            _ => FindingId::SecretEnv,
        };
        by_place.entry(place.as_str()).or_insert((place, Vec::new())).1.push(format!("{} ({})", c.location, c.kind));
    }
    by_place
        .into_values()
        .map(|(id, what)| {
            case.finding(id, format!("server {:?} holds a literal secret: {}", case.name(), what.join(", ")))
        })
        .collect()
}

/// A literal secret in a project file that git would commit.
fn committable_secret_file(case: &ServerCase<'_>, git: &GitIgnoreCache) -> Option<pb::Finding> {
    let source = case.source;
    (case.literal_credentials().next().is_some()
        && source.scope == pb::Scope::Project
        && git.committable(&source.host_path) == Some(true))
    .then(|| {
        case.finding(
            FindingId::SecretCommittable,
            format!(
                "server {:?} has a literal secret in {} inside a git work tree, not ignored",
                case.name(),
                source.path
            ),
        )
    })
}

/// A literal secret in a file other users can read.
fn readable_secret_file(case: &ServerCase<'_>) -> Option<pb::Finding> {
    let mode = case.source.mode.filter(|mode| mode & 0o044 != 0)?;
    case.literal_credentials().next()?;
    Some(case.finding(
        FindingId::SecretFileReadable,
        format!("{} holds a literal secret and is readable by other users (mode {mode:04o})", case.source.path),
    ))
}

/// The package's identity lost a credential to masking on its way out: say so, or the user
/// would see `git+https://****@github.com/...` and not know why. Rules judge the raw parse.
fn credential_in_package_spec(case: &ServerCase<'_>) -> Option<pb::Finding> {
    let pkg = case.server.package.as_ref()?;
    let spec = format!("{} {}", pkg.name, pkg.version.as_deref().unwrap_or(""));
    (scrub::scrub_text(&spec) != spec).then(|| {
        case.finding(
            FindingId::SecretPackageSpec,
            format!("server {:?} is installed from a package spec with a credential in it (masked)", case.name()),
        )
    })
}

/// A registry package without a pinned version.
fn unpinned_package(case: &ServerCase<'_>) -> Option<pb::Finding> {
    let pkg = case.server.package.as_ref()?;
    let registry = matches!(pkg.ecosystem(), pb::Ecosystem::Npm | pb::Ecosystem::Pypi | pb::Ecosystem::Oci);
    if !registry || pkg.pinned {
        return None;
    }
    let shown = case.analysis.package.as_ref().unwrap_or(pkg);
    let v = shown.version.as_deref().map(|v| format!(" ({v})")).unwrap_or_default();
    Some(case.finding(
        FindingId::PkgUnpinned,
        format!("server {:?} runs {}{v} without a pinned version", case.name(), shown.name),
    ))
}

/// Advisories for the package: malicious, or vulnerable at the advisory's own severity.
fn package_advisories(case: &ServerCase<'_>, advisories: &AdvisoryDb) -> Vec<pb::Finding> {
    let Some(pkg) = case.server.package.as_ref() else { return Vec::new() };
    let shown = case.analysis.package.as_ref().unwrap_or(pkg);
    advisories
        .assess(pkg)
        .into_iter()
        .map(|m| {
            let adv = m.advisory;
            let id = if m.basis == MatchBasis::Malicious || adv.is_malicious() {
                FindingId::PkgMalicious
            } else {
                FindingId::PkgVulnerable
            };
            let why = match m.basis {
                MatchBasis::Version => format!("version {}", pkg.version.as_deref().unwrap_or("?")),
                MatchBasis::UnpinnedLatest => "an unpinned version (the latest releases are affected)".into(),
                MatchBasis::Malicious => "any version".into(),
            };
            let msg = format!("server {:?} runs {} at {why}: {} {}", case.name(), shown.name, adv.id, adv.summary);
            let def = case.catalog.def(id);
            match adv.severity() {
                Some(sev) if id == FindingId::PkgVulnerable => def.to_finding_with(to_def(sev), msg),
                _ => def.to_finding(msg),
            }
        })
        .collect()
}

/// A package version the MCP Registry marks deprecated (medium) or deleted (high).
fn deprecated_registry_version(case: &ServerCase<'_>) -> Option<pb::Finding> {
    let hit = case.analysis.registry.as_ref()?;
    let (version, status, message) = hit.retired.as_ref()?;
    let shown = case.analysis.package.as_ref().or(case.server.package.as_ref())?;
    let why = if message.is_empty() { String::new() } else { format!(": {message}") };
    let text = format!(
        "server {:?} runs {} {version}, which the MCP Registry marks {status} ({}){why}",
        case.name(),
        shown.name,
        hit.name
    );
    let def = case.catalog.def(FindingId::PkgDeprecatedVersion);
    Some(match status.as_str() {
        "deleted" => def.to_finding_with(FindingSeverity::High, text),
        _ => def.to_finding(text),
    })
}

/// A remote endpoint over unencrypted HTTP or WebSocket, other than loopback.
fn plaintext_remote(case: &ServerCase<'_>) -> Option<pb::Finding> {
    let ep = case.server.endpoint.as_ref()?;
    ((ep.scheme == "http" || ep.scheme == "ws") && !is_loopback_host(&ep.host)).then(|| {
        case.finding(
            FindingId::RemotePlaintext,
            format!("server {:?} reaches {} over unencrypted {}", case.name(), ep.host, ep.scheme),
        )
    })
}

/// The deprecated SSE transport: configured as such, or a local bridge (`mcp-remote`,
/// `supergateway`) reaching an endpoint at `/sse` or told `--transport sse-only`.
fn deprecated_sse(case: &ServerCase<'_>) -> Option<pb::Finding> {
    if case.server.raw.transport == Some(pb::Transport::Sse) {
        return Some(case.finding(
            FindingId::RemoteSseDeprecated,
            format!("server {:?} uses the deprecated SSE transport", case.name()),
        ));
    }
    let ep = case.analysis.endpoint.as_ref()?;
    if case.server.raw.transport != Some(pb::Transport::Stdio) {
        return None;
    }
    let at_sse = ep.path.trim_end_matches('/').to_ascii_lowercase().ends_with("/sse");
    let sse_only = case
        .server
        .raw
        .args
        .windows(2)
        .any(|w| w[0].expose() == "--transport" && w[1].expose().eq_ignore_ascii_case("sse-only"))
        || case.server.raw.args.iter().any(|a| a.expose().eq_ignore_ascii_case("--transport=sse-only"));
    (at_sse || sse_only).then(|| {
        case.finding(
            FindingId::RemoteSseDeprecated,
            format!(
                "server {:?} reaches {} through a local bridge over the deprecated SSE transport",
                case.name(),
                ep.host
            ),
        )
    })
}

/// A remote server that authenticates with a static credential instead of OAuth.
fn static_remote_auth(case: &ServerCase<'_>) -> Option<pb::Finding> {
    let remote =
        matches!(case.server.raw.transport, Some(pb::Transport::Http | pb::Transport::Sse | pb::Transport::Ws));
    if !remote {
        return None;
    }
    let static_auth: Vec<&str> = case
        .analysis
        .credentials
        .iter()
        .filter(|c| {
            let h = c.location.to_ascii_lowercase();
            h == "header:authorization" || h.contains("api-key") || h.contains("apikey") || h.contains("token")
        })
        .map(|c| c.location.as_str())
        .collect();
    (!static_auth.is_empty()).then(|| {
        case.finding(
            FindingId::RemoteStaticAuth,
            format!(
                "remote server {:?} authenticates with a static credential ({}) instead of OAuth",
                case.name(),
                static_auth.join(", ")
            ),
        )
    })
}

/// Tools that run without asking: all of them, or a list.
fn auto_approval(case: &ServerCase<'_>) -> Option<pb::Finding> {
    let raw = &case.server.raw;
    let message = if raw.auto_approve_all {
        format!("server {:?} runs every tool without asking", case.name())
    } else if !raw.auto_approve_tools.is_empty() {
        format!("server {:?} runs these tools without asking: {}", case.name(), raw.auto_approve_tools.join(", "))
    } else {
        return None;
    };
    Some(case.finding(FindingId::AutoApprove, message))
}

/// A container run privileged, in host namespaces, or with the home, root or Docker socket
/// mounted.
fn privileged_container(case: &ServerCase<'_>) -> Option<pb::Finding> {
    let cmd = case.server.raw.command.as_deref()?;
    let args: Vec<&str> = case.server.raw.args.iter().map(|a| a.expose()).collect();
    let why = docker_risk(cmd, &args)?;
    Some(case.finding(FindingId::DockerPrivileged, format!("server {:?} runs a container with {why}", case.name())))
}

/// A filesystem server granted a whole home, a root or a drive.
fn broad_filesystem(case: &ServerCase<'_>) -> Option<pb::Finding> {
    let filesystem = case.analysis.service.as_deref() == Some("filesystem")
        || case.server.package.as_ref().is_some_and(|p| p.name.contains("server-filesystem"));
    if !filesystem {
        return None;
    }
    let broad: Vec<&str> = case.server.raw.args.iter().map(|a| a.expose()).filter(|a| is_broad_path(a)).collect();
    (!broad.is_empty()).then(|| {
        case.finding(FindingId::FsBroad, format!("filesystem server {:?} is granted {}", case.name(), broad.join(", ")))
    })
}

/// A config file its client will not load: the server is configured but not live.
fn ignored_config(case: &ServerCase<'_>) -> Option<pb::Finding> {
    (!case.source.client_accepts).then(|| {
        case.finding(
            FindingId::ConfigIgnored,
            format!(
                "{} will not be loaded by {}: server {:?} is configured but not live",
                case.source.path,
                case.server.client,
                case.name()
            ),
        )
    })
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
pub fn reuse_findings(d: &Discovery, analyses: &[ServerAnalysis], cat: &CompleteCatalog) -> Vec<pb::Finding> {
    let mut by_fp: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (i, a) in analyses.iter().enumerate() {
        for c in a.credentials.iter().filter(|c| is_literal(c) && !c.fingerprint.is_empty()) {
            by_fp.entry(c.fingerprint.as_str()).or_default().insert(i);
        }
    }
    let mut out = Vec::new();
    let def = cat.def(FindingId::SecretReused);
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
pub fn process_findings(d: &Discovery, cat: &CompleteCatalog) -> Vec<pb::Finding> {
    let mut out = Vec::new();
    for p in &d.processes {
        let what = p.package.as_ref().map(|k| k.name.clone()).unwrap_or_else(|| p.exe.clone());
        if p.unmanaged {
            let mut f = cat
                .def(FindingId::ShadowServer)
                .to_finding(format!("MCP server process {what} (pid {}) runs but no configuration starts it", p.pid));
            f.user = p.user.clone().unwrap_or_default();
            out.push(f);
        }
        let exposed: Vec<String> = p
            .listeners
            .iter()
            .filter(|l| !is_loopback_host(&l.address))
            .map(|l| format!("{}:{}", l.address, l.port))
            .collect();
        if !exposed.is_empty() {
            let mut f = cat.def(FindingId::ListenNonloopback).to_finding(format!(
                "MCP server process {what} (pid {}) listens on {}",
                p.pid,
                exposed.join(", ")
            ));
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
