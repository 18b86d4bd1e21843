//! The policyHelper's answer on real directories (golden envelope, the administrator's settings
//! kept, corrupt and missing files, the size limit) and the writer that configures it.

use serde_json::{Value, json};

use super::*;
use crate::enforce::client_policy::testing::*;
use crate::enforce::client_policy::{
    ClientPolicyWriter, FileChange, OutcomeResult, Owned, Plan, PolicyHelper, ServerPolicy, WriterOptions, claude_code,
};

const ADMIN: &str = "managed-settings.json";
const TEAM: &str = "10-team.json";

/// A managed-settings dir with the administrator's two files from the fixtures and, when given,
/// Muster's drop-in.
fn settings_dir(ours: Option<&[u8]>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(ADMIN), fixture("claude-code-helper", ADMIN)).unwrap();
    let d = dir.path().join("managed-settings.d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join(TEAM), fixture("claude-code-helper", TEAM)).unwrap();
    if let Some(bytes) = ours {
        std::fs::write(d.join(claude_code::DROP_IN), bytes).unwrap();
    }
    dir
}

/// Muster's drop-in as the Claude Code writer compiles it for a block by command, a block by URL
/// and a denied tool.
fn drop_in() -> Vec<u8> {
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
    ];
    let none = Owned::default();
    written(&claude_code::ClaudeCode.compile(&plan(&servers, None, &none)).unwrap()).to_vec()
}

fn managed(a: &HelperAnswer) -> Value {
    let v: Value = serde_json::from_slice(&a.stdout).expect("the answer is JSON");
    assert_eq!(v.as_object().map(|o| o.len()), Some(1), "only the managedSettings key: {v}");
    v["managedSettings"].clone()
}

