//! The credentials one server is given: every env value, header value, argument, the URL and
//! the other credential-bearing fields are run through the detector; literal secrets become
//! `Credential`s with a keyed fingerprint, references become `Credential`s naming what they
//! refer to. Also produces the masked display forms of arguments and URL, masking exactly what
//! the detector found on top of the name-based masking.

use crate::discovery::ServerRecord;
use crate::discovery::package;
use crate::secrets::Secret;
use crate::secrets::detection::CHECKSUM_FAILED_KIND;
use crate::secrets::fingerprint::{FleetKey, fingerprint};
use crate::secrets::location::Location;
use crate::secrets::mask;
use crate::secrets::reference::ReferenceKind;
use crate::secrets::scrub::{self, Suspect, Suspicion};
use crate::secrets::{Confidence, Detection, Embedded, Source, detect, detect_embedded};
use muster_proto::v1 as pb;

/// Credentials and masked display strings of one server.
#[derive(Debug, Default)]
pub struct ServerCredentials {
    pub credentials: Vec<pb::Credential>,
    pub masked_args: Vec<String>,
    pub masked_url: Option<String>,
}

fn credential(location: String, d: &Detection, value: &Secret, key: &FleetKey) -> pb::Credential {
    match &d.source {
        Source::Literal => pb::Credential {
            location,
            kind: d.kind.to_string(),
            source: pb::CredentialSource::Literal as i32,
            fingerprint: fingerprint(key, value),
            provider: d.provider.to_string(),
            reference: String::new(),
            reference_kind: pb::ReferenceKind::Unspecified as i32,
        },
        Source::Reference(r) => pb::Credential {
            location,
            kind: d.kind.to_string(),
            source: pb::CredentialSource::Reference as i32,
            fingerprint: String::new(),
            provider: d.provider.to_string(),
            reference: r.name.clone(),
            reference_kind: reference_kind(r.syntax.kind()) as i32,
        },
    }
}

/// The report's word for where a referenced secret is kept.
fn reference_kind(kind: ReferenceKind) -> pb::ReferenceKind {
    match kind {
        ReferenceKind::Environment => pb::ReferenceKind::Environment,
        ReferenceKind::SecretManager => pb::ReferenceKind::SecretManager,
        ReferenceKind::Prompt => pb::ReferenceKind::Prompt,
        ReferenceKind::File => pb::ReferenceKind::File,
    }
}

/// Judges one value: a whole-value detection, else the secrets embedded in it (`embedded`:
/// [`detect_embedded`] of the value, computed once by the caller). For arguments and the URL,
/// `suspects` are the gate's secret-shaped tokens of the value ([`scrub::suspect_tokens`]).
/// Returns the credentials and the byte ranges to mask (the whole value for a whole-value
/// literal).
fn judge(
    location: &Location<'_>,
    label: &str,
    value: &Secret,
    embedded: &[Embedded],
    suspects: &[Suspect],
    key: &FleetKey,
    out: &mut Vec<pb::Credential>,
) -> Vec<std::ops::Range<usize>> {
    if let Some(d) = detect(location, value) {
        // A whole-value detection that is really about an embedded part (a URL with a
        // password) still masks only that part, through the embedded ranges below.
        if d.is_literal() && embedded.is_empty() {
            out.push(credential(label.to_string(), &d, value, key));
            return std::iter::once(0..value.expose().len()).collect();
        }
        if !d.is_literal() {
            out.push(credential(label.to_string(), &d, value, key));
            return Vec::new();
        }
    }
    let mut ranges = Vec::new();
    for e in embedded {
        let part = Secret::new(&value.expose()[e.range.clone()]);
        out.push(credential(label.to_string(), &e.detection, &part, key));
        ranges.push(e.range.clone());
    }
    if matches!(location, Location::Arg { .. } | Location::Url) {
        ranges.extend(suspected(value.expose(), suspects, &ranges, label, key, out));
    }
    ranges
}

