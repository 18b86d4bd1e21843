//! The `muster-agent scan --format json` contract. Names are stable: later versions add fields,
//! never rename them. Derived from the `muster.v1` wire types, with enums as lower-case strings.

use serde::Serialize;

use muster_proto::v1 as pb;

#[derive(Serialize)]
pub struct ScanJson<'a> {
    pub host: HostJson<'a>,
    pub servers: Vec<ServerJson<'a>>,
    /// Findings about a client, user or the machine as a whole.
    pub findings: Vec<FindingJson<'a>>,
    pub processes: Vec<ProcessJson<'a>>,
    pub sources: Vec<SourceJson<'a>>,
    pub problems: Vec<ProblemJson<'a>>,
}

#[derive(Serialize)]
pub struct HostJson<'a> {
    pub hostname: &'a str,
    pub os: &'static str,
    pub users: Vec<&'a str>,
}

#[derive(Serialize)]
pub struct ServerJson<'a> {
    pub id: &'a str,
    pub client: &'a str,
    pub user: Option<&'a str>,
    pub scope: &'static str,
    pub config_path: &'a str,
    pub project: Option<&'a str>,
    pub name: &'a str,
    pub transport: Option<&'static str>,
    pub disabled: bool,
    pub command: Option<&'a str>,
    pub args: &'a [String],
    pub url: Option<&'a str>,
    pub env_names: &'a [String],
    pub header_names: &'a [String],
    pub package: Option<PackageJson<'a>>,
    pub endpoint: Option<EndpointJson<'a>>,
    /// How a remote server authenticates (servers reaching an http(s) URL, when judged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthJson<'a>>,
    pub auto_approve: Option<AutoApproveJson<'a>>,
    pub origin: Option<&'a str>,
    pub cwd: Option<&'a str>,
    /// Enterprise service id from the catalog (or a low-confidence guess), null when unknown.
    pub service: Option<&'a str>,
    pub service_guessed: bool,
    /// Canonical MCP Registry name, when a data bundle's registry data names the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_name: Option<&'a str>,
    pub credentials: Vec<CredentialJson<'a>>,
    pub findings: Vec<FindingJson<'a>>,
}

#[derive(Serialize)]
pub struct CredentialJson<'a> {
    /// `env:NAME`, `header:NAME`, `arg:N`, `url`, `field:NAME`.
    pub location: &'a str,
    pub kind: &'a str,
    pub provider: Option<&'a str>,
    /// `literal` or `reference`.
    pub source: &'static str,
    /// Keyed fingerprint of a literal secret; null for references.
    pub fingerprint: Option<&'a str>,
    /// What a reference points at (a variable or secret name).
    pub reference: Option<&'a str>,
}

#[derive(Serialize)]
pub struct FindingJson<'a> {
    pub id: &'a str,
    pub severity: &'static str,
    pub owasp: &'a str,
    pub message: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub server_ids: &'a [String],
    #[serde(skip_serializing_if = "str::is_empty")]
    pub client: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub user: &'a str,
}

#[derive(Serialize)]
pub struct PackageJson<'a> {
    pub ecosystem: &'static str,
    pub name: &'a str,
    pub version: Option<&'a str>,
    pub pinned: bool,
}

#[derive(Serialize)]
pub struct EndpointJson<'a> {
    pub scheme: &'a str,
    pub host: &'a str,
    pub port: Option<u32>,
    pub path: &'a str,
}

/// `"auth"`: the remote server's authentication, verified by probing without credentials or,
/// when `verified` is false, judged from the configuration alone.
#[derive(Serialize)]
pub struct AuthJson<'a> {
    /// `oauth`, `oauth-partial`, `static-key`, `none` or `unknown`.
    pub posture: &'static str,
    pub verified: bool,
    /// What an `oauth-partial` server lacks.
    pub missing: &'a [String],
    pub reason: &'a str,
    /// `header` or `well_known`: where the protected resource metadata was found.
    pub discovery: Option<&'a str>,
    pub authorization_server: Option<&'a str>,
    pub pkce_s256: bool,
    pub client_id_metadata_documents: bool,
    pub dynamic_registration: bool,
    pub iss_parameter: bool,
    /// The configuration gives the server a key (literal, reference or helper).
    pub config_key: bool,
    /// Unix seconds of the answers (kept up to a day); null when not probed.
    pub probed_at: Option<i64>,
}

/// The posture as the JSON contract spells it.
pub fn auth_posture(p: i32) -> &'static str {
    match pb::AuthPosture::try_from(p).unwrap_or_default() {
        pb::AuthPosture::Oauth => "oauth",
        pb::AuthPosture::OauthPartial => "oauth-partial",
        pb::AuthPosture::StaticKey => "static-key",
        pb::AuthPosture::None => "none",
        pb::AuthPosture::Unknown | pb::AuthPosture::Unspecified => "unknown",
    }
}

