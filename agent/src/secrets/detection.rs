//! What the detector concludes about one value: kind, provider, whether it is written in the
//! configuration or referenced, and how sure. The vocabulary the detector and its rule modules
//! (`providers`, `context`, `connection`) share; it carries no part of the value and decides
//! nothing itself (that is `detect`).

use std::ops::Range;

use super::reference::Reference;

/// How sure a detection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Confidence {
    /// Only the name and the value's randomness point at a secret.
    Low,
    /// A shape with a short or common prefix, or a shape confirmed by the name.
    Medium,
    /// A checksum, a distinctive prefix with exact length, or an unambiguous structure.
    High,
}

/// Whether the secret is written in the configuration or only referenced from it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    Literal,
    Reference(Reference),
}

/// What the detector concluded about one value. Carries no part of the value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Detection {
    /// Stable id of the credential kind (`github-classic-pat`, `postgres-connection-string`,
    /// `generic-secret`, `secret-reference`).
    pub kind: &'static str,
    /// The issuer (`github`), a family (`postgres`, `http`, `pem`), or `unknown`.
    pub provider: &'static str,
    pub source: Source,
    pub confidence: Confidence,
}

impl Detection {
    pub fn is_literal(&self) -> bool {
        self.source == Source::Literal
    }
}

/// A secret found inside a larger value, with its byte range in that value (for masking).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Embedded {
    pub range: Range<usize>,
    pub detection: Detection,
}

/// Kind of a [`Source::Reference`] detection.
pub const REFERENCE_KIND: &str = "secret-reference";

/// Kind of a literal that has a provider's distinctive shape (`ghp_`, `npm_`, `sntrys_`) but
/// fails the offline check that comes with it (checksum, payload). It keeps that provider: a
/// mistyped, truncated or made-up token in a config is still that provider's credential slot.
pub const CHECKSUM_FAILED_KIND: &str = "checksum-failed";