/// Secret-shaped tokens of an argument or URL that no detector rule claimed (see
/// [`scrub::suspect_tokens`]). All are masked; those that are credentials by their place are
/// reported too: a provider's shape whose checksum fails (kept as that provider's, kind
/// `checksum-failed`), a JWT, a random segment of a URL path (`/mcp/<key>/sse`) and the secret
/// half of an `id:secret` or `id/key:secret` pair. A random bare argument is only masked: it is
/// as likely an id as a key.
fn suspected(
    v: &str,
    suspects: &[Suspect],
    taken: &[std::ops::Range<usize>],
    label: &str,
    key: &FleetKey,
    out: &mut Vec<pb::Credential>,
) -> Vec<std::ops::Range<usize>> {
    let path_start = v.find("://").map(|i| {
        let after = i + 3;
        v[after..].find('/').map_or(v.len(), |p| after + p)
    });
    let mut ranges = Vec::new();
    for s in suspects {
        let r = s.range.clone();
        if taken.iter().any(|t| t.start < r.end && r.start < t.end) {
            continue;
        }
        let found = match s.why {
            Suspicion::ProviderShape { provider, .. } => Some((CHECKSUM_FAILED_KIND, provider, Confidence::Low)),
            Suspicion::Jwt => Some(("jwt", "jwt", Confidence::High)),
            Suspicion::Random => {
                let in_path = path_start.is_some_and(|p| r.start >= p) && !v[..r.start].contains('?');
                let pair = v[..r.start].ends_with(':') && r.start > 1 && !v[..r.start].ends_with("://");
                (in_path || pair).then_some(("generic-secret", "unknown", Confidence::Low))
            }
        };
        if let Some((kind, provider, confidence)) = found {
            let d = Detection { kind, provider, source: Source::Literal, confidence };
            out.push(credential(label.to_string(), &d, &Secret::new(&v[r.clone()]), key));
        }
        ranges.push(r);
    }
    ranges
}

/// Judges a value that is not shown (env, header, other fields): only its credentials count.
fn judge_hidden(location: &Location<'_>, label: &str, value: &Secret, key: &FleetKey, out: &mut Vec<pb::Credential>) {
    judge(location, label, value, &detect_embedded(value), &[], key, out);
}

/// An argument or the URL: its credentials, and the value with what was found masked (detected
/// ranges exactly; provider shapes anywhere in it).
fn judge_shown<'v>(
    location: &Location<'_>,
    label: &str,
    value: &'v Secret,
    key: &FleetKey,
    out: &mut Vec<pb::Credential>,
) -> (String, scrub::Examined<'v>) {
    let examined = scrub::Examined::of(value);
    let ranges = judge(location, label, value, &examined.embedded, &examined.suspects, key, out);
    let masked = scrub::mask_ranges(value.expose(), &ranges, &examined.shapes);
    (masked, examined)
}

