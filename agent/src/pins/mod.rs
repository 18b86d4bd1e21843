//! Pinning a server launched as an unpinned package to the version its client already runs:
//! which version that is (the local package cache of the user owning the configuration file,
//! [`cache`]), which launch argument names the package
//! ([`crate::discovery::package::launch_spec`]), and the rewritten file text ([`edit`]: one
//! argument replaced by a format-preserving editor, JSON family and TOML only).
//!
//! [`candidates`] runs after each scan on the blocking pool (like the entry places) and keeps,
//! per server, either a candidate with the fingerprint of the file it was planned against, or
//! why there is none; the local API shows candidates and refuses a pin whose file changed since.
//! Writing, journalling and undo are the local API's (`local_api::fixes`) through the
//! file-safety layer; this module writes nothing.

pub mod cache;
pub mod edit;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use muster_proto::v1::{Ecosystem, InventorySnapshot, McpServer};
use serde_json::Value;

use crate::discovery::package::{self, LaunchSpec};
use crate::enforce::files::{Fingerprint, Observed};
use crate::enforce::quarantine::{self, QuarantineError};
use crate::platform::Layout;
use cache::Lookup;

/// Why a server has no pin candidate, or a pin was refused. Messages name packages and
/// versions (never an argument's value beyond the package spec) and the caller's own files.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("version pins are written in JSON-family and TOML files only, not {format}")]
    UnsupportedFormat { format: &'static str },
    #[error("the entry is not launched as `command` with a list of `args`")]
    NotALaunch,
    #[error("the entry is not launched with npx, npm exec, uvx or uv tool run")]
    NotAPackageLaunch,
    #[error("{name} is already pinned to an exact version")]
    AlreadyPinned { name: String },
    #[error("this launch argument cannot be pinned safely")]
    NotRewritable,
    #[error("the local package cache has no version of {name} for this launch")]
    NotInCache { name: String },
    #[error("the local package cache holds several versions of {name} for this launch ({}); Muster does not guess", versions.join(", "))]
    Ambiguous { name: String, versions: Vec<String> },
    #[error("the owner's home directory is not known")]
    NoHome,
    #[error("{0}")]
    Locate(String),
}

/// A version the client already runs, and where to write it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinPlan {
    pub ecosystem: Ecosystem,
    pub package: String,
    pub version: String,
    /// The server map holding the entry (as [`quarantine::locate_server`] gives it).
    pub map: Vec<String>,
    /// The entry's name in that map.
    pub name: String,
    /// Index into the entry's `args` of the argument to replace, its text now and its new text.
    pub arg_index: usize,
    pub old_arg: String,
    pub new_arg: String,
}

impl PinPlan {
    /// The pinned spec as shown to the developer (without a `--from=` style prefix).
    pub fn pinned_spec(&self) -> String {
        match self.new_arg.split_once('=') {
            Some((flag, spec)) if flag.starts_with("--") => spec.to_string(),
            _ => self.new_arg.clone(),
        }
    }
}

/// Plans the pin of entry `name` (of `project`) in the config `path` holding `text`, looking
/// the version up in the cache under `home`.
pub fn plan(path: &Path, text: &str, name: &str, project: &str, home: &Path) -> Result<PinPlan, PinError> {
    match path.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "yaml" | "yml" => return Err(PinError::UnsupportedFormat { format: "YAML" }),
        "md" => return Err(PinError::UnsupportedFormat { format: "Markdown" }),
        _ => {}
    }
    let (doc, map) = quarantine::locate_server(path, text, name, project).map_err(|e| match e {
        QuarantineError::Unsupported { format, .. } => PinError::UnsupportedFormat { format },
        other => PinError::Locate(other.to_string()),
    })?;
    let mut entry = &doc;
    for seg in map.iter().chain([&name.to_string()]) {
        entry = entry.get(seg).ok_or(PinError::NotALaunch)?;
    }
    let command = entry.get("command").and_then(Value::as_str).ok_or(PinError::NotALaunch)?;
    let args: Vec<&str> = match entry.get("args") {
        Some(Value::Array(list)) => {
            list.iter().map(Value::as_str).collect::<Option<_>>().ok_or(PinError::NotALaunch)?
        }
        _ => return Err(PinError::NotALaunch),
    };
    let launch = package::launch_spec(command, &args).ok_or(PinError::NotAPackageLaunch)?;
    let identity = package::identify(command, &args).ok_or(PinError::NotAPackageLaunch)?;
    if identity.pinned {
        return Err(PinError::AlreadyPinned { name: launch.name });
    }
    let version = match lookup(&launch, home) {
        Lookup::Found(v) => v,
        Lookup::Missing => return Err(PinError::NotInCache { name: launch.name }),
        Lookup::Ambiguous(versions) => return Err(PinError::Ambiguous { name: launch.name, versions }),
    };
    let new_arg = package::pinned_argument(&launch, &version).ok_or(PinError::NotRewritable)?;
    // The rewritten launch must read as pinned to that version, or the finding would stay.
    let mut new_args = args.clone();
    new_args[launch.index] = &new_arg;
    let after = package::identify(command, &new_args);
    if !after.as_ref().is_some_and(|p| p.pinned && p.version.as_deref() == Some(&version) && p.name == launch.name) {
        return Err(PinError::NotRewritable);
    }
    Ok(PinPlan {
        ecosystem: launch.ecosystem,
        package: launch.name,
        version,
        map,
        name: name.to_string(),
        arg_index: launch.index,
        old_arg: args[launch.index].to_string(),
        new_arg,
    })
}

