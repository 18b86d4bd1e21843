use ring::signature::{Ed25519KeyPair, KeyPair as _};

use super::*;

const ISSUED: i64 = 1_800_000_000;
const V1: u64 = BUILTIN_DATA_VERSION + 10;
const V2: u64 = BUILTIN_DATA_VERSION + 20;

const ROW: &str = "[[server]]\nid = \"acme-tickets\"\nservice = \"acme\"\ncategory = \"ticketing\"\nauth = \"api-key\"\nnpm = [\"@acme/tickets-mcp\"]\nlegs = [\"private_data\"]\nreason = \"reads tickets\"\nsource = \"test\"\n";

fn key() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

/// The built-in catalog with one more row, as a bundle's `services_toml`.
fn services_with_acme() -> String {
    format!("{}\n{ROW}", crate::catalog::BUNDLED_TOML)
}

fn document(version: u64, services: Option<&str>) -> Vec<u8> {
    let mut doc = serde_json::json!({"format": DATA_FORMAT, "version": version});
    if let Some(services) = services {
        doc["services_toml"] = services.into();
    }
    serde_json::to_vec(&doc).unwrap()
}

fn signed(key: &Ed25519KeyPair, version: u64, document: Vec<u8>) -> DataBundle {
    let message = muster_proto::data_signing_message(version, ISSUED, &document);
    DataBundle { version, document, issued_at_unix: ISSUED, signature: key.sign(&message).as_ref().to_vec() }
}

fn acme(data: &DataSet) -> bool {
    data.catalog().unwrap().entries().iter().any(|e| e.id == "acme-tickets")
}

#[test]
fn a_signed_newer_bundle_brings_its_catalog_and_keeps_the_built_in_advisories() {
    let key = key();
    let data =
        accept(&signed(&key, V1, document(V1, Some(&services_with_acme()))), key.public_key().as_ref(), 0).unwrap();
    assert_eq!(data.version(), V1);
    assert!(acme(&data), "the bundle's catalog is in use");
    assert!(!acme(&DataSet::builtin()));
    assert_eq!(
        data.advisories().unwrap().advisories().len(),
        AdvisoryDb::bundled().unwrap().advisories().len(),
        "an absent part leaves the built-in one"
    );
}

#[test]
fn a_bad_signature_is_refused() {
    let (pinned, other) = (key(), key());
    let doc = document(V1, Some(&services_with_acme()));
    let foreign = signed(&other, V1, doc.clone());
    assert_eq!(
        accept(&foreign, pinned.public_key().as_ref(), 0).unwrap_err(),
        DataRefusal::BadSignature { version: V1 }
    );
    let mut altered = signed(&pinned, V1, doc.clone());
    altered.document = String::from_utf8(altered.document).unwrap().replace("acme", "evil").into_bytes();
    assert_eq!(
        accept(&altered, pinned.public_key().as_ref(), 0).unwrap_err(),
        DataRefusal::BadSignature { version: V1 }
    );
    let mut unsigned = signed(&pinned, V1, doc.clone());
    unsigned.signature.clear();
    assert_eq!(accept(&unsigned, pinned.public_key().as_ref(), 0).unwrap_err(), DataRefusal::Unsigned { version: V1 });
    assert_eq!(accept(&signed(&pinned, V1, doc), &[], 0).unwrap_err(), DataRefusal::NoPinnedKey);
}

#[test]
fn a_policy_signature_never_verifies_as_a_data_bundle() {
    let key = key();
    let doc = document(V1, None);
    let message = muster_proto::policy_signing_message(V1, ISSUED, &doc);
    let bundle = DataBundle {
        version: V1,
        document: doc,
        issued_at_unix: ISSUED,
        signature: key.sign(&message).as_ref().to_vec(),
    };
    assert_eq!(accept(&bundle, key.public_key().as_ref(), 0).unwrap_err(), DataRefusal::BadSignature { version: V1 });
}

