//! The writers against golden files: what each writes, that an administrator's own content
//! survives byte for byte, that lifting the decisions restores the file (or removes the one
//! Muster created), and each writer's "not in force" detection on real files.

use std::path::Path;

use super::testing::*;
use super::*;
use crate::platform::{Layout, Os};

/// Compile, compare with the golden file, re-apply (nothing changes), lift (the original comes
/// back byte for byte, or the file Muster created goes).
fn round_trip(w: &dyn ClientPolicyWriter, servers: &[ServerPolicy], admin: Option<&[u8]>, golden: &str) -> Compiled {
    let none = Owned::default();
    let c = w.compile(&plan(servers, admin, &none)).expect("compiles");
    let bytes = written(&c).to_vec();
    assert_golden(w.id(), golden, &bytes);

    let again = w.compile(&plan(servers, Some(&bytes), &c.owned)).expect("compiles again");
    assert_eq!(again.change, FileChange::Unchanged, "re-applying the same decisions changes nothing");
    assert_eq!(again.owned, c.owned);

    let lifted: Vec<ServerPolicy> = servers
        .iter()
        .cloned()
        .map(|mut s| {
            s.asks = Asks::default();
            s
        })
        .collect();
    let l = w.compile(&plan(&lifted, Some(&bytes), &c.owned)).expect("compiles lifted");
    match admin {
        Some(original) => assert_eq!(
            String::from_utf8_lossy(written(&l)),
            String::from_utf8_lossy(original),
            "lifting restores the administrator's file byte for byte"
        ),
        None => assert_eq!(l.change, FileChange::Remove, "lifting removes the file Muster created"),
    }
    assert!(l.owned.is_empty(), "nothing is owned after the lift: {:?}", l.owned);
    c
}

fn results(c: &Compiled) -> Vec<(String, &'static str, OutcomeResult)> {
    c.outcomes.iter().map(|o| (o.server.clone(), o.action, o.result.clone())).collect()
}

fn secret_arg(client: &str, name: &str) -> ServerPolicy {
    let mut s = stdio(client, name, &["npx", "-y", "leaky-mcp"]);
    if let Identity::Command { args, .. } = &mut s.identity {
        args.push(None);
    }
    s
}

// ---- Claude Code ----

#[test]
fn claude_code_writes_command_and_url_denials_tool_rules_and_removes_its_drop_in() {
    let servers = vec![
        blocked(
            stdio("claude-code", "fs", &["npx", "-y", "@modelcontextprotocol/server-filesystem", "/"]),
            "no-root-fs",
        ),
        blocked(remote("claude-code", "paste", "https://paste.example.com/mcp"), "no-paste"),
        denied_tools(
            stdio("claude-code", "github", &["github-mcp-server", "stdio"]),
            "gh-delete",
            &["delete_repository"],
        ),
        approval(stdio("claude-code", "db", &["uvx", "postgres-mcp"]), "db-ask"),
        blocked(secret_arg("claude-code", "leaky"), "no-leaky"),
        blocked(stdio("cursor", "other-client", &["npx", "evil"]), "no-evil"),
    ];
    let c = round_trip(&claude_code::ClaudeCode, &servers, None, "drop-in.json");
    let r = results(&c);
    assert!(r.iter().all(|(s, _, _)| s != "other-client"), "only Claude Code's servers are compiled");
    assert!(
        matches!(&r.iter().find(|(s, _, _)| s == "leaky").unwrap().2, OutcomeResult::NotEnforceable(why) if why.contains("credential"))
    );
    let text = String::from_utf8(written(&c).to_vec()).unwrap();
    assert!(!text.contains("serverName"), "never a name-only entry");
}

#[test]
fn claude_code_writes_only_its_own_drop_in_beside_the_administrators_file() {
    let dir = tempfile::tempdir().unwrap();
    for (os, expected) in [
        (Os::Linux, "/etc/claude-code/managed-settings.d/50-muster.json"),
        (Os::Macos, "/Library/Application Support/ClaudeCode/managed-settings.d/50-muster.json"),
        (Os::Windows, "C:\\Program Files\\ClaudeCode\\managed-settings.d\\50-muster.json"),
    ] {
        let layout = Layout::image(dir.path().to_path_buf(), os);
        let p = claude_code::ClaudeCode.path(&layout).unwrap();
        assert!(p.starts_with(dir.path()), "with --root every path is under the root");
        assert_eq!(layout.display(&p), expected);
    }
}

