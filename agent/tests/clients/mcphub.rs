//! Fixture tests for the `mcphub` client module (to be written).
