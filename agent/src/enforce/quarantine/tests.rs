//! Quarantine on every client config fixture of the discovery tests, in generated variants
//! (as written, CRLF line endings, a byte-order mark, odd indentation, tabs): every server entry
//! is disabled the client's way with nothing else changed (values, comments, line endings, BOM),
//! and restore brings each file back byte-identical.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::*;
use crate::enforce::files::{FileKeeper, TouchStatus};

fn fixtures() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("fixtures");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "jsonc" | "toml" | "yaml" | "yml"))
            {
                let client = p.strip_prefix(&root).unwrap().components().next().unwrap();
                out.push((client.as_os_str().to_string_lossy().into_owned(), p));
            }
        }
    }
    out.sort();
    out
}

/// The variants of one fixture's text.
fn variants(text: &str, format: Format) -> Vec<(&'static str, String)> {
    let mut out = vec![("as written", text.to_string())];
    let lf = text.replace("\r\n", "\n");
    out.push(("crlf", lf.replace('\n', "\r\n")));
    out.push(("bom", format!("\u{feff}{text}")));
    let widen = |s: &str, unit: &str| -> String {
        s.split_inclusive('\n')
            .map(|line| {
                let n = line.len() - line.trim_start_matches(' ').len();
                format!("{}{}", unit.repeat(n), &line[n..])
            })
            .collect()
    };
    out.push(("indent x3", widen(&lf, "   ")));
    if format != Format::Yaml {
        out.push(("tabs", widen(&lf, "\t")));
    }
    out
}

/// Every (server map path, name) in a document.
fn servers(doc: &Value) -> Vec<(Vec<String>, String)> {
    fn walk(v: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
        let Value::Object(map) = v else { return };
        if path.last().is_some_and(|l| SERVER_MAP_KEYS.contains(&l.as_str())) {
            for (name, entry) in map {
                if entry.is_object() {
                    out.push((path.clone(), name.clone()));
                }
            }
        }
        for (k, child) in map {
            path.push(k.clone());
            walk(child, path, out);
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(doc, &mut Vec::new(), &mut out);
    out
}

fn at<'a>(doc: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(doc, |v, seg| {
        if !v.is_object() {
            *v = Value::Object(Default::default());
        }
        v.as_object_mut().unwrap().entry(seg.clone()).or_insert(Value::Null)
    })
}

fn comments(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| l.starts_with("//") || l.starts_with('#')).map(str::to_string).collect()
}

