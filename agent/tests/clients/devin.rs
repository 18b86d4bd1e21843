//! Fixture tests for the `devin` client module (to be written).
