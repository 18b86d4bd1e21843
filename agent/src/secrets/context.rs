//! Context rules: credential formats with no distinctive shape (AWS secret access keys,
//! Datadog keys, legacy Atlassian, Cloudflare, Sentry, Heroku and npm tokens, ...) that are
//! recognised only when the *name* they sit under points at the provider, as `secrets.md`
//! marks them ("Context" in its offline-check column).
//!
//! A context rule needs both: a keyword in the name and an exact value shape. Without the
//! name, such a value can only reach the generic entropy rule.

use std::sync::LazyLock;

use super::lazy::LazyRegex;

use super::detection::Confidence;
use super::names::{has_keyword, normalise};

/// One context rule: the name must contain one of `any` and, when `also` is not empty, one of
/// `also`; the whole value must match `pattern`.
struct ContextRule {
    kind: &'static str,
    provider: &'static str,
    any: &'static [&'static str],
    also: &'static [&'static str],
    pattern: &'static str,
}

const UUID: &str = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

const RULES: &[ContextRule] = &[
    ContextRule {
        kind: "aws-secret-access-key",
        provider: "aws",
        any: &["AWS"],
        also: &["SECRET"],
        pattern: r"[A-Za-z0-9/+]{40}",
    },
    ContextRule {
        kind: "aws-session-token",
        provider: "aws",
        any: &["AWS"],
        also: &["SESSION"],
        pattern: r"[A-Za-z0-9/+=]{100,}",
    },
    ContextRule {
        kind: "github-legacy-pat",
        provider: "github",
        any: &["GITHUB", "GH"],
        also: &[],
        pattern: r"[0-9a-f]{40}",
    },
    ContextRule {
        kind: "datadog-api-key",
        provider: "datadog",
        any: &["DD", "DATADOG"],
        also: &["API"],
        pattern: r"[0-9a-f]{32}",
    },
    ContextRule {
        kind: "datadog-app-key",
        provider: "datadog",
        any: &["DD", "DATADOG"],
        also: &["APP", "APPLICATION"],
        pattern: r"[0-9a-z]{40}",
    },
    ContextRule {
        kind: "twilio-auth-token",
        provider: "twilio",
        any: &["TWILIO"],
        also: &["TOKEN", "SECRET"],
        pattern: r"[0-9a-f]{32}",
    },
    ContextRule {
        kind: "atlassian-api-token",
        provider: "atlassian",
        any: &["JIRA", "CONFLUENCE", "ATLASSIAN"],
        also: &[],
        pattern: r"[A-Za-z0-9]{24}",
    },
    ContextRule {
        kind: "sentry-auth-token",
        provider: "sentry",
        any: &["SENTRY"],
        also: &[],
        pattern: r"[0-9a-f]{64}",
    },
    ContextRule {
        kind: "cloudflare-global-api-key",
        provider: "cloudflare",
        any: &["CLOUDFLARE", "CF"],
        also: &[],
        pattern: r"[0-9a-f]{37}",
    },
    ContextRule {
        kind: "cloudflare-api-token",
        provider: "cloudflare",
        any: &["CLOUDFLARE", "CF"],
        also: &[],
        pattern: r"[A-Za-z0-9_\-]{40}",
    },
    ContextRule {
        kind: "azure-devops-pat",
        provider: "azure",
        any: &["ADO", "AZDO", "DEVOPS"],
        also: &[],
        pattern: r"[a-z2-7]{52}",
    },
    ContextRule {
        kind: "azure-storage-account-key",
        provider: "azure",
        any: &["ACCOUNTKEY", "STORAGE"],
        also: &[],
        pattern: r"[A-Za-z0-9+/]{86}==",
    },
    ContextRule { kind: "heroku-api-key", provider: "heroku", any: &["HEROKU"], also: &[], pattern: UUID },
    ContextRule { kind: "npm-token", provider: "npm", any: &["NPM", "AUTHTOKEN"], also: &[], pattern: UUID },
    ContextRule {
        kind: "okta-api-token",
        provider: "okta",
        any: &["OKTA"],
        also: &[],
        pattern: r"00[A-Za-z0-9_\-]{40}",
    },
    ContextRule {
        kind: "vault-service-token",
        provider: "hashicorp",
        any: &["VAULT"],
        also: &[],
        pattern: r"s\.[A-Za-z0-9]{24}",
    },
];

