//! Fixture tests for the `copilot_jetbrains` client module (to be written).
