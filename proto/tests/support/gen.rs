//! Shared by the `generate` example and the `generated_up_to_date` test: compiles every
//! `.proto` file under `muster/` with protox and writes prost messages and tonic services to
//! `out`.

use std::path::{Path, PathBuf};

pub const PROTO_FILES: &[&str] = &["muster/v1/inventory.proto", "muster/v1/agent.proto", "muster/local/v1/local.proto"];

pub fn generate(crate_dir: &Path, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let files: Vec<PathBuf> = PROTO_FILES.iter().map(|f| crate_dir.join(f)).collect();
    let descriptors = protox::compile(&files, [crate_dir])?;
    tonic_prost_build::configure().out_dir(out).compile_fds(descriptors)?;
    Ok(())
}
