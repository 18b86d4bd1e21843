//! How each client disables one server in its own file, from the reference's client table
//! (`shared/reference/mcp-clients.md`, "Enabled state differs per client" and the per-client
//! rows, each with its source): the client's own flag where it has one, a list of disabled
//! names where the client keeps one, else Muster's sidecar (the entry moved out of the file).
//! One line per client; clients not listed get the sidecar.

use std::path::Path;

/// How one server is disabled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// Set a boolean in the server's own entry (`disabled: true`, `enabled: false`, ...).
    Flag { key: &'static str, value: bool },
    /// Add the server's name to a list of names: `list` inside the object at `parent`, in the
    /// same file (`sibling: None`) or in a file at `sibling` relative to the config's directory.
    NameList { sibling: Option<&'static str>, parent: Vec<String>, list: &'static str },
    /// Move the entry out of the file into `<file>.muster-quarantined` beside it.
    Sidecar,
}

/// The method for `client`'s entry whose server map is at `map` in the file `path`.
pub fn method_for(client: &str, path: &Path, map: &[String]) -> Method {
    let file = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    match client {
        // Source S8, S9, S16, S14, S27, S25, S26, S21: `disabled: true` in the entry.
        "cline" | "roo-code" | "kiro" | "amazon-q" | "crush" | "mistral-vibe" | "mcphub" | "windsurf" => {
            Method::Flag { key: "disabled", value: true }
        }
        // S5, S11, S13, S12, S25: `enabled: false` in the entry.
        "codex" | "zed" | "opencode" | "goose" | "kimi-code" => Method::Flag { key: "enabled", value: false },
        // S28: 5ire's `isActive`.
        "5ire" => Method::Flag { key: "isActive", value: false },
        // S4: a project's `.mcp.json` server is turned off by `disabledMcpjsonServers` in the
        // project's local settings (not committed); a local-scope server of `~/.claude.json` by
        // the project's `disabledMcpServers` list beside its `mcpServers`.
        "claude-code" if file == ".mcp.json" => Method::NameList {
            sibling: Some(".claude/settings.local.json"),
            parent: Vec::new(),
            list: "disabledMcpjsonServers",
        },
        "claude-code" if map.len() == 3 && map[0] == "projects" => {
            Method::NameList { sibling: None, parent: map[..2].to_vec(), list: "disabledMcpServers" }
        }
        // S6: Gemini CLI's `mcp.excluded` in the same settings file.
        "gemini-cli" if map == ["mcpServers"] => {
            Method::NameList { sibling: None, parent: vec!["mcp".to_string()], list: "excluded" }
        }
        _ => Method::Sidecar,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_with_their_own_switch_use_it_and_the_rest_get_the_sidecar() {
        let p = Path::new("/home/dev/x.json");
        assert_eq!(method_for("cline", p, &[]), Method::Flag { key: "disabled", value: true });
        assert_eq!(method_for("codex", p, &[]), Method::Flag { key: "enabled", value: false });
        assert_eq!(method_for("cursor", p, &[]), Method::Sidecar);
        assert!(matches!(method_for("claude-code", Path::new("/r/.mcp.json"), &[]), Method::NameList { .. }));
        assert_eq!(method_for("claude-code", Path::new("/h/.claude.json"), &["mcpServers".into()]), Method::Sidecar);
    }
}
