//! The rpm writer: a spec generated from a [`Package`] whose `%install` copies the staged tree,
//! with the scriptlets from `packaging/linux/rpm/NAME.{pre,post,preun,postun}`, built by
//! `rpmbuild -bb` in a private `_topdir`. Binaries are packaged as cargo built them (no
//! debuginfo split, no rpm-side stripping).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Flavour, Package, arch, tool};

pub(super) fn build(package: &Package, root: &Path, work: &Path, out: &Path) -> anyhow::Result<PathBuf> {
    let stage = work.join(format!("rpm-{}", package.name));
    package.stage(&stage, Flavour::RedHat)?;
    let arch = arch(Flavour::RedHat);
    let mut spec = String::new();
    writeln!(spec, "%global debug_package %{{nil}}")?;
    writeln!(spec, "%global __os_install_post %{{nil}}")?;
    if package.fast {
        writeln!(spec, "%global _binary_payload w1.gzdio")?;
    }
    writeln!(spec, "Name: {}", package.name)?;
    writeln!(spec, "Version: {}", package.version)?;
    writeln!(spec, "Release: {}", package.revision)?;
    writeln!(spec, "Summary: {}", package.summary)?;
    writeln!(spec, "License: Apache-2.0")?;
    writeln!(spec, "URL: https://github.com/muster-dev/muster")?;
    writeln!(spec, "BuildArch: {arch}")?;
    writeln!(spec, "Requires(post): systemd\nRequires(preun): systemd\nRequires(postun): systemd")?;
    for (_, rpm) in package.depends {
        writeln!(spec, "Requires: {rpm}")?;
    }
    writeln!(spec, "\n%description\n{}\n", package.description)?;
    writeln!(spec, "%install\nmkdir -p %{{buildroot}}\ncp -a {}/. %{{buildroot}}/\n", stage.display())?;
    let scripts = root.join("packaging/linux/rpm");
    for phase in ["pre", "post", "preun", "postun"] {
        let path = scripts.join(format!("{}.{phase}", package.name));
        if path.is_file() {
            writeln!(spec, "%{phase}\n{}", std::fs::read_to_string(&path)?)?;
        }
    }
    writeln!(spec, "%files")?;
    for entry in &package.entries {
        let dest = Package::dest(entry, Flavour::RedHat);
        let config = if package.conffiles.contains(&dest) { "%config(noreplace) " } else { "" };
        // The control plane's config is readable by its service user only.
        let group = if !config.is_empty() && package.name == "muster-server" { "muster-server" } else { "root" };
        writeln!(spec, "{config}%attr({:04o},root,{group}) {dest}", entry.mode)?;
    }
    let topdir = work.join(format!("rpmbuild-{}", package.name));
    std::fs::create_dir_all(&topdir)?;
    let spec_path = topdir.join(format!("{}.spec", package.name));
    std::fs::write(&spec_path, spec)?;
    tool(
        Command::new("rpmbuild")
            .arg("--define")
            .arg(format!("_topdir {}", topdir.display()))
            .arg("--define")
            .arg(format!("_rpmdir {}", topdir.join("out").display()))
            .args(["--define", "_build_id_links none", "-bb"])
            .arg(&spec_path),
    )?;
    let name = format!("{}-{}-{}.{arch}.rpm", package.name, package.version, package.revision);
    let built = topdir.join("out").join(arch).join(&name);
    let file = out.join(&name);
    std::fs::rename(&built, &file)
        .or_else(|_| std::fs::copy(&built, &file).map(|_| ()))
        .map_err(|e| anyhow::anyhow!("moving {}: {e}", built.display()))?;
    Ok(file)
}
