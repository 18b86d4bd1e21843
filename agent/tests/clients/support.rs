//! Test support: a synthetic machine image on disk, written at paths as the scanned machine
//! spells them, and a scan of it through the library (the same code path as
//! `muster-agent scan --root DIR --os OS`).

use std::path::{Path, PathBuf};

use muster_agent::platform::{Layout, Os};
use muster_proto::v1 as pb;

/// A machine image in a temp dir.
pub struct Image {
    pub dir: tempfile::TempDir,
    pub os: Os,
}

impl Image {
    pub fn new(os: Os) -> Image {
        Image { dir: tempfile::tempdir().expect("tempdir"), os }
    }

    /// Host path of a machine path (`/home/a/x`, `C:\Users\a\x`).
    pub fn host_path(&self, machine_path: &str) -> PathBuf {
        Layout::image(self.dir.path().to_path_buf(), self.os).resolve(machine_path).expect("absolute machine path")
    }

    /// Writes `text` at `machine_path`, creating parent dirs; also creates the user's home so
    /// the user is discovered.
    pub fn write(&self, machine_path: &str, text: &str) -> &Self {
        let p = self.host_path(machine_path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
        self
    }

    /// Creates a directory (a home, a project, a `.git`).
    pub fn mkdir(&self, machine_path: &str) -> &Self {
        std::fs::create_dir_all(self.host_path(machine_path)).expect("mkdir");
        self
    }

    /// Copies a fixture from `agent/tests/fixtures/<rel>` to `machine_path`.
    pub fn fixture(&self, machine_path: &str, rel: &str) -> &Self {
        self.write(machine_path, &fixture(rel))
    }

    pub fn scan(&self) -> pb::InventorySnapshot {
        muster_agent::scan(&muster_agent::ScanRequest {
            layout: Layout::image(self.dir.path().to_path_buf(), self.os),
            env: Default::default(),
            processes: false,
            // A fixed key keeps fingerprints in snapshots stable.
            fleet_key: Some(muster_agent::secrets::fingerprint::FleetKey::from_bytes([42; 32])),
            project: None,
            tags: Vec::new(),
        })
        .expect("scan")
    }

    /// The JSON contract output of a scan, as a value.
    pub fn scan_json(&self) -> serde_json::Value {
        let inv = self.scan();
        serde_json::from_str(&muster_agent::output::json::render(&inv)).expect("json output parses")
    }
}

/// Text of a fixture file under `agent/tests/fixtures/`.
pub fn fixture(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

/// The servers of a JSON scan output found in one config file, with the fields that do not
/// depend on the temp dir (ids are hashes of machine paths, so they are stable too).
pub fn servers_in(json: &serde_json::Value, config_path: &str) -> Vec<serde_json::Value> {
    json["servers"]
        .as_array()
        .expect("servers array")
        .iter()
        .filter(|s| s["config_path"] == config_path)
        .cloned()
        .collect()
}

/// Asserts that `config_path` yielded at least one server of `client` with `scope`, and
/// returns their names.
pub fn assert_found(json: &serde_json::Value, client: &str, scope: &str, config_path: &str) -> Vec<String> {
    let found = servers_in(json, config_path);
    assert!(
        !found.is_empty(),
        "no server from {config_path}; problems: {}",
        serde_json::to_string_pretty(&json["problems"]).unwrap_or_default()
    );
    for s in &found {
        assert_eq!(s["client"], client, "client of a server in {config_path}");
        assert_eq!(s["scope"], scope, "scope of a server in {config_path}");
    }
    found.iter().map(|s| s["name"].as_str().unwrap_or_default().to_string()).collect()
}

/// Every OS layout.
pub const ALL_OS: [Os; 3] = [Os::Linux, Os::Macos, Os::Windows];

/// A user's home as the scanned machine spells it.
pub fn home(os: Os, user: &str) -> String {
    match os {
        Os::Linux => format!("/home/{user}"),
        Os::Macos => format!("/Users/{user}"),
        Os::Windows => format!("C:\\Users\\{user}"),
    }
}

/// Joins a relative path (written with `/`) onto a machine path the OS's way.
pub fn join(os: Os, base: &str, rel: &str) -> String {
    match os {
        Os::Windows => format!("{base}\\{}", rel.replace('/', "\\")),
        _ => format!("{base}/{rel}"),
    }
}
