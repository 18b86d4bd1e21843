//! Fixture tests for the `factory_droid` client module (to be written).
