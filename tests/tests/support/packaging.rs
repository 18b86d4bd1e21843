//! What the package tests share: running a command, `cargo xtask dist` into a directory, finding
//! one built package by name.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, ensure};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `cargo xtask dist --formats FORMATS` (the dev profile, which the test build already compiled) into `out`.
pub fn dist(out: &Path, revision: u32, formats: &str) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    muster_e2e::without_test_cargo_env(&mut cmd);
    run(cmd.current_dir(workspace()).args(["run", "-q", "-p", "xtask", "--", "dist"]).args([
        "--profile",
        "dev",
        "--formats",
        formats,
        "--revision",
        &revision.to_string(),
        "--out",
        &out.display().to_string(),
    ]))?;
    Ok(())
}

pub fn one_file(dir: &Path, prefix: &str, suffix: &str) -> anyhow::Result<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with(prefix) && name.ends_with(suffix) {
            found.push(path);
        }
    }
    ensure!(found.len() == 1, "expected one {prefix}*{suffix} in {}, found {found:?}", dir.display());
    Ok(found.remove(0))
}

pub fn running_as_root() -> bool {
    run(Command::new("id").arg("-u")).map(|u| u.trim() == "0").unwrap_or(false)
}