fn auth(a: &pb::RemoteAuth) -> AuthJson<'_> {
    AuthJson {
        posture: auth_posture(a.posture),
        verified: a.verified,
        missing: &a.missing,
        reason: &a.reason,
        discovery: opt(&a.discovery),
        authorization_server: opt(&a.authorization_server),
        pkce_s256: a.pkce_s256,
        client_id_metadata_documents: a.client_id_metadata_documents,
        dynamic_registration: a.dynamic_registration,
        iss_parameter: a.iss_parameter,
        config_key: a.config_key,
        probed_at: (a.probed_at != 0).then_some(a.probed_at),
    }
}

#[derive(Serialize)]
pub struct AutoApproveJson<'a> {
    pub all: bool,
    pub tools: &'a [String],
}

#[derive(Serialize)]
pub struct ProcessJson<'a> {
    pub pid: u32,
    pub user: Option<&'a str>,
    pub exe: &'a str,
    pub args: &'a [String],
    pub package: Option<PackageJson<'a>>,
    pub parent_client: Option<&'a str>,
    pub server_ids: &'a [String],
    pub unmanaged: bool,
    pub listeners: Vec<ListenerJson<'a>>,
}

#[derive(Serialize)]
pub struct ListenerJson<'a> {
    pub address: &'a str,
    pub port: u32,
}

#[derive(Serialize)]
pub struct SourceJson<'a> {
    pub path: &'a str,
    pub real_path: Option<&'a str>,
    pub client: &'a str,
    pub user: Option<&'a str>,
    pub scope: &'static str,
    pub format: &'static str,
    pub project: Option<&'a str>,
    pub mtime: Option<i64>,
    pub owner: Option<&'a str>,
    pub mode: Option<String>,
    pub size: u64,
    pub client_accepts: bool,
    pub servers: u32,
}

#[derive(Serialize)]
pub struct ProblemJson<'a> {
    pub path: &'a str,
    pub client: &'a str,
    pub user: Option<&'a str>,
    pub kind: &'static str,
    pub message: &'a str,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

fn opt(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

pub fn scope(s: i32) -> &'static str {
    match pb::Scope::try_from(s).unwrap_or_default() {
        pb::Scope::User => "user",
        pb::Scope::Project => "project",
        pb::Scope::Managed => "managed",
        pb::Scope::Unspecified => "unknown",
    }
}

pub fn transport(t: i32) -> Option<&'static str> {
    match pb::Transport::try_from(t).unwrap_or_default() {
        pb::Transport::Stdio => Some("stdio"),
        pb::Transport::Sse => Some("sse"),
        pb::Transport::Http => Some("http"),
        pb::Transport::Ws => Some("ws"),
        pb::Transport::Unspecified => None,
    }
}

pub fn ecosystem(e: i32) -> &'static str {
    match pb::Ecosystem::try_from(e).unwrap_or_default() {
        pb::Ecosystem::Npm => "npm",
        pb::Ecosystem::Pypi => "pypi",
        pb::Ecosystem::Oci => "oci",
        pb::Ecosystem::Local => "local",
        pb::Ecosystem::Binary => "binary",
        pb::Ecosystem::Unspecified => "unknown",
    }
}

fn format(f: i32) -> &'static str {
    match pb::ConfigFormat::try_from(f).unwrap_or_default() {
        pb::ConfigFormat::Json => "json",
        pb::ConfigFormat::Jsonc => "jsonc",
        pb::ConfigFormat::Json5 => "json5",
        pb::ConfigFormat::Yaml => "yaml",
        pb::ConfigFormat::Toml => "toml",
        pb::ConfigFormat::Markdown => "markdown",
        pb::ConfigFormat::Unspecified => "unknown",
    }
}

pub fn problem_kind(k: i32) -> &'static str {
    match pb::ProblemKind::try_from(k).unwrap_or_default() {
        pb::ProblemKind::Unreadable => "unreadable",
        pb::ProblemKind::Syntax => "syntax",
        pb::ProblemKind::ClientWillIgnore => "client-will-ignore",
        pb::ProblemKind::InvalidEntry => "invalid-entry",
        pb::ProblemKind::TooLarge => "too-large",
        pb::ProblemKind::Process => "process",
        pb::ProblemKind::ReportRejected => "report-rejected",
        pb::ProblemKind::Unspecified => "unknown",
    }
}

/// Lower-case severity name.
pub fn severity(s: i32) -> &'static str {
    match pb::Severity::try_from(s).unwrap_or_default() {
        pb::Severity::Info => "info",
        pb::Severity::Low => "low",
        pb::Severity::Medium => "medium",
        pb::Severity::High => "high",
        pb::Severity::Critical => "critical",
        pb::Severity::Unspecified => "unknown",
    }
}

