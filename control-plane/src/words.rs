//! The public spelling of wire enums on the control plane's side: [`Word`], a query-parameter
//! value parsed through `muster_proto::words` (the one table), and the OpenAPI schemas of those
//! words ([`Severity`], [`Os`], ...), which read models name with `#[schema(value_type = ...)]`
//! on fields serialised by `muster_proto::words::<enum>`.
//!
//! Nothing here spells a word itself: every word comes from the proto table, so JSON, query
//! parameters, pages, exports and webhooks cannot disagree.

use std::borrow::Cow;
use std::marker::PhantomData;

use muster_proto::WireWord;
use muster_proto::words::UNSPECIFIED;
use serde::{Deserialize, Deserializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// A query-parameter value naming a value of the wire enum `T` by its word (`high`, `macos`).
/// Numbers and `unspecified` are refused: a filter names a real value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word<T>(pub T);

impl<T: WireWord> Word<T> {
    pub fn value(self) -> T {
        self.0
    }

    pub fn number(self) -> i32 {
        self.0.number()
    }

    pub fn as_str(self) -> &'static str {
        self.0.word()
    }
}

impl<T: WireWord> std::fmt::Display for Word<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.word())
    }
}

impl<'de, T: WireWord> Deserialize<'de> for Word<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match T::from_word(&text) {
            Some(value) if value.word() != UNSPECIFIED => Ok(Word(value)),
            _ => Err(serde::de::Error::custom(format!(
                "`{}` is not a {} word (expected one of {})",
                text.chars().take(40).collect::<String>(),
                T::NAME,
                T::specified_words().join(", ")
            ))),
        }
    }
}

/// The OpenAPI schema of `T`'s words: a string with the words as its `enum`.
pub fn schema_of<T: WireWord>() -> Schema {
    let words: Vec<&str> = T::ALL.iter().map(|value| value.word()).collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(format!("`muster.v1.{}` as a word", T::NAME)))
        .enum_values(Some(words))
        .into()
}

macro_rules! word_schemas {
    ($($name:ident => $enum:ty),* $(,)?) => {
        $(
            #[doc = concat!("OpenAPI schema of `muster.v1.", stringify!($name), "` words.")]
            #[derive(Debug)]
            pub struct $name(PhantomData<$enum>);

            impl PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    RefOr::T(schema_of::<$enum>())
                }
            }

            impl ToSchema for $name {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed(stringify!($name))
                }
            }
        )*
    };
}

word_schemas!(
    Os => muster_proto::v1::Os,
    Transport => muster_proto::v1::Transport,
    Ecosystem => muster_proto::v1::Ecosystem,
    Severity => muster_proto::v1::Severity,
    ActionState => muster_proto::v1::PolicyActionState,
    Scope => muster_proto::v1::Scope,
    CredentialSource => muster_proto::v1::CredentialSource,
    ReferenceKind => muster_proto::v1::ReferenceKind,
    AuthPosture => muster_proto::v1::AuthPosture,
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use muster_proto::v1;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Q {
        severity: Option<Word<v1::Severity>>,
    }

    #[test]
    fn words_parse_and_numbers_do_not() {
        let q: Q = serde_urlencoded::from_str("severity=high").unwrap();
        assert_eq!(q.severity.map(Word::number), Some(4));
        for bad in ["severity=4", "severity=unspecified", "severity=HIGH"] {
            let error = serde_urlencoded::from_str::<Q>(bad).unwrap_err().to_string();
            assert!(error.contains("not a Severity word") && error.contains("critical"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_schema_lists_the_words_of_the_table() {
        let json = serde_json::to_value(schema_of::<v1::Os>()).unwrap();
        assert_eq!(json["enum"], serde_json::json!(["unspecified", "linux", "macos", "windows"]));
    }
}
