//! Facts derived from one reported server at ingest, stored as columns so fleet-wide grouping is
//! plain SQL: enterprise service, package identity, remote host and how the server authenticates
//! (from its configuration, and as the agent verified it by asking the remote server).
//! Pure functions; no database access here.

use muster_proto::v1::{AuthPosture, CredentialSource, McpServer, ReferenceKind, Transport};
use serde::Serialize;

/// How a server authenticates to what it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// A literal static key sits in the configuration (the worst case wins).
    Literal,
    /// Credentials come from environment variables (`${VAR}`, `{env:VAR}`, `$VAR`, `env:` fields).
    EnvReference,
    /// Credentials come from a secret manager or credential helper (1Password, a keychain,
    /// Vault, AWS Secrets Manager or SSM, a command's output).
    SecretManager,
    /// Credentials are referenced some other way (a client prompt, a file), or by an agent too
    /// old to say where (kind unknown).
    Reference,
    /// A remote server that uses OAuth: verified by the agent (`oauth` or `oauth_partial`), or,
    /// without a verified posture, guessed from a remote entry configured without any credential.
    Oauth,
    None,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Literal => "literal",
            Self::EnvReference => "env_reference",
            Self::SecretManager => "secret_manager",
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
    pub posture: PostureFacts,
}

/// A remote server's authentication as its agent reported it (`RemoteEndpoint.auth`), flattened
/// for columns. `posture` is the wire number; 0 when the agent did not judge it (local servers,
/// agents older than the probe).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostureFacts {
    pub posture: i32,
    pub verified: bool,
    /// What an `oauth_partial` server lacks, comma-separated.
    pub missing: String,
    pub reason: String,
}

impl PostureFacts {
    pub fn of(server: &McpServer) -> Self {
        let Some(auth) = server.endpoint.as_ref().and_then(|e| e.auth.as_ref()) else {
            return Self::default();
        };
        // A number this build does not know counts as not judged, so every stored posture is a word.
        let posture = AuthPosture::try_from(auth.posture).map_or(0, |p| p as i32);
        Self { posture, verified: auth.verified, missing: auth.missing.join(","), reason: auth.reason.clone() }
    }
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
            posture: PostureFacts::of(server),
        }
    }
}

/// The configuration's credentials first (a literal key is the headline whatever the server
/// accepts), then the posture the agent verified by asking the server (an `mcp-remote` bridge,
/// a stdio server by transport, reads OAuth when its remote was found to use it), then the
/// configuration-only guess.
fn auth_mode(server: &McpServer) -> AuthMode {
    let has = |source: CredentialSource| server.credentials.iter().any(|c| c.source == source as i32);
    let remote = [Transport::Http, Transport::Sse, Transport::Ws].iter().any(|t| server.transport == *t as i32);
    let verified = server.endpoint.as_ref().and_then(|e| e.auth.as_ref()).filter(|a| a.verified);
    let verified_posture = verified.and_then(|a| AuthPosture::try_from(a.posture).ok());
    if has(CredentialSource::Literal) {
        AuthMode::Literal
    } else if has(CredentialSource::Reference) {
        reference_mode(server)
    } else if matches!(verified_posture, Some(AuthPosture::Oauth | AuthPosture::OauthPartial)) {
        AuthMode::Oauth
    } else if verified_posture == Some(AuthPosture::None) {
        AuthMode::None
    } else if remote && server.header_names.is_empty() {
        AuthMode::Oauth
    } else {
        AuthMode::None
    }
}

