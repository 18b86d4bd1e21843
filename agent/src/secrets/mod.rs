//! Handling of secret values inside the agent: the [`Secret`] holder, credential detection,
//! keyed fingerprints and masking of arguments and URLs for display.
//!
//! A raw value from a configuration file lives only in a [`Secret`], whose `Debug` and
//! `Display` print a placeholder and whose memory is zeroed on drop. Everything that leaves the
//! process (JSON, tables, logs, the wire) goes through [`mask`] or carries names only: a
//! [`Detection`] names a kind and provider, a [`fingerprint()`] is a keyed hash.
//!
//! Entry points: [`detect()`] for one value at a [`Location`], [`detect_embedded`] for secrets
//! inside a larger value, [`reference()`] for `${env:X}`-style references, [`fingerprint()`]
//! with a [`FleetKey`]. The rules are summarised in `docs/secret-detection.md`.

mod connection;
mod context;
mod decode;
pub mod detect;
pub mod detection;
pub mod entropy;
pub mod fingerprint;
pub mod keyshapes;
pub mod lazy;
pub mod location;
pub mod mask;
pub mod names;
mod providers;
pub mod reference;
pub mod rules;
pub mod scrub;

pub use detect::{detect, detect_embedded};
pub use detection::{Confidence, Detection, Embedded, REFERENCE_KIND, Source};
pub use fingerprint::{FLEET_KEY_LEN, FleetKey, FleetKeyError, fingerprint};
pub use location::Location;
pub use reference::{Reference, ReferenceSyntax, is_placeholder, reference};

use zeroize::Zeroizing;

/// One provider shape rule, as data: for tests that generate values of every family the
/// detector knows (the leak tests) without copying the rules.
#[derive(Clone, Debug)]
pub struct ProviderShape {
    pub kind: &'static str,
    pub provider: &'static str,
    /// The rule's regex for a whole token, without anchors.
    pub pattern: &'static str,
    /// The literal text every match starts with (`ghp_`, `sk-ant-api03-`), public by design.
    pub literal_prefix: String,
    /// Whether the rule also checks a checksum or payload a random value will fail.
    pub checked: bool,
}

/// Every provider shape rule of the rules in force ([`rules::current`]), in match order.
pub fn provider_shapes() -> Vec<ProviderShape> {
    rules::current()
        .shapes()
        .rules()
        .map(|r| ProviderShape {
            kind: r.kind,
            provider: r.provider,
            pattern: r.pattern,
            literal_prefix: lazy::literal_prefix(r.pattern),
            checked: r.check.is_some(),
        })
        .collect()
}

/// A value that may be a secret. Redacted when formatted; zeroed when dropped.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(Zeroizing::new(value.into()))
    }

    /// The raw value, for detectors and fingerprinting inside the agent only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("ghp_canary");
        assert!(!format!("{s:?} {s}").contains("canary"));
        assert_eq!(s.expose(), "ghp_canary");
    }
}
