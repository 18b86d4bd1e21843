//! Webhook body signatures: HMAC-SHA256 over `"{timestamp}.{body}"` under the endpoint's secret,
//! sent as `Muster-Signature: t=<unix seconds>,v1=<hex>`.
//!
//! The timestamp is signed with the body, so a receiver that checks it against its own clock
//! ([`verify`] with a tolerance) refuses a captured request replayed later. Every attempt is
//! signed afresh. Receivers should also de-duplicate on `Muster-Event-Id`: a retry after a lost
//! response repeats the event within the window.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "muster-signature";
pub const EVENT_ID_HEADER: &str = "muster-event-id";
/// How far a signature's timestamp may be from the receiver's clock (either way).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header is malformed")]
    Malformed,
    #[error("signature timestamp {timestamp} is outside the replay window")]
    Stale { timestamp: i64 },
    #[error("signature does not match")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // An HMAC key may have any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("hmac accepts keys of any length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Muster-Signature` header value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(mac(secret, timestamp, body).finalize().into_bytes()))
}

/// Checks a `Muster-Signature` header against `body`, the shared secret and the receiver's clock
/// `now`. Comparison is constant-time; the timestamp must lie within `tolerance` of `now`.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64, tolerance: Duration) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            Some(("v1", value)) => signatures.push(hex::decode(value).map_err(|_| SignatureError::Malformed)?),
            // Unknown schemes are ignored so a later v2 can be sent alongside v1.
            Some(_) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let window = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now.abs_diff(timestamp) > window.unsigned_abs() {
        return Err(SignatureError::Stale { timestamp });
    }
    let expected = mac(secret, timestamp, body);
    if signatures.iter().any(|signature| expected.clone().verify_slice(signature).is_ok()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn signature_verifies_with_the_secret_only() {
        let header = sign(b"whsec-test", NOW, b"{\"a\":1}");
        assert!(header.starts_with(&format!("t={NOW},v1=")));
        assert_eq!(verify(b"whsec-test", &header, b"{\"a\":1}", NOW + 10, DEFAULT_TOLERANCE), Ok(()));
        assert_eq!(
            verify(b"whsec-wrong", &header, b"{\"a\":1}", NOW, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"whsec-test", &header, b"{\"a\":2}", NOW, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch),
            "a changed body must not verify"
        );
    }

    #[test]
    fn stale_or_future_timestamps_are_refused() {
        let header = sign(b"k", NOW, b"body");
        let window = DEFAULT_TOLERANCE.as_secs() as i64;
        assert_eq!(verify(b"k", &header, b"body", NOW + window, DEFAULT_TOLERANCE), Ok(()));
        assert_eq!(
            verify(b"k", &header, b"body", NOW + window + 1, DEFAULT_TOLERANCE),
            Err(SignatureError::Stale { timestamp: NOW })
        );
        assert_eq!(
            verify(b"k", &header, b"body", NOW - window - 1, DEFAULT_TOLERANCE),
            Err(SignatureError::Stale { timestamp: NOW })
        );
    }

    #[test]
    fn a_replayed_signature_with_a_rewritten_timestamp_fails() {
        let header = sign(b"k", NOW - 3600, b"body");
        let forged = header.replacen(&format!("t={}", NOW - 3600), &format!("t={NOW}"), 1);
        assert_eq!(verify(b"k", &forged, b"body", NOW, DEFAULT_TOLERANCE), Err(SignatureError::Mismatch));
    }

    #[test]
    fn malformed_headers_are_refused() {
        for header in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "garbage"] {
            assert_eq!(verify(b"k", header, b"", 1, DEFAULT_TOLERANCE), Err(SignatureError::Malformed), "{header}");
        }
    }
}