/// Runs the detector over everything a server is given.
pub fn server_credentials(s: &ServerRecord, key: &FleetKey) -> ServerCredentials {
    let raw = &s.raw;
    let mut creds = Vec::new();

    for (name, value) in &raw.env {
        if let Some(v) = value {
            judge_hidden(&Location::Env(name), &format!("env:{name}"), v, key, &mut creds);
        }
    }
    for (name, value) in &raw.headers {
        judge_hidden(&Location::Header(name), &format!("header:{name}"), value, key, &mut creds);
    }
    for (field, value) in &raw.extra_secrets {
        let name = field.strip_prefix("field:").unwrap_or(field);
        judge_hidden(&Location::Field(name), field, value, key, &mut creds);
    }
    // Indirections name a variable the client injects: a reference, never a literal.
    for (location, var) in &raw.env_references {
        let already = creds.iter().any(|c| c.location == *location);
        if !already {
            let d = detect(&Location::Field("env_keys"), &Secret::new(var.as_str()));
            if let Some(d) = d {
                creds.push(credential(location.clone(), &d, &Secret::new(var.as_str()), key));
            }
        }
    }

    // Arguments: detected secrets are masked exactly, then the name-based masking applies.
    let mut pre_masked: Vec<Secret> = Vec::with_capacity(raw.args.len());
    let mut examined: Vec<scrub::Examined<'_>> = Vec::with_capacity(raw.args.len());
    for (i, arg) in raw.args.iter().enumerate() {
        let previous = i.checked_sub(1).map(|p| raw.args[p].expose());
        let (masked, e) = judge_shown(&Location::Arg { index: i, previous }, &format!("arg:{i}"), arg, key, &mut creds);
        pre_masked.push(Secret::new(masked));
        examined.push(e);
    }
    // Then the gate (`scrub`), so what is shown and what is derived from it below (package,
    // endpoint, finding messages) never sees a secret-shaped token. An argument nothing was
    // found in and nothing masked is not judged a second time (`scrub_examined`).
    let masked_args: Vec<String> = mask::mask_args(&pre_masked, &|_, _| false)
        .iter()
        .zip(&examined)
        .map(|(a, e)| scrub::scrub_examined(a, e).into_owned())
        .collect();

    let masked_url = raw.url.as_ref().map(|u| {
        let (masked, _) = judge_shown(&Location::Url, "url", u, key, &mut creds);
        scrub::scrub_text(&mask::mask_url(&masked)).into_owned()
    });

    ServerCredentials { credentials: creds, masked_args, masked_url }
}

/// Literal env values and headers the MCP Registry marks `isSecret` for this server are secrets
/// whatever their shape: each one no detector claimed becomes a literal credential of kind
/// `registry-secret` (provider `unknown` until [`name_providers`] names the catalog's). A
/// reference or placeholder there is left alone: it holds no value.
pub fn registry_secrets(
    s: &ServerRecord,
    hit: &crate::catalog::registry::RegistryMatch,
    key: &FleetKey,
    out: &mut Vec<pb::Credential>,
) {
    let d = Detection {
        kind: REGISTRY_SECRET_KIND,
        provider: "unknown",
        source: Source::Literal,
        confidence: Confidence::High,
    };
    let env = s.raw.env.iter().filter(|(name, _)| hit.secret_env.contains(name));
    let env = env.filter_map(|(name, value)| value.as_ref().map(|v| (format!("env:{name}"), v, false)));
    let headers = s.raw.headers.iter().filter(|(name, _)| hit.secret_headers.contains(&name.to_ascii_lowercase()));
    let headers = headers.map(|(name, value)| (format!("header:{name}"), value, true));
    for (label, value, is_header) in env.chain(headers).collect::<Vec<_>>() {
        if out.iter().any(|c| c.location == label) || !holds_value(value.expose(), is_header) {
            continue;
        }
        out.push(credential(label, &d, value, key));
    }
}

/// The kind of a literal the registry marks secret and no key shape matched.
pub const REGISTRY_SECRET_KIND: &str = "registry-secret";

/// Whether a value holds a secret of its own: not empty, not only references or a placeholder
/// (for a header, after its scheme word: `Bearer ${TOKEN}` holds none).
fn holds_value(value: &str, is_header: bool) -> bool {
    let stripped = crate::secrets::reference::strip_references(value);
    let mut rest = stripped.trim();
    if is_header
        && let Some((scheme, after)) = rest.split_once(char::is_whitespace)
        && ["bearer", "basic", "token"].contains(&scheme.to_ascii_lowercase().as_str())
    {
        rest = after.trim();
    }
    !rest.is_empty() && !crate::secrets::reference::is_placeholder(rest)
}

/// Credentials whose value and name said nothing about their issuer (a generic bearer token,
/// a random key under `API_KEY`, a password) belong to the service the server's catalog row
/// reaches: a bearer token sent to Linear's MCP endpoint is Linear's.
pub fn name_providers(credentials: &mut [pb::Credential], provider: &str) {
    for c in credentials {
        if matches!(c.provider.as_str(), "http" | "unknown" | "url") {
            c.provider = provider.to_string();
        }
    }
}

