//! Enforcement on the laptop: making the AI clients obey published policy decisions.
//! `client_policy` compiles decisions into each client's own enterprise policy file.
//! This module does not evaluate policies (that is `muster-policy`'s job).

pub mod client_policy;
