//! Fixture tests for the `claude_desktop` client module (to be written).