// ---- Copilot ----

#[test]
fn copilot_adds_its_denials_to_the_administrators_file_and_takes_them_back() {
    let admin = fixture("copilot", "admin.json");
    let servers = vec![
        blocked(stdio("vscode", "fs", &["npx", "-y", "@modelcontextprotocol/server-filesystem", "/"]), "no-root-fs"),
        blocked(remote("copilot-cli", "paste", "https://paste.example.com/mcp"), "no-paste"),
        blocked(stdio("copilot-jetbrains", "evil", &["npx", "evil-mcp"]), "no-evil"),
        denied_tools(stdio("vscode", "github", &["github-mcp-server"]), "gh-delete", &["delete_repository"]),
    ];
    let c = round_trip(&copilot::Copilot, &servers, Some(&admin), "with-muster.json");
    let r = results(&c);
    assert!(matches!(&r[0].2, OutcomeResult::AlreadyEnforced(_)), "the administrator's equal entry is theirs: {r:?}");
    assert_eq!(r[1].2, OutcomeResult::Written);
    assert!(matches!(&r[3].2, OutcomeResult::NotEnforceable(_)));
    assert!(c.owned.entries.iter().all(|e| e.value.get("serverCommand")
        != Some(&serde_json::json!(["npx", "-y", "@modelcontextprotocol/server-filesystem", "/"]))));
}

#[test]
fn copilot_creates_the_file_when_absent_and_removes_it_when_lifted() {
    let servers = vec![blocked(stdio("copilot-cli", "evil", &["npx", "evil-mcp"]), "no-evil")];
    round_trip(&copilot::Copilot, &servers, None, "created.json");
}

#[test]
fn copilot_refuses_to_write_a_list_that_would_block_everything() {
    let admin = fixture("copilot", "admin-malformed.json");
    let servers = vec![blocked(stdio("copilot-cli", "evil", &["npx", "evil-mcp"]), "no-evil")];
    let err = copilot::Copilot.compile(&plan(&servers, Some(&admin), &Owned::default())).unwrap_err();
    assert!(matches!(&err, CompileError::WouldBeMalformed(why) if why.contains("allowedMcpServers[0]")), "{err}");
}

