//! Fixture tests for the `antigravity` client module (to be written).
