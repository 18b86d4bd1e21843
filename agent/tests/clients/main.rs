//! Fixture tests per MCP client: every path and scope the reference gives, on every OS layout,
//! read from realistic fixture files under `agent/tests/fixtures/<client>/`, with snapshots of
//! the normalised output. One module per client, as in `agent/src/discovery/clients/`.

// Test setup that cannot proceed should panic with a message: expect() is the point here.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

mod amazon_q;
mod amp;
mod antigravity;
mod augment;
mod boltai;
mod claude_code;
mod claude_desktop;
mod cline;
mod codex;
mod continue_dev;
mod copilot_cli;
mod copilot_jetbrains;
mod crush;
mod cursor;
mod devin;
mod docker_mcp_toolkit;
mod factory_droid;
mod five_ire;
mod gemini_cli;
mod goose;
mod jetbrains_ai;
mod junie;
mod kilo_code;
mod kimi_code;
mod kiro;
mod lm_studio;
mod mcphub;
mod mistral_vibe;
mod neighbours;
mod opencode;
mod qwen_code;
mod roo_code;
mod trae;
mod visual_studio;
mod vscode;
mod warp;
mod windsurf;
mod zed;
