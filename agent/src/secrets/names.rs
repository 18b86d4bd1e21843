//! What a variable, header, flag or field *name* says about its value: whether it is
//! secret-like (so the generic entropy rule may apply), whether it names a password, and
//! which provider it hints at. Names are never secret, so these functions take `&str`.
//!
//! The word list is shared with display masking ([`super::mask::is_secret_name`]); this module
//! narrows it for detection by excluding names that *describe* a secret without holding one
//! (`*_KEY_ID`, `*_TOKEN_PATH`, `AUTH_TYPE`).

use super::mask;

/// Upper case, `-` and `.` as `_`, leading dashes and surrounding quotes removed:
/// `--api-key` → `API_KEY`, `x-api-key` → `X_API_KEY`.
pub fn normalise(name: &str) -> String {
    name.trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .trim_start_matches('-')
        .to_ascii_uppercase()
        .replace(['-', '.', ' '], "_")
}

/// Last segments that describe a secret's metadata, not the secret.
const METADATA_SUFFIXES: &[&str] = &[
    "ID",
    "IDS",
    "PATH",
    "FILE",
    "DIR",
    "URL",
    "URI",
    "NAME",
    "USER",
    "USERNAME",
    "EMAIL",
    "HOST",
    "PORT",
    "REGION",
    "TYPE",
    "MODE",
    "METHOD",
    "LENGTH",
    "TTL",
    "EXPIRY",
    "EXPIRES",
    "ENV",
    "VAR",
    "HELPER",
    "COMMAND",
    "CMD",
    "ENABLED",
    "PROVIDER",
    "ENDPOINT",
    "SCOPE",
    "SCOPES",
    "VERSION",
    "ALGORITHM",
    "FORMAT",
    "TIMEOUT",
    "LOCATION",
    "STORE",
];

/// Whether the name suggests its value is a credential (`*_TOKEN`, `*_KEY`, `*_SECRET`,
/// `PASSWORD`, `*_PAT`, `AUTH*`, `--token`, `Authorization`, `X-API-Key`, ...).
pub fn is_secret_like(name: &str) -> bool {
    let n = normalise(name);
    if n.is_empty() || !mask::is_secret_name(&n) || n.contains("PUBLISHABLE") || n.split('_').any(|s| s == "PUBLIC") {
        return false;
    }
    let last = n.rsplit('_').next().unwrap_or(&n);
    !METADATA_SUFFIXES.contains(&last)
}

/// Whether the name is a password field (`PASSWORD`, `PGPASSWORD`, `MYSQL_PASS`, `REDIS_PWD`,
/// `--passphrase`): any non-placeholder value there is a literal password.
pub fn is_password_name(name: &str) -> bool {
    let n = normalise(name);
    let last = n.rsplit('_').next().unwrap_or(&n);
    if METADATA_SUFFIXES.contains(&last) {
        return false;
    }
    n.contains("PASSWORD")
        || n.contains("PASSWD")
        || n.contains("PASSPHRASE")
        || n.split('_').any(|s| s == "PASS" || s == "PWD")
}

/// Whether `keyword` appears in the normalised name: as a whole `_` segment for keywords of
/// three characters or fewer (`GH`, `DD`, `CF`), anywhere otherwise (`GITHUB`).
pub fn has_keyword(normalised: &str, keyword: &str) -> bool {
    if keyword.len() <= 3 { normalised.split('_').any(|s| s == keyword) } else { normalised.contains(keyword) }
}

