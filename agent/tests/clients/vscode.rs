//! Fixture tests for the `vscode` client module (to be written).