#[test]
fn a_rollback_to_an_older_version_or_below_the_built_in_data_is_refused() {
    let key = key();
    let public = key.public_key().as_ref();
    assert_eq!(
        accept(&signed(&key, V1, document(V1, None)), public, V2).unwrap_err(),
        DataRefusal::NotNewer { version: V1, held: V2 }
    );
    assert_eq!(
        accept(&signed(&key, V2, document(V2, None)), public, V2).unwrap_err(),
        DataRefusal::NotNewer { version: V2, held: V2 }
    );
    let old = BUILTIN_DATA_VERSION - 1;
    assert_eq!(
        accept(&signed(&key, old, document(old, None)), public, 0).unwrap_err(),
        DataRefusal::OlderThanBuiltIn { version: old, builtin: BUILTIN_DATA_VERSION }
    );
}

#[test]
fn a_malformed_bundle_is_refused_and_the_previous_data_stays_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::open(dir.path()).unwrap();
    let key = key();
    let public = key.public_key().as_ref().to_vec();
    let (tx, mut rx) = mpsc::channel(4);
    let holder = DataHolder::load(state.clone(), &public, Some(tx));
    assert_eq!(holder.status().bundle_version, 0);
    assert!(!acme(&holder.current()));
    assert_eq!(holder.offer(&signed(&key, V1, document(V1, Some(&services_with_acme()))), &public), Ok(V1));
    assert!(rx.try_recv().is_ok(), "the daemon is told to rescan");
    assert!(acme(&holder.current()));

    let bad_toml = signed(&key, V2, document(V2, Some("version = 1\n[[server]]\nid = ")));
    let wrong_schema = signed(&key, V2, document(V2, Some("version = 1\n[[server]]\nid = \"x\"\n")));
    let not_json = signed(&key, V2, b"{\"format\": 1, ".to_vec());
    let mislabelled = signed(&key, V2, document(V1, None));
    let new_format = signed(&key, V2, serde_json::to_vec(&serde_json::json!({"format": 2, "version": V2})).unwrap());
    let mut bad_advisories = serde_json::from_slice::<serde_json::Value>(&document(V2, None)).unwrap();
    bad_advisories["advisories_osv_json"] = "[{\"summary\": \"no id\"}]".into();
    let bad_advisories = signed(&key, V2, serde_json::to_vec(&bad_advisories).unwrap());
    for (what, bundle) in [
        ("bad toml", bad_toml),
        ("wrong schema", wrong_schema),
        ("not json", not_json),
        ("mislabelled", mislabelled),
        ("new format", new_format),
        ("bad advisories", bad_advisories),
    ] {
        assert!(matches!(holder.offer(&bundle, &public), Err(DataRefusal::Malformed { version: V2, .. })), "{what}");
        let status = holder.status();
        assert_eq!(status.bundle_version, V1, "{what}: the previous bundle stays");
        assert!(acme(&status.current), "{what}: its catalog stays in use");
        assert!(status.refusal.is_some_and(|r| r.contains("cannot be read")), "{what}: the reason is kept");
        assert_eq!(status.refused_version, V2, "{what}: the refused version is kept");
        assert!(rx.try_recv().is_ok(), "{what}: the daemon is told, so its next report carries the refusal");
    }

    // Kept across a restart; a stored file altered on disk, or checked with another key, is not.
    let restarted = DataHolder::load(state.clone(), &public, None);
    assert_eq!(restarted.status().bundle_version, V1);
    assert!(acme(&restarted.current()));
    assert_eq!(
        restarted.offer(&signed(&key, V1, document(V1, None)), &public),
        Err(DataRefusal::NotNewer { version: V1, held: V1 })
    );
    let with_other_key = DataHolder::load(state.clone(), self::key().public_key().as_ref(), None);
    assert_eq!(with_other_key.status().bundle_version, 0);
    assert!(!acme(&with_other_key.current()), "the built-in data is the floor");
    std::fs::write(dir.path().join(BUNDLE_FILE), b"garbage").unwrap();
    let corrupt = DataHolder::load(state, &public, None);
    assert_eq!(corrupt.status().bundle_version, 0);
    assert!(corrupt.status().refusal.is_some());
}

#[test]
fn the_built_in_data_version_is_raised_with_the_data() {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(crate::catalog::BUNDLED_TOML.as_bytes());
    context.update(crate::advisories::BUNDLED_JSON.as_bytes());
    let digest: String = context.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        digest, BUILTIN_DATA_DIGEST,
        "agent/data changed: set BUILTIN_DATA_VERSION to the Unix time of the change and BUILTIN_DATA_DIGEST to {digest}"
    );
}
