//! Codex: `~/.codex/config.toml` and profile files, `<repo>/.codex/config.toml`, and the system /
//! managed files (`/etc/codex/`; Windows `%ProgramData%\OpenAI\Codex\` and
//! `~\.codex\managed_config.toml`), on every OS layout; variable indirections are names only.

use muster_agent::platform::Os;

use crate::support::{ALL_OS, Image, assert_found, home, join, servers_in};

#[test]
fn user_project_and_managed_files_on_every_os() {
    for os in ALL_OS {
        let img = Image::new(os);
        let h = home(os, "alice");
        let user = join(os, &h, ".codex/config.toml");
        let profile = join(os, &h, ".codex/work.config.toml");
        img.fixture(&user, "codex/config.toml");
        img.fixture(&profile, "codex/config.toml");
        let repo = join(os, &h, "src/api");
        img.mkdir(&join(os, &repo, ".git"));
        let project = join(os, &repo, ".codex/config.toml");
        img.fixture(&project, "codex/project-config.toml");
        let managed: Vec<String> = match os {
            Os::Windows => vec![join(os, &h, ".codex/managed_config.toml")],
            _ => vec!["/etc/codex/config.toml".into(), "/etc/codex/managed_config.toml".into()],
        };
        for f in &managed {
            img.fixture(f, "codex/managed_config.toml");
        }
        let json = img.scan_json();

        let expected = ["aws-docs", "context7", "datadog", "github"];
        assert_eq!(assert_found(&json, "codex", "user", &user), expected, "{os:?}");
        assert_eq!(assert_found(&json, "codex", "user", &profile), expected, "{os:?}");
        assert_eq!(assert_found(&json, "codex", "project", &project), ["repo-tools"], "{os:?}");
        for f in &managed {
            assert_eq!(assert_found(&json, "codex", "managed", f), ["corp-search"], "{os:?}");
            assert_eq!(servers_in(&json, f)[0]["user"], serde_json::Value::Null);
        }

        let servers = servers_in(&json, &user);
        let by_name = |n: &str| servers.iter().find(|s| s["name"] == n).cloned().expect("server");
        let aws = by_name("aws-docs");
        assert_eq!(aws["disabled"], true);
        assert_eq!(aws["env_names"], serde_json::json!(["FASTMCP_LOG_LEVEL", "AWS_PROFILE", "AWS_REGION"]));
        assert_eq!(by_name("github")["transport"], "http");
        let dd = by_name("datadog");
        assert_eq!(dd["header_names"], serde_json::json!(["X-Trace", "DD-API-KEY", "DD-APPLICATION-KEY"]));
        assert_eq!(by_name("context7")["transport"], "stdio");
    }
}

#[test]
fn normalised_output_snapshot() {
    let img = Image::new(Os::Linux);
    img.fixture("/home/alice/.codex/config.toml", "codex/config.toml");
    let json = img.scan_json();
    insta::assert_json_snapshot!(servers_in(&json, "/home/alice/.codex/config.toml"));
}
