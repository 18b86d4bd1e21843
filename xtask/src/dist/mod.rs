//! `cargo xtask dist`: builds `muster-agent` and `muster-server` with cargo, describes each
//! package once ([`Package`]: files with modes, conffiles, scripts) and hands that description to
//! the deb and rpm writers; the agent's MSI is built from its WiX source. It does not sign anything.

mod deb;
mod macos;
mod msi;
mod rpm;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail, ensure};

#[derive(clap::Args)]
pub struct DistArgs {
    /// Cargo profile of the packaged binaries (`dev` is quick, for tests).
    #[arg(long, default_value = "release")]
    profile: String,
    /// Where the packages go [default: target/dist].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Package revision (deb `VERSION-REVISION`, rpm `Release`); raise it to rebuild one version.
    #[arg(long, default_value_t = 1)]
    revision: u32,
    /// Bake this agent.toml into the agent packages: installed as /etc/muster/agent.toml (0600)
    /// unless that file exists, so the agent enrolls on its first start with no other step. It is
    /// checked with `muster-agent config check` first.
    #[arg(long, value_name = "FILE")]
    agent_config: Option<PathBuf>,
    /// The Windows `muster-agent.exe` for the MSI (built on a Windows runner); without it the MSI
    /// holds a stand-in file and its name ends in `_STAND-IN`.
    #[arg(long, value_name = "EXE")]
    windows_agent: Option<PathBuf>,
    /// The Windows `muster-tray.exe` for the MSI (started at every logon), with its window program
    /// `muster-window.exe` beside it (ADR 0027); stand-ins without it.
    #[arg(long, value_name = "EXE")]
    windows_tray: Option<PathBuf>,
    /// The macOS `muster-agent` for the package tree (built on a macOS runner); without it the
    /// tree holds a stand-in file and its name ends in `_STAND-IN`.
    #[arg(long, value_name = "BIN")]
    macos_agent: Option<PathBuf>,
    /// The macOS `muster-tray` executable, placed in `/Applications/Muster.app` and started by a
    /// LaunchAgent at each login, with `muster-window` beside it (ADR 0027); stand-ins without it.
    #[arg(long, value_name = "BIN")]
    macos_tray: Option<PathBuf>,
    /// Formats to build (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "deb,rpm,msi,macos")]
    formats: Vec<Format>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Deb,
    Rpm,
    Msi,
    /// The macOS package tree and its pkgbuild/productbuild recipe (no flat-package writer here).
    Macos,
}

/// Where a packaged file's bytes come from.
#[derive(Debug)]
enum Source {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// One installed file: absolute path on the target machine and mode (owner is always root).
#[derive(Debug)]
struct Entry {
    source: Source,
    dest: String,
    mode: u32,
}

/// Which system layout the unit directory follows.
#[derive(Clone, Copy, Debug)]
enum Flavour {
    Debian,
    RedHat,
}

/// One package, independent of its format.
#[derive(Debug)]
struct Package {
    name: &'static str,
    summary: &'static str,
    description: &'static str,
    version: String,
    revision: u32,
    /// Files; `{unitdir}` in a destination is the system unit directory of the format.
    entries: Vec<Entry>,
    /// Config files the package manager keeps when the admin edited them.
    conffiles: Vec<String>,
    /// Quick, light compression (dev builds for tests); release packages use xz.
    fast: bool,
    /// Packages this one needs besides the init-system helpers: (deb name, rpm name) pairs.
    depends: &'static [(&'static str, &'static str)],
}

impl Package {
    fn dest(entry: &Entry, flavour: Flavour) -> String {
        let unitdir = match flavour {
            Flavour::Debian => "/lib/systemd/system",
            Flavour::RedHat => "/usr/lib/systemd/system",
        };
        entry.dest.replace("{unitdir}", unitdir)
    }

    /// Writes every entry under `root` with its mode.
    fn stage(&self, root: &Path, flavour: Flavour) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        for entry in &self.entries {
            let dest = Self::dest(entry, flavour);
            let path = root.join(dest.trim_start_matches('/'));
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            match &entry.source {
                Source::File(src) => {
                    std::fs::copy(src, &path).with_context(|| format!("copying {}", src.display()))?;
                }
                Source::Bytes(bytes) => std::fs::write(&path, bytes)?,
            }
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(entry.mode))?;
        }
        Ok(())
    }
}

