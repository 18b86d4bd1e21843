//! Claude Code: every scope it has.
//!
//! - user: top-level `mcpServers` in `~/.claude.json` (or `$CLAUDE_CONFIG_DIR/.claude.json`);
//! - local: `projects["<abs path>"].mcpServers` in the same file, reported with scope `user` and
//!   the project path; the per-project `disabledMcpServers` list marks entries disabled; the keys
//!   of `projects` are also the best record of the user's repositories;
//! - project: `<repo>/.mcp.json`;
//! - managed: `managed-mcp.json` in `/etc/claude-code/`, `/Library/Application Support/ClaudeCode/`
//!   or `C:\Program Files\ClaudeCode\` (the legacy `C:\ProgramData\ClaudeCode\` is not read by
//!   Claude Code, so not by us);
//! - plugins: `.mcp.json` at an installed plugin's root, `mcpServers` inline in
//!   `.claude-plugin/plugin.json`, or a file that `mcpServers` names relative to the plugin root,
//!   under `~/.claude/plugins/cache/` (installed copies only: the marketplace clones beside it
//!   also hold plugins that were never installed);
//! - disabled elsewhere: `disabledMcpjsonServers` of a `~/.claude.json` project and of the
//!   project's `.claude/settings.json` / `settings.local.json` turns its `.mcp.json` entries off;
//! - subagents: YAML front matter `mcpServers` of `~/.claude/agents/*.md` and
//!   `<repo>/.claude/agents/*.md` (inline definitions; bare names refer to other servers).
//!
//! `~/.claude/settings.json` holds policy, not servers, and is not read here.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{
    Candidate, ClientSource, DisabledElsewhere, Parsed, ProjectDir, add_dir_files, file_stem, read_map_into,
    with_origin,
};
use crate::discovery::entry::Dialect;
use crate::discovery::formats::{FileFormat, Keep};
use crate::platform::{Os, SystemCtx, UserCtx, sorted_subdirs};
use muster_proto::v1::Scope;

pub struct ClaudeCode;

/// How deep below `~/.claude/plugins/cache` plugin roots are looked for
/// (`<marketplace>/<plugin>/<version>/` and a little slack).
const PLUGIN_DEPTH: usize = 6;

impl ClientSource for ClaudeCode {
    fn id(&self) -> &'static str {
        "claude-code"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        let config_dir = user.env_path("CLAUDE_CONFIG_DIR");
        let main = config_dir.clone().unwrap_or_else(|| user.home.clone()).join(".claude.json");
        out.push(Candidate::user(main, FileFormat::Json, "claude-json"));
        let claude_dir = config_dir.unwrap_or_else(|| user.home.join(".claude"));
        add_dir_files(out, &claude_dir.join("agents"), ".md", Scope::User, FileFormat::MarkdownFrontMatter, "subagent");
        let mut roots = Vec::new();
        plugin_roots(&claude_dir.join("plugins/cache"), PLUGIN_DEPTH, &mut roots);
        for root in roots {
            out.push(Candidate::user(root.join(".mcp.json"), FileFormat::Json, "plugin-mcp"));
            out.push(Candidate::user(root.join(".claude-plugin/plugin.json"), FileFormat::Json, "plugin-manifest"));
        }
    }

    fn project_files(&self, project: &Path, _os: Os, out: &mut Vec<Candidate>) {
        out.push(Candidate::project(project.join(".mcp.json"), FileFormat::Json, "mcp"));
        // No servers, but `disabledMcpjsonServers` turns the project's `.mcp.json` entries off.
        for name in ["settings.json", "settings.local.json"] {
            out.push(Candidate::project(project.join(".claude").join(name), FileFormat::Json, "project-settings"));
        }
        add_dir_files(
            out,
            &project.join(".claude/agents"),
            ".md",
            Scope::Project,
            FileFormat::MarkdownFrontMatter,
            "subagent",
        );
    }

    fn managed_files(&self, sys: &SystemCtx, out: &mut Vec<Candidate>) {
        let dir = match sys.os {
            Os::Linux => sys.etc.as_ref().map(|d| d.join("claude-code")),
            Os::Macos => sys.app_support.as_ref().map(|d| d.join("ClaudeCode")),
            Os::Windows => sys.program_files.as_ref().map(|d| d.join("ClaudeCode")),
        };
        if let Some(dir) = dir {
            out.push(Candidate::managed(dir.join("managed-mcp.json"), FileFormat::Json, "mcp"));
        }
    }

    fn keep(&self, file: &Candidate) -> Option<&'static Keep> {
        (file.kind == "claude-json").then_some(&CLAUDE_JSON_KEEP)
    }

    fn parse(&self, file: &Candidate, doc: &Value) -> Parsed {
        match file.kind {
            "claude-json" => parse_claude_json(doc),
            "subagent" => parse_subagent(file, doc),
            "plugin-mcp" | "plugin-linked" => {
                let mut parsed = Parsed::default();
                // Plugin `.mcp.json` files come both wrapped in `mcpServers` and bare.
                match doc.get("mcpServers") {
                    Some(v) => read_map_into(&mut parsed, Some(v), "mcpServers", Dialect::default()),
                    None => read_map_into(&mut parsed, Some(doc), "(root)", Dialect::default()),
                }
                // A linked file gets its plugin's name from the manifest that named it.
                if file.kind == "plugin-linked" {
                    return parsed;
                }
                with_origin(parsed, format!("plugin:{}", plugin_name(file)))
            }
            "plugin-manifest" => {
                let mut parsed = Parsed::default();
                let name =
                    doc.get("name").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| plugin_name(file));
                // `mcpServers` is inline, or a path (or list of paths) to JSON files relative to
                // the plugin root, read next as that plugin's files.
                match doc.get("mcpServers") {
                    Some(v @ Value::Object(_)) => read_map_into(&mut parsed, Some(v), "mcpServers", Dialect::default()),
                    Some(Value::String(p)) => link_plugin_file(&mut parsed, file, p, &name),
                    Some(Value::Array(items)) => {
                        for p in items.iter().filter_map(Value::as_str) {
                            link_plugin_file(&mut parsed, file, p, &name);
                        }
                    }
                    _ => {}
                }
                with_origin(parsed, format!("plugin:{name}"))
            }
            "project-settings" => {
                let mut parsed = Parsed::default();
                let names = string_list(doc.get("disabledMcpjsonServers"));
                // `<project>/.claude/settings.json`: the project is two levels up.
                if let Some(project) = file.path.parent().and_then(Path::parent)
                    && !names.is_empty()
                {
                    parsed.disabled_elsewhere.push(DisabledElsewhere::ProjectMcpJson {
                        project: ProjectDir::Host(project.to_path_buf()),
                        names,
                    });
                }
                parsed
            }
            _ => {
                let mut parsed = Parsed::default();
                read_map_into(&mut parsed, doc.get("mcpServers"), "mcpServers", Dialect::default());
                parsed
            }
        }
    }
}

