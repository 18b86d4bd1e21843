//! Shared by the `generate` example and the `generated_up_to_date` test: compiles every
//! `.proto` file under `muster/` with protox and writes prost messages and tonic services to
//! `out`: clients behind the crate's `client` feature, servers behind `server`.

use std::path::{Path, PathBuf};

pub const PROTO_FILES: &[&str] = &["muster/v1/inventory.proto", "muster/v1/agent.proto"];

pub fn generate(crate_dir: &Path, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let files: Vec<PathBuf> = PROTO_FILES.iter().map(|f| crate_dir.join(f)).collect();
    let descriptors = protox::compile(&files, [crate_dir])?;
    // Each half behind its feature, so the agent compiles (and links) no server.
    tonic_prost_build::configure()
        .client_mod_attribute(".", r#"#[cfg(feature = "client")]"#)
        .server_mod_attribute(".", r#"#[cfg(feature = "server")]"#)
        .out_dir(out)
        .compile_fds(descriptors)?;
    Ok(())
}
