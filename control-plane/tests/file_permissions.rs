//! Regression: the SQLite database (`muster.db` and its `-wal` and `-shm` files) was created
//! `0644` in a `0755` data dir, readable by every local user. The data dir is `0700` and the
//! database files `0600` whatever the umask: checked in-process after a real open and write, on
//! files an older version left loose, and for the real binary run under umask `000` (in a child
//! shell, so this test process's umask is never changed).

#![cfg(unix)]
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use muster_control_plane::ControlPlane;
use muster_control_plane::config::{self, Overrides};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o7777
}

fn side(db: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", db.display()))
}

fn config_for(data_dir: &Path) -> config::ServerConfig {
    let overrides = Overrides { data_dir: Some(data_dir.to_path_buf()), ..Overrides::default() };
    config::load(None, &Default::default(), &overrides).unwrap()
}

/// Opens the control plane on `data_dir` and writes something, so SQLite has its WAL and
/// shared-memory files open.
async fn open_and_write(data_dir: &Path) -> std::sync::Arc<ControlPlane> {
    let cp = ControlPlane::open(&config_for(data_dir)).await.unwrap();
    cp.create_token(1, Duration::from_secs(60)).await.unwrap();
    cp
}

fn assert_private(data_dir: &Path) {
    assert_eq!(mode(data_dir), 0o700, "data dir {}", data_dir.display());
    let db = data_dir.join("muster.db");
    assert_eq!(mode(&db), 0o600, "{}", db.display());
    for suffix in ["-wal", "-shm"] {
        let file = side(&db, suffix);
        if file.exists() {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }
}

#[tokio::test]
async fn data_dir_and_sqlite_files_are_private_to_the_server() {
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("muster-data");
    let cp = open_and_write(&data_dir).await;
    let db = data_dir.join("muster.db");
    // While the store is open in WAL mode both side files exist: SQLite gave them the main
    // file's permissions.
    for suffix in ["-wal", "-shm"] {
        assert!(side(&db, suffix).exists(), "{suffix} exists while the database is open");
    }
    assert_private(&data_dir);
    assert_eq!(mode(&data_dir.join("pki")), 0o700);
    drop(cp);
}

#[tokio::test]
async fn loose_permissions_left_by_an_older_version_are_tightened_on_open() {
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("muster-data");
    let cp = open_and_write(&data_dir).await;
    let db = data_dir.join("muster.db");
    // What an older version left: everything readable by everyone.
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for file in [db.clone(), side(&db, "-wal"), side(&db, "-shm")] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let again = open_and_write(&data_dir).await;
    assert_private(&data_dir);
    for suffix in ["-wal", "-shm"] {
        assert_eq!(mode(&side(&db, suffix)), 0o600, "{suffix}");
    }
    drop((cp, again));
}

#[test]
fn the_server_binary_under_a_permissive_umask_creates_private_files() {
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("muster-data");
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_muster-server"))
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["token", "create"])
        .env_remove("MUSTER_CONFIG")
        .env_remove("MUSTER_DATABASE_URL")
        .env_remove("MUSTER_DATA_DIR")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("mst_"), "a token was created");
    assert_private(&data_dir);
}
