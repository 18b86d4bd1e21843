//! Muster's remediation policies: the policy language (a versioned TOML file, see
//! `docs/policies.md`) and `evaluate`, which turns a policy, one endpoint's reported inventory
//! and the time into per-server decisions.
//!
//! Pure: no file, network or clock access and no async runtime. Callers read files, pass the
//! time in and act on the decisions, so the agent (on its own scan) and the control plane (on the
//! stored report of the same scan) give identical answers. Enforcement, storage, publishing and
//! signing live elsewhere; this crate gives them [`Bundle::canonical_bytes`] and
//! [`Bundle::revision`] to build on.

#![forbid(unsafe_code)]

mod builtin;
mod evaluate;
mod file;
mod model;
mod report;
pub mod time;

pub use builtin::ids as builtin_ids;
pub use evaluate::{
    Decisions, Due, Endpoint, FleetEvaluator, Lift, SHAPE_VERSION, ServerDecision, ServerInstance, ShapeConditions,
    Violation, evaluate, shape_bytes,
};
pub use file::{Diagnostic, FORMAT_VERSION, PolicyError, parse, publish};
pub use model::{Action, Bundle, Contact, Ecosystem, Os, Scope, Severity, Transport};
pub use report::render_text;
