//! Fixture tests for the `kiro` client module (to be written).
