//! Facts derived from one reported server at ingest, stored as columns so fleet-wide grouping is
//! plain SQL: enterprise service, package identity, remote host and how the server authenticates.
//! Pure functions; no database access here.

use muster_proto::v1::{CredentialSource, McpServer, Transport};
use serde::Serialize;

/// How a server authenticates to what it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// A literal static key sits in the configuration (the worst case wins).
    Literal,
    /// Credentials come from a secret store or environment reference.
    Reference,
    /// A remote server configured without any credential: the client negotiates OAuth.
    Oauth,
    None,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Literal => "literal",
            Self::Reference => "reference",
            Self::Oauth => "oauth",
            Self::None => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFacts {
    pub service: String,
    pub package_ecosystem: i32,
    pub package_name: String,
    pub package_version: String,
    pub pinned: bool,
    /// Lower-case host of the remote endpoint, empty for local servers.
    pub endpoint_host: String,
    pub auth: AuthMode,
}

impl ServerFacts {
    pub fn of(server: &McpServer) -> Self {
        let package = server.package.as_ref();
        Self {
            service: server.service.clone(),
            package_ecosystem: package.map_or(0, |p| p.ecosystem),
            package_name: package.map(|p| p.name.clone()).unwrap_or_default(),
            package_version: package.and_then(|p| p.version.clone()).unwrap_or_default(),
            pinned: package.is_some_and(|p| p.pinned),
            endpoint_host: server.endpoint.as_ref().map(|e| e.host.to_lowercase()).unwrap_or_default(),
            auth: auth_mode(server),
        }
    }
}

fn auth_mode(server: &McpServer) -> AuthMode {
    let has = |source: CredentialSource| server.credentials.iter().any(|c| c.source == source as i32);
    let remote = [Transport::Http, Transport::Sse, Transport::Ws].iter().any(|t| server.transport == *t as i32);
    if has(CredentialSource::Literal) {
        AuthMode::Literal
    } else if has(CredentialSource::Reference) {
        AuthMode::Reference
    } else if remote && server.header_names.is_empty() {
        AuthMode::Oauth
    } else {
        AuthMode::None
    }
}

/// The kind of place a credential was found, from its location (`env:NAME`, `header:NAME`,
/// `arg:3`, `url`).
pub fn location_type(location: &str) -> &'static str {
    match location.split(':').next().unwrap_or_default() {
        "env" => "env",
        "header" => "header",
        "arg" => "arg",
        "url" => "url",
        _ => "other",
    }
}

/// The advisory id named in a package finding's message (`GHSA-...`, `CVE-...`, `MAL-...`,
/// `PYSEC-...`, `OSV-...`), or empty.
pub fn advisory_id(message: &str) -> String {
    const PREFIXES: [&str; 5] = ["GHSA-", "CVE-", "MAL-", "PYSEC-", "OSV-"];
    message
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '"'))
        .map(|word| word.trim_end_matches([':', '.']))
        .find(|word| PREFIXES.iter().any(|p| word.starts_with(p) && word.len() > p.len()))
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use muster_proto::v1::{Credential, Package, RemoteEndpoint};

    use super::*;

    fn credential(source: CredentialSource) -> Credential {
        Credential { location: "env:T".into(), source: source as i32, ..Default::default() }
    }

    #[test]
    fn literal_wins_over_reference_and_remote_without_credentials_is_oauth() {
        let mut server = McpServer { transport: Transport::Http as i32, ..Default::default() };
        assert_eq!(auth_mode(&server), AuthMode::Oauth);
        server.header_names = vec!["X-Api-Key".into()];
        assert_eq!(auth_mode(&server), AuthMode::None, "a header we could not judge is not OAuth");
        server.credentials = vec![credential(CredentialSource::Reference)];
        assert_eq!(auth_mode(&server), AuthMode::Reference);
        server.credentials.push(credential(CredentialSource::Literal));
        assert_eq!(auth_mode(&server), AuthMode::Literal);
        let local = McpServer { transport: Transport::Stdio as i32, ..Default::default() };
        assert_eq!(auth_mode(&local), AuthMode::None);
    }

    #[test]
    fn facts_carry_package_and_lower_case_host() {
        let server = McpServer {
            service: "github".into(),
            package: Some(Package { ecosystem: 1, name: "@x/y".into(), version: Some("1.2.3".into()), pinned: true }),
            endpoint: Some(RemoteEndpoint { host: "API.Example.com".into(), ..Default::default() }),
            ..Default::default()
        };
        let facts = ServerFacts::of(&server);
        assert_eq!(
            (facts.service.as_str(), facts.package_ecosystem, facts.package_name.as_str()),
            ("github", 1, "@x/y")
        );
        assert_eq!((facts.package_version.as_str(), facts.pinned), ("1.2.3", true));
        assert_eq!(facts.endpoint_host, "api.example.com");
        assert_eq!(ServerFacts::of(&McpServer::default()).package_name, "");
    }

    #[test]
    fn location_types_and_advisory_ids() {
        assert_eq!(
            ["env:A", "header:B", "arg:2", "url", "field:x"].map(location_type),
            ["env", "header", "arg", "url", "other"]
        );
        assert_eq!(
            advisory_id("server \"x\" runs foo at version 1.0: GHSA-abcd-1234-wxyz prototype pollution"),
            "GHSA-abcd-1234-wxyz"
        );
        assert_eq!(advisory_id("runs foo at any version: MAL-2025-42: malicious"), "MAL-2025-42");
        assert_eq!(advisory_id("no advisory here, CVE- alone"), "");
    }
}