/// What is read of `~/.claude.json`, which grows to megabytes of per-project history: the
/// servers, and per project its servers and disabled lists (its key records the project).
static CLAUDE_JSON_KEEP: Keep = Keep::Keys(&[
    ("mcpServers", Keep::All),
    (
        "projects",
        Keep::Each(&Keep::Keys(&[
            ("mcpServers", Keep::All),
            ("disabledMcpServers", Keep::All),
            ("disabledMcpjsonServers", Keep::All),
        ])),
    ),
]);

fn parse_claude_json(doc: &Value) -> Parsed {
    let mut parsed = Parsed::default();
    read_map_into(&mut parsed, doc.get("mcpServers"), "mcpServers", Dialect::default());
    match doc.get("projects") {
        Some(Value::Object(projects)) => {
            for (path, project) in projects {
                parsed.projects.push(path.clone());
                let before = parsed.servers.len();
                read_map_into(&mut parsed, project.get("mcpServers"), "projects.*.mcpServers", Dialect::default());
                let disabled: Vec<&str> = project
                    .get("disabledMcpServers")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for s in &mut parsed.servers[before..] {
                    s.project = Some(path.clone());
                    if disabled.contains(&s.name.as_str()) {
                        s.disabled = true;
                    }
                }
                // The project's own `.mcp.json` entries turned off from here.
                let names = string_list(project.get("disabledMcpjsonServers"));
                if !names.is_empty() {
                    parsed
                        .disabled_elsewhere
                        .push(DisabledElsewhere::ProjectMcpJson { project: ProjectDir::Written(path.clone()), names });
                }
            }
        }
        None | Some(Value::Null) => {}
        Some(_) => parsed.wrong_shape("projects", "an object"),
    }
    parsed
}

