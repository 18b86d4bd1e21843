//! A synthetic machine image for end-to-end tests and the scan benchmark: several users, each
//! with a spread of client files (JSON, JSONC, YAML, TOML), per-project entries recorded only in
//! `~/.claude.json`, repositories under `~/src`, and a managed file. Written at the paths the
//! given OS uses; returns what it wrote so tests can check the scan against it.

#![allow(dead_code)] // shared by the tests and the benchmark; each uses a part

use std::path::{Path, PathBuf};

/// The scanned OS, as the CLI spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageOs {
    Linux,
    Macos,
    Windows,
}

impl ImageOs {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageOs::Linux => "linux",
            ImageOs::Macos => "macos",
            ImageOs::Windows => "windows",
        }
    }
}

/// What was written.
#[derive(Debug, Default)]
pub struct Written {
    pub files: usize,
    pub servers: usize,
    /// (user, machine path of a project reachable only through ~/.claude.json)
    pub recorded_only_projects: Vec<(String, String)>,
    pub managed_file: String,
}

fn home_rel(os: ImageOs, user: &str) -> PathBuf {
    match os {
        ImageOs::Linux => PathBuf::from("home").join(user),
        _ => PathBuf::from("Users").join(user),
    }
}

/// Machine spelling of a path relative to the root.
pub fn machine(os: ImageOs, rel: &Path) -> String {
    let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    match os {
        ImageOs::Windows => format!("C:\\{}", parts.join("\\")),
        _ => format!("/{}", parts.join("/")),
    }
}

fn put(root: &Path, rel: &Path, text: &str, w: &mut Written, servers: usize) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p, text).expect("write");
    w.files += 1;
    w.servers += servers;
}

fn npx_servers(prefix: &str, n: usize) -> String {
    let entries: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#""{prefix}-{i}": {{"command": "npx", "args": ["-y", "@example/{prefix}-mcp-{i}@1.{i}.0"], "env": {{"API_TOKEN": "${{env:TOKEN_{i}}}", "LOG_LEVEL": "info"}}}}"#
            )
        })
        .collect();
    entries.join(",\n    ")
}

