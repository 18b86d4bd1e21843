//! The one table of wire-enum words: every `muster.v1` enum value mapped to the stable lowercase
//! word the public surfaces use (JSON API, query parameters, pages, exports, webhooks), and back.
//!
//! Protobuf numbers are the wire's business; people and other tools read words. So a read model
//! keeps the number it stores and serialises it through [`serde`]'s helpers here, a query
//! parameter parses through [`WireWord::from_word`], and nothing outside this file spells a
//! `muster.v1` enum value. A value the running build does not know (a newer agent) reads as
//! `unspecified`, never as a number.
//!
//! This module does not decide how a page *labels* a value (`macOS`, `PyPI`): that is display text
//! chosen by the page from the word.

/// A `muster.v1` enum with its public words.
pub trait WireWord: Sized + Copy + 'static {
    /// The enum's name in the contract, e.g. `Severity`.
    const NAME: &'static str;
    /// Every value, `Unspecified` first.
    const ALL: &'static [Self];

    /// The stable lowercase word, e.g. `critical`.
    fn word(self) -> &'static str;

    /// The protobuf number.
    fn number(self) -> i32;

    /// The value a word names (exact, lowercase), if any.
    fn from_word(word: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|value| value.word() == word)
    }

    /// The value of a protobuf number, if this build knows it.
    fn from_number(number: i32) -> Option<Self> {
        Self::ALL.iter().copied().find(|value| value.number() == number)
    }

    /// The word of a stored number; `unspecified` for a number this build does not know.
    fn word_of(number: i32) -> &'static str {
        Self::from_number(number).map_or(UNSPECIFIED, Self::word)
    }

    /// Every word except `unspecified`: what a filter accepts.
    fn specified_words() -> Vec<&'static str> {
        Self::ALL.iter().map(|value| value.word()).filter(|word| *word != UNSPECIFIED).collect()
    }
}

/// The word of every enum's zero value.
pub const UNSPECIFIED: &str = "unspecified";

/// One enum's table, for code that walks every enum (documentation, tests).
#[derive(Debug, Clone, Copy)]
pub struct EnumTable {
    /// The enum's name in the contract, e.g. `Severity`.
    pub name: &'static str,
    /// The snake_case stem a JSON field holding this enum is named after (`severity`,
    /// `max_severity`, `package_ecosystem`).
    pub field: &'static str,
    /// (number, word) pairs, `Unspecified` first.
    pub words: fn() -> Vec<(i32, &'static str)>,
}

macro_rules! wire_words {
    ($($enum:ident as $field:literal in $module:ident { $($variant:ident = $word:literal),* $(,)? })*) => {
        $(
            impl WireWord for crate::v1::$enum {
                const NAME: &'static str = stringify!($enum);
                const ALL: &'static [Self] = &[$(crate::v1::$enum::$variant),*];

                fn word(self) -> &'static str {
                    match self { $(crate::v1::$enum::$variant => $word),* }
                }

                fn number(self) -> i32 {
                    self as i32
                }
            }

            /// Serde helpers for a stored number of this enum: `#[serde(with = "...")]` on an `i32`
            /// field writes the word and reads a word back (an unknown word is an error).
            pub mod $module {
                use super::WireWord;

                pub fn serialize<S: ::serde::Serializer>(number: &i32, serializer: S) -> Result<S::Ok, S::Error> {
                    serializer.serialize_str(<crate::v1::$enum as WireWord>::word_of(*number))
                }

                pub fn deserialize<'de, D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
                    let word = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                    <crate::v1::$enum as WireWord>::from_word(&word).map(WireWord::number).ok_or_else(|| {
                        ::serde::de::Error::custom(format!(
                            "unknown {} `{word}`, expected one of {}",
                            $field,
                            <crate::v1::$enum as WireWord>::specified_words().join(", ")
                        ))
                    })
                }
            }
        )*

        /// Every enum of the contract, in `.proto` order.
        pub const TABLES: &[EnumTable] = &[
            $(EnumTable {
                name: stringify!($enum),
                field: $field,
                words: || <crate::v1::$enum as WireWord>::ALL.iter().map(|v| (v.number(), v.word())).collect(),
            }),*
        ];
    };
}

