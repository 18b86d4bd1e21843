//! Fixture tests for the `copilot_cli` client module (to be written).
