//! Fixture tests for the `lm_studio` client module (to be written).
