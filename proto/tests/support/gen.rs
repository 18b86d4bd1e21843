//! Shared by the `generate` example and the `generated_up_to_date` test: compiles every
//! `.proto` file under `muster/` with protox and writes prost messages and tonic services to
//! `out`: the control-plane contract's clients behind the crate's `client` feature and servers
//! behind `server`; the local API's behind `local-client` and `local-server`.

use std::path::{Path, PathBuf};

pub const PROTO_FILES: &[&str] = &["muster/v1/inventory.proto", "muster/v1/agent.proto", "muster/local/v1/local.proto"];

pub fn generate(crate_dir: &Path, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let files: Vec<PathBuf> = PROTO_FILES.iter().map(|f| crate_dir.join(f)).collect();
    let descriptors = protox::compile(&files, [crate_dir])?;
    // Each half behind its feature, so the agent compiles (and links) no server.
    tonic_prost_build::configure()
        .client_mod_attribute("muster.v1", r#"#[cfg(feature = "client")]"#)
        .server_mod_attribute("muster.v1", r#"#[cfg(feature = "server")]"#)
        .client_mod_attribute("muster.local.v1", r#"#[cfg(feature = "local-client")]"#)
        .server_mod_attribute("muster.local.v1", r#"#[cfg(feature = "local-server")]"#)
        .out_dir(out)
        .compile_fds(descriptors)?;
    Ok(())
}
