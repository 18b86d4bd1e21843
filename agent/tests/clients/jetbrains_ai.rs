//! Fixture tests for the `jetbrains_ai` client module (to be written).
