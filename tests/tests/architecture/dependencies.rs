//! The packages a crate links, as `cargo tree` resolves them (`--locked`, every target platform),
//! for the dependency invariants of ARCHITECTURE.md.
//!
//! `cargo tree` runs `--offline` first, so the check needs no network wherever the build already
//! fetched everything; only when a package of another platform was never downloaded does it run
//! once more without `--offline` (cargo then fetches exactly the locked versions it lacks).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// One package in a resolved graph, with the features it is built with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub features: Vec<String>,
}

impl Package {
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
}

/// The packages `cargo tree` lists for `args` (a package selection and edge kinds) in the
/// workspace at `workspace`, each once.
pub fn packages(workspace: &Path, args: &[&str]) -> anyhow::Result<Vec<Package>> {
    let run = |offline: bool| -> anyhow::Result<std::process::Output> {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.arg("tree")
            .arg("--manifest-path")
            .arg(workspace.join("Cargo.toml"))
            .args(["--locked", "--target", "all", "--prefix", "none", "--format", "{p}|{f}"])
            .args(args);
        if offline {
            cmd.arg("--offline");
        }
        cmd.output().context("running cargo tree")
    };
    let mut output = run(true)?;
    if !output.status.success() && String::from_utf8_lossy(&output.stderr).contains("offline") {
        eprintln!("cargo tree --offline lacks a package of another platform; fetching it");
        output = run(false)?;
    }
    if !output.status.success() {
        bail!("cargo tree {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
    }
    let mut out: Vec<Package> = Vec::new();
    for line in String::from_utf8(output.stdout).context("cargo tree printed non-UTF-8")?.lines() {
        let line = line.trim_end_matches(" (*)");
        let Some((package, features)) = line.split_once('|') else { continue };
        let mut words = package.split_whitespace();
        let (Some(name), Some(version)) = (words.next(), words.next()) else { continue };
        let package = Package {
            name: name.to_string(),
            version: version.to_string(),
            features: features.split(',').filter(|f| !f.is_empty()).map(str::to_string).collect(),
        };
        if !out.contains(&package) {
            out.push(package);
        }
    }
    if out.is_empty() {
        bail!("cargo tree {} listed no package", args.join(" "));
    }
    Ok(out)
}

/// What in `packages` breaks a rule, each once: a package of `forbidden`, or a package built with
/// one of the features listed for it in `forbidden_features`.
pub fn violations(packages: &[Package], forbidden: &[&str], forbidden_features: &[(&str, &str)]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut note = |what: String| {
        if !found.contains(&what) {
            found.push(what);
        }
    };
    for p in packages {
        if forbidden.contains(&p.name.as_str()) {
            note(format!("{} {}", p.name, p.version));
        }
        for (name, feature) in forbidden_features {
            if p.name == *name && p.has_feature(feature) {
                note(format!("{} {} with feature `{feature}`", p.name, p.version));
            }
        }
    }
    found
}
