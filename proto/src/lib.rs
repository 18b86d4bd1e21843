//! Muster's wire contract: the protobuf messages and gRPC services shared by the agent and the
//! control plane.
//!
//! The Rust code under `src/gen/` is generated from `muster/**/*.proto` and committed, so no build
//! needs `protoc`. `tests/generated_up_to_date.rs` regenerates it with the pure-Rust `protox`
//! compiler and fails when the committed copy is stale; `cargo run -p muster-proto --example
//! generate` rewrites it. Beside it: [`words`], the one table spelling every enum value as a word
//! for the public surfaces, and the newtype ids [`AgentId`] and [`ServerId`]. This crate depends
//! on no agent or server crate.

#![forbid(unsafe_code)]

pub use prost;
pub use tonic;

mod ids;
pub mod words;

pub use ids::{AgentId, ServerId};
pub use words::WireWord;

/// Version 1 of the contract (`package muster.v1`).
pub mod v1 {
    #![allow(clippy::all, missing_docs)]
    include!("gen/muster.v1.rs");
}
