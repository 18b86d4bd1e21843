//! Fixture tests for the `kimi_code` client module (to be written).
