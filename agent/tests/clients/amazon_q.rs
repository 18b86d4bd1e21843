//! Fixture tests for the `amazon_q` client module (to be written).