/// How a server's references authenticate it: environment variables if any credential comes
/// from one (the weakest keeping wins, as a literal does above), else a secret manager if any,
/// else another or an unknown kind.
fn reference_mode(server: &McpServer) -> AuthMode {
    let kinds = || {
        server
            .credentials
            .iter()
            .filter(|c| c.source == CredentialSource::Reference as i32)
            .map(|c| ReferenceKind::try_from(c.reference_kind).unwrap_or(ReferenceKind::Unspecified))
    };
    if kinds().any(|k| k == ReferenceKind::Environment) {
        AuthMode::EnvReference
    } else if kinds().any(|k| k == ReferenceKind::SecretManager) {
        AuthMode::SecretManager
    } else {
        AuthMode::Reference
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

/// Catalog ids of package advisory findings: a server can have several, one per advisory.
pub const ADVISORY_FINDINGS: [&str; 2] = ["MUSTER-PKG-VULNERABLE", "MUSTER-PKG-MALICIOUS"];

/// What tells one finding apart from the others with the same agent, server id and catalog id:
/// decisions (acknowledge, waive) are keyed by those three plus this, so a decision applies to
/// exactly one finding. Stable across reports while the finding says the same thing.
///
/// - A host-wide finding (no server id: the lethal trifecta of one client and user, one secret
///   reused by several servers, a shadow or exposed process) is identified by everything it
///   says, its finding uid ([`crate::ingest::finding_uid`], the id webhooks and the OCSF export
///   use): two clients' trifectas differ by client, two reuses by their servers and fingerprint.
///   When it changes (another server joins a trifecta, a process restarts with a new pid) it is
///   a new finding and needs a new decision, as webhooks announce it as new.
/// - A server's finding is identified by its server; an advisory finding, of which a server can
///   have several, also by its advisory id. Other server findings keep their decision when their
///   message changes (another secret in the same server, say).
pub fn finding_subject(
    agent_id: &str,
    server_id: &str,
    finding_id: &str,
    client: &str,
    user: &str,
    server_ids: &str,
    message: &str,
) -> String {
    if server_id.is_empty() {
        crate::ingest::finding_uid::finding_uid_of(agent_id, server_id, finding_id, client, user, server_ids, message)
    } else if ADVISORY_FINDINGS.contains(&finding_id) {
        advisory_id(message)
    } else {
        String::new()
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
    use muster_proto::v1::{Credential, Package, RemoteAuth, RemoteEndpoint};

    use super::*;

    fn credential(source: CredentialSource) -> Credential {
        Credential { location: "env:T".into(), source: source as i32, ..Default::default() }
    }

    #[test]
    fn host_wide_findings_of_two_clients_have_different_subjects() {
        let trifecta = |client: &str| {
            finding_subject("a1", "", "MUSTER-LETHAL-TRIFECTA", client, "alice", "s1,s2,s3", "three legs")
        };
        assert_ne!(trifecta("windsurf"), trifecta("gemini-cli"));
        assert_eq!(trifecta("windsurf"), trifecta("windsurf"), "stable across reports");
        assert_eq!(trifecta("windsurf").len(), 32);
        // Server findings: the server identifies them; advisories also by their id.
        assert_eq!(finding_subject("a1", "s1", "MUSTER-SECRET-ENV", "cursor", "alice", "s1", "any"), "");
        let advisory = |message: &str| finding_subject("a1", "s1", "MUSTER-PKG-VULNERABLE", "c", "u", "s1", message);
        assert_eq!(advisory("runs x at version 1: GHSA-aaaa-bbbb-cccc summary"), "GHSA-aaaa-bbbb-cccc");
        assert_ne!(advisory("runs x at version 1: CVE-2025-1 a"), advisory("runs x at version 1: CVE-2025-2 b"));
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

    /// Issue 15: a `${GITHUB_TOKEN}` reference was labelled "Secret store". A server's references
    /// say where the secret is kept; an agent too old to say reads as a reference of unknown kind.
    #[test]
    fn references_are_told_apart_by_where_the_secret_is_kept() {
        let reference =
            |kind: ReferenceKind| Credential { reference_kind: kind as i32, ..credential(CredentialSource::Reference) };
        let with = |kinds: &[ReferenceKind]| McpServer {
            transport: Transport::Stdio as i32,
            credentials: kinds.iter().map(|k| reference(*k)).collect(),
            ..Default::default()
        };
        assert_eq!(auth_mode(&with(&[ReferenceKind::Environment])), AuthMode::EnvReference);
        assert_eq!(auth_mode(&with(&[ReferenceKind::SecretManager])), AuthMode::SecretManager);
        assert_eq!(
            auth_mode(&with(&[ReferenceKind::SecretManager, ReferenceKind::Environment])),
            AuthMode::EnvReference,
            "the weaker keeping wins"
        );
        assert_eq!(auth_mode(&with(&[ReferenceKind::Unspecified])), AuthMode::Reference, "an old agent's");
        assert_eq!(auth_mode(&with(&[ReferenceKind::Prompt])), AuthMode::Reference);
        assert_eq!(AuthMode::EnvReference.as_str(), "env_reference");
        assert_eq!(AuthMode::SecretManager.as_str(), "secret_manager");
    }

    fn verified(posture: AuthPosture) -> Option<RemoteEndpoint> {
        let auth = RemoteAuth { posture: posture as i32, verified: true, ..Default::default() };
        Some(RemoteEndpoint { host: "mcp.example.com".into(), auth: Some(auth), ..Default::default() })
    }

    #[test]
    fn a_verified_posture_replaces_the_configuration_guess() {
        // An mcp-remote bridge: stdio, no key; its remote was found to use OAuth.
        let mut bridge = McpServer { transport: Transport::Stdio as i32, ..Default::default() };
        assert_eq!(auth_mode(&bridge), AuthMode::None, "from the configuration alone");
        bridge.endpoint = verified(AuthPosture::Oauth);
        assert_eq!(auth_mode(&bridge), AuthMode::Oauth);
        bridge.endpoint = verified(AuthPosture::OauthPartial);
        assert_eq!(auth_mode(&bridge), AuthMode::Oauth);
        // A remote entry without headers is guessed OAuth, unless the server answered without any.
        let mut open = McpServer {
            transport: Transport::Http as i32,
            endpoint: verified(AuthPosture::None),
            ..Default::default()
        };
        assert_eq!(auth_mode(&open), AuthMode::None);
        // An unverified posture changes nothing.
        if let Some(auth) = open.endpoint.as_mut().and_then(|e| e.auth.as_mut()) {
            auth.verified = false;
        }
        assert_eq!(auth_mode(&open), AuthMode::Oauth);
        // A literal key in the configuration stays the headline.
        let mut keyed = McpServer { endpoint: verified(AuthPosture::Oauth), ..Default::default() };
        keyed.credentials = vec![credential(CredentialSource::Literal)];
        assert_eq!(auth_mode(&keyed), AuthMode::Literal);
    }

    #[test]
    fn posture_facts_flatten_the_reported_auth() {
        let mut server = McpServer { endpoint: verified(AuthPosture::OauthPartial), ..Default::default() };
        if let Some(auth) = server.endpoint.as_mut().and_then(|e| e.auth.as_mut()) {
            auth.missing = vec!["pkce_s256".into(), "iss_parameter".into()];
            auth.reason = "refused without credentials (401)".into();
        }
        let facts = PostureFacts::of(&server);
        assert_eq!(facts.posture, AuthPosture::OauthPartial as i32);
        assert!(facts.verified);
        assert_eq!(facts.missing, "pkce_s256,iss_parameter");
        assert_eq!(facts.reason, "refused without credentials (401)");
        assert_eq!(PostureFacts::of(&McpServer::default()), PostureFacts::default());
        if let Some(auth) = server.endpoint.as_mut().and_then(|e| e.auth.as_mut()) {
            auth.posture = 99;
        }
        assert_eq!(PostureFacts::of(&server).posture, 0, "a number this build does not know is not stored");
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