/// Rules with their patterns compiled on first use (only rules whose name keywords match ever
/// reach their regex).
static COMPILED: LazyLock<Vec<(&'static ContextRule, LazyRegex)>> =
    LazyLock::new(|| RULES.iter().map(|r| (r, LazyRegex::whole(r.pattern))).collect());

/// The kind, provider and confidence of the first context rule `value` satisfies under `name`.
pub fn match_context(name: &str, value: &str) -> Option<(&'static str, &'static str, Confidence)> {
    let n = normalise(name);
    COMPILED
        .iter()
        .find(|(r, re)| {
            r.any.iter().any(|k| has_keyword(&n, k))
                && (r.also.is_empty() || r.also.iter().any(|k| has_keyword(&n, k)))
                && re.is_match(value)
        })
        .map(|(r, _)| (r.kind, r.provider, Confidence::Medium))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(name: &str, value: &str) -> Option<&'static str> {
        match_context(name, value).map(|(k, _, _)| k)
    }

    #[test]
    fn every_rule_compiles() {
        assert_eq!(COMPILED.len(), RULES.len());
        for (r, re) in COMPILED.iter() {
            assert!(re.compiles(), "{} does not compile", r.kind);
        }
    }

    #[test]
    fn each_rule_needs_its_name_and_its_shape() {
        let aws_secret = "Rq7Vx0bLm3Tz9WcK2pNf8HsJd4YgAe6Uo1Qi5Mw+";
        let hex32 = "a3f9c2e81b7d4065f1e2c3b4a5d6e7f8";
        let hex40 = "0f4c9a7e2b1d8c3e5f6a7b8c9d0e1f2a3b4c5d6e";
        let uuid = "3f2b8c1e-9d4a-4e7b-8c2d-1a5f6e7b8c9d";
        let cases: &[(&str, &str, &str)] = &[
            ("AWS_SECRET_ACCESS_KEY", aws_secret, "aws-secret-access-key"),
            ("GITHUB_TOKEN", hex40, "github-legacy-pat"),
            ("DD_API_KEY", hex32, "datadog-api-key"),
            ("DD_APP_KEY", "k2v9x4m7q1z8w3n6p5r0t2y7u4i9o1a3b5c7d9e1", "datadog-app-key"),
            ("TWILIO_AUTH_TOKEN", hex32, "twilio-auth-token"),
            ("JIRA_API_TOKEN", "Xk4mP9qR2sT7vW1yZ3bC5dF8", "atlassian-api-token"),
            ("SENTRY_AUTH_TOKEN", &format!("{hex32}{hex32}"), "sentry-auth-token"),
            ("CLOUDFLARE_API_KEY", "3f9c2e81b7d4065f1e2c3b4a5d6e7f8a9b0c1", "cloudflare-global-api-key"),
            ("CLOUDFLARE_API_TOKEN", "Zq8mV3xT0bLk9WcN2pRf7HsJd4YgAe6Uo1Qi5Mw_", "cloudflare-api-token"),
            ("ADO_MCP_AUTH_TOKEN", "k2v7x4m7q3z5w3n6p5r7t2y7u4i6o2a3b5c7d3e4f5g6h7j2k3l4", "azure-devops-pat"),
            ("HEROKU_API_KEY", uuid, "heroku-api-key"),
            ("NPM_TOKEN", uuid, "npm-token"),
            ("OKTA_API_TOKEN", "00Zq8mV3xT0bLk9WcN2pRf7HsJd4YgAe6Uo1Qi5Mwx", "okta-api-token"),
            ("VAULT_TOKEN", "s.Zq8mV3xT0bLk9WcN2pRf7HsJ", "vault-service-token"),
        ];
        for (name, value, expected) in cases {
            assert_eq!(kind(name, value), Some(*expected), "{name}");
            assert_eq!(kind("SOME_TOKEN", value), None, "{name} without its keyword");
        }
        // Right name, wrong shape.
        assert_eq!(kind("AWS_SECRET_ACCESS_KEY", &aws_secret[..39]), None);
        assert_eq!(kind("DD_API_KEY", "A3F9C2E81B7D4065F1E2C3B4A5D6E7FZ"), None);
        assert_eq!(kind("HEROKU_API_KEY", "3f2b8c1e9d4a4e7b8c2d1a5f6e7b8c9d"), None);
        // A short keyword must be a whole segment: `ADDRESS` is not `DD`.
        assert_eq!(kind("ADDRESS_API", hex32), None);
    }
}