/// The strings of a JSON array (nothing for anything else).
fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// A plugin manifest's `mcpServers` path (`./config/mcp.json`, `${CLAUDE_PLUGIN_ROOT}/mcp.json`):
/// read next as the plugin's file when it stays inside the plugin root.
fn link_plugin_file(parsed: &mut Parsed, manifest: &Candidate, path: &str, plugin: &str) {
    let Some(root) = manifest.path.parent().and_then(Path::parent) else { return };
    let rel = path.trim().trim_start_matches("${CLAUDE_PLUGIN_ROOT}").trim_start_matches(['/', '\\']);
    let rel = Path::new(rel);
    let inside = rel.components().all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
    if rel.as_os_str().is_empty() || !inside {
        parsed.entry_errors.push(format!("\"mcpServers\" names a file outside plugin {plugin:?}; it was not read"));
        return;
    }
    let candidate = Candidate::new(root.join(rel), manifest.scope, FileFormat::Json, "plugin-linked");
    parsed.linked.push((candidate, Some(format!("plugin:{plugin}"))));
}

fn parse_subagent(file: &Candidate, doc: &Value) -> Parsed {
    let mut parsed = Parsed::default();
    match doc.get("mcpServers") {
        Some(v @ Value::Object(_)) => read_map_into(&mut parsed, Some(v), "mcpServers", Dialect::default()),
        Some(Value::Array(items)) => {
            // A list mixes references (`- github`) and inline definitions (`- name: {command}`).
            for item in items {
                if let Value::Object(_) = item {
                    read_map_into(&mut parsed, Some(item), "mcpServers[]", Dialect::default());
                }
            }
        }
        _ => {}
    }
    let name = doc.get("name").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| file_stem(file));
    with_origin(parsed, format!("subagent:{name}"))
}

/// A plugin's name: the directory holding `.mcp.json` or `.claude-plugin/`, or its parent when
/// that directory is a version (`cache/<marketplace>/<plugin>/<version>/`).
fn plugin_name(file: &Candidate) -> String {
    let mut dir = file.path.parent();
    if dir.and_then(|d| d.file_name()).is_some_and(|n| n == ".claude-plugin") {
        dir = dir.and_then(Path::parent);
    }
    let name_of = |d: Option<&Path>| d.and_then(|d| d.file_name()).map(|n| n.to_string_lossy().into_owned());
    match name_of(dir) {
        Some(n) if n.starts_with(|c: char| c.is_ascii_digit()) && n.contains('.') => {
            name_of(dir.and_then(Path::parent)).unwrap_or(n)
        }
        other => other.unwrap_or_default(),
    }
}

