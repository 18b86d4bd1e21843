//! Keyed fingerprints of secret values, so the control plane can tell that two machines (or
//! two servers) hold the *same* credential without ever seeing it: lowercase hex of
//! HMAC-SHA256 under a per-fleet key, truncated to 128 bits.
//!
//! The key makes fingerprints useless for offline guessing by anyone without it, and different
//! across fleets. This module does not distribute or store the key; enrolment does.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::Secret;

/// Length of a fleet key in bytes.
pub const FLEET_KEY_LEN: usize = 32;

/// Why a fleet key could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FleetKeyError {
    #[error("the operating system random source failed: {0}")]
    Random(getrandom::Error),
}

/// The per-fleet HMAC key. `Debug` never prints it; it is zeroed on drop. No `PartialEq`: key
/// comparison outside tests has no use and would not be constant-time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct FleetKey([u8; FLEET_KEY_LEN]);

impl FleetKey {
    /// A key from stored bytes (as distributed at enrolment).
    pub fn from_bytes(bytes: [u8; FLEET_KEY_LEN]) -> FleetKey {
        FleetKey(bytes)
    }

    /// A new key from the operating system's random source.
    pub fn generate() -> Result<FleetKey, FleetKeyError> {
        let mut bytes = [0u8; FLEET_KEY_LEN];
        getrandom::fill(&mut bytes).map_err(FleetKeyError::Random)?;
        let key = FleetKey(bytes);
        bytes.zeroize();
        Ok(key)
    }

    /// The raw key, for storing it; never log it.
    pub fn as_bytes(&self) -> &[u8; FLEET_KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for FleetKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FleetKey(<redacted>)")
    }
}

/// Lowercase hex of HMAC-SHA256(key, value), truncated to the first 16 bytes (32 hex digits).
pub fn fingerprint(key: &FleetKey, value: &Secret) -> String {
    // HMAC pads keys shorter than the hash block (64 bytes for SHA-256) with zeros, so keying
    // with the 32-byte key zero-extended to a full block is the same MAC. Doing it this way
    // uses the infallible fixed-size constructor instead of `new_from_slice`'s `Result`.
    let mut block = [0u8; 64];
    block[..FLEET_KEY_LEN].copy_from_slice(&key.0);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    block.zeroize();
    mac.update(value.expose().as_bytes());
    let tag = mac.finalize().into_bytes();
    tag.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_an_independent_hmac_computation() {
        // Reference value computed with Python: hmac.new(bytes(range(32)), b"ghp_canary", sha256).
        let key = FleetKey::from_bytes(std::array::from_fn(|i| i as u8));
        assert_eq!(fingerprint(&key, &Secret::new("ghp_canary")), "ae25854075434e16630d0e590ab7e9f2");
    }

    #[test]
    fn agrees_with_the_slice_constructor() {
        let key = FleetKey::from_bytes([7; 32]);
        let mut mac = Hmac::<Sha256>::new_from_slice(&[7; 32]).unwrap();
        mac.update(b"value");
        let full = mac.finalize().into_bytes();
        let expected: String = full.iter().take(16).map(|b| format!("{b:02x}")).collect();
        assert_eq!(fingerprint(&key, &Secret::new("value")), expected);
    }

    #[test]
    fn depends_on_key_and_value_and_has_128_bits() {
        let a = FleetKey::from_bytes([1; 32]);
        let b = FleetKey::from_bytes([2; 32]);
        let s = Secret::new("same-secret");
        let fa = fingerprint(&a, &s);
        assert_eq!(fa.len(), 32);
        assert!(fa.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(fa, fingerprint(&a, &Secret::new("same-secret")));
        assert_ne!(fa, fingerprint(&b, &s));
        assert_ne!(fa, fingerprint(&a, &Secret::new("other-secret")));
    }

    #[test]
    fn generated_keys_differ_and_debug_hides_them() {
        let k1 = FleetKey::generate().unwrap();
        let k2 = FleetKey::generate().unwrap();
        assert_ne!(k1.as_bytes(), k2.as_bytes());
        assert_ne!(k1.as_bytes(), &[0u8; 32]);
        let shown = format!("{k1:?}");
        assert_eq!(shown, "FleetKey(<redacted>)");
        let key = FleetKey::from_bytes([0xab; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.contains("ab") && !shown.contains("171"));
    }
}
