//! Facts about the scanned machine itself: hostname, OS family and version, architecture and
//! machine id. For this machine they come from the OS (`sysinfo`, `/etc/machine-id`); for a
//! machine image only from what its files say (`etc/hostname`, else the image folder's name) and
//! the OS it was declared as. They are raw as the OS gives them: `inventory` turns them into the
//! wire model's `Host` and passes them through the scrub gate.

use std::path::PathBuf;

use super::{Layout, Os};

/// Facts about the scanned host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFacts {
    pub hostname: String,
    pub os: Os,
    /// Empty for a machine image.
    pub os_version: String,
    /// Empty for a machine image.
    pub arch: String,
    /// Empty for a machine image, or where the OS keeps none.
    pub machine_id: String,
    /// The image's root on this host when scanning a machine image.
    pub scanned_root: Option<PathBuf>,
}

/// The facts of the machine `layout` scans.
pub fn host_facts(layout: &Layout) -> HostFacts {
    match layout.root() {
        Some(root) => HostFacts {
            hostname: std::fs::read_to_string(root.join("etc/hostname"))
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .or_else(|| root.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default(),
            os: layout.os(),
            os_version: String::new(),
            arch: String::new(),
            machine_id: String::new(),
            scanned_root: Some(root.to_path_buf()),
        },
        None => HostFacts {
            hostname: sysinfo::System::host_name().unwrap_or_default(),
            os: layout.os(),
            os_version: sysinfo::System::long_os_version().unwrap_or_default(),
            arch: std::env::consts::ARCH.to_string(),
            machine_id: machine_id(),
            scanned_root: None,
        },
    }
}

fn machine_id() -> String {
    ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_is_named_by_its_etc_hostname_else_its_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let image = dir.path().join("laptop-17");
        std::fs::create_dir_all(image.join("etc")).expect("image dirs");
        let layout = Layout::image(image.clone(), Os::Windows);
        let facts = host_facts(&layout);
        assert_eq!(facts.hostname, "laptop-17");
        assert_eq!(facts.os, Os::Windows);
        assert_eq!(facts.scanned_root.as_deref(), Some(image.as_path()));
        assert_eq!((facts.os_version.as_str(), facts.arch.as_str(), facts.machine_id.as_str()), ("", "", ""));
        std::fs::write(image.join("etc/hostname"), "build-box\n").expect("write hostname");
        assert_eq!(host_facts(&layout).hostname, "build-box");
    }
}
