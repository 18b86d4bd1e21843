//! Fixture tests for the `claude_code` client module (to be written).
