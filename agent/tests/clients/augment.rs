//! Fixture tests for the `augment` client module (to be written).
