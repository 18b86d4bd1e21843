//! Fixture tests for the `boltai` client module (to be written).
