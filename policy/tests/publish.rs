//! `publish`: the control plane's stamp on a published version. The file's own problems keep
//! their places, the stamp replaces what the file says, and the canonical bytes carry it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

const FILE: &str = r#"version = 1
name = "acme"
revision = 99

[[rule]]
id = "no-sse"
action = "notify"
[rule.match]
transport = ["sse"]
"#;

#[test]
fn the_stamp_replaces_the_files_revision_and_travels_in_the_canonical_bytes() {
    let bundle = muster_policy::publish(FILE, 7, 1_801_398_605).unwrap();
    assert_eq!(bundle.revision(), 7);
    assert_eq!(bundle.published_at(), Some(1_801_398_605));
    let again = muster_policy::parse(std::str::from_utf8(bundle.canonical_bytes()).unwrap()).unwrap();
    assert_eq!(again.revision(), 7);
    assert_eq!(again.published_at(), Some(1_801_398_605));
    assert_eq!(again.canonical_bytes(), bundle.canonical_bytes());
    let other = muster_policy::publish(FILE, 8, 1_801_398_605).unwrap();
    assert_ne!(other.canonical_bytes(), bundle.canonical_bytes(), "the revision is part of the signed bytes");
}

#[test]
fn a_broken_file_is_refused_with_its_own_places() {
    let broken = FILE.replace("transport = [\"sse\"]", "trasnport = [\"sse\"]");
    let error = muster_policy::publish(&broken, 7, 0).unwrap_err();
    assert_eq!(error.diagnostics.len(), 1, "{error}");
    assert_eq!((error.diagnostics[0].line, error.diagnostics[0].column), (9, 1), "{error}");
}