#[test]
fn quarantine_then_restore_is_byte_identical_for_every_fixture_and_variant() {
    let tmp = crate::enforce::scratch_dir();
    let mut applied = std::collections::BTreeMap::<&str, usize>::new();
    let mut cases = 0;
    // The hand-edited YAML fixture (comments everywhere, flow style, quoted keys): every entry,
    // every variant.
    let mut commented_yaml = 0;
    for (client, fixture) in fixtures() {
        let original = fs::read_to_string(&fixture).unwrap();
        let format = format_of(&fixture).unwrap();
        let Ok(doc) = to_value(&original, format) else { continue }; // fixtures of broken files
        for (variant, text) in variants(&original, format) {
            for (map, name) in servers(&doc) {
                cases += 1;
                let dir = tmp.path().join(format!("case{cases}"));
                fs::create_dir_all(&dir).unwrap();
                let path = dir.join(fixture.file_name().unwrap());
                fs::write(&path, &text).unwrap();
                let keeper = FileKeeper::open(&dir.join("state")).unwrap();
                let project =
                    if map.first().map(String::as_str) == Some("projects") { map[1].clone() } else { String::new() };
                let q = Quarantine {
                    server_id: format!("id{cases}"),
                    client: client.clone(),
                    name: name.clone(),
                    config_path: path.clone(),
                    project,
                    decision: "R1".into(),
                };
                let ctx = format!("{client} {} [{variant}] {name:?}", fixture.display());
                let outcome = apply_one(&keeper, &q);
                let method = methods::method_for(&client, &path, &map);
                match &outcome {
                    Outcome::Applied(_) => {}
                    Outcome::AlreadyDisabled => {
                        assert_eq!(fs::read_to_string(&path).unwrap(), text, "{ctx}");
                        continue;
                    }
                    Outcome::Failed(why) => {
                        // Only what the module says it does not do.
                        assert!(why.contains("not supported") || why.contains("times; refusing"), "{ctx}: {why}");
                        assert_eq!(fs::read_to_string(&path).unwrap(), text, "{ctx}: refused yet changed");
                        continue;
                    }
                    other => panic!("{ctx}: {other:?}"),
                }
                *applied
                    .entry(match format {
                        Format::Json => "json",
                        Format::Toml => "toml",
                        Format::Yaml => "yaml",
                    })
                    .or_default() += 1;
                if fixture.ends_with("goose/config-commented.yaml") {
                    commented_yaml += 1;
                }
                let new_text = fs::read_to_string(&path).unwrap();
                // The change, and only the change, at the value level.
                let mut expected = to_value(&text, format).unwrap();
                let new_doc = to_value(&new_text, format).unwrap();
                let mut moved = String::new();
                match &method {
                    Method::Flag { key, value } => {
                        let mut p = map.clone();
                        p.extend([name.clone(), key.to_string()]);
                        *at(&mut expected, &p) = Value::Bool(*value);
                    }
                    Method::NameList { sibling: None, parent, list } => {
                        let mut p = parent.clone();
                        p.push(list.to_string());
                        let l = at(&mut expected, &p);
                        if !l.is_array() {
                            *l = Value::Array(Vec::new());
                        }
                        l.as_array_mut().unwrap().push(Value::String(name.clone()));
                    }
                    Method::NameList { sibling: Some(rel), list, .. } => {
                        let side = fs::read_to_string(dir.join(rel)).unwrap();
                        let side: Value = serde_json::from_str(&side).unwrap();
                        assert!(side[*list].as_array().unwrap().contains(&Value::String(name.clone())), "{ctx}");
                    }
                    Method::Sidecar => {
                        at(&mut expected, &map).as_object_mut().unwrap().remove(&name);
                        moved = fs::read_to_string(sidecar_path(&path)).unwrap();
                        let side: Value = serde_json::from_str(&moved).unwrap();
                        assert_eq!(side["entries"][0]["name"], Value::String(name.clone()), "{ctx}");
                    }
                }
                assert_eq!(new_doc, expected, "{ctx}: more than the entry's switch changed");
                if format == Format::Json && serde_json::from_str::<Value>(text.trim_start_matches('\u{feff}')).is_ok()
                {
                    serde_json::from_str::<Value>(new_text.trim_start_matches('\u{feff}'))
                        .unwrap_or_else(|e| panic!("{ctx}: strict JSON became invalid: {e}"));
                }
                for c in comments(&text) {
                    assert!(new_text.contains(&c) || moved.contains(&c), "{ctx}: comment {c:?} lost");
                }
                assert_eq!(new_text.starts_with('\u{feff}'), text.starts_with('\u{feff}'), "{ctx}: BOM");
                if variant == "crlf" {
                    assert!(!new_text.replace("\r\n", "").contains('\n'), "{ctx}: a bare LF in a CRLF file");
                }
                // Restore: byte-identical, and nothing Muster wrote is left.
                let (undone, refused) = keeper.restore_where(|t| t.key == q.key()).unwrap();
                assert!(refused.is_empty() && !undone.is_empty(), "{ctx}: {refused:?}");
                assert_eq!(fs::read(&path).unwrap(), text.as_bytes(), "{ctx}: restore not byte-identical");
                assert!(!sidecar_path(&path).exists(), "{ctx}: sidecar left");
                if let Method::NameList { sibling: Some(rel), .. } = method {
                    assert!(!dir.join(rel).exists(), "{ctx}: list file left");
                    assert!(!dir.join(".claude").exists(), "{ctx}: directory left");
                }
                assert!(keeper.touches().unwrap().iter().all(|t| t.status == TouchStatus::Restored), "{ctx}");
            }
        }
    }
    assert!(cases > 100, "only {cases} cases");
    assert_eq!(commented_yaml, 4 * 4, "each of the 4 entries in each of the 4 YAML variants is quarantined");
    for format in ["json", "toml", "yaml"] {
        assert!(applied.get(format).copied().unwrap_or(0) > 0, "no {format} quarantine applied: {applied:?}");
    }
}

