//! Fixture tests for the `junie` client module (to be written).
