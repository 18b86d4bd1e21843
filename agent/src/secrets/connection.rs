//! Credentials carried by URLs and connection strings: `scheme://user:password@host` for the
//! database and broker schemes (`postgres`, `postgresql`, `mysql`, `mariadb`, `mongodb`,
//! `mongodb+srv`, `redis`, `rediss`, `amqp`, `amqps`), `jdbc:` URLs with userinfo or a
//! `password=` parameter, any other scheme with a userinfo password, and Azure SAS tokens
//! (`sig=` with `sv=`/`se=`). Secret-named *query parameters* (`?api_key=`) are classified by
//! the detector with the parameter name as context; [`UrlParts`] hands them over.
//!
//! This module reports presence and kind only; it never returns the password.

use super::detection::Confidence;
use super::reference::is_placeholder;

/// The parts of a URL the detectors look at. Borrowed from the value; stays inside the agent.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub scheme: &'a str,
    pub user: Option<&'a str>,
    pub password: Option<&'a str>,
    /// Host (and port), without userinfo.
    pub host: &'a str,
    /// `name=value` pairs from the query (`?a=b&c=d`) and from `;name=value` parameters.
    pub params: Vec<(&'a str, &'a str)>,
}

/// Splits `scheme://[user[:password]@]host[/path][?query][#fragment]`, plus the `jdbc:` forms
/// (`jdbc:sub://...` and `jdbc:sqlserver://host;user=..;password=..`). `None` if `raw` is not a URL.
pub fn split_url(raw: &str) -> Option<UrlParts<'_>> {
    let without_jdbc = raw.strip_prefix("jdbc:").unwrap_or(raw);
    let (scheme, rest) = without_jdbc.split_once("://")?;
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
        return None;
    }
    let scheme = if raw.starts_with("jdbc:") { "jdbc" } else { scheme };
    let rest = rest.split_once('#').map_or(rest, |(a, _)| a);
    let authority_end = rest.find(['/', '?', ';']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (user, password, host) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((u, p)) => (Some(u), Some(p), host),
            None => (Some(userinfo), None, host),
        },
        None => (None, None, authority),
    };
    let mut params = Vec::new();
    for segment in tail.split(['?', '&', ';']).skip(1) {
        if let Some((k, v)) = segment.split_once('=') {
            params.push((k, v));
        }
    }
    Some(UrlParts { scheme, user, password, host, params })
}

impl UrlParts<'_> {
    /// A Sentry DSN (`https://<public key>@o1.ingest.sentry.io/2`): its userinfo is the
    /// project's *public* client key, which Sentry designs to ship inside client apps.
    pub fn is_sentry_dsn(&self) -> bool {
        self.password.is_none() && self.host.contains(".ingest.") && self.host.ends_with("sentry.io")
    }
}

/// The kind and provider for a password-bearing URL of this scheme.
fn scheme_kind(scheme: &str) -> (&'static str, &'static str) {
    match scheme.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" => ("postgres-connection-string", "postgres"),
        "mysql" | "mariadb" => ("mysql-connection-string", "mysql"),
        "mongodb" | "mongodb+srv" => ("mongodb-connection-string", "mongodb"),
        "redis" | "rediss" => ("redis-connection-string", "redis"),
        "amqp" | "amqps" => ("amqp-connection-string", "amqp"),
        "jdbc" => ("jdbc-connection-string", "jdbc"),
        _ => ("url-credentials", "url"),
    }
}

fn is_password_param(name: &str) -> bool {
    matches!(name.to_ascii_lowercase().as_str(), "password" | "pwd" | "pass" | "passwd")
}

fn real(value: &str) -> bool {
    !value.is_empty() && !is_placeholder(value)
}

