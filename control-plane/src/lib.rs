//! Muster control plane: receives agent reports over mutual-TLS gRPC and stores them.
//!
//! Data flow: `grpc` (TLS 1.3, client certificates from the fleet CA in `pki`) → `enroll` for new
//! agents, `ingest` rules for reports → `store` (SQLite or PostgreSQL); `http` (dashboard and API)
//! → the admin use-cases (`access`, `agents`, `enroll::admin`, `findings`, `webhook::admin`), which
//! the CLI calls too → `store`. [`server::serve`] runs the gRPC and HTTP listeners it is given
//! until a shutdown future resolves. The binary `muster-server` only parses arguments and calls
//! into this crate.

#![forbid(unsafe_code)]

pub mod access;
pub mod admission;
pub mod agents;
pub mod audit;
pub mod compliance;
pub mod config;
pub mod data_bundles;
pub mod enroll;
pub mod error;
pub mod exception_requests;
pub mod export;
pub mod finding_catalog;
pub mod findings;
pub mod grpc;
pub mod http;
pub mod ingest;
pub mod mcp_registry;
pub mod pki;
pub mod policies;
pub mod policy_preview;
pub mod quickstart;
pub mod rollup;
pub mod server;
pub mod state;
pub mod store;
pub mod timefmt;
pub mod webhook;
pub mod words;

pub use server::serve;
pub use state::ControlPlane;

#[cfg(feature = "testing")]
pub mod testing;
