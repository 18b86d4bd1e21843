//! Fixture tests for the `five_ire` client module (to be written).