#[test]
fn lifting_one_of_two_quarantines_in_a_file_keeps_the_other() {
    let tmp = crate::enforce::scratch_dir();
    let path = tmp.path().join("mcp.json");
    let text = "{\n  // mine\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"},\n    \"b\": {\"command\": \"y\"},\n  },\n}\n";
    fs::write(&path, text).unwrap();
    let keeper = FileKeeper::open(&tmp.path().join("state")).unwrap();
    let q = |id: &str, name: &str| Quarantine {
        server_id: id.into(),
        client: "cline".into(),
        name: name.into(),
        config_path: path.clone(),
        project: String::new(),
        decision: "R1".into(),
    };
    let (qa, qb) = (q("A", "a"), q("B", "b"));
    let first = reconcile(&keeper, &[qa.clone(), qb.clone()]).unwrap();
    assert!(first.iter().all(|(_, o)| matches!(o, Outcome::Applied(_))), "{first:?}");
    let both = fs::read_to_string(&path).unwrap();
    assert_eq!(both.matches("\"disabled\": true").count(), 2, "{both}");
    // Nothing to do the second time.
    assert!(reconcile(&keeper, &[qa.clone(), qb.clone()]).unwrap().iter().all(|(_, o)| *o == Outcome::InForce));
    // The rule on `a` is lifted (an exception): only `b` stays disabled.
    let lifted = reconcile(&keeper, std::slice::from_ref(&qb)).unwrap();
    assert!(matches!(lifted[0], (ref k, Outcome::Lifted(_)) if k == "quarantine:A"), "{lifted:?}");
    let now = fs::read_to_string(&path).unwrap();
    assert_eq!(now.matches("\"disabled\": true").count(), 1, "{now}");
    assert!(now.contains("// mine"));
    // Everything lifted: the file is byte-identical to the developer's.
    reconcile(&keeper, &[]).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn a_file_edited_between_plan_and_write_is_planned_again() {
    let tmp = crate::enforce::scratch_dir();
    let path = tmp.path().join("config.toml");
    fs::write(&path, "# codex\n[mcp_servers.gh]\ncommand = \"npx\"\n").unwrap();
    let keeper = FileKeeper::open(&tmp.path().join("state")).unwrap();
    let q = Quarantine {
        server_id: "G".into(),
        client: "codex".into(),
        name: "gh".into(),
        config_path: path.clone(),
        project: String::new(),
        decision: "R1".into(),
    };
    let edits = plan(&q).unwrap();
    fs::write(&path, "# codex\n[mcp_servers.gh]\ncommand = \"npx\"\nargs = [\"-y\"]\n").unwrap();
    let err = keeper
        .apply(
            &edits[0].observed,
            Change::Write { bytes: &edits[0].bytes, mode_if_created: 0o600 },
            &Intent { key: q.key(), decision: "R1".into() },
        )
        .unwrap_err();
    assert!(matches!(err, FileSafetyError::Changed { .. }));
    let outcome = apply_one(&keeper, &q);
    assert!(matches!(outcome, Outcome::Applied(_)), "{outcome:?}");
    let now = fs::read_to_string(&path).unwrap();
    assert!(now.contains("args = [\"-y\"]") && now.contains("enabled = false"), "{now}");
}

