//! Fixture tests for the `windsurf` client module (to be written).