pub fn run(args: &DistArgs, root: &Path) -> anyhow::Result<()> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let out = args.out.clone().unwrap_or_else(|| target.join("dist"));
    std::fs::create_dir_all(&out)?;
    let bins = build(root, &args.profile, &target)?;
    let baked: Option<Vec<u8>> = match &args.agent_config {
        Some(path) => Some(checked_agent_config(&bins.agent, path)?),
        None => None,
    };
    let version = env!("CARGO_PKG_VERSION").to_string();
    let packages = [
        agent_package(root, &bins, baked.clone(), &version, args.revision),
        server_package(root, &bins, &version, args.revision),
        tray_package(root, &bins, &version, args.revision),
    ]
    .map(|p| Package { fast: args.profile == "dev", ..p });
    let work = tempdir(&target)?;
    for package in &packages {
        for format in &args.formats {
            let file = match format {
                Format::Deb => deb::build(package, root, &work, &out)?,
                Format::Rpm => rpm::build(package, root, &work, &out)?,
                // The control plane ships for Linux (packages, OCI image) only.
                Format::Msi | Format::Macos => continue,
            };
            println!("{}", file.display());
        }
    }
    if args.formats.contains(&Format::Msi) {
        let file =
            msi::build(&version, args.windows_agent.as_deref(), args.windows_tray.as_deref(), root, &work, &out)?;
        println!("{}", file.display());
    }
    if args.formats.contains(&Format::Macos) {
        let tree = macos::build(
            &version,
            args.macos_agent.as_deref(),
            args.macos_tray.as_deref(),
            baked.as_deref(),
            root,
            &out,
        )?;
        println!("{}", tree.display());
    }
    std::fs::remove_dir_all(&work).ok();
    Ok(())
}

/// A fresh scratch directory under the target dir (no temp-dir crate for one directory).
fn tempdir(target: &Path) -> anyhow::Result<PathBuf> {
    let dir = target.join("dist-work").join(std::process::id().to_string());
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

struct Binaries {
    agent: PathBuf,
    server: PathBuf,
    tray: PathBuf,
    /// The window process the tray starts on "Open", installed beside it.
    window: PathBuf,
}

fn build(root: &Path, profile: &str, target: &Path) -> anyhow::Result<Binaries> {
    // The tray in a build of its own: built together, cargo would unify the GUI stack's features
    // with the agent's and the server's dependencies and rebuild those for every combination.
    for packages in [
        &["-p", "muster-agent", "--bin", "muster-agent", "-p", "muster-control-plane", "--bin", "muster-server"][..],
        &["-p", "muster-tray", "--bin", "muster-tray", "-p", "muster-desktop-ui", "--bin", "muster-window"],
    ] {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root)
            .args(["build", "--profile", profile])
            .args(packages)
            .status()
            .context("running cargo build")?;
        ensure!(status.success(), "cargo build failed");
    }
    let dir = target.join(if profile == "dev" { "debug" } else { profile });
    let bins = Binaries {
        agent: dir.join("muster-agent"),
        server: dir.join("muster-server"),
        tray: dir.join("muster-tray"),
        window: dir.join("muster-window"),
    };
    for bin in [&bins.agent, &bins.server, &bins.tray, &bins.window] {
        ensure!(bin.is_file(), "{} was not built", bin.display());
    }
    Ok(bins)
}

