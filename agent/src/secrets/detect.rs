//! The credential detector: given a value and where it was found, say whether it is a
//! literal secret (and of which kind) or a reference to one. The result names the kind,
//! provider, source and confidence, never the value.
//!
//! Order of judgement for one value:
//! 1. a field that is itself an indirection (`bearer_token_env_var`), or a value holding a
//!    reference (`${env:X}`, `op://...`): a [`Source::Reference`], unless the text around the
//!    references (a `${X:-default}` default, say) is itself a literal secret;
//! 2. empty values, placeholders and publishable identifiers (`pk_live_`): nothing;
//! 3. provider shapes (`providers.rs`), structured values (PEM private keys, Google
//!    service-account JSON, Kubernetes `Secret` manifests, JWTs), `Bearer`/`Basic`/`token`
//!    authorization values, URLs and connection strings (`connection.rs`);
//! 4. name-dependent shapes (`context.rs`);
//! 5. any literal under a password name (`PASSWORD`, `PGPASSWORD`, `--passphrase`);
//! 6. the generic entropy rule ([`super::entropy`]) under a secret-like name;
//! 7. otherwise, secrets embedded in a larger value ([`detect_embedded`]).
//!
//! A GitHub, npm or Sentry look-alike whose checksum or payload does not verify keeps its
//! provider but not its kind: it is reported as [`CHECKSUM_FAILED_KIND`] with low confidence
//! (step 3), wherever it is. A mistyped or truncated token is still a literal credential in a
//! config file, which is the hygiene problem Muster reports; the kind says it did not verify.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::Secret;
use super::connection::{split_url, url_credential};
use super::context::match_context;
use super::decode;
use super::detection::{CHECKSUM_FAILED_KIND, Confidence, Detection, Embedded, REFERENCE_KIND, Source};
use super::entropy::is_high_entropy;
use super::lazy::literal_prefix;
use super::location::Location;
use super::names::{is_password_name, is_secret_like, provider_hint};
use super::providers::{Rule, is_public_identifier};
use super::reference::{
    Reference, indirection_syntax, is_indirection_field, is_placeholder, references, strip_references,
};
use super::rules::{match_shape, match_token};

type Found = (&'static str, &'static str, Confidence);

fn literal((kind, provider, confidence): Found) -> Detection {
    Detection { kind, provider, source: Source::Literal, confidence }
}

/// Judges one value found at `location`. See the module doc for the order of rules.
pub fn detect(location: &Location<'_>, value: &Secret) -> Option<Detection> {
    let v = value.expose().trim();
    if v.is_empty() {
        return None;
    }
    let name = location.context_name();
    if let Location::Field(field) = location
        && is_indirection_field(field)
    {
        let reference = Reference { syntax: indirection_syntax(field), name: v.to_string() };
        return Some(reference_detection(reference, provider_hint(v)));
    }
    let refs = references(v);
    if let Some(first) = refs.into_iter().next() {
        let residual = strip_references(v);
        let residual = residual.trim();
        // Literal text around a reference is judged without the name: `prefix-${X}` under
        // `PASSWORD` is not a password. A lone `${X:-default}` leaves only its default, which
        // is judged with the name.
        let lone_default = v.starts_with("${") && v.ends_with('}') && !residual.contains(char::is_whitespace);
        let residual_name = if lone_default { name } else { None };
        if !is_placeholder(residual)
            && let Some(found) = classify(residual_name, residual, true)
        {
            return Some(literal(found));
        }
        let secret_context = name.is_some_and(|n| is_secret_like(n) || is_password_name(n))
            || is_secret_like(&first.name)
            || first.syntax.is_secret_store();
        if !secret_context {
            return None;
        }
        let hint = match provider_hint(&first.name) {
            "unknown" => name.map_or("unknown", provider_hint),
            p => p,
        };
        return Some(reference_detection(first, hint));
    }
    if is_placeholder(v) {
        return None;
    }
    classify(name, v, true).map(literal)
}

fn reference_detection(reference: Reference, provider: &'static str) -> Detection {
    Detection { kind: REFERENCE_KIND, provider, source: Source::Reference(reference), confidence: Confidence::High }
}