/// Name keywords and the provider they point at.
const HINTS: &[(&str, &str)] = &[
    ("GITHUB", "github"),
    ("GH", "github"),
    ("GITLAB", "gitlab"),
    ("SLACK", "slack"),
    ("AWS", "aws"),
    ("OPENAI", "openai"),
    ("ANTHROPIC", "anthropic"),
    ("CLAUDE", "anthropic"),
    ("GOOGLE", "google"),
    ("GEMINI", "google"),
    ("GCP", "google"),
    ("STRIPE", "stripe"),
    ("JIRA", "atlassian"),
    ("CONFLUENCE", "atlassian"),
    ("ATLASSIAN", "atlassian"),
    ("NOTION", "notion"),
    ("LINEAR", "linear"),
    ("SENTRY", "sentry"),
    ("DATADOG", "datadog"),
    ("DD", "datadog"),
    ("CLOUDFLARE", "cloudflare"),
    ("CF", "cloudflare"),
    ("HUGGINGFACE", "huggingface"),
    ("HF", "huggingface"),
    ("NPM", "npm"),
    ("PYPI", "pypi"),
    ("SUPABASE", "supabase"),
    ("TWILIO", "twilio"),
    ("SENDGRID", "sendgrid"),
    ("AZURE", "azure"),
    ("ADO", "azure"),
    ("GRAFANA", "grafana"),
    ("VAULT", "hashicorp"),
    ("TFE", "hashicorp"),
    ("TERRAFORM", "hashicorp"),
    ("HEROKU", "heroku"),
    ("OKTA", "okta"),
    ("MONGO", "mongodb"),
    ("MDB", "mongodb"),
    ("POSTGRES", "postgres"),
    ("PG", "postgres"),
    ("MYSQL", "mysql"),
    ("REDIS", "redis"),
];

/// The provider a name hints at, or `"unknown"`: the built-in keywords first, then those of
/// `credentials.toml` in force (`BRAVE`, `CONTEXT7`, `TAVILY`, ..., and a data bundle's).
pub fn provider_hint(name: &str) -> &'static str {
    let n = normalise(name);
    if let Some((_, p)) = HINTS.iter().find(|(kw, _)| has_keyword(&n, kw)) {
        return p;
    }
    super::rules::current().hint(|kw| has_keyword(&n, kw)).unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising() {
        assert_eq!(normalise("--api-key"), "API_KEY");
        assert_eq!(normalise("\"x-api-key\""), "X_API_KEY");
    }

    #[test]
    fn secret_like_names() {
        for n in [
            "GITHUB_PERSONAL_ACCESS_TOKEN",
            "API_KEY",
            "--token",
            "--api-key",
            "Authorization",
            "X-API-Key",
            "SNOWFLAKE_PAT",
            "AUTH_TOKEN",
            "CLIENT_SECRET",
            "apiKey",
            "PASSWORD",
        ] {
            assert!(is_secret_like(n), "{n}");
        }
        for n in [
            "STRIPE_PUBLISHABLE_KEY",
            "PUBLIC_KEY",
            "AWS_ACCESS_KEY_ID",
            "TOKEN_PATH",
            "AUTH_TYPE",
            "SECRET_NAME",
            "HOME",
            "--port",
            "PATH",
            "KEYBOARD",
        ] {
            assert!(!is_secret_like(n), "{n}");
        }
    }

    #[test]
    fn password_names() {
        for n in ["PASSWORD", "PGPASSWORD", "MYSQL_PASS", "REDIS_PWD", "--passphrase", "db_password"] {
            assert!(is_password_name(n), "{n}");
        }
        for n in ["PASSWORD_FILE", "PASSPORT_ID", "BYPASS", "COMPASS_URL", "API_KEY"] {
            assert!(!is_password_name(n), "{n}");
        }
    }

    #[test]
    fn provider_hints() {
        assert_eq!(provider_hint("GITHUB_TOKEN"), "github");
        assert_eq!(provider_hint("GH_TOKEN"), "github");
        assert_eq!(provider_hint("DD_API_KEY"), "datadog");
        assert_eq!(provider_hint("ADDRESS_KEY"), "unknown");
        assert_eq!(provider_hint("BRAVE_API_KEY"), "brave");
        assert_eq!(provider_hint("CONTEXT7_API_KEY"), "context7");
        assert_eq!(provider_hint("--tavily-api-key"), "tavily");
        assert_eq!(provider_hint("RANDOM_API_KEY"), "unknown");
    }
}
