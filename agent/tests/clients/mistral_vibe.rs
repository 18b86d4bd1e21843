//! Fixture tests for the `mistral_vibe` client module (to be written).
