//! Newtype ids of the contract: [`AgentId`] (the id the control plane gives an enrolled agent, its
//! certificate's subject) and [`ServerId`] (an agent's stable id for one MCP server as one client
//! configures it). Both travel as plain strings in protobuf and JSON; the types only keep the two
//! apart in Rust signatures.
//!
//! They do not validate: an id is whatever the issuing side wrote, checked where it is issued.

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_string())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
    };
}

string_id!(
    /// The id of an enrolled agent (one endpoint).
    AgentId
);
string_id!(
    /// The id of one MCP server on one endpoint, stable across the agent's reports.
    ServerId
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ids_are_plain_strings_on_the_wire() {
        let agent = AgentId::from("a-1");
        assert_eq!(serde_json::to_string(&agent).unwrap(), "\"a-1\"");
        assert_eq!(serde_json::from_str::<ServerId>("\"s-1\"").unwrap(), ServerId::new("s-1"));
        assert_eq!((agent.to_string(), agent.as_str()), ("a-1".to_string(), "a-1"));
    }
}
