//! Fixture tests for the `continue_dev` client module (to be written).
