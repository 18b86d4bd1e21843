//! Fixture tests for the `cline` client module (to be written).
