//! Regenerates `src/gen/` from the `.proto` files with the pure-Rust `protox` compiler.
//!
//! Run `cargo run -p muster-proto --example generate` after editing a `.proto` file; the test
//! `generated_up_to_date` fails until the committed code matches.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = crate_dir.join("src/gen");
    std::fs::create_dir_all(&out)?;
    muster_proto_gen::generate(crate_dir, &out)?;
    println!("regenerated {}", out.display());
    Ok(())
}

#[path = "../tests/support/gen.rs"]
mod muster_proto_gen;
