//! Version pins end to end on real files: a `--root` machine image with a developer's Cursor
//! (JSON) and Codex (TOML) configs and a fake package cache in their home (npm's npx cache, uv's
//! cached tool environments), scanned for real; the pin candidates computed from that scan as
//! the daemon does; `PinVersion` / `UndoPin` through the local API's fix layer (`Fixes`). Checks:
//! the launch argument alone changes, undo gives the file back byte-identical, the re-scanned
//! config no longer raises the unpinned-package finding; an ambiguous cache and a missing entry
//! give no candidate; a file changed since the scan and a caller who does not own the file are
//! refused with the file untouched.

#![cfg(unix)]
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use muster_agent::local_api::caller::Caller;
use muster_agent::local_api::fixes::{FixError, Fixes};
use muster_agent::local_api::{AgentView, view::status_for};
use muster_agent::platform::{EnvMap, Layout, Os};
use muster_agent::{ScanRequest, Scanned, scan_all};

const CURSOR: &str = "{\n  // my servers\n  \"mcpServers\": {\n    \"github\": {\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"@modelcontextprotocol/server-github\"]\n    },\n    \"fetch\": {\"command\": \"npx\", \"args\": [\"mcp-fetch\"]}\n  }\n}\n";

const CODEX: &str = "# Codex\nmodel = \"o3\"\n\n[mcp_servers.time]\ncommand = \"uvx\"\nargs = [\"mcp-server-time\", \"--local-timezone=UTC\"] # keep\n\n[mcp_servers.git]\ncommand = \"uvx\"\nargs = [\"mcp-server-git\"]\n";

const UNPINNED: &str = "MUSTER-PKG-UNPINNED";

struct Image {
    _dir: tempfile::TempDir,
    root: PathBuf,
    state: PathBuf,
}

