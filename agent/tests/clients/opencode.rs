//! Fixture tests for the `opencode` client module (to be written).
