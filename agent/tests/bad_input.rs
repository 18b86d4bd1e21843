//! Bad input never crashes or hangs a scan: malformed, empty, BOM-prefixed, UTF-16, non-UTF-8,
//! huge, a directory or a FIFO where a file is expected, symlink loops and links. Each becomes a
//! `problems` entry with the path (and a position where the parser has one), and every other file
//! is still read. The real binary runs under a deadline so a hang fails the test.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// Runs the scan and fails if it does not finish within the deadline.
fn scan(root: &Path) -> Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_muster-agent"))
        .args(["scan", "--offline", "--os", "linux", "--format", "json", "--root"])
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("scan did not finish within 30 s: it hangs on bad input");
        }
        std::thread::yield_now();
    }
    let out = child.wait_with_output().expect("output");
    assert!(out.status.success(), "scan crashed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

fn problem_for<'a>(json: &'a Value, path: &str) -> &'a Value {
    json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == path)
        .unwrap_or_else(|| panic!("no problem for {path}: {}", json["problems"]))
}

fn names_in(json: &Value, path: &str) -> Vec<String> {
    let mut v: Vec<String> = json["servers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["config_path"] == path)
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn every_bad_file_is_a_problem_and_good_files_are_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let good = br#"{"mcpServers": {"ok": {"command": "npx", "args": ["-y", "pkg@1.0.0"]}}}"#;
    // One good file per client, so we can see every other file is still read.
    write(root, "home/dev/.cursor/mcp.json", good);
    // Truncated JSON: a syntax problem with line and column.
    write(
        root,
        "home/dev/.codeium/windsurf/mcp_config.json",
        b"{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"\n",
    );
    // Empty file where a strict-JSON client expects an object.
    write(root, "home/dev/.gemini/settings.json", b"");
    // BOM-prefixed and UTF-16 files are read normally.
    write(root, "home/dev/.kiro/settings/mcp.json", &[b"\xEF\xBB\xBF".as_slice(), good].concat());
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(std::str::from_utf8(good).unwrap().encode_utf16().flat_map(|u| u.to_le_bytes()))
        .collect();
    write(root, "home/dev/.lmstudio/mcp.json", &utf16);
    // Not UTF-8.
    write(root, "home/dev/.factory/mcp.json", b"{\"mcpServers\": {\"x\": {\"command\": \"\xFF\xFE\"}}}");
    // A huge file: over the limit, reported and not parsed (sparse, so the test stays cheap).
    let huge = root.join("home/dev/.junie/mcp/mcp.json");
    std::fs::create_dir_all(huge.parent().unwrap()).unwrap();
    std::fs::File::create(&huge).unwrap().set_len(64 * 1024 * 1024).unwrap();
    // A directory where a file is expected.
    std::fs::create_dir_all(root.join("home/dev/.warp/.mcp.json")).unwrap();
    // One malformed entry among good ones: the others are still listed.
    write(
        root,
        "home/dev/.aws/amazonq/mcp.json",
        br#"{"mcpServers": {"good1": {"command": "a"}, "broken": {"command": ["x", 5]}, "good2": {"url": "https://x.example/mcp"}, "notobj": 7}}"#,
    );
    // Wrong type for the whole server map.
    write(root, "home/dev/.kimi-code/mcp.json", br#"{"mcpServers": ["not", "a", "map"]}"#);
    // Symlinks: a loop, and a link to a real file (followed, real path reported).
    #[cfg(unix)]
    {
        let a = root.join("home/dev/.config/devin/mcp_config.json");
        std::fs::create_dir_all(a.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(root.join("home/dev/.config/devin/loop2.json"), &a).unwrap();
        std::os::unix::fs::symlink(&a, root.join("home/dev/.config/devin/loop2.json")).unwrap();
        write(root, "home/dev/dotfiles/trae-mcp.json", good);
        let link = root.join("home/dev/.config/Trae/User/mcp.json");
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(root.join("home/dev/dotfiles/trae-mcp.json"), &link).unwrap();
        // A FIFO named like a config file must not block the scan.
        let fifo = root.join("home/dev/.qwen/settings.json");
        std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o644)).unwrap();
    }

    let json = scan(root);

    assert_eq!(names_in(&json, "/home/dev/.cursor/mcp.json"), ["ok"]);
    let p = problem_for(&json, "/home/dev/.codeium/windsurf/mcp_config.json");
    assert_eq!(p["kind"], "syntax");
    assert!(p["line"].as_u64().unwrap() >= 3, "{p}");
    assert!(p["column"].is_number());
    assert_eq!(problem_for(&json, "/home/dev/.gemini/settings.json")["kind"], "client-will-ignore");
    assert_eq!(names_in(&json, "/home/dev/.kiro/settings/mcp.json"), ["ok"], "BOM is stripped");
    assert_eq!(names_in(&json, "/home/dev/.lmstudio/mcp.json"), ["ok"], "UTF-16 is decoded");
    assert!(problem_for(&json, "/home/dev/.factory/mcp.json")["message"].as_str().unwrap().contains("UTF-8"));
    assert_eq!(problem_for(&json, "/home/dev/.junie/mcp/mcp.json")["kind"], "too-large");
    assert!(problem_for(&json, "/home/dev/.warp/.mcp.json")["message"].as_str().unwrap().contains("directory"));
    assert_eq!(names_in(&json, "/home/dev/.aws/amazonq/mcp.json"), ["good1", "good2"]);
    let entry_problems: Vec<&Value> = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["path"] == "/home/dev/.aws/amazonq/mcp.json")
        .collect();
    assert_eq!(entry_problems.len(), 2, "one problem per bad entry: {entry_problems:?}");
    assert!(entry_problems.iter().all(|p| p["kind"] == "invalid-entry"));
    assert_eq!(problem_for(&json, "/home/dev/.kimi-code/mcp.json")["kind"], "invalid-entry");
    #[cfg(unix)]
    {
        assert!(
            problem_for(&json, "/home/dev/.config/devin/mcp_config.json")["message"].as_str().unwrap().contains("link")
        );
        assert!(problem_for(&json, "/home/dev/.qwen/settings.json")["message"].as_str().unwrap().contains("FIFO"));
        assert_eq!(names_in(&json, "/home/dev/.config/Trae/User/mcp.json"), ["ok"]);
        let source = json["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["path"] == "/home/dev/.config/Trae/User/mcp.json")
            .unwrap();
        assert_eq!(source["real_path"], "/home/dev/dotfiles/trae-mcp.json");
    }
}

#[test]
fn problems_never_quote_file_content() {
    let dir = tempfile::tempdir().unwrap();
    let canary = "ghp_CANARYCANARYCANARYCANARYCANARY000000";
    write(
        dir.path(),
        "home/dev/.cursor/mcp.json",
        format!("{{\"mcpServers\": {{\"a\": {{\"env\": {{\"T\": \"{canary}\" \"oops\"}}}}}}}}").as_bytes(),
    );
    write(
        dir.path(),
        "home/dev/.codex/config.toml",
        format!("[mcp_servers.a]\nenv = {{ T = \"{canary}\" \n").as_bytes(),
    );
    write(
        dir.path(),
        "home/dev/.continue/config.yaml",
        format!("mcpServers:\n  - name: a\n    env: {{T: \"{canary}\"\n").as_bytes(),
    );
    let json = scan(dir.path());
    assert_eq!(json["problems"].as_array().unwrap().len(), 3, "{}", json["problems"]);
    assert!(!json.to_string().contains("CANARY"), "a problem message quoted the file");
}
