//! Fixture tests for the `trae` client module (to be written).
