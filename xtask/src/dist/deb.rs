//! The deb writer: stages a [`Package`] with `DEBIAN/` control data and the maintainer scripts
//! from `packaging/linux/deb/NAME/`, and builds it with Debian's `dpkg-deb --root-owner-group`
//! (every file owned by root).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Flavour, Package, arch, tool};

pub(super) fn build(package: &Package, root: &Path, work: &Path, out: &Path) -> anyhow::Result<PathBuf> {
    let stage = work.join(format!("deb-{}", package.name));
    package.stage(&stage, Flavour::Debian)?;
    let control_dir = stage.join("DEBIAN");
    std::fs::create_dir_all(&control_dir)?;
    let version = format!("{}-{}", package.version, package.revision);
    let arch = arch(Flavour::Debian);
    let installed_kib: u64 = package
        .entries
        .iter()
        .map(|e| match &e.source {
            super::Source::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            super::Source::Bytes(b) => b.len() as u64,
        })
        .sum::<u64>()
        / 1024
        + 1;
    let depends: String = package.depends.iter().map(|(deb, _)| format!(", {deb}")).collect();
    let control = format!(
        "Package: {name}\nVersion: {version}\nArchitecture: {arch}\nMaintainer: Muster maintainers \
         <muster@example.invalid>\nInstalled-Size: {installed_kib}\nDepends: init-system-helpers (>= 1.54~){depends}\n\
         Section: admin\nPriority: optional\nHomepage: https://github.com/muster-dev/muster\n\
         Description: {summary}\n {description}\n",
        name = package.name,
        summary = package.summary,
        description = package.description,
    );
    std::fs::write(control_dir.join("control"), control)?;
    if !package.conffiles.is_empty() {
        std::fs::write(control_dir.join("conffiles"), package.conffiles.join("\n") + "\n")?;
    }
    let scripts = root.join("packaging/linux/deb").join(package.name);
    for script in ["postinst", "prerm", "postrm"] {
        let dest = control_dir.join(script);
        std::fs::copy(scripts.join(script), &dest)?;
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))?;
    }
    let file = out.join(format!("{}_{version}_{arch}.deb", package.name));
    let compression: &[&str] = if package.fast { &["-Zgzip", "-z1"] } else { &["-Zxz"] };
    tool(Command::new("dpkg-deb").arg("--root-owner-group").args(compression).arg("--build").arg(&stage).arg(&file))?;
    Ok(file)
}
