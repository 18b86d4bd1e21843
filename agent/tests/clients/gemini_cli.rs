//! Fixture tests for the `gemini_cli` client module (to be written).
