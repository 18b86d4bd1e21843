//! Fixture tests for the `goose` client module (to be written).