/// The credential a URL carries in its userinfo or in `password=` / SAS parameters.
pub fn url_credential(parts: &UrlParts<'_>) -> Option<(&'static str, &'static str, Confidence)> {
    let (kind, provider) = scheme_kind(parts.scheme);
    if parts.password.is_some_and(real) {
        return Some((kind, provider, Confidence::High));
    }
    if parts.params.iter().any(|(k, v)| is_password_param(k) && real(v)) {
        return Some((kind, provider, Confidence::High));
    }
    let has = |name: &str| parts.params.iter().any(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_empty());
    if has("sig") && (has("sv") || has("se")) {
        return Some(("azure-sas-token", "azure", Confidence::High));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(url: &str) -> Option<&'static str> {
        url_credential(&split_url(url)?).map(|(k, _, _)| k)
    }

    #[test]
    fn database_urls_with_passwords() {
        let cases = [
            ("postgres://app:Wq9x2Lk7@db.internal:5432/prod", "postgres-connection-string"),
            ("postgresql://app:Wq9x2Lk7@localhost/prod?sslmode=require", "postgres-connection-string"),
            ("mysql://root:Wq9x2Lk7@127.0.0.1:3306/shop", "mysql-connection-string"),
            ("mongodb://admin:Wq9x2Lk7@mongo-0,mongo-1/app?replicaSet=rs0", "mongodb-connection-string"),
            ("mongodb+srv://svc:Wq9x2Lk7@cluster0.ab1cd.mongodb.net/app", "mongodb-connection-string"),
            ("redis://:Wq9x2Lk7@cache:6379/0", "redis-connection-string"),
            ("rediss://default:Wq9x2Lk7@cache.example.com:6380", "redis-connection-string"),
            ("amqp://guest:Wq9x2Lk7@mq:5672/vhost", "amqp-connection-string"),
            ("amqps://svc:Wq9x2Lk7@mq.example.com", "amqp-connection-string"),
            ("jdbc:postgresql://db:5432/app?user=app&password=Wq9x2Lk7", "jdbc-connection-string"),
            ("jdbc:sqlserver://db:1433;databaseName=app;user=sa;password=Wq9x2Lk7", "jdbc-connection-string"),
            ("jdbc:mysql://app:Wq9x2Lk7@db/app", "jdbc-connection-string"),
            ("postgresql://db/app?user=x&password=Wq9x2Lk7", "postgres-connection-string"),
            ("https://deploy:Wq9x2Lk7@git.example.com/repo.git", "url-credentials"),
            (
                "https://acct.blob.core.windows.net/c?sv=2022-11-02&se=2026-01-01&sp=r&sig=Zq8mV3xT0bLk9WcN2pRf7Hs%3D",
                "azure-sas-token",
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(kind(url), Some(expected), "{url}");
        }
    }

    #[test]
    fn urls_without_credentials() {
        for url in [
            "postgres://app@db.internal:5432/prod",
            "postgres://db.internal:5432/prod",
            "postgresql://app:@localhost/prod",
            "mysql://user:password@localhost/db", // documentation placeholder
            "mongodb://<user>:<password>@host/db",
            "https://mcp.example.com/sse?transport=sse",
            "jdbc:postgresql://db:5432/app?user=app",
            "https://acct.blob.core.windows.net/c/file.txt?sig=",
            "redis://cache:6379/0",
        ] {
            assert_eq!(kind(url), None, "{url}");
        }
        assert_eq!(split_url("not a url"), None);
        assert_eq!(split_url("://nohost"), None);
    }

    #[test]
    fn query_parameters_are_exposed() {
        let parts = split_url("https://x.io/mcp?api_key=abc&flag&mode=fast").unwrap();
        assert_eq!(parts.params, [("api_key", "abc"), ("mode", "fast")]);
        assert_eq!(parts.password, None);
        assert_eq!(parts.host, "x.io");
    }

    #[test]
    fn sentry_dsns_are_recognised() {
        let dsn = split_url("https://0f4c9a7e2b1d8c3e5f6a7b8c9d0e1f2a@o123456.ingest.sentry.io/7654321").unwrap();
        assert!(dsn.is_sentry_dsn());
        assert!(!split_url("https://0f4c9a7e2b1d8c3e@git.example.com/x").unwrap().is_sentry_dsn());
        assert!(!split_url("https://u:p@o1.ingest.sentry.io/2").unwrap().is_sentry_dsn());
    }
}
