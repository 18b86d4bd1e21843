//! Fixture tests for the `amp` client module (to be written).
