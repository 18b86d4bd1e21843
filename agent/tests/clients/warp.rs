//! Fixture tests for the `warp` client module (to be written).
