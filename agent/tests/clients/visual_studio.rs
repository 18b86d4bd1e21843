//! Fixture tests for the `visual_studio` client module (to be written).