/// Literal classification of a whole value under an optional name. `embedded` allows the
/// final scan for secrets inside the value (off when classifying a part of a value).
fn classify(name: Option<&str>, v: &str, embedded: bool) -> Option<Found> {
    if v.is_empty() || is_placeholder(v) {
        return None;
    }
    if let Some(found) = provider_token(v) {
        return Some(found);
    }
    if is_public_identifier(v) {
        return None;
    }
    if let Some(found) = structured(v) {
        return Some(found);
    }
    if let Some(found) = authorization(name, v) {
        return Some(found);
    }
    if !v.contains(char::is_whitespace)
        && let Some(parts) = split_url(v)
    {
        return url(v, &parts);
    }
    if let Some(name) = name {
        if let Some(found) = match_context(name, v) {
            return Some(found);
        }
        let hint = provider_hint(name);
        // Passphrases may contain spaces; a password is one line of at most 128 characters.
        if is_password_name(name) && (4..=128).contains(&v.chars().count()) && !v.contains('\n') {
            return Some(("password", hint, Confidence::Medium));
        }
        if is_secret_like(name) && is_high_entropy(v) {
            return Some(("generic-secret", hint, Confidence::Low));
        }
    }
    if embedded {
        return embedded_in(v).into_iter().map(|(_, found)| found).max_by_key(|(_, _, c)| *c);
    }
    None
}

/// A whole token with a provider's shape: that rule's kind, or [`CHECKSUM_FAILED_KIND`] with
/// the provider kept when the shape starts with a distinctive literal prefix but the rule's
/// offline check fails (a checked shape without a prefix, such as Azure DevOps' 84
/// alphanumerics, says nothing once its check fails; nor does a body that is not random).
fn provider_token(v: &str) -> Option<Found> {
    if let Some(rule) = match_token(v) {
        return Some((rule.kind, rule.provider, rule.confidence));
    }
    let rule: Rule = match_shape(v)?;
    // `ghp_000…0` is a placeholder, not a mistyped token: the body must look random.
    let random = is_high_entropy(v);
    (rule.check.is_some() && random && !literal_prefix(rule.pattern).is_empty()).then_some((
        CHECKSUM_FAILED_KIND,
        rule.provider,
        Confidence::Low,
    ))
}

/// PEM private keys, Google service-account JSON, Kubernetes Secret manifests and JWTs.
fn structured(v: &str) -> Option<Found> {
    if v.contains("\"type\"") && v.contains("\"service_account\"") && v.contains("\"private_key\"") {
        return Some(("google-service-account-key", "google", Confidence::High));
    }
    if let Some(start) = v.find("-----BEGIN ") {
        let header = v[start..].lines().next().unwrap_or("");
        if header.contains("PRIVATE KEY") && v.len() - start >= header.len() + 40 {
            let kind = if header.contains("OPENSSH") {
                ("openssh-private-key", "ssh")
            } else if header.contains("PGP") {
                ("pgp-private-key", "pgp")
            } else {
                ("private-key", "pem")
            };
            return Some((kind.0, kind.1, Confidence::High));
        }
    }
    if v.contains("kind: Secret") && (v.contains("\ndata:") || v.contains("\nstringData:")) {
        return Some(("kubernetes-secret-manifest", "kubernetes", Confidence::Medium));
    }
    if decode::is_jwt(v) {
        let provider = match decode::jwt_issuer(v) {
            Some(iss) if iss.contains("supabase") => "supabase",
            _ => "jwt",
        };
        return Some(("jwt", provider, Confidence::High));
    }
    None
}

/// `Bearer x`, `Basic x`, `token x`, `Bot x`.
fn authorization(name: Option<&str>, v: &str) -> Option<Found> {
    let (scheme, credential) = v.split_once(char::is_whitespace)?;
    let credential = credential.trim();
    if credential.is_empty() || credential.contains(char::is_whitespace) || is_placeholder(credential) {
        return None;
    }
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => {
            if !decode::is_basic_credential(credential) {
                return None;
            }
            // A provider token as the password (or user) of the pair is that provider's: Jira's
            // `email:ATATT3…`, a registry's `user:npm_…`. The decoded pair is zeroed on drop.
            let decoded = decode::base64(credential).map(zeroize::Zeroizing::new);
            let pair = decoded.as_deref().and_then(|b| std::str::from_utf8(b).ok()).and_then(|t| t.split_once(':'));
            let provider = pair.and_then(|(user, pass)| provider_token(pass).or_else(|| provider_token(user)));
            Some(provider.unwrap_or(("basic-auth", "http", Confidence::High)))
        }
        "bearer" | "token" | "bot" => {
            if let Some(found) = provider_token(credential) {
                return Some(found);
            }
            if let Some(found) = structured(credential) {
                return Some(found);
            }
            if credential.len() < 8 || credential.contains("://") {
                return None;
            }
            let provider = match name.map_or("unknown", provider_hint) {
                "unknown" => "http",
                p => p,
            };
            Some(("bearer-token", provider, Confidence::Medium))
        }
        _ => None,
    }
}

