//! Credential formats from a signed data bundle (`credentials_toml`,
//! `docs/adr/0028-credential-formats-in-data-bundles.md`), through the data holder the daemon
//! uses and a real scan of an image: a key shape for a service no built-in rule knows is
//! reported with that service's provider once the bundle is in use, and as a generic secret
//! before; a bundle whose key shape does not compile is refused whole, with a reason naming the
//! place and no configuration value, and the rules in force stay; a bundle cannot remove or
//! replace a built-in shape or name keyword.
//!
//! The holder puts the rules of the data in use in force for the whole process, so the tests of
//! this binary take turns ([`SERIAL`]); each starts from a fresh holder, which installs its own
//! data's rules.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "common/image_scan.rs"]
mod image_scan;

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use muster_agent::data_bundle::{BUILTIN_DATA_VERSION, DATA_FORMAT, DataHolder, DataRefusal, DataSet, report_text};
use muster_agent::scan_all_with;
use muster_agent::state::StateDir;
use muster_proto::prost::Message as _;
use muster_proto::v1 as pb;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::json;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

const ISSUED: i64 = 1_800_000_000;
const V1: u64 = BUILTIN_DATA_VERSION + 100;
const V2: u64 = BUILTIN_DATA_VERSION + 200;

/// A key of a made-up service: no built-in rule has its shape.
const ZORBLAX_KEY: &str = "zbx_live_Qm3Xr8TzLw2Vb6Nc9Kp4Hs7Jd1Fg5Ya0";
/// A Tavily key (a shape of the built-in `credentials.toml`).
const TAVILY_KEY: &str = "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";

const ZORBLAX_ROW: &str = "version = 1\n\n[[key]]\nprovider = \"zorblax\"\nnames = [\"ZORBLAX\"]\n\
    kind = \"zorblax-api-key\"\npattern = 'zbx_(?:live|test)_[A-Za-z0-9]{32}'\nconfidence = \"high\"\n\
    source = \"test\"\n";

fn key() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

fn bundle(key: &Ed25519KeyPair, version: u64, credentials_toml: &str) -> pb::DataBundle {
    let document =
        serde_json::to_vec(&json!({"format": DATA_FORMAT, "version": version, "credentials_toml": credentials_toml}))
            .unwrap();
    let message = muster_proto::data_signing_message(version, ISSUED, &document);
    pb::DataBundle { version, document, issued_at_unix: ISSUED, signature: key.sign(&message).as_ref().to_vec() }
}

/// A Cursor config with a key under a name that says nothing about its provider.
fn write_image(root: &Path) {
    let config = json!({"mcpServers": {
        "zorblax": {"command": "npx", "args": ["-y", "@example/zorblax-mcp"], "env": {"API_KEY": ZORBLAX_KEY}},
        "search": {"command": "npx", "args": ["-y", "tavily-mcp"], "env": {"SEARCH_KEY": TAVILY_KEY}},
        "brave": {"command": "npx", "args": ["-y", "@example/brave"], "env": {"BRAVE_API_KEY": "${BRAVE_TOKEN}"}}
    }});
    let path = root.join("home/dev/.cursor/mcp.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
}

fn scan(root: &Path, data: &DataSet) -> pb::InventorySnapshot {
    let request = image_scan::image_request(root);
    scan_all_with(&request, data).unwrap().inventory
}

/// (kind, provider) of the credential of server `name` at `location`.
fn credential(inv: &pb::InventorySnapshot, name: &str, location: &str) -> (String, String) {
    let server = inv.servers.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{name} not reported"));
    let c = server
        .credentials
        .iter()
        .find(|c| c.location == location)
        .unwrap_or_else(|| panic!("no credential at {location}: {:#?}", server.credentials));
    (c.kind.clone(), c.provider.clone())
}

struct Agent {
    dir: tempfile::TempDir,
    root: std::path::PathBuf,
    holder: DataHolder,
    key: Ed25519KeyPair,
}

impl Agent {
    fn new() -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("image");
        write_image(&root);
        let state = StateDir::open(&dir.path().join("state")).unwrap();
        let key = key();
        let holder = DataHolder::load(state, key.public_key().as_ref(), None);
        Agent { dir, root, holder, key }
    }

    fn offer(&self, version: u64, credentials_toml: &str) -> Result<u64, DataRefusal> {
        self.holder.offer(&bundle(&self.key, version, credentials_toml), self.key.public_key().as_ref())
    }

    fn scan(&self) -> pb::InventorySnapshot {
        scan(&self.root, &self.holder.current())
    }

    fn holder_state(&self) -> StateDir {
        StateDir::open(&self.dir.path().join("state")).unwrap()
    }
}