#[test]
fn a_quarantine_is_lifted_from_a_file_the_developer_edited_since() {
    let tmp = crate::enforce::scratch_dir();
    let path = tmp.path().join("config.toml");
    let text = "# codex\nmodel = \"a\"\n\n[mcp_servers.gh]\ncommand = \"npx\"\n\n[mcp_servers.docs]\nurl = \"u\"\n";
    fs::write(&path, text).unwrap();
    let keeper = FileKeeper::open(&tmp.path().join("state")).unwrap();
    let q = Quarantine {
        server_id: "G".into(),
        client: "codex".into(),
        name: "gh".into(),
        config_path: path.clone(),
        project: String::new(),
        decision: "R1".into(),
    };
    assert!(matches!(apply_one(&keeper, &q), Outcome::Applied(_)));
    let edited =
        fs::read_to_string(&path).unwrap().replace("model = \"a\"", "model = \"b\" # mine") + "\n[extra]\nx = 1\n";
    fs::write(&path, &edited).unwrap();
    let out = reconcile(&keeper, &[]).unwrap();
    assert!(matches!(out[0].1, Outcome::Lifted(_)), "{out:?}");
    let want = text.replace("model = \"a\"", "model = \"b\" # mine") + "\n[extra]\nx = 1\n";
    assert_eq!(fs::read_to_string(&path).unwrap(), want, "only Muster's line is gone");
    // Nothing quarantine-like stays in force; the lift itself is journalled.
    let touches = keeper.touches().unwrap();
    assert_eq!(touches[0].status, TouchStatus::Superseded);
    assert!(touches.iter().any(|t| t.key == "lift:quarantine:G" && t.status == TouchStatus::Applied));
    assert!(reconcile(&keeper, &[]).unwrap().is_empty());
}

#[test]
fn a_parse_error_names_the_place_never_the_content() {
    for (name, text) in [
        ("c.toml", "[mcp_servers.x]\ncommand = \"npx\"\ntoken = ghp_SECRETVALUE123\n"),
        ("c.json", "{\"mcpServers\": {\"x\": {\"env\": {\"T\": ghp_SECRETVALUE123}}}}"),
        ("c.yaml", "extensions:\n  x:\n    env: [ghp_SECRETVALUE123\n"),
    ] {
        let tmp = crate::enforce::scratch_dir();
        let path = tmp.path().join(name);
        fs::write(&path, text).unwrap();
        let q = Quarantine {
            server_id: "X".into(),
            client: "goose".into(),
            name: "x".into(),
            config_path: path,
            project: String::new(),
            decision: "R".into(),
        };
        let err = plan(&q).unwrap_err().to_string();
        assert!(err.contains("does not parse (line"), "{name}: {err}");
        assert!(!err.contains("SECRET"), "{name}: {err}");
    }
}

/// Regression: lifting a second quarantine must not undo the first one's lift (which put the
/// file back by taking the change out of the developer's edited file).
#[test]
fn lifting_after_a_take_back_keeps_the_earlier_lift() {
    let tmp = crate::enforce::scratch_dir();
    let path = tmp.path().join("mcp.json");
    let text = "{\n  \"mcpServers\": {\n    \"a\": {\n      \"command\": \"x\"\n    },\n\n\n    \"b\": {\n      \"command\": \"y\"\n    }\n  }\n}\n";
    fs::write(&path, text).unwrap();
    let keeper = FileKeeper::open(&tmp.path().join("state")).unwrap();
    let q = |id: &str, name: &str| Quarantine {
        server_id: id.into(),
        client: "cline".into(),
        name: name.into(),
        config_path: path.clone(),
        project: String::new(),
        decision: "R1".into(),
    };
    reconcile(&keeper, &[q("A", "a"), q("B", "b")]).unwrap();
    // The developer adds a comment at the top.
    let edited = fs::read_to_string(&path).unwrap().replacen("{\n", "{\n  // mine\n", 1);
    fs::write(&path, &edited).unwrap();
    let first = reconcile(&keeper, &[q("B", "b")]).unwrap();
    assert!(matches!(first[0].1, Outcome::Lifted(_)), "{first:?}");
    let second = reconcile(&keeper, &[]).unwrap();
    assert!(matches!(second[0].1, Outcome::Lifted(_)), "{second:?}");
    let now = fs::read_to_string(&path).unwrap();
    assert!(!now.contains("disabled"), "{now}");
    assert_eq!(now, text.replacen("{\n", "{\n  // mine\n", 1));
}
