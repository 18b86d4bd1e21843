//! The agent's state directory: where enrollment identity, the outbox and the last local inventory
//! live, and the one way the agent writes files there ([`write_atomic`]: temp file, fsync, rename,
//! fsync of the directory).
//!
//! The directory is created `0700` and every file `0600` (Unix). This module knows file names and
//! permissions; it does not know what a report is (that is `outbox`) or how a certificate is
//! obtained (that is `enroll`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::secrets::fingerprint::FleetKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::platform::EnvMap;
use muster_proto::v1::InventorySnapshot;

/// Seconds since the Unix epoch (0 if the clock is before it): the clock [`Identity`]'s
/// certificate times are written and compared in.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// File holding the enrolled identity (key, certificates, fleet key, agent id).
pub const IDENTITY_FILE: &str = "identity.json";
/// The last inventory this agent scanned, for local readers (the tray app).
pub const INVENTORY_FILE: &str = "inventory.json";
/// Directory of the durable outbox.
pub const OUTBOX_DIR: &str = "outbox";

/// Something went wrong reading or writing the state directory.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot create state directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} is not a valid identity file: {message}")]
    Corrupt { path: PathBuf, message: String },
}

/// Where the agent keeps its state when `--state-dir` is not given: `/var/lib/muster-agent` for
/// root, else `$XDG_STATE_HOME/muster-agent` or `~/.local/state/muster-agent`. A pure function of
/// its inputs so it is testable without touching the process environment.
pub fn default_state_dir(is_root: bool, env: &EnvMap) -> Option<PathBuf> {
    if is_root {
        return Some(PathBuf::from("/var/lib/muster-agent"));
    }
    let absolute = |k: &str| env.get(k).map(PathBuf::from).filter(|p| p.is_absolute());
    if let Some(state) = absolute("XDG_STATE_HOME") {
        return Some(state.join("muster-agent"));
    }
    absolute("HOME").map(|home| home.join(".local").join("state").join("muster-agent"))
}

/// Whether the agent runs with root privileges (and so scans every user).
pub fn running_as_root() -> bool {
    #[cfg(unix)]
    {
        rustix::process::geteuid().is_root()
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// The agent's effective uid, which the local API answers for when it runs as a user (0 off Unix,
/// where the local API is not served).
pub fn effective_uid() -> u32 {
    #[cfg(unix)]
    {
        rustix::process::geteuid().as_raw()
    }
    #[cfg(not(unix))]
    {
        0
    }
}

/// Writes `bytes` to `path` so that a reader (or a crash) sees either the old or the new content:
/// a `0600` temp file in the same directory, fsync, rename over `path`, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        // A temp file left over from a crash keeps its old mode; make sure it is private.
        restrict_file(&f)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_dir(dir)
}

/// Makes the directory entry changes (rename, unlink) in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

fn restrict_file(f: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600))
    }
    #[cfg(not(unix))]
    {
        let _ = f;
        Ok(())
    }
}

/// Creates `dir` (and parents) and makes it `0700`.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The enrolled identity: who the agent is to the control plane and how it proves it.
///
/// `Debug` prints no key material.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub version: u32,
    /// `https://HOST:PORT` of the control plane.
    pub server: String,
    pub agent_id: String,
    /// Client certificate followed by intermediates, PEM.
    pub certificate_chain_pem: String,
    /// The fleet CA, PEM: the only root trusted for the control plane after enrollment.
    pub ca_certificate_pem: String,
    /// PKCS#8 private key of the client certificate, PEM.
    pub private_key_pem: String,
    /// HMAC key for credential fingerprints, hex.
    pub fleet_fingerprint_key_hex: String,
    /// When the current certificate was received and when it expires (Unix seconds).
    pub issued_at_unix: i64,
    pub not_after_unix: i64,
    /// The control plane's policy signing key (Ed25519 public key, hex), pinned at enrollment or,
    /// for agents enrolled before it existed, at the first renewal that carried it (never
    /// replaced by a renewal). Empty until then: every policy bundle is refused.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub policy_public_key_hex: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("server", &self.server)
            .field("agent_id", &self.agent_id)
            .field("issued_at_unix", &self.issued_at_unix)
            .field("not_after_unix", &self.not_after_unix)
            .finish_non_exhaustive()
    }
}

impl Drop for Identity {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.private_key_pem.zeroize();
        self.fleet_fingerprint_key_hex.zeroize();
    }
}

impl Identity {
    pub const VERSION: u32 = 1;

    /// When the certificate should be renewed: half of its lifetime, or within an hour of the
    /// last renewal while no policy key is pinned (the renewal delivers it; ADR 0006).
    pub fn renew_at_unix(&self) -> i64 {
        let half_life = self.issued_at_unix + (self.not_after_unix - self.issued_at_unix) / 2;
        if self.policy_public_key_hex.is_empty() { half_life.min(self.issued_at_unix + 3600) } else { half_life }
    }

    /// The pinned policy key's 32 bytes, if one is pinned.
    pub fn policy_public_key(&self) -> Option<Vec<u8>> {
        let hex = self.policy_public_key_hex.as_bytes();
        if hex.len() != 64 {
            return None;
        }
        hex.chunks_exact(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()).collect()
    }
}