impl Image {
    fn home(&self) -> PathBuf {
        self.root.join("home/dev")
    }
    fn cursor(&self) -> PathBuf {
        self.home().join(".cursor/mcp.json")
    }
    fn codex(&self) -> PathBuf {
        self.home().join(".codex/config.toml")
    }
    fn layout(&self) -> Layout {
        Layout::image(self.root.clone(), Os::Linux)
    }
}

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// npx's cache entry for the request `request`, installing `name@version`.
fn npx_entry(home: &Path, hash: &str, request: &str, name: &str, version: &str) {
    let dir = home.join(".npm/_npx").join(hash);
    write(
        &dir.join("package.json"),
        &format!(r#"{{"_npx":{{"packages":["{request}"]}},"dependencies":{{"{name}":"^{version}"}}}}"#),
    );
    write(
        &dir.join("node_modules").join(name).join("package.json"),
        &format!(r#"{{"name":"{name}","version":"{version}"}}"#),
    );
}

/// uv's cached tool environment running `command` from `dist`-`version`.
fn uv_env(home: &Path, resolution: &str, dist: &str, version: &str, command: &str) {
    let env = home.join(".cache/uv/environments-v2/interp").join(resolution);
    write(&env.join("pyvenv.cfg"), "home = /usr/bin\n");
    write(&env.join("bin").join(command), "#!/bin/sh\n");
    write(&env.join(format!("lib/python3.12/site-packages/{dist}-{version}.dist-info/METADATA")), "");
}

fn image() -> Image {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("image");
    let state = dir.path().join("state");
    let img = Image { _dir: dir, root, state };
    write(&img.cursor(), CURSOR);
    write(&img.codex(), CODEX);
    let home = img.home();
    npx_entry(
        &home,
        "0a1b2c3d4e5f6a7b",
        "@modelcontextprotocol/server-github",
        "@modelcontextprotocol/server-github",
        "2025.4.8",
    );
    uv_env(&home, "r1", "mcp_server_time", "0.6.2", "mcp-server-time");
    img
}

fn scan(img: &Image) -> Scanned {
    let layout = img.layout();
    let mut scanned = scan_all(&ScanRequest {
        layout: layout.clone(),
        env: EnvMap::new(),
        processes: false,
        fleet_key: None,
        project: None,
        tags: Vec::new(),
    })
    .unwrap();
    scanned.pins = muster_agent::pins::candidates(&scanned.inventory, &layout);
    scanned
}

fn view(scanned: &Scanned) -> AgentView {
    AgentView {
        revision: 1,
        snapshot: Some(Arc::new(scanned.inventory.clone())),
        pins: Arc::new(scanned.pins.clone()),
        ..Default::default()
    }
}

fn me() -> Caller {
    Caller { uid: rustix::process::geteuid().as_raw(), account: Some("dev".into()) }
}

fn id(scanned: &Scanned, name: &str) -> String {
    scanned.inventory.servers.iter().find(|s| s.name == name).map(|s| s.id.clone()).expect(name)
}

fn unpinned_finding(scanned: &Scanned, name: &str) -> bool {
    scanned.inventory.servers.iter().find(|s| s.name == name).expect(name).findings.iter().any(|f| f.id == UNPINNED)
}

fn candidate_version(view: &AgentView, caller: &Caller, server_id: &str) -> Option<String> {
    let status = status_for(view, caller);
    status.clients.iter().flat_map(|c| &c.pin_candidates).find(|c| c.server_id == server_id).map(|c| c.version.clone())
}

#[test]
fn an_npx_server_in_json_is_pinned_to_the_cached_version_and_undo_gives_the_file_back() {
    let img = image();
    let scanned = scan(&img);
    let github = id(&scanned, "github");
    assert!(unpinned_finding(&scanned, "github"));
    let v = view(&scanned);
    let caller = me();
    assert_eq!(candidate_version(&v, &caller, &github).as_deref(), Some("2025.4.8"), "{:?}", scanned.pins.get(&github));
    let status = status_for(&v, &caller);
    let shown = status.clients.iter().flat_map(|c| &c.pin_candidates).find(|c| c.server_id == github).unwrap();
    assert_eq!(shown.pinned_spec, "@modelcontextprotocol/server-github@2025.4.8");

    let fixes = Fixes::open(&img.state, img.layout());
    let pin = fixes.pin(&v, &caller, &github, 100).expect("pinned");
    assert_eq!((pin.package.as_str(), pin.version.as_str()), ("@modelcontextprotocol/server-github", "2025.4.8"));
    let pinned = std::fs::read_to_string(img.cursor()).unwrap();
    assert_eq!(
        pinned,
        CURSOR.replace("\"@modelcontextprotocol/server-github\"]", "\"@modelcontextprotocol/server-github@2025.4.8\"]")
    );
    // Shown as a pin of mine, with its candidate gone at once.
    let mut status = status_for(&v, &caller);
    fixes.add_to(&mut status, &caller);
    assert_eq!(status.pins.len(), 1);
    assert!(status.clients.iter().flat_map(|c| &c.pin_candidates).all(|c| c.server_id != github));
    let mut others = status_for(&v, &caller);
    fixes.add_to(&mut others, &Caller { uid: caller.uid + 1, account: None });
    assert!(others.pins.is_empty(), "another uid sees nothing of it");

    // Re-scanned, the pinned entry no longer raises the unpinned-package finding.
    let rescanned = scan(&img);
    assert!(!unpinned_finding(&rescanned, "github"), "the pinned launch is still reported as unpinned");
    assert!(unpinned_finding(&rescanned, "fetch"), "the other server is untouched");
    assert!(candidate_version(&view(&rescanned), &caller, &github).is_none());

    fixes.undo_pin(&caller, &github).expect("undone");
    assert_eq!(std::fs::read(img.cursor()).unwrap(), CURSOR.as_bytes());
    assert!(matches!(fixes.undo_pin(&caller, &github), Err(FixError::NotPinnedByYou { .. })));
}

#[test]
fn a_uvx_server_in_toml_is_pinned_keeping_comments_and_undo_gives_the_file_back() {
    let img = image();
    let scanned = scan(&img);
    let time = id(&scanned, "time");
    assert!(unpinned_finding(&scanned, "time"));
    let v = view(&scanned);
    let caller = me();
    let fixes = Fixes::open(&img.state, img.layout());
    let pin = fixes.pin(&v, &caller, &time, 100).expect("pinned");
    assert_eq!(pin.version, "0.6.2");
    assert_eq!(
        std::fs::read_to_string(img.codex()).unwrap(),
        CODEX.replace("[\"mcp-server-time\",", "[\"mcp-server-time@0.6.2\",")
    );
    let rescanned = scan(&img);
    assert!(!unpinned_finding(&rescanned, "time"), "uvx name@version is an exact pin");
    fixes.undo_pin(&caller, &time).expect("undone");
    assert_eq!(std::fs::read(img.codex()).unwrap(), CODEX.as_bytes());
}

#[test]
fn no_cache_entry_gives_no_candidate_and_the_pin_is_refused() {
    let img = image();
    let scanned = scan(&img);
    let v = view(&scanned);
    let caller = me();
    // `mcp-fetch` (npx) and `mcp-server-git` (uvx) were never run from this cache.
    for name in ["fetch", "git"] {
        let server = id(&scanned, name);
        assert!(candidate_version(&v, &caller, &server).is_none(), "{name}");
        let fixes = Fixes::open(&img.state, img.layout());
        let refused = fixes.pin(&v, &caller, &server, 1);
        assert!(
            matches!(&refused, Err(FixError::CannotPin { why, .. }) if why.contains("no version")),
            "{name}: {refused:?}"
        );
    }
    assert_eq!(std::fs::read(img.cursor()).unwrap(), CURSOR.as_bytes());
    assert_eq!(std::fs::read(img.codex()).unwrap(), CODEX.as_bytes());
}

#[test]
fn an_ambiguous_cache_gives_no_candidate_and_names_the_versions() {
    let img = image();
    // A second cached environment running the same command with another version.
    uv_env(&img.home(), "r2", "mcp_server_time", "0.5.0", "mcp-server-time");
    let scanned = scan(&img);
    let time = id(&scanned, "time");
    let v = view(&scanned);
    let caller = me();
    assert!(candidate_version(&v, &caller, &time).is_none());
    let fixes = Fixes::open(&img.state, img.layout());
    let refused = fixes.pin(&v, &caller, &time, 1);
    assert!(matches!(&refused, Err(FixError::CannotPin { why, .. }) if why.contains("0.5.0, 0.6.2")), "{refused:?}");
    assert_eq!(std::fs::read(img.codex()).unwrap(), CODEX.as_bytes());
}

#[test]
fn a_file_changed_since_the_scan_is_refused_and_left_untouched() {
    let img = image();
    let scanned = scan(&img);
    let github = id(&scanned, "github");
    let v = view(&scanned);
    // The developer edits the file after the scan (the same length, so only content tells).
    let edited = CURSOR.replace("my servers", "My servers");
    std::fs::write(img.cursor(), &edited).unwrap();
    let fixes = Fixes::open(&img.state, img.layout());
    let refused = fixes.pin(&v, &me(), &github, 1);
    assert!(matches!(refused, Err(FixError::ChangedSinceScan { .. })), "{refused:?}");
    assert_eq!(std::fs::read_to_string(img.cursor()).unwrap(), edited);
}

#[test]
fn a_caller_who_does_not_own_the_file_is_refused_and_it_is_left_untouched() {
    let img = image();
    let scanned = scan(&img);
    let github = id(&scanned, "github");
    let v = view(&scanned);
    // The inventory's user "dev", asked for under a uid that does not own the file.
    let other = Caller { uid: me().uid + 7, account: Some("dev".into()) };
    let fixes = Fixes::open(&img.state, img.layout());
    let refused = fixes.pin(&v, &other, &github, 1);
    assert!(matches!(refused, Err(FixError::NotOwner { .. })), "{refused:?}");
    assert_eq!(std::fs::read(img.cursor()).unwrap(), CURSOR.as_bytes());
    // And another user's server is unknown to them.
    let stranger = Caller { uid: me().uid + 7, account: Some("mallory".into()) };
    assert!(matches!(fixes.pin(&v, &stranger, &github, 1), Err(FixError::NotYours { .. })));
}
