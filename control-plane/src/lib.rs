//! Muster control plane: receives agent reports over mutual-TLS gRPC and stores them.
//!
//! Data flow: `grpc` (TLS 1.3, client certificates from the fleet CA in `pki`) → `enroll` for new
//! agents, `ingest` rules for reports → `store` (SQLite or PostgreSQL). `server::serve` runs the
//! gRPC and HTTP listeners it is given until a shutdown future resolves. The binary `muster-server`
//! only parses arguments and calls into this crate.

#![forbid(unsafe_code)]

pub mod ingest;
pub mod pki;
pub mod store;
