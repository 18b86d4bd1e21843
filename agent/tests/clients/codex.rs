//! Fixture tests for the `codex` client module (to be written).
