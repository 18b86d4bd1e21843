//! Fixture tests for the `qwen_code` client module (to be written).
