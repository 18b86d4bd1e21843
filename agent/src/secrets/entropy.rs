//! The generic high-entropy rule: when a value with no recognisable provider format is still
//! random enough to be a credential. It is only applied under a secret-like name (see
//! [`super::names`]); on its own, randomness says nothing (hashes, ids and nonces are random too).
//!
//! A value passes when all of these hold:
//!
//! - **Charset**: only `A-Z a-z 0-9 + / = _ - . ~` (base64, base64url, hex and base62 tokens).
//!   Whitespace, `@`, `:` and quotes fail: passphrases, emails, URLs and prose are left to
//!   other rules.
//! - **Not a path**: does not start with `~`, `./`, `../`, or with `/` when it holds a second
//!   `/`, and does not end in a short file extension (`.json`, `.pem`).
//! - **Hex** (after removing `-`, so UUIDs count): at least 20 hex digits with both digits and
//!   letters, and Shannon entropy of at least **2.8 bits/char** (random 20-digit hex is above
//!   that in 99% of draws; a 40-char hex id made of few digits is not).
//! - **Anything else**: at least **16 chars**, and either all three of lower case, upper case
//!   and digits, or two of them at 24 chars or more; Shannon entropy of at least
//!   **min(0.75 × log2(len), 4.0) bits/char**. The bound scales with length because a short
//!   string cannot reach a high per-character entropy: random base62 of 16 chars is above 3.0
//!   in 99% of draws, of 32 chars above 3.75.
//! - **Vendor prefix**: if the whole value fails, a short prefix (up to 8 chars before the
//!   first `-` or `_`, as in `tvly-…`, `ctx7sk-…`) is set aside and the rest is judged alone,
//!   since a fixed prefix only lowers the per-character entropy of a random body.
//! - **Not words**: values made mostly of dictionary-looking segments (`my-api-key-for-prod`)
//!   and base64 that decodes to readable text with spaces are rejected.
//!
//! Shannon entropy here is `-Σ p(c) log2 p(c)` over the characters of the value.

use super::decode;

/// Shannon entropy of `s` in bits per character (0 for an empty string).
pub fn shannon(s: &str) -> f64 {
    let mut counts = [0usize; 256];
    let mut total = 0usize;
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    // Lengths are far below 2^52, so the conversions are exact.
    let n = total as f64;
    counts.iter().filter(|&&c| c > 0).map(|&c| c as f64 / n).map(|p| -p * p.log2()).sum()
}

fn in_charset(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-' | '.' | '~')
}

fn looks_like_path(v: &str) -> bool {
    if v.starts_with('~') || v.starts_with("./") || v.starts_with("../") {
        return true;
    }
    if v.starts_with('/') && v[1..].contains('/') {
        return true;
    }
    match v.rsplit_once('.') {
        Some((_, ext)) => (1..=5).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_lowercase()),
        None => false,
    }
}

/// Whether most of the value is made of word-like segments (`my-api-key-for-prod-2024`).
fn is_wordy(v: &str) -> bool {
    let segments: Vec<&str> = v.split(['-', '_', '.']).filter(|s| !s.is_empty()).collect();
    if segments.len() < 2 {
        return false;
    }
    let wordy: usize = segments
        .iter()
        .filter(|s| {
            s.len() >= 3
                && (s.chars().all(|c| c.is_ascii_lowercase()) || s.chars().all(|c| c.is_ascii_uppercase()))
                && s.chars().any(|c| "aeiouAEIOU".contains(c))
        })
        .map(|s| s.len())
        .sum();
    wordy * 2 >= v.len()
}

/// Whether `v` is base64 of human-readable text (contains spaces, all printable).
fn is_encoded_text(v: &str) -> bool {
    let Some(bytes) = decode::base64(v) else { return false };
    let Ok(text) = std::str::from_utf8(&bytes) else { return false };
    text.contains(' ') && text.chars().all(|c| !c.is_control() || c == '\n')
}

/// Whether `value` passes the generic high-entropy rule described in the module doc.
pub fn is_high_entropy(value: &str) -> bool {
    let v = value.trim();
    if random_body(v) {
        return true;
    }
    match v.split_once(['-', '_']) {
        Some((prefix, rest))
            if (1..=8).contains(&prefix.len()) && prefix.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            random_body(rest)
        }
        _ => false,
    }
}

fn random_body(v: &str) -> bool {
    if !v.chars().all(in_charset) || looks_like_path(v) || is_wordy(v) {
        return false;
    }
    let hex: String = v.chars().filter(|&c| c != '-').collect();
    if hex.len() >= 20
        && hex.chars().all(|c| c.is_ascii_hexdigit())
        && hex.chars().any(|c| c.is_ascii_digit())
        && hex.chars().any(|c| c.is_ascii_alphabetic())
    {
        return shannon(&hex) >= 2.8;
    }
    if v.len() < 16 {
        return false;
    }
    let classes = [
        v.chars().any(|c| c.is_ascii_lowercase()),
        v.chars().any(|c| c.is_ascii_uppercase()),
        v.chars().any(|c| c.is_ascii_digit()),
    ]
    .iter()
    .filter(|&&b| b)
    .count();
    if classes < 2 || (classes == 2 && v.len() < 24) {
        return false;
    }
    let threshold = (0.75 * (v.len() as f64).log2()).min(4.0);
    shannon(v) >= threshold && !is_encoded_text(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shannon_matches_hand_computed_values() {
        assert_eq!(shannon(""), 0.0);
        assert_eq!(shannon("aaaa"), 0.0);
        assert!((shannon("ab") - 1.0).abs() < 1e-9);
        assert!((shannon("abcd") - 2.0).abs() < 1e-9);
    }

    #[test]
    fn random_tokens_pass() {
        for v in [
            "q8ZrT4mWx2LpK9sVb3Nd",                        // 20 base62
            "Zk3mQ9xV2bN7pL4s",                            // 16 base62, three classes
            "a3f9c2e81b7d4065f1e2c3b4a5d6e7f8",            // 32 hex
            "550e8400-e29b-41d4-a716-446655440000",        // UUID under a secret name
            "Rq7Vx0bLm3Tz9WcK2pNf8HsJd4YgAe6Uo1Qi5Mw+",    // 40 base64
            "k2v9x4m7q1z8w3n6p5r0t2y7u4i9o1a3",            // 32 lower+digit
            "ctx7sk-3f2b8c1e-9d4a-4e7b-8c2d-1a5f6e7b8c9d", // vendor prefix + UUID
        ] {
            assert!(is_high_entropy(v), "{v}");
        }
    }

    #[test]
    fn near_misses_fail() {
        for v in [
            "hunter2",                                  // short
            "mysecretpassword",                         // one class
            "test-key-123456789",                       // two classes, under 24
            "my-api-key-for-production-2024",           // words
            "1.2.3-beta.4+build.5",                     // version
            "/usr/local/bin/node",                      // path
            "~/.config/mcp/token.json",                 // path
            "config.production.json",                   // file name
            "correct horse battery staple",             // spaces
            "aGVsbG8gd29ybGQgdGhpcyBpcyBub3Qgc2VjcmV0", // base64 of text
            "1111111111222222222233333333334444444444", // hex digits without letters
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1", // low entropy
            "user@example.com",                         // charset
            "release-notes-2024",                       // prefix set aside, rest too short
        ] {
            assert!(!is_high_entropy(v), "{v}");
        }
    }
}
