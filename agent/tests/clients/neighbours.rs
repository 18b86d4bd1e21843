//! The invariant "a malformed entry never hides its neighbours", generated: every file format the
//! agent reads (strict JSON, JSON with comments, JSONC, JSON5, YAML, TOML, Markdown front matter)
//! × every kind of malformation (an entry that is not an object, a field of the wrong type, a
//! nested block of the wrong type, a syntax error inside the entry: for TOML a value its parser
//! refuses, for the JSON family a stray token, for YAML a mapping where none may start) placed
//! between two valid entries. Both valid entries must be reported, the bad one must be a problem,
//! and the file must never be a whole-file syntax problem.
//!
//! Syntax errors are recovered per format (`discovery::formats`): TOML table by table; the JSON
//! family and YAML (also in Markdown front matter) by leaving out the indented block of lines
//! holding the error. The file is then reported as one its client refuses. What stays lost: a
//! file on one line, and an error its parser only reports past the entry (an unclosed string or
//! bracket running on to the end), which
//! `a_syntax_error_on_one_line_still_loses_the_file` pins down.

use muster_agent::platform::Os;
use serde_json::{Value, json};

use crate::support::{Image, servers_in};

/// One format, through one client that reads it: where the file goes and the key holding the
/// servers.
struct Format {
    name: &'static str,
    client: &'static str,
    path: &'static str,
    key: &'static str,
}

const FORMATS: &[Format] = &[
    Format {
        name: "json",
        client: "claude-desktop",
        path: "/home/alice/.config/Claude/claude_desktop_config.json",
        key: "mcpServers",
    },
    Format {
        name: "json-comments",
        client: "gemini-cli",
        path: "/home/alice/.gemini/settings.json",
        key: "mcpServers",
    },
    Format { name: "jsonc", client: "vscode", path: "/home/alice/.config/Code/User/mcp.json", key: "servers" },
    Format { name: "json5", client: "mcphub", path: "/home/alice/.config/mcphub/servers.json", key: "mcpServers" },
    Format { name: "yaml", client: "continue", path: "/home/alice/.continue/config.yaml", key: "mcpServers" },
    Format { name: "toml", client: "codex", path: "/home/alice/.codex/config.toml", key: "mcp_servers" },
    Format { name: "markdown", client: "claude-code", path: "/home/alice/.claude/agents/helper.md", key: "mcpServers" },
];

/// A malformation of the entry `bad`: its value as a tree, or (for TOML) raw text its parser
/// refuses.
enum Bad {
    Tree(Value),
    TomlText(&'static str),
    /// A syntax error inside the entry's `args`, in every format but TOML (which has its own).
    Syntax,
}

/// The `BROKEN` argument as written by each format family, and the syntax error put in its place.
fn broken(format: &Format) -> (&'static str, &'static str) {
    match format.name {
        "yaml" | "markdown" => ("BROKEN", "a: b: c"),
        _ => ("\"BROKEN\"", "@@"),
    }
}

fn malformations() -> Vec<(&'static str, Bad)> {
    vec![
        ("entry-not-an-object", Bad::Tree(json!(42))),
        ("args-wrong-type", Bad::Tree(json!({"command": "npx", "args": 5}))),
        ("env-wrong-type", Bad::Tree(json!({"command": "npx", "env": "TOKEN"}))),
        ("headers-wrong-type", Bad::Tree(json!({"url": "https://x.example/mcp", "headers": [1, 2]}))),
        ("toml-unquoted-value", Bad::TomlText("command = npx\nargs = [\"-y\", \"x\"]\n")),
        ("toml-unclosed-array", Bad::TomlText("command = \"npx\"\nargs = [\"-y\", \"x\"\n")),
        ("syntax-error-in-entry", Bad::Syntax),
    ]
}

fn good(n: u8) -> Value {
    json!({"command": "npx", "args": ["-y", format!("@acme/good{n}-mcp@1.0.0")]})
}

fn toml_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(toml_value).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{ {} }}",
            o.iter().map(|(k, v)| format!("{k:?} = {}", toml_value(v))).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// The file text: `good1`, `bad`, `good2` under the format's key; `None` when the malformation