/// A URL's credential: userinfo password, `password=`, SAS signature, a token as the userinfo,
/// or a secret-named query parameter.
fn url(v: &str, parts: &super::connection::UrlParts<'_>) -> Option<Found> {
    if let Some(found) = url_credential(parts) {
        return Some(found);
    }
    if let Some(user) = parts.user
        && parts.password.is_none()
        && !parts.is_sentry_dsn()
    {
        if let Some(found) = provider_token(user) {
            return Some(found);
        }
        if is_high_entropy(user) {
            return Some(("url-credentials", "url", Confidence::Medium));
        }
    }
    if let Some(found) =
        parts.params.iter().find_map(|(k, v)| if is_placeholder(v) { None } else { classify(Some(k), v, false) })
    {
        return Some(found);
    }
    // A provider's token anywhere else: a path segment (`/mcp/tvly-.../sse`), a query value
    // under a name that says nothing (`?k=`).
    v.split(['/', '?', '&', '=', '#', '@', ':', ';', ',']).filter(|part| part.len() >= 12).find_map(provider_token)
}

/// A URL inside free text (shared with the gate, `scrub.rs`).
pub(super) static URL_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"(?:jdbc:)?[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>`]+"#).ok());

static KEY_VALUE_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?P<name>-{0,2}[A-Za-z_][A-Za-z0-9_.\-]*)"?\s*[=:]\s*"?"#,
        r#"(?P<value>(?:(?i:bearer|basic|token|bot)\s+)?[^\s"',;&{}\[\]]+)"#
    ))
    .ok()
});

static TOKEN_RE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"[A-Za-z0-9_\-+/=.~%]{16,}").ok());

static PEM_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"-----BEGIN [A-Z ]*PRIVATE KEY[A-Z ]*-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY[A-Z ]*-----|$)").ok()
});

/// Secrets inside a larger value, with their byte ranges: URLs with credentials, PEM blocks,
/// `name=value` / `name: value` pairs (`--token=x`, `Authorization: Bearer x`, JSON members,
/// `;Password=x;` connection strings) judged with the name as context, and bare tokens with a
/// provider shape. Ranges never overlap; references inside the value are not reported here.
pub fn detect_embedded(value: &Secret) -> Vec<Embedded> {
    embedded_in(value.expose())
        .into_iter()
        .map(|(range, found)| Embedded { range, detection: literal(found) })
        .collect()
}

fn embedded_in(v: &str) -> Vec<(Range<usize>, Found)> {
    let mut out: Vec<(Range<usize>, Found)> = Vec::new();
    let free = |out: &Vec<(Range<usize>, Found)>, r: &Range<usize>| {
        !out.iter().any(|(o, _)| o.start < r.end && r.start < o.end)
    };
    let mut taken_urls: Vec<Range<usize>> = Vec::new();
    // Each pattern below needs a literal the text may lack (`-----BEGIN `, `://`, `=` or `:`):
    // checked first, which is far cheaper than a search that finds nothing.
    if let Some(re) = PEM_RE.as_ref().filter(|_| v.contains("-----BEGIN ")) {
        for m in re.find_iter(v) {
            if let Some(found) = structured(m.as_str()) {
                out.push((m.range(), found));
            }
        }
    }
    if let Some(re) = URL_RE.as_ref().filter(|_| v.contains("://")) {
        for m in re.find_iter(v) {
            let text = m.as_str().trim_end_matches(['.', ',', ')', ';']);
            let range = m.start()..m.start() + text.len();
            taken_urls.push(range.clone());
            if !free(&out, &range) || !references(text).is_empty() {
                continue;
            }
            if let Some(found) = classify(None, text, false) {
                out.push((range, found));
            }
        }
    }
    if let Some(re) = KEY_VALUE_RE.as_ref().filter(|_| v.contains(['=', ':'])) {
        for caps in re.captures_iter(v) {
            let (Some(name), Some(value)) = (caps.name("name"), caps.name("value")) else { continue };
            let range = value.range();
            let in_url = taken_urls.iter().any(|u| u.start < range.end && range.start < u.end);
            if in_url || !free(&out, &range) || !references(value.as_str()).is_empty() {
                continue;
            }
            if let Some(found) = classify(Some(name.as_str()), value.as_str(), false) {
                out.push((range, found));
            }
        }
    }
    if let Some(re) = TOKEN_RE.as_ref() {
        for m in re.find_iter(v) {
            let range = m.range();
            if !free(&out, &range) {
                continue;
            }
            let found = provider_token(m.as_str())
                .or_else(|| decode::is_jwt(m.as_str()).then_some(("jwt", "jwt", Confidence::High)));
            if let Some(found) = found {
                out.push((range, found));
            }
        }
    }
    out.sort_by_key(|(r, _)| r.start);
    out
}

#[cfg(test)]
mod tests;