pub fn finding(f: &pb::Finding) -> FindingJson<'_> {
    FindingJson {
        id: &f.id,
        severity: severity(f.severity),
        owasp: &f.owasp,
        message: &f.message,
        server_ids: &f.server_ids,
        client: &f.client,
        user: &f.user,
    }
}

fn credential(c: &pb::Credential) -> CredentialJson<'_> {
    CredentialJson {
        location: &c.location,
        kind: &c.kind,
        provider: opt(&c.provider),
        source: if c.source == pb::CredentialSource::Reference as i32 { "reference" } else { "literal" },
        fingerprint: opt(&c.fingerprint),
        reference: opt(&c.reference),
    }
}

fn package(p: &Option<pb::Package>) -> Option<PackageJson<'_>> {
    p.as_ref().map(|p| PackageJson {
        ecosystem: ecosystem(p.ecosystem),
        name: &p.name,
        version: p.version.as_deref(),
        pinned: p.pinned,
    })
}

/// The JSON view of an inventory.
/// The JSON shape of one server (also used by `muster-agent status --format json`).
pub fn server(s: &pb::McpServer) -> ServerJson<'_> {
    ServerJson {
        id: &s.id,
        client: &s.client,
        user: opt(&s.user),
        scope: scope(s.scope),
        config_path: &s.config_path,
        project: opt(&s.project),
        name: &s.name,
        transport: transport(s.transport),
        disabled: s.disabled,
        command: opt(&s.command),
        args: &s.args,
        url: opt(&s.url),
        env_names: &s.env_names,
        header_names: &s.header_names,
        package: package(&s.package),
        endpoint: s.endpoint.as_ref().map(|e| EndpointJson {
            scheme: &e.scheme,
            host: &e.host,
            port: e.port,
            path: &e.path,
        }),
        auth: s.endpoint.as_ref().and_then(|e| e.auth.as_ref()).map(auth),
        auto_approve: s.auto_approve.as_ref().map(|a| AutoApproveJson { all: a.all, tools: &a.tools }),
        origin: opt(&s.origin),
        cwd: opt(&s.cwd),
        service: opt(&s.service),
        service_guessed: s.service_guessed,
        registry_name: opt(&s.registry_name),
        credentials: s.credentials.iter().map(credential).collect(),
        findings: s.findings.iter().map(finding).collect(),
    }
}

pub fn view(inv: &pb::InventorySnapshot) -> ScanJson<'_> {
    let host = inv.host.as_ref();
    ScanJson {
        host: HostJson {
            hostname: host.map(|h| h.hostname.as_str()).unwrap_or(""),
            os: match host.map(|h| h.os()).unwrap_or_default() {
                pb::Os::Linux => "linux",
                pb::Os::Macos => "macos",
                pb::Os::Windows => "windows",
                pb::Os::Unspecified => "unknown",
            },
            users: inv.users.iter().map(|u| u.name.as_str()).collect(),
        },
        servers: inv.servers.iter().map(server).collect(),
        findings: inv.findings.iter().map(finding).collect(),
        processes: inv
            .processes
            .iter()
            .map(|p| ProcessJson {
                pid: p.pid,
                user: opt(&p.user),
                exe: &p.exe,
                args: &p.args,
                package: package(&p.package),
                parent_client: opt(&p.parent_client),
                server_ids: &p.server_ids,
                unmanaged: p.unmanaged,
                listeners: p.listeners.iter().map(|l| ListenerJson { address: &l.address, port: l.port }).collect(),
            })
            .collect(),
        sources: inv
            .sources
            .iter()
            .map(|s| SourceJson {
                path: &s.path,
                real_path: opt(&s.real_path),
                client: &s.client,
                user: opt(&s.user),
                scope: scope(s.scope),
                format: format(s.format),
                project: opt(&s.project),
                mtime: s.mtime_unix,
                owner: opt(&s.owner),
                mode: s.mode.map(|m| format!("{m:04o}")),
                size: s.size,
                client_accepts: s.client_accepts,
                servers: s.server_count,
            })
            .collect(),
        problems: inv
            .problems
            .iter()
            .map(|p| ProblemJson {
                path: &p.path,
                client: &p.client,
                user: opt(&p.user),
                kind: problem_kind(p.kind),
                message: &p.message,
                line: p.line,
                column: p.column,
            })
            .collect(),
    }
}

/// Pretty JSON text of an inventory.
pub fn render(inv: &pb::InventorySnapshot) -> String {
    // Serialising plain structs of strings, numbers and bools cannot fail.
    serde_json::to_string_pretty(&view(inv)).unwrap_or_else(|_| "{}".to_string())
}
