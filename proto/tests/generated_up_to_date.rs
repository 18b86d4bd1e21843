//! Fails when `src/gen/` is stale: regenerates the code into a temp dir and compares it byte for
//! byte with the committed copy. Fix with `cargo run -p muster-proto --example generate`.

#[path = "support/gen.rs"]
mod gen_support;

use std::path::Path;

#[test]
fn committed_generated_code_matches_proto_files() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("temp dir");
    gen_support::generate(crate_dir, tmp.path()).expect("protox compiles the contract");
    let committed_dir = crate_dir.join("src/gen");
    let mut compared = 0;
    for entry in std::fs::read_dir(tmp.path()).expect("read generated dir") {
        let entry = entry.expect("dir entry");
        let fresh = std::fs::read_to_string(entry.path()).expect("read fresh file");
        let committed_path = committed_dir.join(entry.file_name());
        let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
        assert!(
            fresh == committed,
            "{} is stale: run `cargo run -p muster-proto --example generate`",
            committed_path.display()
        );
        compared += 1;
    }
    assert!(compared > 0, "protox generated no file");
}
