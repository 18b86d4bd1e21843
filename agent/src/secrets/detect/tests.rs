//! Detector tests: one positive and one near miss per structural rule and per reference
//! syntax, the order of judgement, and the promise that a detection never carries the value.

use super::*;
use crate::secrets::decode::base62;
use crate::secrets::reference::{ReferenceKind, ReferenceSyntax};

fn ghp() -> String {
    let body = "Zq8mV3xT0bLk9WcN2pRf7HsJd4YgAe";
    format!("ghp_{body}{}", base62(crc32fast::hash(body.as_bytes()), 6))
}

fn env(name: &str, value: &str) -> Option<Detection> {
    detect(&Location::Env(name), &Secret::new(value))
}

fn kind(location: Location<'_>, value: &str) -> Option<&'static str> {
    detect(&location, &Secret::new(value)).filter(Detection::is_literal).map(|d| d.kind)
}

const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJmYWtlIiwiaXNzIjoibXVzdGVyLXRlc3QifQ.c2lnbmF0dXJl";
const RANDOM32: &str = "Zq8mV3xT0bLk9WcN2pRf7HsJd4YgAe6U";

#[test]
fn provider_token_anywhere() {
    let d = env("MY_VAR", &ghp()).unwrap();
    assert_eq!((d.kind, d.provider, d.confidence), ("github-classic-pat", "github", Confidence::High));
    assert_eq!(d.source, Source::Literal);
    assert_eq!(kind(Location::Arg { index: 3, previous: Some("--x") }, &ghp()), Some("github-classic-pat"));
}

#[test]
fn bad_github_checksum_keeps_github_marked_as_failing_the_checksum() {
    let mut bad = ghp();
    bad.pop();
    bad.push(if ghp().ends_with('A') { 'B' } else { 'A' });
    let d = env("GITHUB_TOKEN", &bad).unwrap();
    assert_eq!((d.kind, d.provider, d.confidence), (CHECKSUM_FAILED_KIND, "github", Confidence::Low));
    assert_eq!(env("MCP_SERVER_ARG", &bad).map(|d| (d.kind, d.provider)), Some((CHECKSUM_FAILED_KIND, "github")));
    assert_eq!(kind(Location::Arg { index: 1, previous: None }, &bad), Some(CHECKSUM_FAILED_KIND));
    let header = detect(&Location::Header("Authorization"), &Secret::new(format!("Bearer {bad}"))).unwrap();
    assert_eq!((header.kind, header.provider), (CHECKSUM_FAILED_KIND, "github"));
    // A checked shape without a literal prefix (Azure DevOps' 84 alphanumerics) says nothing
    // once its check fails.
    assert_eq!(env("MCP_SERVER_ARG", &"a".repeat(84)), None);
}

/// Standard base64 with padding (the agent has a decoder only).
fn base64_encode(text: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            out.push(if i <= chunk.len() { A[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

#[test]
fn provider_tokens_inside_authorization_values_and_urls_keep_their_provider() {
    let linear = "lin_api_Zq8mV3xT0bLk9WcN2pRf7HsJd4YgAe6UQwErTyUi";
    let tavily = "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";
    for (location, value, want) in [
        (Location::Header("Authorization"), format!("Bearer {linear}"), ("linear-api-key", "linear")),
        (Location::Header("Authorization"), format!("token {linear}"), ("linear-api-key", "linear")),
        (Location::Header("Authorization"), format!("Bearer {tavily}"), ("tavily-api-key", "tavily")),
        (Location::Url, format!("https://mcp.tavily.com/mcp/?tavilyApiKey={tavily}"), ("tavily-api-key", "tavily")),
        (Location::Url, format!("https://mcp.example.com/{tavily}/sse"), ("tavily-api-key", "tavily")),
        (Location::Url, format!("https://mcp.example.com/mcp?k={linear}"), ("linear-api-key", "linear")),
        (
            Location::Header("Authorization"),
            format!("Basic {}", base64_encode(&format!("me@example.com:{linear}"))),
            ("linear-api-key", "linear"),
        ),
    ] {
        let d = detect(&location, &Secret::new(value.as_str())).unwrap_or_else(|| panic!("{location}"));
        assert_eq!((d.kind, d.provider), want, "{location}");
    }
}

#[test]
fn references_take_their_provider_from_the_variable_name() {
    for (value, provider) in [
        ("${BRAVE_API_KEY}", "brave"),
        ("{env:CONTEXT7_API_KEY}", "context7"),
        ("${env:TAVILY_API_KEY}", "tavily"),
        ("${input:firecrawl_key}", "firecrawl"),
        ("${GITHUB_TOKEN}", "github"),
    ] {
        let d = env("API_KEY", value).unwrap();
        assert!(!d.is_literal(), "{value}");
        assert_eq!(d.provider, provider, "{value}");
    }
    // A header whose name is the variable's (Context7's remote server reads `CONTEXT7_API_KEY`).
    let d = detect(&Location::Header("CONTEXT7_API_KEY"), &Secret::new("${CTX_KEY}")).unwrap();
    assert_eq!(d.provider, "context7");
    // A literal under the name gets the provider too.
    let d = env("BRAVE_API_KEY", RANDOM32).unwrap();
    assert_eq!((d.kind, d.provider), ("generic-secret", "brave"));
}

#[test]
fn every_reference_syntax_is_a_reference_under_a_secret_name() {
    for value in [
        "${env:GITHUB_TOKEN}",
        "${input:github_pat}",
        "${{ secrets.GITHUB_TOKEN }}",
        "{env:GITHUB_TOKEN}",
        "{file:~/.secrets/github}",
        "${file:/run/secrets/github}",
        "$(op read op://dev/github/token)",
        "${cmd: pass show github}",
        "$: pass show github",
        "${GITHUB_TOKEN}",
        "${GITHUB_TOKEN:-}",
        "${user_config.github_token}",
        "{{ GITHUB_TOKEN }}",
        "$GITHUB_TOKEN",
        "%GITHUB_TOKEN%",
        "op://Private/GitHub/token",
        "keychain:github",
    ] {
        let d = env("GITHUB_PERSONAL_ACCESS_TOKEN", value).unwrap_or_else(|| panic!("{value}"));
        assert_eq!(d.kind, REFERENCE_KIND, "{value}");
        assert!(matches!(d.source, Source::Reference(_)), "{value}");
        assert_eq!(d.provider, "github", "{value}");
    }
}

#[test]
fn references_under_ordinary_names_are_not_reported() {
    assert_eq!(env("ROOT", "${workspaceFolder}"), None);
    assert_eq!(env("HOME_DIR", "$HOME"), None);
    // A secret-store syntax is reported wherever it appears.
    assert_eq!(env("CONFIG", "op://vault/item/field").map(|d| d.kind), Some(REFERENCE_KIND));
}

#[test]
fn field_indirections_name_a_variable() {
    let d = detect(&Location::Field("bearer_token_env_var"), &Secret::new("GITHUB_TOKEN")).unwrap();
    assert_eq!(
        d.source,
        Source::Reference(Reference { syntax: ReferenceSyntax::FieldIndirection, name: "GITHUB_TOKEN".into() })
    );
    assert_eq!(d.provider, "github");
    // The same value in an ordinary field is just a word.
    assert_eq!(detect(&Location::Field("description"), &Secret::new("GITHUB_TOKEN")), None);
    // A helper command is a credential helper, an env file a file (issue 15's reference kinds).
    let syntax = |field: &str, value: &str| match detect(&Location::Field(field), &Secret::new(value)).map(|d| d.source)
    {
        Some(Source::Reference(r)) => Some(r.syntax),
        _ => None,
    };
    assert_eq!(syntax("headersHelper", "/usr/local/bin/mcp-headers"), Some(ReferenceSyntax::Command));
    assert_eq!(syntax("envFile", "~/.config/mcp/.env"), Some(ReferenceSyntax::File));
    assert_eq!(ReferenceSyntax::Command.kind(), ReferenceKind::SecretManager);
    assert_eq!(ReferenceSyntax::File.kind(), ReferenceKind::File);
    assert_eq!(ReferenceSyntax::FieldIndirection.kind(), ReferenceKind::Environment);
}

#[test]
fn literal_default_inside_a_reference_is_still_a_secret() {
    let d = env("GITHUB_TOKEN", &format!("${{GITHUB_TOKEN:-{}}}", ghp())).unwrap();
    assert_eq!((d.kind, d.is_literal()), ("github-classic-pat", true));
    assert_eq!(env("GITHUB_TOKEN", "${GITHUB_TOKEN:-<your token>}").map(|d| d.is_literal()), Some(false));
    assert_eq!(env("DB_PASSWORD", "${DB_PASSWORD:-postgres}").map(|d| d.kind), Some("password"));
    assert_eq!(env("DB_PASSWORD", "prefix-${DB_PASSWORD}").map(|d| d.kind), Some(REFERENCE_KIND));
}

#[test]
fn placeholders_and_empty_values_are_nothing() {
    for v in ["", "   ", "<your-token>", "YOUR_API_KEY", "changeme", "xxx", "...", "sk_live_..."] {
        assert_eq!(env("STRIPE_SECRET_KEY", v), None, "{v:?}");
    }
    assert_eq!(detect(&Location::Header("Authorization"), &Secret::new("Bearer <token>")), None);
}

#[test]
fn jwt_pem_service_account_and_kubernetes() {
    assert_eq!(kind(Location::Env("X"), JWT), Some("jwt"));
    assert_eq!(kind(Location::Env("X"), "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJmYWtlIn0.c2ln"), None);
    let body = "MIIEowIBAAKCAQEAq8mV3xT0bLk9WcN2pRf7HsJd4YgAe6Uo1Qi5Mw2Lk7pQ9x";
    assert_eq!(kind(Location::Env("X"), &format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n")), Some("private-key"));
    assert_eq!(
        kind(
            Location::Env("X"),
            &format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----")
        ),
        Some("openssh-private-key")
    );
    assert_eq!(kind(Location::Env("X"), &format!("-----BEGIN PUBLIC KEY-----\n{body}\n")), None);
    assert_eq!(kind(Location::Env("X"), "-----BEGIN PRIVATE KEY-----"), None, "header without a body");
    let sa = r#"{"type": "service_account", "project_id": "p", "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA"}"#;
    assert_eq!(kind(Location::Env("GOOGLE_CREDENTIALS_JSON"), sa), Some("google-service-account-key"));
    let not_sa = r#"{"type": "authorized_user", "client_id": "x"}"#;
    assert_eq!(kind(Location::Env("GOOGLE_CREDENTIALS_JSON"), not_sa), None);
    let manifest = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\ndata:\n  token: dG9rZW4=\n";
    assert_eq!(kind(Location::Env("MANIFEST"), manifest), Some("kubernetes-secret-manifest"));
    assert_eq!(kind(Location::Env("MANIFEST"), "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n"), None);
}

#[test]
fn supabase_legacy_keys_are_jwts_from_supabase() {
    // {"alg":"HS256","typ":"JWT"} . {"iss":"supabase","role":"service_role"} . sig
    let key =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZSIsInJvbGUiOiJzZXJ2aWNlX3JvbGUifQ.c2lnbmF0dXJl";
    let d = env("SUPABASE_SERVICE_ROLE_KEY", key).unwrap();
    assert_eq!((d.kind, d.provider), ("jwt", "supabase"));
    assert_eq!(env("X", JWT).map(|d| d.provider), Some("jwt"));
}

#[test]
fn authorization_values() {
    let header = Location::Header("Authorization");
    assert_eq!(kind(header, &format!("Bearer {}", ghp())), Some("github-classic-pat"));
    assert_eq!(kind(header, &format!("token {}", ghp())), Some("github-classic-pat"));
    assert_eq!(kind(header, &format!("Bearer {RANDOM32}")), Some("bearer-token"));
    assert_eq!(kind(header, &format!("Bearer {JWT}")), Some("jwt"));
    assert_eq!(kind(header, "Basic YWxpY2U6czNjcjN0"), Some("basic-auth"));
    assert_eq!(kind(header, "Basic YWxpY2U="), None, "basic without a password");
    assert_eq!(kind(header, "Bearer abc"), None, "too short to be a token");
    assert_eq!(kind(header, "Bearer"), None);
    assert_eq!(kind(header, "Negotiate abcdefghijklmnop"), None);
}

#[test]
fn connection_strings_in_env_args_and_urls() {
    assert_eq!(
        kind(Location::Env("DATABASE_URL"), "postgres://app:Wq9x2Lk7@db:5432/app"),
        Some("postgres-connection-string")
    );
    assert_eq!(kind(Location::Env("DATABASE_URL"), "postgres://app@db:5432/app"), None);
    assert_eq!(
        kind(Location::Arg { index: 2, previous: None }, "mongodb+srv://svc:Wq9x2Lk7@c0.ab1cd.mongodb.net/app"),
        Some("mongodb-connection-string")
    );
    assert_eq!(
        kind(Location::Url, &format!("https://mcp.example.com/sse?token={}", ghp())),
        Some("github-classic-pat")
    );
    assert_eq!(kind(Location::Url, &format!("https://mcp.example.com/sse?api_key={RANDOM32}")), Some("generic-secret"));
    assert_eq!(kind(Location::Url, &format!("https://mcp.example.com/sse?session={RANDOM32}")), Some("generic-secret"));
    assert_eq!(kind(Location::Url, &format!("https://mcp.example.com/sse?page={RANDOM32}")), None);
    assert_eq!(kind(Location::Url, "https://mcp.example.com/sse?transport=sse"), None);
    assert_eq!(kind(Location::Url, &format!("https://{}@github.com/acme/x.git", ghp())), Some("github-classic-pat"));
    assert_eq!(kind(Location::Url, &format!("https://{RANDOM32}@git.example.com/x.git")), Some("url-credentials"));
    assert_eq!(kind(Location::Env("SENTRY_DSN"), &format!("https://{RANDOM32}@o1.ingest.sentry.io/2")), None);
}

#[test]
fn name_dependent_rules() {
    assert_eq!(kind(Location::Env("DB_PASSWORD"), "postgres"), Some("password"));
    assert_eq!(kind(Location::Arg { index: 2, previous: Some("--password") }, "hunter22"), Some("password"));
    assert_eq!(kind(Location::Env("DB_PASSWORD"), "pw"), None, "too short");
    assert_eq!(kind(Location::Env("KEEPASS_PASSWORD"), "correct horse battery staple"), Some("password"));
    assert_eq!(kind(Location::Env("DB_PASSWORD"), "line one\nline two"), None, "multi-line text");
    assert_eq!(kind(Location::Env("DB_PASSWORD_FILE"), "/run/secrets/db"), None);
    assert_eq!(kind(Location::Env("BRAVE_API_KEY"), RANDOM32), Some("generic-secret"));
    assert_eq!(kind(Location::Env("BRAVE_API_KEY_ID"), RANDOM32), None);
    assert_eq!(kind(Location::Env("CACHE_DIR"), RANDOM32), None);
    assert_eq!(kind(Location::Arg { index: 2, previous: Some("--token") }, RANDOM32), Some("generic-secret"));
    assert_eq!(kind(Location::Arg { index: 2, previous: Some("--output") }, RANDOM32), None);
    assert_eq!(kind(Location::Header("X-API-Key"), RANDOM32), Some("generic-secret"));
    assert_eq!(kind(Location::Env("STRIPE_PUBLISHABLE_KEY"), &format!("pk_live_{RANDOM32}")), None);
    assert_eq!(kind(Location::Env("STRIPE_KEY"), &format!("pk_live_{RANDOM32}")), None, "publishable shape");
}

#[test]
fn embedded_forms() {
    let arg = Location::Arg { index: 1, previous: None };
    assert_eq!(kind(arg, &format!("--token={}", ghp())), Some("github-classic-pat"));
    assert_eq!(kind(arg, &format!("--api-key={RANDOM32}")), Some("generic-secret"));
    assert_eq!(kind(arg, "--mode=Zq8mV3xT0bLk9WcN2pRf7HsJd4YgAe6U"), None);
    let headers = format!(r#"{{"Authorization": "Bearer {}", "Notion-Version": "2022-06-28"}}"#, ghp());
    assert_eq!(kind(Location::Env("OPENAPI_MCP_HEADERS"), &headers), Some("github-classic-pat"));
    assert_eq!(kind(Location::Env("OPENAPI_MCP_HEADERS"), r#"{"Notion-Version": "2022-06-28"}"#), None);
    let conn = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=".to_string() + &"Ab1+".repeat(21) + "Cd==;";
    assert_eq!(kind(Location::Env("AZURE_STORAGE_CONNECTION_STRING"), &conn), Some("azure-storage-account-key"));
    assert_eq!(
        kind(Location::Env("ADO_CONN"), "Server=db;Database=app;User Id=sa;Password=Wq9x2Lk7;"),
        Some("password")
    );
    assert_eq!(kind(Location::Env("ADO_CONN"), "Server=db;Database=app;Integrated Security=true;"), None);
    // References inside embedded forms stay references.
    assert_eq!(kind(arg, "--token=${GITHUB_TOKEN}"), None);
}

#[test]
fn detect_embedded_lists_every_secret_with_its_range() {
    let raw = format!("a {} b postgres://u:Wq9x2Lk7@h/d c", ghp());
    let found = detect_embedded(&Secret::new(raw.as_str()));
    let kinds: Vec<_> = found.iter().map(|e| (e.detection.kind, &raw[e.range.clone()])).collect();
    assert_eq!(
        kinds,
        [("github-classic-pat", ghp().as_str()), ("postgres-connection-string", "postgres://u:Wq9x2Lk7@h/d")]
    );
    assert!(detect_embedded(&Secret::new("nothing to see here")).is_empty());
}

#[test]
fn odd_input_does_not_panic() {
    for v in [
        "\u{a0}$TOKEN\u{a0}",
        "ü$ABC€",
        "€€€€€€€€€€€€€€€€€€€€",
        "-----BEGIN €",
        "postgres://€:€@€/€",
        "Bearer €€€€€€€€€€",
        "${",
        "$(",
        "%",
        "://",
    ] {
        for loc in
            [Location::Env("API_KEY"), Location::Header("Authorization"), Location::Url, Location::Field("env_keys")]
        {
            let _ = detect(&loc, &Secret::new(v));
        }
        let _ = detect_embedded(&Secret::new(v));
    }
    assert_eq!(env("API_KEY", "€€€€€€€€€€€€€€€€€€€€"), None);
}

#[test]
fn detections_never_contain_the_value() {
    let token = ghp();
    for d in [
        env("GITHUB_TOKEN", &token),
        env("DB_PASSWORD", "Wq9x2Lk7-unique"),
        env("DATABASE_URL", "postgres://u:Wq9x2Lk7-unique@h/d"),
        detect(&Location::Header("Authorization"), &Secret::new(format!("Bearer {token}"))),
    ] {
        let shown = format!("{:?}", d.unwrap());
        assert!(!shown.contains(&token[4..]) && !shown.contains("Wq9x2Lk7"), "{shown}");
    }
}
