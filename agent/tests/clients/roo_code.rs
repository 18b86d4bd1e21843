//! Fixture tests for the `roo_code` client module (to be written).