#[test]
fn a_bundle_with_a_new_key_shape_makes_the_detector_name_its_provider() {
    let _turn = serial();
    let agent = Agent::new();
    let before = agent.scan();
    assert_eq!(credential(&before, "zorblax", "env:API_KEY"), ("generic-secret".into(), "unknown".into()));

    assert_eq!(agent.offer(V1, ZORBLAX_ROW), Ok(V1));
    let after = agent.scan();
    assert_eq!(credential(&after, "zorblax", "env:API_KEY"), ("zorblax-api-key".into(), "zorblax".into()));
    // The built-in shapes still apply alongside.
    assert_eq!(credential(&after, "search", "env:SEARCH_KEY"), ("tavily-api-key".into(), "tavily".into()));
    assert!(!String::from_utf8_lossy(&after.encode_to_vec()).contains(ZORBLAX_KEY), "the value is in the report bytes");

    // A restarted agent puts the stored bundle's rules in force again.
    let restarted = DataHolder::load(agent.holder_state(), agent.key.public_key().as_ref(), None);
    assert_eq!(restarted.status().bundle_version, V1);
    let again = scan(&agent.root, &restarted.current());
    assert_eq!(credential(&again, "zorblax", "env:API_KEY"), ("zorblax-api-key".into(), "zorblax".into()));
}

#[test]
fn a_bundle_whose_key_shape_does_not_compile_is_refused_and_the_rules_in_force_stay() {
    let _turn = serial();
    let agent = Agent::new();
    assert_eq!(agent.offer(V1, ZORBLAX_ROW), Ok(V1));

    // Line 14 holds the pattern; its unclosed class opens at column 16.
    let broken = format!(
        "{ZORBLAX_ROW}\n[[key]]\nprovider = \"quuxly\"\nkind = \"quuxly-key\"\npattern = 'qux_[a-z0-9{{32}}'\n\
         confidence = \"high\"\nsource = \"test\"\n"
    );
    let refusal = agent.offer(V2, &broken).expect_err("a pattern that does not compile");
    let DataRefusal::Malformed { version, message } = &refusal else { panic!("{refusal:?}") };
    assert_eq!(*version, V2);
    assert!(
        message.starts_with("credential formats: line 14, column 16: pattern of the row for \"quuxly\": "),
        "{message}"
    );

    let status = agent.holder.status();
    assert_eq!(status.bundle_version, V1, "the bundle in use stays");
    assert_eq!(status.refused_version, V2);
    let reported = report_text(status.refusal.as_deref().expect("the refusal is recorded"));
    assert_eq!(reported, refusal.to_string(), "the policy report carries the reason as it is");
    assert!(!reported.contains(ZORBLAX_KEY) && !reported.contains(TAVILY_KEY), "{reported}");

    let inv = agent.scan();
    assert_eq!(credential(&inv, "zorblax", "env:API_KEY"), ("zorblax-api-key".into(), "zorblax".into()));
}

#[test]
fn a_bundle_cannot_remove_or_replace_a_built_in_key_shape() {
    let _turn = serial();
    let agent = Agent::new();
    // No row of the built-in file, and Tavily's kind and keyword given to another shape and
    // another provider: an attempt to drop and to redirect built-in detection.
    let hostile = "version = 1\n\n[[key]]\nprovider = \"elsewhere\"\nnames = [\"BRAVE\"]\nservers = [\"tavily-local\"]\n\
                   kind = \"tavily-api-key\"\npattern = 'tvly-never-[0-9]{40}'\nconfidence = \"high\"\nsource = \"test\"\n";
    assert_eq!(agent.offer(V1, hostile), Ok(V1));
    let inv = agent.scan();
    assert_eq!(credential(&inv, "search", "env:SEARCH_KEY"), ("tavily-api-key".into(), "tavily".into()));
    assert_eq!(credential(&inv, "brave", "env:BRAVE_API_KEY").1, "brave", "the built-in keyword wins");
    assert_eq!(muster_agent::secrets::rules::provider_for_catalog_id("tavily-local"), Some("tavily"));
    let builtin = muster_agent::secrets::rules::CredentialRules::builtin();
    let in_force = muster_agent::secrets::provider_shapes();
    for rule in builtin.shapes().rules() {
        assert!(
            in_force.iter().any(|s| s.kind == rule.kind && s.pattern == rule.pattern),
            "built-in shape {} is gone",
            rule.kind
        );
    }
}
