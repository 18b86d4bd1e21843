//! Muster's wire contract: the protobuf messages and gRPC services shared by the agent and the
//! control plane, and the agent's local API for the developer's tools.
//!
//! The Rust code under `src/gen/` is generated from `muster/**/*.proto` and committed, so no build
//! needs `protoc`. `tests/generated_up_to_date.rs` regenerates it with the pure-Rust `protox`
//! compiler and fails when the committed copy is stale; `cargo run -p muster-proto --example
//! generate` rewrites it. Beside it: [`words`], the one table spelling every enum value as a word
//! for the public surfaces, the newtype ids [`AgentId`] and [`ServerId`], and [`tags`], the rule
//! for endpoint tags. This crate depends on no agent or server crate.

#![forbid(unsafe_code)]

pub use prost;
pub use tonic;

mod ids;
mod policy_signing;
pub mod tags;
pub mod words;

pub use ids::{AgentId, ServerId};
pub use policy_signing::{DATA_SIGNING_DOMAIN, POLICY_SIGNING_DOMAIN, data_signing_message, policy_signing_message};
pub use words::WireWord;

/// Version 1 of the contract (`package muster.v1`).
pub mod v1 {
    #![allow(clippy::all, missing_docs)]
    include!("gen/muster.v1.rs");
}

/// The agent's local API (`package muster.local.v1`): the calling user's own state, served on a
/// Unix domain socket. See `muster/local/v1/local.proto`.
pub mod local {
    /// Version 1 of the local API.
    pub mod v1 {
        #![allow(clippy::all, missing_docs)]
        include!("gen/muster.local.v1.rs");
    }

    pub mod socket;

    #[cfg(all(unix, feature = "local-client"))]
    pub mod client;
}