#[test]
fn the_helper_answers_with_the_administrators_settings_and_musters_blocks_merged() {
    let dir = settings_dir(Some(&drop_in()));
    let a = helper_answer(dir.path());
    assert_golden("claude-code-helper", "answer.json", &a.stdout);
    assert!(a.notes.is_empty(), "{:?}", a.notes);
    let m = managed(&a);
    let denied = m["deniedMcpServers"].as_array().unwrap();
    assert!(denied.contains(&json!({"serverUrl": "https://*.pastebin.example/*"})), "the administrator's entry stays");
    assert!(
        denied.contains(&json!({"serverCommand": ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/"]})),
        "the bundle's block by command is a serverCommand entry: {denied:?}"
    );
    assert!(denied.contains(&json!({"serverUrl": "https://paste.example.com/mcp"})), "and by URL a serverUrl entry");
    assert!(!a.stdout.windows(10).any(|w| w == b"serverName"), "never a name-only entry");
    assert_eq!(m["permissions"]["deny"], json!(["Bash(curl *)", "mcp__github__delete_repository"]));
    assert_eq!(m["permissions"]["ask"], json!(["Bash(git push *)"]), "the team drop-in is merged too");
    assert_eq!(m["model"], "claude-sonnet-4-6");
}

#[test]
fn without_musters_drop_in_the_helper_answers_with_the_administrators_settings_only() {
    let dir = settings_dir(None);
    let a = helper_answer(dir.path());
    let m = managed(&a);
    assert_eq!(m["deniedMcpServers"], json!([{ "serverUrl": "https://*.pastebin.example/*" }]));
    assert_eq!(m["permissions"]["deny"], json!(["Bash(curl *)"]));
    assert!(a.notes.iter().any(|n| n.contains("no Muster entries")), "{:?}", a.notes);

    let empty = tempfile::tempdir().unwrap();
    let a = helper_answer(&empty.path().join("absent"));
    assert_eq!(a.stdout, b"{\"managedSettings\":{}}\n", "nothing at all is still a valid answer");
}

#[test]
fn a_corrupt_file_is_left_out_and_named_never_quoted() {
    let dir = settings_dir(Some(b"{ \"deniedMcpServers\": [ SECRET-CANARY-1234"));
    let a = helper_answer(dir.path());
    let m = managed(&a);
    assert_eq!(m["deniedMcpServers"], json!([{ "serverUrl": "https://*.pastebin.example/*" }]), "admin's only");
    let notes = a.notes.join("\n");
    assert!(notes.contains("managed-settings.d/50-muster.json is not a JSON object"), "{notes}");
    assert!(!notes.contains("CANARY") && !String::from_utf8_lossy(&a.stdout).contains("CANARY"));

    // A broken administrator's file: Muster's entries still answer; a non-object too.
    std::fs::write(dir.path().join(ADMIN), b"[1, 2]").unwrap();
    std::fs::write(dir.path().join("managed-settings.d").join(claude_code::DROP_IN), drop_in()).unwrap();
    let m = managed(&helper_answer(dir.path()));
    assert_eq!(m["deniedMcpServers"].as_array().unwrap().len(), 2, "{m}");

    // A directory where a file should be, and a file that is not UTF-8.
    std::fs::create_dir(dir.path().join("managed-settings.d").join("20-dir.json")).unwrap();
    std::fs::write(dir.path().join("managed-settings.d").join("30-bin.json"), [0xff, 0xfe, 0x00]).unwrap();
    let a = helper_answer(dir.path());
    managed(&a);
    assert!(a.notes.iter().any(|n| n.contains("20-dir.json")), "{:?}", a.notes);
}

#[test]
fn the_helpers_own_key_is_not_passed_on() {
    let dir = settings_dir(Some(&drop_in()));
    let admin = json!({ "policyHelper": helper_entry(Os::Linux), "model": "x" });
    std::fs::write(dir.path().join(ADMIN), admin.to_string()).unwrap();
    let m = managed(&helper_answer(dir.path()));
    assert!(m.get(KEY).is_none(), "{m}");
    assert_eq!(m["model"], "claude-sonnet-4-6", "a later drop-in's scalar wins, as in Claude Code");
}

#[test]
fn an_answer_over_the_limit_drops_musters_entries_first() {
    let big: Vec<Value> = (0..40_000).map(|i| json!({ "serverUrl": format!("https://h{i}.example/mcp") })).collect();
    let dir = settings_dir(Some(json!({ "deniedMcpServers": big }).to_string().as_bytes()));
    let a = helper_answer(dir.path());
    assert!(a.stdout.len() <= MAX_OUTPUT);
    assert_eq!(managed(&a)["deniedMcpServers"], json!([{ "serverUrl": "https://*.pastebin.example/*" }]));
    assert!(a.notes.iter().any(|n| n.contains("1 MiB")), "{:?}", a.notes);
}

// ---- the writer ----

fn helper_plan<'a>(
    servers: &'a [ServerPolicy],
    existing: Option<&'a [u8]>,
    owned: &'a Owned,
    setting: PolicyHelper,
) -> Plan<'a> {
    Plan { options: WriterOptions { claude_code_policy_helper: setting }, ..plan(servers, existing, owned) }
}

fn servers() -> Vec<ServerPolicy> {
    vec![
        blocked(stdio("claude-code", "fs", &["npx", "-y", "server-filesystem"]), "no-fs"),
        stdio("claude-code", "ok", &["ok-mcp"]),
        blocked(stdio("cursor", "elsewhere", &["npx", "evil"]), "no-evil"),
    ]
}

#[test]
fn the_writer_adds_its_helper_to_the_administrators_file_and_takes_it_back() {
    let admin = fixture("claude-code-helper", ADMIN);
    let none = Owned::default();
    let s = servers();
    let c = ClaudeCodeHelper.compile(&helper_plan(&s, Some(&admin), &none, PolicyHelper::On)).unwrap();
    assert_golden("claude-code-helper", "managed-settings.with-helper.json", written(&c));
    assert_eq!(c.outcomes.len(), 1, "one outcome, for the Claude Code server's block: {:?}", c.outcomes);
    assert_eq!(c.outcomes[0].result, OutcomeResult::Written);
    let bytes = written(&c).to_vec();

    let again = ClaudeCodeHelper.compile(&helper_plan(&s, Some(&bytes), &c.owned, PolicyHelper::On)).unwrap();
    assert_eq!(again.change, FileChange::Unchanged);

    let lifted: Vec<ServerPolicy> = s
        .iter()
        .cloned()
        .map(|mut s| {
            s.asks = Default::default();
            s
        })
        .collect();
    let l = ClaudeCodeHelper.compile(&helper_plan(&lifted, Some(&bytes), &c.owned, PolicyHelper::On)).unwrap();
    assert_eq!(written(&l), admin.as_slice(), "lifting gives the administrator's file back byte for byte");
    assert!(l.owned.is_empty());

    // Turned off while Muster's helper is in: it is taken out too.
    let off = ClaudeCodeHelper.compile(&helper_plan(&s, Some(&bytes), &c.owned, PolicyHelper::Off)).unwrap();
    assert_eq!(written(&off), admin.as_slice());

    // No administrator's file: Muster creates it and removes it on lift.
    let created = ClaudeCodeHelper.compile(&helper_plan(&s, None, &none, PolicyHelper::On)).unwrap();
    let v: Value = serde_json::from_slice(written(&created)).unwrap();
    assert_eq!(v, json!({ "policyHelper": helper_entry(Os::Linux) }));
    let gone =
        ClaudeCodeHelper.compile(&helper_plan(&lifted, Some(written(&created)), &created.owned, PolicyHelper::On));
    assert_eq!(gone.unwrap().change, FileChange::Remove);
}

#[test]
fn the_writer_never_configures_a_missing_program_nor_replaces_an_administrators_helper() {
    let admin = fixture("claude-code-helper", ADMIN);
    let none = Owned::default();
    let s = servers();
    let missing =
        ClaudeCodeHelper.compile(&helper_plan(&s, Some(&admin), &none, PolicyHelper::ProgramMissing)).unwrap();
    assert_eq!(missing.change, FileChange::Unchanged, "Claude Code would refuse to start with a missing helper");
    assert!(matches!(&missing.outcomes[0].result, OutcomeResult::NotEnforceable(w) if w.contains("not installed")));

    let theirs = br#"{ "policyHelper": { "path": "/opt/acme/claude-policy" } }"#;
    let c = ClaudeCodeHelper.compile(&helper_plan(&s, Some(theirs), &none, PolicyHelper::On)).unwrap();
    assert_eq!(c.change, FileChange::Unchanged);
    assert!(matches!(&c.outcomes[0].result, OutcomeResult::NotEnforceable(w) if w.contains("administrator's own")));

    // Off, nothing owned: even a file Muster could not parse is left alone, without an error.
    let off = ClaudeCodeHelper.compile(&helper_plan(&s, Some(b"{ broken"), &none, PolicyHelper::Off)).unwrap();
    assert_eq!(off.change, FileChange::Unchanged);
    assert!(off.outcomes.is_empty());
}

#[test]
fn muster_s_own_helper_is_not_reported_as_shadowing_its_drop_in_but_a_missing_program_is() {
    let dir = tempfile::tempdir().unwrap();
    let layout = crate::platform::Layout::image(dir.path().to_path_buf(), Os::Linux);
    let file = layout.resolve("/etc/claude-code/managed-settings.json").unwrap();
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, json!({ "policyHelper": helper_entry(Os::Linux) }).to_string()).unwrap();
    let probe = crate::enforce::client_policy::FsProbe::default();
    assert!(claude_code::ClaudeCode.not_in_force(&layout, &probe).is_empty(), "Muster's helper includes the drop-in");
    let shadows = ClaudeCodeHelper.not_in_force(&layout, &probe);
    assert!(shadows[0].why.contains("not installed"), "{shadows:?}");
    let program = layout.resolve(helper_program(Os::Linux)).unwrap();
    std::fs::create_dir_all(program.parent().unwrap()).unwrap();
    std::fs::write(&program, b"#!/bin/sh\n").unwrap();
    assert!(ClaudeCodeHelper.not_in_force(&layout, &probe).is_empty());
}
