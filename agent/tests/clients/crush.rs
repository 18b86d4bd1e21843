//! Fixture tests for the `crush` client module (to be written).