#[test]
fn copilot_validation_names_each_kind_of_malformed_list() {
    for (doc, needle) in [
        (r#"{"deniedMcpServers": {}}"#, "not an array"),
        (r#"{"deniedMcpServers": ["x"]}"#, "not an object"),
        (r#"{"deniedMcpServers": [{"serverName": "a", "serverUrl": "b"}]}"#, "exactly one"),
        (r#"{"deniedMcpServers": [{"serverHost": "a"}]}"#, "unknown matcher"),
        (r#"{"deniedMcpServers": [{"serverCommand": []}]}"#, "invalid value"),
        (r#"{"deniedMcpServers": [{"serverCommand": ["npx", 1]}]}"#, "invalid value"),
        (r#"{"allowedMcpServers": [{"serverUrl": ""}]}"#, "invalid value"),
        (
            r#"{"allowedMcpServers": [], // comment
            }"#,
            "strict JSON",
        ),
        ("[]", "not an object"),
    ] {
        let e = copilot::validate(doc.as_bytes()).unwrap_err();
        assert!(e.contains(needle), "{doc}: {e}");
    }
    copilot::validate(br#"{"deniedMcpServers": {"overridable": [{"serverUrl": "https://x/*"}]}}"#).unwrap();
    copilot::validate(&fixture("copilot", "admin.json")).unwrap();
}

// ---- VS Code ----

#[test]
fn vscode_sets_chatmcp_only_when_every_server_is_blocked() {
    let admin = fixture("vscode", "admin.json");
    let all = vec![
        blocked(stdio("vscode", "a", &["npx", "a"]), "r1"),
        blocked(remote("vscode", "b", "https://b.example/mcp"), "r2"),
    ];
    round_trip(&vscode::VsCode, &all, Some(&admin), "with-muster.json");

    let partial = vec![blocked(stdio("vscode", "a", &["npx", "a"]), "r1"), stdio("vscode", "ok", &["npx", "ok"])];
    let c = vscode::VsCode.compile(&plan(&partial, Some(&admin), &Owned::default())).unwrap();
    assert_eq!(c.change, FileChange::Unchanged);
    assert!(matches!(&c.outcomes[0].result, OutcomeResult::NotEnforceable(why) if why.contains("1 other")));
    assert_eq!(c.outcomes[0].note, None, "nothing written, nothing machine-wide to say");
}

#[test]
fn vscode_says_its_chatmcp_lever_is_machine_wide() {
    let all = vec![blocked(stdio("vscode", "a", &["npx", "a"]), "r1")];
    let c = vscode::VsCode.compile(&plan(&all, None, &Owned::default())).unwrap();
    assert_eq!(c.outcomes[0].result, OutcomeResult::Written);
    let note = c.outcomes[0].note.as_deref().unwrap();
    assert!(note.starts_with("machine-wide") && note.contains("every user"), "{note}");
    let json = serde_json::to_value(&c.outcomes[0]).unwrap();
    assert_eq!(json["note"], note, "the note reaches the outcome's JSON");
    let none = br#"{ "ChatMCP": "none" }"#;
    let c = vscode::VsCode.compile(&plan(&all, Some(none), &Owned::default())).unwrap();
    assert!(c.outcomes[0].note.as_deref().is_some_and(|n| n.starts_with("machine-wide")));
}

#[test]
fn vscode_keeps_the_administrators_chatmcp() {
    let admin = br#"{ "ChatMCP": "registry" }"#;
    let all = vec![blocked(stdio("vscode", "a", &["npx", "a"]), "r1")];
    let c = vscode::VsCode.compile(&plan(&all, Some(admin), &Owned::default())).unwrap();
    assert_eq!(c.change, FileChange::Unchanged);
    assert!(matches!(&c.outcomes[0].result, OutcomeResult::NotEnforceable(why) if why.contains("registry")));
    let none = br#"{ "ChatMCP": "none" }"#;
    let c = vscode::VsCode.compile(&plan(&all, Some(none), &Owned::default())).unwrap();
    assert!(matches!(&c.outcomes[0].result, OutcomeResult::AlreadyEnforced(_)));
    let dir = tempfile::tempdir().unwrap();
    assert!(vscode::VsCode.path(&Layout::image(dir.path().into(), Os::Macos)).is_none(), "no file lever on macOS");
}

// ---- Gemini CLI ----

#[test]
fn gemini_cli_excludes_by_name_and_keeps_comments_and_the_administrators_entries() {
    let admin = fixture("gemini-cli", "admin.json");
    let servers = vec![
        blocked(stdio("gemini-cli", "evil", &["npx", "evil-mcp"]), "no-evil"),
        blocked(stdio("gemini-cli", "legacy-jira", &["npx", "jira-mcp"]), "no-jira"),
        denied_tools(stdio("gemini-cli", "gh", &["gh-mcp"]), "gh", &["delete_repository"]),
    ];
    let c = round_trip(&gemini_cli::GeminiCli, &servers, Some(&admin), "with-muster.json");
    let r = results(&c);
    assert_eq!(r[0].2, OutcomeResult::Written);
    assert!(matches!(&r[1].2, OutcomeResult::AlreadyEnforced(_)));
    assert!(matches!(&r[2].2, OutcomeResult::NotEnforceable(_)));
}

// ---- Codex ----

#[test]
fn codex_allowlists_the_other_servers_by_name_and_identity() {
    let admin = fixture("codex", "admin.toml");
    let servers = vec![
        blocked(stdio("codex", "evil", &["npx", "-y", "evil-mcp"]), "no-evil"),
        stdio("codex", "docs", &["codex-mcp", "--stdio"]),
        remote("codex", "figma", "https://mcp.figma.com/mcp"),
        secret_arg("codex", "tokened"),
        stdio("claude-code", "not-codex", &["npx", "x"]),
    ];
    let c = round_trip(&codex::Codex, &servers, Some(&admin), "with-muster.toml");
    assert_eq!(results(&c).iter().find(|(s, _, _)| s == "evil").unwrap().2, OutcomeResult::Written);
    let text = String::from_utf8(written(&c).to_vec()).unwrap();
    assert!(!text.contains("evil"), "the blocked server is left out of the allowlist");
    assert!(!text.contains("not-codex"));
    round_trip(&codex::Codex, &servers, None, "created.toml");
}

#[test]
fn codex_never_widens_the_administrators_allowlist() {
    let admin = fixture("codex", "admin-allowlist.toml");
    let servers = vec![
        blocked(stdio("codex", "evil", &["npx", "evil-mcp"]), "no-evil"),
        blocked(stdio("codex", "docs", &["codex-mcp", "--other"]), "no-docs"),
        stdio("codex", "figma", &["figma-mcp"]),
    ];
    let c = codex::Codex.compile(&plan(&servers, Some(&admin), &Owned::default())).unwrap();
    assert_eq!(c.change, FileChange::Unchanged);
    let r = results(&c);
    assert!(matches!(&r[0].2, OutcomeResult::AlreadyEnforced(_)), "{r:?}");
    assert!(matches!(&r[1].2, OutcomeResult::NotEnforceable(_)), "{r:?}");
}

// ---- Cursor ----

#[test]
fn cursor_adds_its_hook_beside_the_administrators_hooks() {
    let admin = fixture("cursor", "admin.json");
    let servers = vec![
        blocked(stdio("cursor", "evil", &["npx", "-y", "evil-mcp"]), "no-evil"),
        denied_tools(stdio("cursor", "github", &["github-mcp-server"]), "gh-delete", &["delete_repository"]),
    ];
    let c = round_trip(&cursor::Cursor, &servers, Some(&admin), "with-muster.json");
    assert!(c.outcomes.iter().all(|o| o.result == OutcomeResult::Written));
    round_trip(&cursor::Cursor, &servers, None, "created.json");
}

#[test]
fn cursor_hook_denies_blocked_servers_and_tools_and_allows_the_rest() {
    let servers = vec![
        blocked(stdio("cursor", "evil", &["npx", "-y", "evil-mcp"]), "no-evil"),
        blocked(remote("cursor", "paste", "https://Paste.example.com/mcp/"), "no-paste"),
        denied_tools(stdio("cursor", "github", &["github-mcp-server"]), "gh-delete", &["delete_repository"]),
    ];
    let table = cursor::HookTable::of(&plan(&servers, None, &Owned::default()));
    let ask = |v: serde_json::Value| cursor::answer(&v, &table).permission;
    assert_eq!(ask(serde_json::json!({"tool_name": "x", "command": "npx  -y evil-mcp"})), "deny");
    assert_eq!(ask(serde_json::json!({"tool_name": "x", "url": "https://paste.example.com/mcp"})), "deny");
    assert_eq!(ask(serde_json::json!({"tool_name": "MCP:github:delete_repository"})), "deny");
    assert_eq!(ask(serde_json::json!({"tool_name": "delete_repository", "command": "github-mcp-server"})), "deny");
    assert_eq!(ask(serde_json::json!({"tool_name": "MCP:github:list_issues"})), "allow");
    assert_eq!(ask(serde_json::json!({"tool_name": "MCP:other:delete_repository"})), "allow");
    assert_eq!(ask(serde_json::json!({"tool_name": "x", "command": "npx -y good-mcp"})), "allow");
    assert_eq!(ask(serde_json::json!("garbage")), "allow", "unreadable input fails open");
    let deny = cursor::answer(&serde_json::json!({"command": "npx -y evil-mcp"}), &table);
    assert!(deny.user_message.unwrap().contains("no-evil"));
}

// ---- not in force ----

fn put(root: &Path, machine_path: &str, layout: &Layout, bytes: &[u8]) {
    let p = layout.resolve(machine_path).unwrap();
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
    assert!(layout.resolve(machine_path).unwrap().starts_with(root));
}

fn shadows(w: &dyn ClientPolicyWriter, layout: &Layout) -> Vec<String> {
    w.not_in_force(layout, &FsProbe::default()).into_iter().map(|s| format!("{} | {}", s.source, s.why)).collect()
}

#[test]
fn each_writer_reports_a_higher_precedence_source_as_not_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mac = Layout::image(root.to_path_buf(), Os::Macos);
    let linux = Layout::image(root.join("linux"), Os::Linux);
    for w in REGISTRY {
        assert!(shadows(*w, &mac).is_empty(), "{} on a clean image", w.id());
        assert!(shadows(*w, &linux).is_empty() || w.id() == "cursor", "{} on a clean image", w.id());
    }

    put(root, "/Library/Managed Preferences/com.anthropic.claudecode.plist", &mac, b"<plist/>");
    put(root, "/Library/Managed Preferences/alice/com.github.copilot.plist", &mac, b"<plist/>");
    put(root, "/Library/Managed Preferences/com.openai.codex.plist", &mac, b"<plist/>");
    let claude = shadows(&claude_code::ClaudeCode, &mac);
    assert!(claude[0].contains("com.anthropic.claudecode.plist") && claude[0].contains("first-wins"), "{claude:?}");
    let copilot = shadows(&copilot::Copilot, &mac);
    assert!(copilot[0].contains("/Library/Managed Preferences/alice/com.github.copilot.plist"), "{copilot:?}");
    assert_eq!(shadows(&codex::Codex, &mac).len(), 1);

    put(root, "/home/dev/.claude/remote-settings.json", &linux, b"{}");
    assert!(shadows(&claude_code::ClaudeCode, &linux).is_empty(), "an empty server cache shadows nothing");
    put(root, "/home/dev/.claude/remote-settings.json", &linux, br#"{"permissions": {"deny": ["Bash"]}}"#);
    let cached = shadows(&claude_code::ClaudeCode, &linux);
    assert!(
        cached[0].starts_with("/home/dev/.claude/remote-settings.json") && cached[0].contains("for dev"),
        "{cached:?}"
    );
    std::fs::remove_file(linux.resolve("/home/dev/.claude/remote-settings.json").unwrap()).unwrap();
    put(root, "/etc/claude-code/managed-settings.json", &linux, br#"{"policyHelper": {"path": "/usr/local/bin/p"}}"#);
    assert!(shadows(&claude_code::ClaudeCode, &linux)[0].contains("policyHelper"));
    put(root, "/etc/github-copilot/managed-settings.json", &linux, br#"{"deniedMcpServers": [{}]}"#);
    assert!(shadows(&copilot::Copilot, &linux)[0].contains("malformed"));
    put(root, "/etc/vscode/policy.json", &linux, b"{ oops");
    assert!(shadows(&vscode::VsCode, &linux)[0].contains("not valid JSON"));
    put(root, "/etc/environment", &linux, b"PATH=/usr/bin\nGEMINI_CLI_SYSTEM_SETTINGS_PATH=/home/dev/mine.json\n");
    assert!(
        shadows(&gemini_cli::GeminiCli, &linux)[0].starts_with("GEMINI_CLI_SYSTEM_SETTINGS_PATH=/home/dev/mine.json")
    );
    let probe =
        FsProbe { env: [("GEMINI_CLI_SYSTEM_SETTINGS_PATH".to_string(), "/x.json".to_string())].into_iter().collect() };
    assert!(gemini_cli::GeminiCli.not_in_force(&mac, &probe)[0].source.ends_with("/x.json"));

    let hooks = serde_json::json!({"version": 1, "hooks": {"beforeMCPExecution": [cursor::hook_entry(Os::Linux)]}});
    put(root, "/etc/cursor/hooks.json", &linux, hooks.to_string().as_bytes());
    let cursor = shadows(&cursor::Cursor, &linux);
    assert!(cursor[0].contains("decision table is missing") && cursor[1].contains("not installed"), "{cursor:?}");
    put(root, "/usr/bin/muster-agent", &linux, b"");
    put(root, "/etc/cursor/muster-hook-table.json", &linux, b"{ broken");
    assert!(shadows(&cursor::Cursor, &linux)[0].contains("unreadable"));
    put(root, "/etc/cursor/muster-hook-table.json", &linux, br#"{"blocked": []}"#);
    assert!(shadows(&cursor::Cursor, &linux).is_empty());
}

#[test]
fn every_writer_has_a_path_under_the_root_and_lists_its_bypasses() {
    let dir = tempfile::tempdir().unwrap();
    for os in [Os::Linux, Os::Macos, Os::Windows] {
        let layout = Layout::image(dir.path().to_path_buf(), os);
        for w in REGISTRY {
            if let Some(p) = w.path(&layout) {
                assert!(p.starts_with(dir.path()), "{} {os:?}", w.id());
            }
            assert!(!w.bypasses().is_empty());
        }
    }
}

#[test]
fn an_identity_never_holds_a_credential() {
    use crate::discovery::entry::RawServer;
    use crate::secrets::Secret;
    let raw = RawServer {
        name: "jira".into(),
        command: Some("npx".into()),
        args: vec![
            Secret::new("-y"),
            Secret::new("jira-mcp"),
            Secret::new("--api-token=xK9fQ2mZ7vR4tY8wB3nL6pD1sH5gJ0cA"),
        ],
        ..RawServer::default()
    };
    let id = Identity::of(&raw);
    assert_eq!(
        id,
        Identity::Command { program: "npx".into(), args: vec![Some("-y".into()), Some("jira-mcp".into()), None] }
    );
    assert!(id.exact_argv().is_none() && id.exact_problem().unwrap().contains("credential"));

    let remote =
        RawServer { url: Some(Secret::new("https://u:hunter2hunter2@mcp.example.com/sse")), ..RawServer::default() };
    assert_eq!(Identity::of(&remote), Identity::Url(None));
    let plain = RawServer { url: Some(Secret::new("https://mcp.example.com/mcp")), ..RawServer::default() };
    assert_eq!(Identity::of(&plain), Identity::Url(Some("https://mcp.example.com/mcp".into())));
    assert_eq!(Identity::of(&RawServer::default()), Identity::Unknown);
}

#[test]
fn an_inline_object_muster_added_a_key_to_comes_back_as_the_administrator_wrote_it() {
    let admin = b"{\n  // IT baseline\n  \"mcp\": { \"allowed\": [\"evil\", \"docs\"] },\n}\n";
    let servers = vec![blocked(stdio("gemini-cli", "evil", &["npx", "evil-mcp"]), "no-evil")];
    round_trip(&gemini_cli::GeminiCli, &servers, Some(admin), "inline-object.json");
    let admin = b"# IT\n[features]\nweb_search = false # keep\n";
    let servers =
        vec![blocked(stdio("codex", "evil", &["npx", "evil-mcp"]), "no-evil"), stdio("codex", "docs", &["docs-mcp"])];
    round_trip(&codex::Codex, &servers, Some(admin), "inline-comment.toml");
}

#[test]
fn a_claude_code_hklm_policy_on_a_windows_image_is_reported_as_shadowing_the_drop_in() {
    use crate::enforce::registry::{IMAGE_HKLM_FILE, RegFile, RegistryBackend};
    let dir = tempfile::tempdir().unwrap();
    let win = Layout::image(dir.path().to_path_buf(), Os::Windows);
    let reg = RegFile::new(win.resolve(IMAGE_HKLM_FILE).unwrap());
    assert!(shadows(&claude_code::ClaudeCode, &win).is_empty(), "no registry file: nothing shadows");
    reg.set(claude_code::HKLM_KEY, "Other", "{}").unwrap();
    assert!(shadows(&claude_code::ClaudeCode, &win).is_empty(), "another value shadows nothing");
    reg.set(claude_code::HKLM_KEY, claude_code::HKLM_VALUE, "{}").unwrap();
    assert!(shadows(&claude_code::ClaudeCode, &win).is_empty(), "an empty policy carries no key");
    reg.set(claude_code::HKLM_KEY, claude_code::HKLM_VALUE, r#"{"permissions":{"deny":["Bash"]}}"#).unwrap();
    let s = shadows(&claude_code::ClaudeCode, &win);
    assert_eq!(s.len(), 1, "{s:?}");
    assert!(
        s[0].starts_with("HKLM\\SOFTWARE\\Policies\\ClaudeCode (Settings) | ") && s[0].contains("first-wins"),
        "{s:?}"
    );
    reg.set(claude_code::HKLM_KEY, claude_code::HKLM_VALUE, r#"{"managedSourcesBehavior":"merge","x":1}"#).unwrap();
    assert!(shadows(&claude_code::ClaudeCode, &win).is_empty(), "merge combines the sources");
    reg.set(claude_code::HKLM_KEY, claude_code::HKLM_VALUE, "not json").unwrap();
    assert!(shadows(&claude_code::ClaudeCode, &win)[0].contains("not a JSON object"));
    // The same registry file on a Linux image is not a Windows registry.
    assert!(shadows(&claude_code::ClaudeCode, &Layout::image(dir.path().to_path_buf(), Os::Linux)).is_empty());
    // An unreadable registry file is reported, not taken as "no policy".
    std::fs::write(reg.path(), "garbage line\n").unwrap();
    assert!(shadows(&claude_code::ClaudeCode, &win)[0].contains("could not be read"));
}
