//! Fixture tests for the `zed` client module (to be written).