/// Package and remote endpoint as shown outside the agent: parsed again from the masked command
/// line and URL. Parsing splits a spec or URL into parts (name and version at `@`, host and
/// path), and a secret cut into parts can be too short for the gate to recognise; parsing masked
/// text cannot cut one. The raw parse (what the catalog and advisories match on) stays inside.
pub fn masked_identity(
    s: &ServerRecord,
    masked_args: &[String],
    masked_url: Option<&str>,
) -> (Option<pb::Package>, Option<pb::RemoteEndpoint>) {
    let command = scrub::scrub_command_line(s.raw.command.as_deref().unwrap_or_default());
    let args: Vec<&str> = masked_args.iter().map(String::as_str).collect();
    let package = s.package.as_ref().and_then(|_| package::identify(&command, &args));
    let endpoint = s.endpoint.as_ref().and_then(|_| package::endpoint(masked_url, package.as_ref(), &args));
    (package, endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::entry::RawServer;
    use muster_proto::v1::Scope;

    fn record(raw: RawServer) -> ServerRecord {
        ServerRecord {
            id: "id".into(),
            client: "cursor",
            user: Some("dev".into()),
            scope: Scope::User,
            config_path: "/home/dev/.cursor/mcp.json".into(),
            source: 0,
            project: None,
            raw,
            package: None,
            endpoint: None,
            place: None,
        }
    }

    #[test]
    fn literal_and_reference_env_values_are_told_apart() {
        let key = FleetKey::from_bytes([7; 32]);
        let raw = RawServer {
            name: "gh".into(),
            command: Some("npx".into()),
            env: vec![
                ("GITHUB_TOKEN".into(), Some(Secret::new("ghp_q8Zt3LmX0vR7nB2kW9yH4cJ6pF1sD5gA0eUo"))),
                ("SLACK_BOT_TOKEN".into(), Some(Secret::new("${env:SLACK_BOT_TOKEN}"))),
                ("LOG_LEVEL".into(), Some(Secret::new("debug"))),
            ],
            ..RawServer::default()
        };
        let c = server_credentials(&record(raw), &key);
        let literal: Vec<&pb::Credential> =
            c.credentials.iter().filter(|c| c.source == pb::CredentialSource::Literal as i32).collect();
        let reference: Vec<&pb::Credential> =
            c.credentials.iter().filter(|c| c.source == pb::CredentialSource::Reference as i32).collect();
        assert_eq!(literal.len(), 1, "{:?}", c.credentials);
        assert_eq!(literal[0].location, "env:GITHUB_TOKEN");
        assert_eq!(literal[0].fingerprint.len(), 32);
        assert_eq!(reference.len(), 1);
        assert_eq!(reference[0].reference, "SLACK_BOT_TOKEN");
        assert!(reference[0].fingerprint.is_empty());
    }

    /// Issue 15: every reference was one "Secret store" at the control plane. Each reports where
    /// its secret is kept: the environment, a secret manager or credential helper, a prompt, a
    /// file; literals report no kind.
    #[test]
    fn references_report_where_the_secret_is_kept() {
        let key = FleetKey::from_bytes([7; 32]);
        let env = |name: &str, value: &str| (name.to_string(), Some(Secret::new(value)));
        let raw = RawServer {
            name: "refs".into(),
            command: Some("npx".into()),
            env: vec![
                env("GITHUB_TOKEN", "${GITHUB_TOKEN}"),
                env("LINEAR_API_KEY", "{env:LINEAR_API_KEY}"),
                env("SENTRY_AUTH_TOKEN", "$SENTRY_AUTH_TOKEN"),
                env("OPENAI_API_KEY", "op://Engineering/OpenAI/credential"),
                env("STRIPE_SECRET_KEY", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe-AbCdEf"),
                env("DB_PASSWORD", "vault://secret/data/db#password"),
                env("SLACK_TOKEN", "keychain:slack-mcp"),
                env("NOTION_TOKEN", "$(op read op://Private/Notion/token)"),
                env("ASANA_TOKEN", "${input:asana-token}"),
                env("JIRA_API_TOKEN", "{file:~/.config/jira/token}"),
                env("GITLAB_TOKEN", "glpat-Zq8Xt3LmX0vR7nB2kW9y"),
            ],
            ..RawServer::default()
        };
        let c = server_credentials(&record(raw), &key);
        let kind_of = |location: &str| {
            let c = c.credentials.iter().find(|c| c.location == location).unwrap_or_else(|| panic!("{location}"));
            pb::ReferenceKind::try_from(c.reference_kind).unwrap()
        };
        use pb::ReferenceKind::{Environment, File, Prompt, SecretManager, Unspecified};
        for (location, kind) in [
            ("env:GITHUB_TOKEN", Environment),
            ("env:LINEAR_API_KEY", Environment),
            ("env:SENTRY_AUTH_TOKEN", Environment),
            ("env:OPENAI_API_KEY", SecretManager),
            ("env:STRIPE_SECRET_KEY", SecretManager),
            ("env:DB_PASSWORD", SecretManager),
            ("env:SLACK_TOKEN", SecretManager),
            ("env:NOTION_TOKEN", SecretManager),
            ("env:ASANA_TOKEN", Prompt),
            ("env:JIRA_API_TOKEN", File),
            ("env:GITLAB_TOKEN", Unspecified),
        ] {
            assert_eq!(kind_of(location), kind, "{location}: {:?}", c.credentials);
        }
        let literal = c.credentials.iter().find(|c| c.location == "env:GITLAB_TOKEN").unwrap();
        assert_eq!(literal.source, pb::CredentialSource::Literal as i32);
    }

    #[test]
    fn positional_and_embedded_secrets_are_masked_in_args_and_url() {
        let key = FleetKey::from_bytes([7; 32]);
        let token = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx";
        let raw = RawServer {
            name: "x".into(),
            command: Some("npx".into()),
            args: vec![
                Secret::new("-y"),
                Secret::new("some-server"),
                Secret::new(token),
                Secret::new("postgresql://app:s3cr3t-Pa55word@db.internal:5432/shop"),
            ],
            url: Some(Secret::new("https://mcp.example.com/mcp?api_key=sk_live_FAKEFAKEFAKEFAKEFAKEFAKE")),
            ..RawServer::default()
        };
        let c = server_credentials(&record(raw), &key);
        let shown = format!("{:?} {:?}", c.masked_args, c.masked_url);
        assert!(!shown.contains("xoxb-") && !shown.contains("s3cr3t") && !shown.contains("sk_live"), "{shown}");
        assert_eq!(c.masked_args[0], "-y");
        assert_eq!(c.masked_args[1], "some-server");
        assert!(c.credentials.iter().any(|c| c.location == "arg:2"), "{:?}", c.credentials);
        assert!(c.credentials.iter().any(|c| c.location == "arg:3"));
    }

    /// A provider-shaped token as a package spec's userinfo used to turn the whole spec into
    /// `****` (the shape overlapped the URL, so the URL was masked whole): only the token goes.
    #[test]
    fn token_in_package_spec_masks_only_the_token() {
        let key = FleetKey::from_bytes([7; 32]);
        let token = "ghp_q8Zt3LmX0vR7nB2kW9yH4cJ6pF1sD5gA0eUo";
        let raw = RawServer {
            name: "x".into(),
            command: Some("npx".into()),
            args: vec![Secret::new("-y"), Secret::new(format!("git+https://{token}@github.com/org/repo"))],
            ..RawServer::default()
        };
        let mut s = record(raw);
        s.package = package::identify("npx", &["-y", "git+https://x@github.com/org/repo"]);
        let c = server_credentials(&s, &key);
        assert_eq!(c.masked_args, ["-y", "git+https://****@github.com/org/repo"]);
        assert!(c.credentials.iter().any(|c| c.location == "arg:1"), "{:?}", c.credentials);
        let (package, _) = masked_identity(&s, &c.masked_args, None);
        assert_eq!(package.map(|p| p.name).as_deref(), Some("git+https://****@github.com/org/repo"));
    }
}