wire_words! {
    Os as "os" in os { Unspecified = "unspecified", Linux = "linux", Macos = "macos", Windows = "windows" }
    Scope as "scope" in scope { Unspecified = "unspecified", User = "user", Project = "project", Managed = "managed" }
    Transport as "transport" in transport {
        Unspecified = "unspecified", Stdio = "stdio", Sse = "sse", Http = "http", Ws = "ws",
    }
    ConfigFormat as "format" in config_format {
        Unspecified = "unspecified", Json = "json", Jsonc = "jsonc", Json5 = "json5", Yaml = "yaml", Toml = "toml",
        Markdown = "markdown",
    }
    Ecosystem as "ecosystem" in ecosystem {
        Unspecified = "unspecified", Npm = "npm", Pypi = "pypi", Oci = "oci", Local = "local", Binary = "binary",
    }
    CredentialSource as "source" in credential_source {
        Unspecified = "unspecified", Literal = "literal", Reference = "reference",
    }
    ReferenceKind as "reference_kind" in reference_kind {
        Unspecified = "unspecified", Environment = "environment", SecretManager = "secret_manager", Prompt = "prompt",
        File = "file",
    }
    Severity as "severity" in severity {
        Unspecified = "unspecified", Info = "info", Low = "low", Medium = "medium", High = "high", Critical = "critical",
    }
    ProblemKind as "problem" in problem_kind {
        Unspecified = "unspecified", Unreadable = "unreadable", Syntax = "syntax", ClientWillIgnore = "client_will_ignore",
        InvalidEntry = "invalid_entry", TooLarge = "too_large", Process = "process", ReportRejected = "report_rejected",
    }
    PolicyActionState as "action_state" in policy_action_state {
        Unspecified = "unspecified", Pending = "pending", Applied = "applied", Failed = "failed", Excepted = "excepted",
        NotInForce = "not_in_force",
    }
    AuthPosture as "auth_posture" in auth_posture {
        Unspecified = "unspecified", Oauth = "oauth", OauthPartial = "oauth_partial", StaticKey = "static_key",
        None = "none", Unknown = "unknown",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::v1::{Os, Severity};

    /// The words are the `.proto` value names without the enum prefix, lower-cased: stable as
    /// long as the contract is, and every value has one.
    #[test]
    fn every_value_has_its_proto_name_as_word_and_round_trips() {
        fn check<T: WireWord + std::fmt::Debug + PartialEq>(proto_name: impl Fn(T) -> &'static str) {
            let mut seen = std::collections::BTreeSet::new();
            for value in T::ALL {
                let word = value.word();
                assert!(seen.insert(word), "{} repeats {word}", T::NAME);
                assert!(proto_name(*value).to_ascii_lowercase().ends_with(&format!("_{word}")), "{value:?}");
                assert_eq!(T::from_word(word), Some(*value));
                assert_eq!(T::from_number(value.number()), Some(*value));
            }
            // A number beyond the known values (a newer peer) is never shown as a number.
            let beyond = T::ALL.iter().map(|v| v.number()).max().unwrap() + 1;
            assert_eq!(T::word_of(beyond), UNSPECIFIED);
        }
        check::<Os>(|v| v.as_str_name());
        check::<crate::v1::Scope>(|v| v.as_str_name());
        check::<crate::v1::Transport>(|v| v.as_str_name());
        check::<crate::v1::ConfigFormat>(|v| v.as_str_name());
        check::<crate::v1::Ecosystem>(|v| v.as_str_name());
        check::<crate::v1::CredentialSource>(|v| v.as_str_name());
        check::<crate::v1::ReferenceKind>(|v| v.as_str_name());
        check::<Severity>(|v| v.as_str_name());
        check::<crate::v1::ProblemKind>(|v| v.as_str_name());
        check::<crate::v1::PolicyActionState>(|v| v.as_str_name());
        check::<crate::v1::AuthPosture>(|v| v.as_str_name());
        assert_eq!(TABLES.len(), 11);
        for table in TABLES {
            assert_eq!((table.words)()[0], (0, UNSPECIFIED), "{}", table.name);
        }
    }

    #[test]
    fn serde_helpers_write_words_and_refuse_unknown_ones() {
        #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
        struct Row {
            #[serde(with = "super::severity")]
            severity: i32,
            #[serde(with = "super::os")]
            os: i32,
        }
        let row = Row { severity: Severity::High as i32, os: 9 };
        let json = serde_json::to_string(&row).unwrap();
        assert_eq!(json, r#"{"severity":"high","os":"unspecified"}"#);
        let back: Row = serde_json::from_str(r#"{"severity":"critical","os":"macos"}"#).unwrap();
        assert_eq!(back, Row { severity: 5, os: Os::Macos as i32 });
        let error = serde_json::from_str::<Row>(r#"{"severity":"urgent","os":"linux"}"#).unwrap_err().to_string();
        assert!(error.contains("unknown severity `urgent`"), "{error}");
        assert!(serde_json::from_str::<Row>(r#"{"severity":4,"os":"linux"}"#).is_err());
    }
}
