//! Fixture tests for the `docker_mcp_toolkit` client module (to be written).
