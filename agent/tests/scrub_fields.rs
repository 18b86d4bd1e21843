//! Every string field of the wire contract passes the agent's gate. The test reads the
//! `.proto` files themselves (compiled with `protox`), walks every message reachable from
//! `InventorySnapshot` and `Host`, and for each string field (singular or repeated, at any
//! depth) builds a snapshot with a secret planted there, in several shapes: a random key alone,
//! a key inside a path and a URL path, a provider look-alike whose checksum fails, and a
//! credential pair. After [`scrub_snapshot`] the encoded snapshot must hold no 12-character
//! window of the secret. A field added to the contract is covered without touching this test;
//! a field the gate forgets fails it.
//!
//! Exempt, by name, are only the hashes the agent computes itself (they are random by
//! construction and never come from a config).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;

use muster_agent::inventory::scrub_snapshot;
use muster_proto::prost::Message;
use muster_proto::v1 as pb;
use protox::prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};

const EXEMPT: &[&str] = &[
    "muster.v1.McpServer.id",
    "muster.v1.Credential.fingerprint",
    "muster.v1.Finding.id",
    "muster.v1.Finding.server_ids",
    "muster.v1.McpProcess.server_ids",
    "muster.v1.Host.machine_id",
];

fn pool() -> protox::prost_reflect::DescriptorPool {
    let proto_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let mut compiler = protox::Compiler::new([&proto_dir]).expect("compiler");
    compiler.open_files(["muster/v1/inventory.proto", "muster/v1/agent.proto"]).expect("contract compiles");
    compiler.descriptor_pool()
}

/// Every path of string fields under `message`, as lists of fields from the root.
fn string_paths(message: &MessageDescriptor, prefix: &mut Vec<FieldDescriptor>, out: &mut Vec<Vec<FieldDescriptor>>) {
    for field in message.fields() {
        if prefix.iter().any(|f| f.full_name() == field.full_name()) {
            continue;
        }
        match field.kind() {
            Kind::String => {
                let mut path = prefix.clone();
                path.push(field.clone());
                out.push(path);
            }
            Kind::Message(inner) => {
                prefix.push(field.clone());
                string_paths(&inner, prefix, out);
                prefix.pop();
            }
            _ => {}
        }
    }
}

fn set_path(msg: &mut DynamicMessage, path: &[FieldDescriptor], text: &str) {
    let (field, rest) = path.split_first().expect("non-empty path");
    let value = if rest.is_empty() {
        Value::String(text.to_string())
    } else {
        let Kind::Message(inner) = field.kind() else { unreachable!("only message fields have children") };
        let mut child = DynamicMessage::new(inner);
        set_path(&mut child, rest, text);
        Value::Message(child)
    };
    let value = if field.is_list() { Value::List(vec![value]) } else { value };
    msg.set_field(field, value);
}

fn base62(seed: u64, n: usize) -> String {
    const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            A[((x >> 33) % 62) as usize] as char
        })
        .collect()
}

fn leaked(haystack: &[u8], secret: &str) -> bool {
    let s = secret.as_bytes();
    s.windows(12.min(s.len())).any(|w| haystack.windows(w.len()).any(|h| h == w))
}

#[test]
fn every_string_field_of_the_contract_is_scrubbed() {
    let pool = pool();
    let root = pool.get_message_by_name("muster.v1.InventorySnapshot").expect("snapshot message");
    let mut paths = Vec::new();
    string_paths(&root, &mut Vec::new(), &mut paths);
    assert!(paths.len() > 40, "walked only {} string fields", paths.len());

    let mut checked = 0;
    let mut failures = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let leaf = path.last().expect("leaf").full_name().to_string();
        if EXEMPT.contains(&leaf.as_str()) {
            continue;
        }
        let key = base62(i as u64 + 1, 28);
        let bad_checksum = format!("ghp_{}", base62(i as u64 + 1000, 36));
        let pair_secret = base62(i as u64 + 2000, 24);
        let shapes = [
            (key.clone(), key.clone()),
            (format!("/home/dev/projects/{key}/.cursor/mcp.json"), key.clone()),
            (format!("https://mcp.example.com/api/mcp/s/{key}/mcp"), key.clone()),
            (format!("server {key:?} runs x"), key.clone()),
            (bad_checksum.clone(), bad_checksum),
            (format!("AKIAIOSFODNN7EXAMPLE/build:{pair_secret}"), pair_secret),
        ];
        for (text, secret) in shapes {
            let mut msg = DynamicMessage::new(root.clone());
            set_path(&mut msg, path, &text);
            let mut snapshot = pb::InventorySnapshot::decode(msg.encode_to_vec().as_slice()).expect("decodes");
            let before = snapshot.encode_to_vec();
            assert!(leaked(&before, &secret), "{leaf}: the planted value is not in the snapshot");
            scrub_snapshot(&mut snapshot);
            if leaked(&snapshot.encode_to_vec(), &secret) {
                failures.push(format!("{leaf}: {text}"));
            }
            checked += 1;
        }
    }
    assert!(checked > 200, "only {checked} cases");
    assert!(failures.is_empty(), "secrets pass the gate through:\n{}", failures.join("\n"));
}
