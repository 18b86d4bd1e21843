//! Fixture tests for the `kilo_code` client module (to be written).