fn lookup(launch: &LaunchSpec, home: &Path) -> Lookup {
    match launch.ecosystem {
        Ecosystem::Npm => cache::npx(home, &launch.spec, &launch.name),
        Ecosystem::Pypi => cache::uv(home, &launch.name, &launch.command),
        _ => Lookup::Missing,
    }
}

/// A pin candidate of one server, planned right after a scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub plan: PinPlan,
    /// The config file on this host and its content when planned.
    pub config: PathBuf,
    pub content: Fingerprint,
    /// The owner's home on this host (the cache looked in).
    pub home: PathBuf,
}

/// Server id → its candidate, or why it has none (for the refusal's message). Only servers
/// whose inventory package is an unpinned npm or PyPI package are listed.
pub type Candidates = BTreeMap<String, Result<Candidate, PinError>>;

/// Whether the inventory says `server` runs an unpinned registry package.
fn unpinned(server: &McpServer) -> bool {
    server
        .package
        .as_ref()
        .is_some_and(|p| !p.pinned && (p.ecosystem == Ecosystem::Npm as i32 || p.ecosystem == Ecosystem::Pypi as i32))
}

/// The pin candidates of every unpinned server of `inventory`, each config file read once.
pub fn candidates(inventory: &InventorySnapshot, layout: &Layout) -> Candidates {
    let homes: BTreeMap<&str, &str> = inventory.users.iter().map(|u| (u.name.as_str(), u.home.as_str())).collect();
    let mut by_file: BTreeMap<&str, Vec<&McpServer>> = BTreeMap::new();
    for s in inventory.servers.iter().filter(|s| unpinned(s) && !s.config_path.is_empty()) {
        by_file.entry(s.config_path.as_str()).or_default().push(s);
    }
    let mut out = Candidates::new();
    for (machine_path, servers) in by_file {
        let read = layout.resolve(machine_path).and_then(|path| {
            let (observed, bytes) = Observed::read(&path).ok()?;
            let text = String::from_utf8(bytes?).ok()?;
            Some((path, observed.content()?.clone(), text))
        });
        for s in servers {
            let planned = match &read {
                None => Err(PinError::Locate(format!("{machine_path} could not be read again"))),
                Some((path, content, text)) => {
                    let home = homes.get(s.user.as_str()).and_then(|h| layout.resolve(h)).ok_or(PinError::NoHome);
                    let shown = s.package.as_ref().map(|p| p.name.as_str()).unwrap_or_default();
                    home.and_then(|home| plan(path, text, &s.name, &s.project, &home).map(|plan| (plan, home)))
                        .and_then(|(plan, home)| {
                            // What the local API shows is the inventory's package name (parsed
                            // from masked text, past the scrub gate) and a cache version; a raw
                            // name that masking changed is never shown.
                            if plan.package != shown {
                                return Err(PinError::NotRewritable);
                            }
                            Ok(Candidate { plan, config: path.clone(), content: content.clone(), home })
                        })
                }
            };
            out.insert(s.id.clone(), planned);
        }
    }
    out
}

/// The new text of the config `path` holding `text` with `plan` applied.
pub fn rewrite(path: &Path, text: &str, plan: &PinPlan) -> Result<String, PinError> {
    let toml = path.extension().and_then(|e| e.to_str()) == Some("toml");
    let edited = if toml {
        edit::toml_replace_arg(text, &plan.map, &plan.name, plan.arg_index, &plan.old_arg, &plan.new_arg)
    } else {
        edit::json_replace_arg(text, &plan.map, &plan.name, plan.arg_index, &plan.old_arg, &plan.new_arg)
    };
    edited.map_err(|e| PinError::Locate(e.to_string()))
}