/// Runs the just-built agent's `config check` on the file to bake in; refuses a broken one.
fn checked_agent_config(agent: &Path, path: &Path) -> anyhow::Result<Vec<u8>> {
    let out = Command::new(agent).args(["config", "check"]).arg(path).output().context("running config check")?;
    if !out.status.success() {
        bail!("--agent-config {}: {}", path.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn copyright() -> Vec<u8> {
    b"Muster\nLicense: Apache-2.0\nOn Debian systems the licence text is in /usr/share/common-licenses/Apache-2.0.\n"
        .to_vec()
}

fn agent_package(root: &Path, bins: &Binaries, baked: Option<Vec<u8>>, version: &str, revision: u32) -> Package {
    let linux = root.join("packaging/linux");
    let mut entries = vec![
        Entry { source: Source::File(bins.agent.clone()), dest: "/usr/bin/muster-agent".into(), mode: 0o755 },
        // Claude Code runs its policyHelper without arguments (docs/adr/0017).
        Entry {
            source: Source::Bytes(b"#!/bin/sh\nexec /usr/bin/muster-agent hook claude-code\n".to_vec()),
            dest: "/usr/lib/muster-agent/claude-policy-helper".into(),
            mode: 0o755,
        },
        Entry {
            source: Source::File(linux.join("muster-agent.service")),
            dest: "{unitdir}/muster-agent.service".into(),
            mode: 0o644,
        },
        Entry {
            source: Source::File(linux.join("agent.toml")),
            dest: "/usr/share/muster-agent/agent.toml.example".into(),
            mode: 0o644,
        },
        Entry { source: Source::Bytes(copyright()), dest: "/usr/share/doc/muster-agent/copyright".into(), mode: 0o644 },
    ];
    if let Some(bytes) = baked {
        entries.push(Entry {
            source: Source::Bytes(bytes),
            dest: "/usr/share/muster-agent/agent.toml.baked".into(),
            mode: 0o600,
        });
    }
    Package {
        name: "muster-agent",
        summary: "Muster agent: MCP server inventory and credential hygiene",
        description: "Finds the MCP servers configured and running on this machine, judges their credential \
                      and supply-chain hygiene, and reports to a Muster control plane over mTLS.",
        version: version.to_string(),
        revision,
        entries,
        conffiles: Vec::new(),
        fast: false,
        depends: &[],
    }
}

/// The tray app, a package of its own: the tray and the window process it starts (which pulls in
/// WebKitGTK; the tray, the AppIndicator library), which a headless machine running only the agent
/// should not need. It depends on the agent it shows. No service: an XDG autostart entry starts
/// the tray in each user's graphical session; the tray finds `muster-window` beside itself.
fn tray_package(root: &Path, bins: &Binaries, version: &str, revision: u32) -> Package {
    Package {
        name: "muster-tray",
        summary: "Muster tray: your MCP servers and what to fix, from the local Muster agent",
        description: "A tray icon for each logged-in user showing the MCP servers the Muster agent found for \
                      them, their findings and the connection to the control plane. Started at login.",
        version: version.to_string(),
        revision,
        entries: vec![
            Entry { source: Source::File(bins.tray.clone()), dest: "/usr/bin/muster-tray".into(), mode: 0o755 },
            Entry { source: Source::File(bins.window.clone()), dest: "/usr/bin/muster-window".into(), mode: 0o755 },
            Entry {
                source: Source::File(root.join("packaging/linux/muster-tray.desktop")),
                dest: "/etc/xdg/autostart/muster-tray.desktop".into(),
                mode: 0o644,
            },
            Entry {
                source: Source::File(root.join("desktop-ui/icons/icon.png")),
                dest: "/usr/share/icons/hicolor/64x64/apps/muster-tray.png".into(),
                mode: 0o644,
            },
            Entry {
                source: Source::Bytes(copyright()),
                dest: "/usr/share/doc/muster-tray/copyright".into(),
                mode: 0o644,
            },
        ],
        conffiles: Vec::new(),
        fast: false,
        depends: &[
            ("muster-agent", "muster-agent"),
            ("libwebkit2gtk-4.1-0", "webkit2gtk4.1"),
            ("libayatana-appindicator3-1", "libayatana-appindicator-gtk3"),
        ],
    }
}

fn server_package(root: &Path, bins: &Binaries, version: &str, revision: u32) -> Package {
    let linux = root.join("packaging/linux");
    Package {
        name: "muster-server",
        summary: "Muster control plane: agent enrollment, inventory and dashboard",
        description: "Enrolls Muster agents, stores their MCP inventory in SQLite or PostgreSQL and serves \
                      the dashboard and API.",
        version: version.to_string(),
        revision,
        entries: vec![
            Entry { source: Source::File(bins.server.clone()), dest: "/usr/bin/muster-server".into(), mode: 0o755 },
            Entry {
                source: Source::File(linux.join("muster-server.service")),
                dest: "{unitdir}/muster-server.service".into(),
                mode: 0o644,
            },
            Entry {
                source: Source::File(linux.join("server.toml")),
                dest: "/etc/muster/server.toml".into(),
                mode: 0o640,
            },
            Entry {
                source: Source::Bytes(copyright()),
                dest: "/usr/share/doc/muster-server/copyright".into(),
                mode: 0o644,
            },
        ],
        conffiles: vec!["/etc/muster/server.toml".into()],
        fast: false,
        depends: &[],
    }
}

/// The package architecture name for this build host (`amd64`/`x86_64`, `arm64`/`aarch64`).
fn arch(flavour: Flavour) -> &'static str {
    match (std::env::consts::ARCH, flavour) {
        ("x86_64", Flavour::Debian) => "amd64",
        ("aarch64", Flavour::Debian) => "arm64",
        (other, _) => other,
    }
}

/// Runs a packaging tool and fails with its output.
fn tool(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| format!("running {:?} (is it installed?)", cmd.get_program()))?;
    ensure!(
        out.status.success(),
        "{:?} failed: {}{}",
        cmd.get_program(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