/// does not apply to the format.
fn render(format: &Format, bad: &Bad) -> Option<String> {
    if format.name == "toml" {
        let table = |name: &str, v: &Value| {
            let fields: String = v
                .as_object()
                .map(|o| o.iter().map(|(k, v)| format!("{k} = {}\n", toml_value(v))).collect())
                .unwrap_or_default();
            format!("[{}.{name}]\n{fields}\n", format.key)
        };
        let bad_text = match bad {
            Bad::Tree(v) if !v.is_object() => {
                return Some(format!(
                    "[{}]\nbad = {}\n\n{}{}",
                    format.key,
                    toml_value(v),
                    table("good1", &good(1)),
                    table("good2", &good(2))
                ));
            }
            Bad::Tree(v) => table("bad", v),
            Bad::TomlText(text) => format!("[{}.bad]\n{text}\n", format.key),
            // TOML's syntax errors are the `TomlText` cases.
            Bad::Syntax => return None,
        };
        return Some(format!("{}{bad_text}{}", table("good1", &good(1)), table("good2", &good(2))));
    }
    let bad = match bad {
        Bad::Tree(v) => v.clone(),
        Bad::Syntax => json!({"command": "npx", "args": ["-y", "BROKEN"]}),
        Bad::TomlText(_) => return None,
    };
    let mut servers = serde_json::Map::new();
    servers.insert("good1".into(), good(1));
    servers.insert("bad".into(), bad);
    servers.insert("good2".into(), good(2));
    let doc = json!({ format.key: Value::Object(servers) });
    let text = match format.name {
        "yaml" => serde_norway::to_string(&doc).expect("yaml"),
        "markdown" => {
            format!("---\nname: helper\n{}---\nA helper agent.\n", serde_norway::to_string(&doc).expect("yaml"))
        }
        "jsonc" | "json-comments" => format!("// servers\n{}", serde_json::to_string_pretty(&doc).expect("json")),
        _ => serde_json::to_string_pretty(&doc).expect("json"),
    };
    let (needle, replacement) = broken(format);
    Some(text.replace(needle, replacement))
}

#[test]
fn a_malformed_entry_never_hides_its_neighbours_in_any_format() {
    let mut cases = 0;
    for format in FORMATS {
        for (what, bad) in malformations() {
            let Some(text) = render(format, &bad) else { continue };
            cases += 1;
            let img = Image::new(Os::Linux);
            img.write(format.path, &text);
            let json = img.scan_json();
            let servers = servers_in(&json, format.path);
            let mut names: Vec<&str> = servers.iter().filter_map(|s| s["name"].as_str()).collect();
            names.sort_unstable();
            assert!(
                names.contains(&"good1") && names.contains(&"good2"),
                "{} × {what}: neighbours hidden, found {names:?}; problems {}",
                format.name,
                json["problems"]
            );
            assert!(servers.iter().all(|s| s["client"] == format.client), "{} × {what}", format.name);
            let problems: Vec<&Value> =
                json["problems"].as_array().expect("problems").iter().filter(|p| p["path"] == format.path).collect();
            assert!(!problems.is_empty(), "{} × {what}: the malformed entry is not reported", format.name);
            assert!(
                problems.iter().all(|p| p["kind"] != "syntax"),
                "{} × {what}: a whole-file syntax problem: {problems:?}",
                format.name
            );
        }
    }
    assert_eq!(cases, FORMATS.len() * 5 + 1, "every format × every malformation that applies to it");
}

/// The limit of the JSON family's recovery: a file on one line has no block to leave out.
#[test]
fn a_syntax_error_on_one_line_still_loses_the_file() {
    let format = &FORMATS[0];
    let img = Image::new(Os::Linux);
    let text = json!({format.key: {"good1": good(1), "bad": {"command": "npx", "args": ["BROKEN"]}, "good2": good(2)}})
        .to_string()
        .replace("\"BROKEN\"", "@@");
    img.write(format.path, &text);
    let json = img.scan_json();
    assert!(servers_in(&json, format.path).is_empty());
    let problems = json["problems"].as_array().expect("problems");
    assert!(problems.iter().any(|p| p["path"] == format.path && p["kind"] == "syntax"), "{problems:?}");
}