/// Plugin roots: directories holding `.mcp.json` or `.claude-plugin/`, at most `depth` below.
fn plugin_roots(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth == 0 {
        return;
    }
    for sub in sorted_subdirs(dir) {
        if sub.file_name().is_some_and(|n| n == ".claude-plugin" || n == "node_modules" || n == ".git") {
            continue;
        }
        if sub.join(".mcp.json").exists() || sub.join(".claude-plugin").is_dir() {
            out.push(sub.clone());
        }
        plugin_roots(&sub, depth - 1, out);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{paths, user_with};
    use super::*;

    /// A small deterministic generator (no dependency, same documents every run).
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn text(&mut self) -> String {
            const PIECES: &[&str] =
                &["a", "mcpServers", "\"", "\\", "\n", "é", "😀", "{", "]", ",", ":", "projects", " ", "\u{41}", "x"];
            (0..self.below(8)).map(|_| PIECES[self.below(PIECES.len() as u64) as usize]).collect()
        }

        /// Any JSON value, nested up to `depth`.
        fn value(&mut self, depth: u32) -> Value {
            match self.below(if depth == 0 { 5 } else { 7 }) {
                0 => Value::Null,
                1 => Value::Bool(self.below(2) == 1),
                2 => serde_json::json!(self.next() as f64 / 7.0),
                3 => serde_json::json!(self.next() as i64 - (1 << 30)),
                4 => Value::String(self.text()),
                5 => Value::Array((0..self.below(4)).map(|_| self.value(depth - 1)).collect()),
                _ => Value::Object((0..self.below(4)).map(|_| (self.text(), self.value(depth - 1))).collect()),
            }
        }

        fn server(&mut self, i: u64) -> (String, Value) {
            let entry = match self.below(5) {
                0 => {
                    serde_json::json!({"type": "http", "url": format!("https://h{i}.example/mcp"), "headers": {"Authorization": format!("Bearer tok{i}")}})
                }
                1 => self.value(2),
                _ => {
                    serde_json::json!({"command": "npx", "args": ["-y", format!("@acme/s{i}@1.0.{i}")], "env": {"TOKEN": self.text()}, "extra": self.value(2)})
                }
            };
            (format!("s{i}-{}", self.text()), entry)
        }

        fn servers(&mut self) -> Value {
            Value::Object((0..self.below(4)).map(|i| self.server(i)).collect())
        }

        /// A `~/.claude.json` with project history, per-project servers and noise around them.
        fn document(&mut self) -> Value {
            let mut doc = serde_json::Map::new();
            for _ in 0..self.below(4) {
                doc.insert(self.text(), self.value(3));
            }
            if self.below(4) != 0 {
                doc.insert("mcpServers".into(), if self.below(8) == 0 { self.value(1) } else { self.servers() });
            }
            let mut projects = serde_json::Map::new();
            for p in 0..self.below(6) {
                let mut project = serde_json::Map::new();
                project.insert(
                    "history".into(),
                    Value::Array(
                        (0..self.below(20))
                            .map(|_| serde_json::json!({"display": self.text(), "pastedContents": self.value(3)}))
                            .collect(),
                    ),
                );
                if self.below(2) == 0 {
                    project.insert("mcpServers".into(), self.servers());
                }
                if self.below(3) == 0 {
                    project.insert("disabledMcpServers".into(), serde_json::json!(["s0-", self.text()]));
                }
                if self.below(3) == 0 {
                    project.insert("disabledMcpjsonServers".into(), self.value(1));
                }
                project.insert(self.text(), self.value(3));
                projects.insert(format!("/home/alice/p{p}{}", self.text()), Value::Object(project));
            }
            if self.below(6) != 0 {
                doc.insert("projects".into(), Value::Object(projects));
            } else {
                doc.insert("projects".into(), self.value(2));
            }
            Value::Object(doc)
        }
    }

    /// `value` with every member `keep` does not name removed: what the streaming reader must
    /// build, written independently of it.
    fn pruned(value: &Value, keep: &Keep) -> Value {
        match (keep, value) {
            (Keep::All, v)
            | (_, v @ (Value::Array(_) | Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_))) => {
                v.clone()
            }
            (Keep::Keys(keys), Value::Object(map)) => Value::Object(
                map.iter()
                    .filter_map(|(k, v)| {
                        keys.iter().find(|(name, _)| name == k).map(|(_, rule)| (k.clone(), pruned(v, rule)))
                    })
                    .collect(),
            ),
            (Keep::Each(rule), Value::Object(map)) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), pruned(v, rule))).collect())
            }
        }
    }

    /// The pruned readers of `~/.claude.json` (from the text and from a stream; history skipped
    /// unread) give the same tree as pruning the whole parsed document, hence the same servers,
    /// entry problems, projects and disabled state, on generated documents in compact and pretty
    /// layouts.
    #[test]
    fn the_streaming_reader_gives_what_the_full_parse_gives() {
        use crate::discovery::formats::parse_kept;
        let file =
            Candidate::new(PathBuf::from("/home/alice/.claude.json"), Scope::User, FileFormat::Json, "claude-json");
        let keep = ClaudeCode.keep(&file).expect("the main file is read pruned");
        let mut servers_seen = 0;
        for seed in 0..300 {
            let mut g = Gen(seed);
            let doc = g.document();
            let text = if seed % 2 == 0 { doc.to_string() } else { serde_json::to_string_pretty(&doc).unwrap() };
            let full: Value = serde_json::from_str(&text).unwrap();
            let streamed = parse_kept(&text, FileFormat::Json, Some(keep)).unwrap().value;
            assert_eq!(streamed, pruned(&full, keep), "seed {seed}: the pruned tree");
            for block in [7, 64 * 1024] {
                let from_reader = crate::discovery::stream_json::read_kept_in_blocks(&mut text.as_bytes(), keep, block)
                    .map(|d| d.value);
                assert_eq!(from_reader.as_ref(), Some(&streamed), "seed {seed}: read as a stream in blocks of {block}");
            }
            let (a, b) = (ClaudeCode.parse(&file, &full), ClaudeCode.parse(&file, &streamed));
            assert_eq!(format!("{:?}", a.servers), format!("{:?}", b.servers), "seed {seed}");
            assert_eq!(a.entry_errors, b.entry_errors, "seed {seed}");
            assert_eq!(a.projects, b.projects, "seed {seed}");
            assert_eq!(format!("{:?}", a.disabled_elsewhere), format!("{:?}", b.disabled_elsewhere), "seed {seed}");
            servers_seen += a.servers.len();
        }
        assert!(servers_seen > 300, "the generator makes servers: {servers_seen}");
    }

    #[test]
    fn claude_config_dir_moves_the_main_file() {
        assert_eq!(paths(&ClaudeCode, &user_with(&[]))[0], PathBuf::from("/home/alice/.claude.json"));
        let moved = user_with(&[("CLAUDE_CONFIG_DIR", "/opt/claude")]);
        assert_eq!(paths(&ClaudeCode, &moved)[0], PathBuf::from("/opt/claude/.claude.json"));
    }
}