/// An opened state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// Creates the directory if needed (`0700`).
    pub fn open(root: &Path) -> Result<StateDir, StateError> {
        create_private_dir(root).map_err(|source| StateError::CreateDir { path: root.to_path_buf(), source })?;
        Ok(StateDir { root: root.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.root.join(OUTBOX_DIR)
    }

    /// The enrolled identity, or `None` when the agent is not enrolled.
    pub fn load_identity(&self) -> Result<Option<Identity>, StateError> {
        let path = self.root.join(IDENTITY_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => Zeroizing::new(t),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Read { path, source }),
        };
        // serde_json's error text quotes no input values, so it cannot leak the key.
        let id: Identity = serde_json::from_str(&text)
            .map_err(|e| StateError::Corrupt { path: path.clone(), message: e.to_string() })?;
        if id.version != Identity::VERSION {
            return Err(StateError::Corrupt { path, message: format!("unsupported version {}", id.version) });
        }
        Ok(Some(id))
    }

    /// Stores the identity in one atomic `0600` write, so key and certificate always match.
    pub fn save_identity(&self, id: &Identity) -> Result<(), StateError> {
        let path = self.root.join(IDENTITY_FILE);
        let json = Zeroizing::new(
            serde_json::to_vec_pretty(id)
                .map_err(|e| StateError::Corrupt { path: path.clone(), message: e.to_string() })?,
        );
        write_atomic(&path, &json).map_err(|source| StateError::Write { path, source })
    }

    /// The key credential fingerprints are made with: the fleet's once enrolled (so the control
    /// plane sees reuse across machines), else a local key created once and kept (`0600`), so
    /// fingerprints stay comparable between this machine's scans.
    pub fn fingerprint_key(&self) -> Result<FleetKey, StateError> {
        if let Some(id) = self.load_identity()? {
            let path = self.root.join(IDENTITY_FILE);
            return decode_key(&id.fleet_fingerprint_key_hex)
                .ok_or(StateError::Corrupt { path, message: "fleet fingerprint key is not 32 bytes of hex".into() });
        }
        let path = self.root.join(LOCAL_KEY_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                decode_key(text.trim())
                    .ok_or(StateError::Corrupt { path, message: "local fingerprint key is not 32 bytes of hex".into() })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let key = FleetKey::generate()
                    .map_err(|e| StateError::Corrupt { path: path.clone(), message: e.to_string() })?;
                let hex: Zeroizing<String> =
                    Zeroizing::new(key.as_bytes().iter().map(|b| format!("{b:02x}")).collect());
                write_atomic(&path, hex.as_bytes()).map_err(|source| StateError::Write { path, source })?;
                Ok(key)
            }
            Err(source) => Err(StateError::Read { path, source }),
        }
    }

    /// Stores the last scanned (masked) inventory for local readers.
    pub fn save_inventory(&self, inv: &InventorySnapshot) -> Result<(), StateError> {
        let path = self.root.join(INVENTORY_FILE);
        let json = crate::output::json::render(inv);
        write_atomic(&path, json.as_bytes()).map_err(|source| StateError::Write { path, source })
    }
}

/// File holding the local fingerprint key of an agent that is not enrolled.
const LOCAL_KEY_FILE: &str = "local-fingerprint.key";

fn decode_key(hex: &str) -> Option<FleetKey> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = Zeroizing::new([0u8; 32]);
    for (i, chunk) in bytes.chunks_exact(2).enumerate() {
        let s = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(FleetKey::from_bytes(*out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_fingerprint_key_is_created_once_and_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::open(&tmp.path().join("s")).unwrap();
        let a = state.fingerprint_key().unwrap();
        let b = state.fingerprint_key().unwrap();
        assert_eq!(a.as_bytes(), b.as_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(tmp.path().join("s").join(LOCAL_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn default_state_dir_prefers_root_then_xdg_then_home() {
        let mut env = EnvMap::new();
        env.insert("HOME".into(), "/home/dev".into());
        assert_eq!(default_state_dir(true, &env), Some(PathBuf::from("/var/lib/muster-agent")));
        assert_eq!(default_state_dir(false, &env), Some(PathBuf::from("/home/dev/.local/state/muster-agent")));
        env.insert("XDG_STATE_HOME".into(), "relative/ignored".into());
        assert_eq!(default_state_dir(false, &env), Some(PathBuf::from("/home/dev/.local/state/muster-agent")));
        env.insert("XDG_STATE_HOME".into(), "/xdg/state".into());
        assert_eq!(default_state_dir(false, &env), Some(PathBuf::from("/xdg/state/muster-agent")));
        assert_eq!(default_state_dir(false, &EnvMap::new()), None);
    }

    #[cfg(unix)]
    #[test]
    fn identity_is_private_and_round_trips() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let state = StateDir::open(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        assert!(state.load_identity().unwrap().is_none());
        let id = Identity {
            version: Identity::VERSION,
            server: "https://cp:8443".into(),
            agent_id: "a-1".into(),
            certificate_chain_pem: "CHAIN".into(),
            ca_certificate_pem: "CA".into(),
            private_key_pem: "KEY-MATERIAL".into(),
            fleet_fingerprint_key_hex: "00ff".into(),
            issued_at_unix: 1000,
            not_after_unix: 3000,
            policy_public_key_hex: String::new(),
        };
        state.save_identity(&id).unwrap();
        let path = dir.join(IDENTITY_FILE);
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(state.load_identity().unwrap(), Some(id.clone()));
        assert_eq!(id.renew_at_unix(), 2000);
        let debug = format!("{id:?}");
        assert!(!debug.contains("KEY-MATERIAL") && !debug.contains("00ff"), "{debug}");
        // No temp file is left behind.
        let names: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, [std::ffi::OsString::from(IDENTITY_FILE)]);
    }
}
