//! Offline structural decoding used by the detectors: base64 (standard and URL-safe, padding
//! optional), JWT headers, HTTP Basic credentials and the base62 CRC32 checksum that GitHub and
//! npm embed in their tokens.
//!
//! Nothing here verifies a signature or contacts an issuer, and nothing returns secret
//! material to callers outside [`super`]: results are booleans or non-secret metadata.

use std::sync::LazyLock;

use regex::Regex;

/// Decodes standard or URL-safe base64, with or without `=` padding. `None` on any other
/// character or an impossible length.
pub fn base64(input: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' | b'-' => Some(62),
            b'/' | b'_' => Some(63),
            _ => None,
        }
    }
    let trimmed = input.trim_end_matches('=');
    if trimmed.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in trimmed.bytes() {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            // Truncation to the low byte is the point of the cast.
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

static JWT_SHAPE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*$").ok());

/// Whether `value` is a JWT: three base64url segments whose first decodes to a JSON object with
/// an `alg` member (the header), and whose second decodes to a JSON object (the claims).
pub fn is_jwt(value: &str) -> bool {
    if !JWT_SHAPE.as_ref().is_some_and(|re| re.is_match(value)) {
        return false;
    }
    let mut parts = value.split('.');
    let (Some(header), Some(claims)) = (parts.next(), parts.next()) else { return false };
    let header_ok = json_object(header).is_some_and(|h| h.get("alg").is_some_and(|a| a.is_string()));
    header_ok && json_object(claims).is_some()
}

/// The JWT's `iss` claim, if the value is a JWT and carries one (issuer names are public).
pub fn jwt_issuer(value: &str) -> Option<String> {
    let claims = value.split('.').nth(1)?;
    json_object(claims)?.get("iss")?.as_str().map(str::to_string)
}

/// Decodes a base64 segment into a JSON object.
pub fn json_object(segment: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_slice(&base64(segment)?).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Whether a `Basic` credential decodes to `user:password` with a non-empty password.
pub fn is_basic_credential(encoded: &str) -> bool {
    let Some(bytes) = base64(encoded) else { return false };
    let Ok(text) = std::str::from_utf8(&bytes) else { return false };
    matches!(text.split_once(':'), Some((_, pass)) if !pass.is_empty() && !text.chars().any(char::is_control))
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Base62 encoding of `n`, left-padded with `0` to `width` digits.
pub fn base62(mut n: u32, width: usize) -> String {
    let mut digits = Vec::with_capacity(width);
    while n > 0 {
        digits.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.reverse();
    digits.into_iter().map(char::from).collect()
}

/// The GitHub / npm token checksum: the last six characters are the CRC32 of the 30 random
/// characters after the `xxx_` prefix, in base62 (`0-9A-Za-z`), zero-padded. The layout is
/// documented by GitHub (a 32-bit checksum in the last six characters) and npm; the exact
/// CRC32 + base62 recipe is community-derived and was checked against a published example.
pub fn has_base62_crc32(token: &str) -> bool {
    let Some((_, rest)) = token.split_once('_') else { return false };
    if rest.len() != 36 || !rest.is_ascii() {
        return false;
    }
    let (body, check) = rest.split_at(30);
    base62(crc32fast::hash(body.as_bytes()), 6) == check
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_both_alphabets_and_padding() {
        assert_eq!(base64("aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(base64("aGk").as_deref(), Some(&b"hi"[..]));
        assert_eq!(base64("-_-_").as_deref(), Some(&[0xfb, 0xff, 0xbf][..]));
        assert_eq!(base64("+/+/").as_deref(), Some(&[0xfb, 0xff, 0xbf][..]));
        assert_eq!(base64("a"), None);
        assert_eq!(base64("a*bc"), None);
    }

    #[test]
    fn jwt_needs_a_decodable_header_with_alg() {
        // {"alg":"HS256","typ":"JWT"} . {"sub":"fake","iss":"muster-test"} . sig
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJmYWtlIiwiaXNzIjoibXVzdGVyLXRlc3QifQ.c2lnbmF0dXJl";
        assert!(is_jwt(jwt));
        assert_eq!(jwt_issuer(jwt).as_deref(), Some("muster-test"));
        // {"typ":"JWT"} header without alg.
        assert!(!is_jwt("eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJmYWtlIn0.c2ln"));
        // eyJ prefix but the header is not valid base64 JSON.
        assert!(!is_jwt("eyJxxxxxxxxxxxxx.eyJzdWIiOiJmYWtlIn0.c2ln"));
        assert!(!is_jwt("eyJhbGciOiJIUzI1NiJ9.payload"));
    }

    #[test]
    fn basic_credentials() {
        assert!(is_basic_credential("YWxpY2U6czNjcjN0")); // alice:s3cr3t
        assert!(!is_basic_credential("YWxpY2U6")); // alice:
        assert!(!is_basic_credential("YWxpY2U=")); // alice
        assert!(!is_basic_credential("not base64!"));
    }

    #[test]
    fn base62_padding() {
        assert_eq!(base62(0, 6), "000000");
        assert_eq!(base62(61, 2), "0z");
        assert_eq!(base62(62, 1), "10");
        assert_eq!(base62(u32::MAX, 6), "4gfFC3");
    }

    #[test]
    fn crc_checksum_accepts_generated_and_rejects_altered_tokens() {
        let body = "Zq8mV3xT0bLk9WcN2pRf7HsJd4YgAe";
        let token = format!("ghp_{body}{}", base62(crc32fast::hash(body.as_bytes()), 6));
        assert!(has_base62_crc32(&token));
        let mut altered = token.clone().into_bytes();
        altered[10] = if altered[10] == b'a' { b'b' } else { b'a' };
        assert!(!has_base62_crc32(&String::from_utf8(altered).unwrap()));
        assert!(!has_base62_crc32("ghp_short"));
    }
}