/// Writes the image under `root` for `users`; `per_user` scales the number of repos.
pub fn write_image(root: &Path, os: ImageOs, users: &[&str], repos_per_user: usize) -> Written {
    let mut w = Written::default();
    for user in users {
        let home = home_rel(os, user);
        let (claude_desktop_dir, vscode_user, zed_settings, goose) = match os {
            ImageOs::Linux => (
                home.join(".config/Claude"),
                home.join(".config/Code/User"),
                home.join(".config/zed/settings.json"),
                home.join(".config/goose/config.yaml"),
            ),
            ImageOs::Macos => (
                home.join("Library/Application Support/Claude"),
                home.join("Library/Application Support/Code/User"),
                home.join(".config/zed/settings.json"),
                home.join(".config/goose/config.yaml"),
            ),
            ImageOs::Windows => (
                home.join("AppData/Roaming/Claude"),
                home.join("AppData/Roaming/Code/User"),
                home.join("AppData/Roaming/Zed/settings.json"),
                home.join("AppData/Roaming/Block/goose/config/config.yaml"),
            ),
        };
        put(
            root,
            &home.join(".cursor/mcp.json"),
            &format!("{{\"mcpServers\": {{\n    {}\n}}}}", npx_servers("cursor", 5)),
            &mut w,
            5,
        );
        put(
            root,
            &claude_desktop_dir.join("claude_desktop_config.json"),
            &format!("{{\"mcpServers\": {{\n    {}\n}}}}", npx_servers("desktop", 5)),
            &mut w,
            5,
        );
        put(
            root,
            &vscode_user.join("mcp.json"),
            &format!("// VS Code\n{{\"servers\": {{\n    {},\n}}}}", npx_servers("vscode", 4)),
            &mut w,
            4,
        );
        put(
            root,
            &home.join(".codeium/windsurf/mcp_config.json"),
            &format!("{{\"mcpServers\": {{\n    {}\n}}}}", npx_servers("windsurf", 4)),
            &mut w,
            4,
        );
        put(
            root,
            &home.join(".gemini/settings.json"),
            &format!("{{\"mcpServers\": {{\n    {}\n}}}}", npx_servers("gemini", 3)),
            &mut w,
            3,
        );
        put(
            root,
            &home.join(".cline/data/settings/cline_mcp_settings.json"),
            &format!("{{\"mcpServers\": {{\n    {}\n}}}}", npx_servers("cline", 3)),
            &mut w,
            3,
        );
        put(
            root,
            &home.join(".codex/config.toml"),
            "[mcp_servers.docs]\ncommand = \"uvx\"\nargs = [\"mcp-server-fetch==2025.1.1\"]\n\n[mcp_servers.gh]\ncommand = \"docker\"\nargs = [\"run\", \"-i\", \"--rm\", \"ghcr.io/github/github-mcp-server:v0.9.0\"]\nenv_vars = [\"GITHUB_TOKEN\"]\n\n[mcp_servers.remote]\nurl = \"https://mcp.example.com/mcp\"\nbearer_token_env_var = \"EXAMPLE_TOKEN\"\n",
            &mut w,
            3,
        );
        put(
            root,
            &home.join(".continue/config.yaml"),
            "name: local\nversion: 1.0.0\nschema: v1\nmcpServers:\n  - name: sqlite\n    command: uvx\n    args: [mcp-server-sqlite, --db-path, /tmp/x.db]\n  - name: time\n    command: uvx\n    args: [mcp-server-time]\n  - name: web\n    type: streamable-http\n    url: https://mcp.example.org/mcp\n",
            &mut w,
            3,
        );
        put(
            root,
            &zed_settings,
            "{\n  // Zed settings\n  \"theme\": \"One Dark\",\n  \"context_servers\": {\n    \"pg\": {\"command\": \"npx\", \"args\": [\"-y\", \"@example/pg-mcp@2.0.0\"], \"env\": {}},\n    \"remote\": {\"url\": \"https://mcp.example.net/mcp\"},\n    \"ext\": {\"source\": \"extension\", \"settings\": {}},\n  },\n}\n",
            &mut w,
            3,
        );
        put(
            root,
            &goose,
            "extensions:\n  developer:\n    type: builtin\n    enabled: true\n  github:\n    type: stdio\n    name: github\n    cmd: npx\n    args: [-y, \"@modelcontextprotocol/server-github\"]\n    envs: {}\n    env_keys: [GITHUB_PERSONAL_ACCESS_TOKEN]\n    enabled: true\n  fetch:\n    type: stdio\n    cmd: uvx\n    args: [mcp-server-fetch]\n    enabled: false\n",
            &mut w,
            2,
        );

        // Repositories under ~/src, found by the code-root walk.
        for r in 0..repos_per_user {
            let repo = home.join(format!("src/repo-{r}"));
            std::fs::create_dir_all(root.join(&repo).join(".git")).expect("mkdir .git");
            put(
                root,
                &repo.join(".mcp.json"),
                &format!("{{\"mcpServers\": {{\n    {}\n}}}}", npx_servers(&format!("repo{r}"), 3)),
                &mut w,
                3,
            );
            put(
                root,
                &repo.join(".vscode/mcp.json"),
                &format!("{{\"servers\": {{\n    {}\n}}}}", npx_servers(&format!("ws{r}"), 2)),
                &mut w,
                2,
            );
        }

        // A project only ~/.claude.json knows about: outside every code root.
        let hidden = home.join("clients/acme/portal");
        let hidden_machine = machine(os, &hidden);
        std::fs::create_dir_all(root.join(&hidden)).expect("mkdir hidden project");
        put(
            root,
            &hidden.join(".mcp.json"),
            &format!("{{\"mcpServers\": {{\n    {}\n}}}}", npx_servers("hidden", 2)),
            &mut w,
            2,
        );
        w.recorded_only_projects.push((user.to_string(), hidden_machine.clone()));
        let claude_json = serde_json::json!({
            "numStartups": 12,
            "mcpServers": {"memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}},
            "projects": {
                hidden_machine: {
                    "mcpServers": {"jira": {"type": "http", "url": "https://mcp.atlassian.com/v1/sse"}},
                    "disabledMcpServers": []
                }
            }
        });
        put(root, &home.join(".claude.json"), &serde_json::to_string_pretty(&claude_json).expect("json"), &mut w, 2);
    }

    let managed = match os {
        ImageOs::Linux => PathBuf::from("etc/claude-code/managed-mcp.json"),
        ImageOs::Macos => PathBuf::from("Library/Application Support/ClaudeCode/managed-mcp.json"),
        ImageOs::Windows => PathBuf::from("Program Files/ClaudeCode/managed-mcp.json"),
    };
    put(
        root,
        &managed,
        r#"{"mcpServers": {"corp-gateway": {"type": "http", "url": "https://mcp-gateway.corp.example/mcp"}}}"#,
        &mut w,
        1,
    );
    w.managed_file = machine(os, &managed);
    w
}
