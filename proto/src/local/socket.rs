//! Where the local API's socket lives, shared by the agent (which binds it) and its clients
//! (`muster-agent status`, the tray app), so the two can never disagree. Pure functions of the
//! environment map they are given; nothing here reads the process environment itself.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The socket's file name inside its directory.
pub const SOCKET_FILE: &str = "local.sock";

/// The system agent's socket (agent running as root, serving every local user).
pub const SYSTEM_SOCKET: &str = "/run/muster-agent/local.sock";

/// Environment variable naming the socket explicitly (clients and agent alike).
pub const SOCKET_ENV: &str = "MUSTER_AGENT_SOCKET";

/// The socket an agent binds: the system location as root, else the user's runtime dir
/// (`$XDG_RUNTIME_DIR/muster-agent/local.sock`), else `None` (the caller then uses its state dir).
pub fn server_socket(is_root: bool, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    if let Some(explicit) = env.get(SOCKET_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(explicit));
    }
    if is_root {
        return Some(PathBuf::from(SYSTEM_SOCKET));
    }
    user_socket(env)
}

/// The per-user agent's socket from `XDG_RUNTIME_DIR`.
pub fn user_socket(env: &BTreeMap<String, String>) -> Option<PathBuf> {
    env.get("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(|dir| PathBuf::from(dir).join("muster-agent").join(SOCKET_FILE))
}

/// Where a client looks, in order: `MUSTER_AGENT_SOCKET`, the user's own agent, the system agent.
pub fn client_candidates(env: &BTreeMap<String, String>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(explicit) = env.get(SOCKET_ENV).filter(|v| !v.is_empty()) {
        out.push(PathBuf::from(explicit));
        return out;
    }
    out.extend(user_socket(env));
    out.push(PathBuf::from(SYSTEM_SOCKET));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn root_binds_the_system_socket_and_users_their_runtime_dir() {
        let e = env(&[("XDG_RUNTIME_DIR", "/run/user/1000")]);
        assert_eq!(server_socket(true, &e), Some(PathBuf::from(SYSTEM_SOCKET)));
        assert_eq!(server_socket(false, &e), Some(PathBuf::from("/run/user/1000/muster-agent/local.sock")));
        assert_eq!(server_socket(false, &env(&[])), None);
    }

    #[test]
    fn clients_try_their_own_agent_before_the_system_one_unless_told() {
        let e = env(&[("XDG_RUNTIME_DIR", "/run/user/1000")]);
        assert_eq!(
            client_candidates(&e),
            vec![PathBuf::from("/run/user/1000/muster-agent/local.sock"), PathBuf::from(SYSTEM_SOCKET)]
        );
        let e = env(&[("XDG_RUNTIME_DIR", "/run/user/1000"), (SOCKET_ENV, "/tmp/x.sock")]);
        assert_eq!(client_candidates(&e), vec![PathBuf::from("/tmp/x.sock")]);
    }
}
