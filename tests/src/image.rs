//! Synthetic machine images for the sandbox's agents: the agent's own generator
//! (`agent/tests/common/synthetic.rs`, shared rather than copied) in the Linux layout with one
//! user, plus the edits the scenarios make to a running agent's image. Edits are written to a
//! temporary file and renamed over the config, as editors do, so the agent never reads half a file.

use std::path::{Path, PathBuf};

use anyhow::Context;

#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../../agent/tests/common/synthetic.rs"]
mod synthetic;

/// The image's only user.
pub const USER: &str = "dev";

/// Writes the image under `root`; returns how many servers it holds.
pub fn write(root: &Path) -> usize {
    synthetic::write_image(root, synthetic::ImageOs::Linux, &[USER], 1).servers
}

/// `~/.cursor/mcp.json` of the image's user.
pub fn cursor_config(root: &Path) -> PathBuf {
    root.join("home").join(USER).join(".cursor/mcp.json")
}

/// `~/.claude.json` of the image's user.
pub fn claude_config(root: &Path) -> PathBuf {
    root.join("home").join(USER).join(".claude.json")
}

/// Rewrites the JSON config at `path` with `edit` applied to its `mcpServers` object.
pub fn edit_mcp_servers(
    path: &Path,
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut doc: serde_json::Value = serde_json::from_str(&text)?;
    let servers = doc
        .get_mut("mcpServers")
        .and_then(|s| s.as_object_mut())
        .with_context(|| format!("{} has no mcpServers object", path.display()))?;
    edit(servers);
    let tmp = path.with_extension("e2e-tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&doc)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Adds a stdio server `name` to the image's Cursor config.
pub fn add_cursor_server(root: &Path, name: &str) -> anyhow::Result<()> {
    edit_mcp_servers(&cursor_config(root), |servers| {
        servers.insert(
            name.to_string(),
            serde_json::json!({"command": "npx", "args": ["-y", format!("@example/{name}@1.0.0")]}),
        );
    })
}

/// Removes server `name` from the image's Cursor config.
pub fn remove_cursor_server(root: &Path, name: &str) -> anyhow::Result<()> {
    let mut found = false;
    edit_mcp_servers(&cursor_config(root), |servers| found = servers.remove(name).is_some())?;
    anyhow::ensure!(found, "no server {name} in the Cursor config");
    Ok(())
}
