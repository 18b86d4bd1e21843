//! Inventories for the policy tests, built from the wire model the way the agent reports them.

#![allow(dead_code)]

use muster_proto::v1 as pb;

pub fn host(hostname: &str, os: pb::Os) -> pb::Host {
    pb::Host { hostname: hostname.into(), os: os as i32, ..Default::default() }
}

pub fn stdio(id: &str, name: &str, client: &str, user: &str, command: &str, args: &[&str]) -> pb::McpServer {
    pb::McpServer {
        id: id.into(),
        name: name.into(),
        client: client.into(),
        user: user.into(),
        scope: if user.is_empty() { pb::Scope::Managed } else { pb::Scope::User } as i32,
        transport: pb::Transport::Stdio as i32,
        command: command.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        ..Default::default()
    }
}

pub fn remote(id: &str, name: &str, client: &str, user: &str, transport: pb::Transport, url: &str) -> pb::McpServer {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if p.parse::<u32>().is_ok() => (h, p.parse().ok()),
        _ => (authority, None),
    };
    pb::McpServer {
        id: id.into(),
        name: name.into(),
        client: client.into(),
        user: user.into(),
        scope: pb::Scope::User as i32,
        transport: transport as i32,
        url: url.into(),
        endpoint: Some(pb::RemoteEndpoint {
            scheme: scheme.into(),
            host: host.into(),
            port,
            path: path.into(),
            auth: None,
        }),
        ..Default::default()
    }
}

pub fn package(eco: pb::Ecosystem, name: &str, version: Option<&str>, pinned: bool) -> pb::Package {
    pb::Package { ecosystem: eco as i32, name: name.into(), version: version.map(Into::into), pinned }
}

pub fn literal(location: &str, kind: &str, provider: &str) -> pb::Credential {
    pb::Credential {
        location: location.into(),
        kind: kind.into(),
        provider: provider.into(),
        source: pb::CredentialSource::Literal as i32,
        fingerprint: "00112233445566778899aabbccddeeff".into(),
        reference: String::new(),
        ..Default::default()
    }
}

pub fn reference(location: &str, kind: &str, provider: &str) -> pb::Credential {
    pb::Credential {
        location: location.into(),
        kind: kind.into(),
        provider: provider.into(),
        source: pb::CredentialSource::Reference as i32,
        fingerprint: String::new(),
        reference: "GITHUB_TOKEN".into(),
        reference_kind: pb::ReferenceKind::Environment as i32,
    }
}

pub fn finding(id: &str, severity: pb::Severity) -> pb::Finding {
    pb::Finding { id: id.into(), severity: severity as i32, ..Default::default() }
}

pub fn snapshot(host: pb::Host, servers: Vec<pb::McpServer>) -> pb::InventorySnapshot {
    pb::InventorySnapshot { host: Some(host), servers, ..Default::default() }
}

/// A realistic laptop: every condition kind has a server that meets it and one that does not.
pub fn laptop() -> pb::InventorySnapshot {
    let mut github =
        stdio("s01", "github", "claude-code", "dev", "npx", &["-y", "@modelcontextprotocol/server-github"]);
    github.package = Some(package(pb::Ecosystem::Npm, "@modelcontextprotocol/server-github", None, false));
    github.credentials = vec![literal("env:GITHUB_PERSONAL_ACCESS_TOKEN", "github-pat", "github")];
    github.service = "github".into();
    github.auto_approve = Some(pb::AutoApprove { all: false, tools: vec!["delete_repository".into()] });

    let mut pinned = stdio(
        "s02",
        "filesystem",
        "cursor",
        "dev",
        "/usr/local/bin/npx",
        &["-y", "@modelcontextprotocol/server-filesystem@1.4.2", "/home/dev/src"],
    );
    pinned.package = Some(package(pb::Ecosystem::Npm, "@modelcontextprotocol/server-filesystem", Some("1.4.2"), true));
    pinned.service = "filesystem".into();

    let mut fetch = stdio("s03", "fetch", "claude-code", "dev", "uvx", &["mcp-server-fetch==0.6.2"]);
    fetch.package = Some(package(pb::Ecosystem::Pypi, "mcp-server-fetch", Some("0.6.2"), true));
    fetch.scope = pb::Scope::Project as i32;
    fetch.project = "/home/dev/src/app".into();
    fetch.findings = vec![finding("MUSTER-PKG-VULNERABLE", pb::Severity::High)];

    let mut docker =
        stdio("s04", "grafana", "vscode", "dev", "docker", &["run", "-i", "--rm", "mcp/grafana@sha256:aaaa"]);
    docker.package = Some(package(pb::Ecosystem::Oci, "mcp/grafana", Some("latest"), false));

    let sse = remote("s05", "legacy-crm", "claude-code", "dev", pb::Transport::Sse, "https://crm.example.com/sse");
    let mut plain = remote("s06", "intranet", "cursor", "dev", pb::Transport::Http, "http://tools.corp.example/mcp");
    plain.credentials = vec![reference("header:Authorization", "bearer", "")];
    let local = remote("s07", "local-dev", "cursor", "dev", pb::Transport::Http, "http://localhost:8080/mcp");

    let mut evil = stdio("s08", "postmark", "claude-code", "ops", "npx", &["postmark-mcp@1.0.16"]);
    evil.package = Some(package(pb::Ecosystem::Npm, "postmark-mcp", Some("1.0.16"), true));
    evil.findings = vec![finding("MUSTER-PKG-MALICIOUS", pb::Severity::Critical)];

    let mut managed = stdio("s09", "corp-search", "claude-code", "", "/opt/corp/search-mcp", &[]);
    managed.package = Some(package(pb::Ecosystem::Binary, "search-mcp", None, false));
    managed.auto_approve = Some(pb::AutoApprove { all: true, tools: vec![] });

    let mut inv = snapshot(
        host("dev-laptop-7", pb::Os::Macos),
        vec![github, pinned, fetch, docker, sse, plain, local, evil, managed],
    );
    inv.processes = vec![pb::McpProcess {
        pid: 4242,
        user: "dev".into(),
        exe: "/opt/grafana-mcp".into(),
        server_ids: vec!["s04".into()],
        listeners: vec![pb::Listener { address: "0.0.0.0".into(), port: 8000, protocol: "tcp".into() }],
        ..Default::default()
    }];
    inv
}
