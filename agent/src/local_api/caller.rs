//! Who may call the local API and which inventory user a caller is. The uid comes from the
//! kernel (the socket's peer credentials, read by `server.rs`); this module decides from it,
//! as pure functions tested on their own.

use std::collections::BTreeSet;

use muster_proto::v1::InventorySnapshot;

/// Which local users the agent answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A per-user agent: only the user it runs as (not even root: a per-user agent has nothing
    /// to show another account).
    Owner { uid: u32 },
    /// The system agent (running as root): every local user, each seeing only their own data.
    EveryUser,
}

impl Access {
    /// The access of an agent running with effective uid `euid`.
    pub fn for_agent_uid(euid: u32) -> Access {
        if euid == 0 { Access::EveryUser } else { Access::Owner { uid: euid } }
    }

    /// Whether a caller with this (kernel-reported) uid is answered at all.
    pub fn admits(self, peer_uid: u32) -> bool {
        match self {
            Access::Owner { uid } => peer_uid == uid,
            Access::EveryUser => true,
        }
    }

    /// The socket file's mode: open to every local user when each is answered (the uid check
    /// then decides what they see), else the owner's only.
    pub fn socket_mode(self) -> u32 {
        match self {
            Access::Owner { .. } => 0o600,
            Access::EveryUser => 0o666,
        }
    }
}

/// A caller the server admitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    /// The account name of `uid` on this machine, when it has one.
    pub account: Option<String>,
}

/// The inventory user names that are the caller's: the users whose recorded uid is the caller's,
/// and, where the inventory has no uid for a user (a `--root` image: homes only), the one named
/// like the caller's account.
pub fn owned_users(snapshot: &InventorySnapshot, caller: &Caller) -> BTreeSet<String> {
    snapshot
        .users
        .iter()
        .filter(|u| match u.uid {
            Some(uid) => uid == caller.uid,
            None => caller.account.as_deref() == Some(u.name.as_str()),
        })
        .map(|u| u.name.clone())
        .collect()
}

/// The account name of `uid` from `/etc/passwd` text.
pub fn account_from_passwd(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        let id: u32 = fields.next()?.parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_string())
    })
}

/// The account name of `uid` on this machine (Unix: `/etc/passwd`; directory services such as
/// LDAP or macOS Open Directory are not consulted, so such a caller sees only the users the
/// inventory recorded with their uid).
pub fn account_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    account_from_passwd(&passwd, uid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use muster_proto::v1::OsUser;

    #[test]
    fn a_per_user_agent_admits_its_own_uid_only_and_a_system_agent_everyone() {
        let own = Access::for_agent_uid(1000);
        assert!(own.admits(1000));
        assert!(!own.admits(1001));
        assert!(!own.admits(0), "root gets nothing from a user's own agent");
        assert_eq!(own.socket_mode(), 0o600);
        let system = Access::for_agent_uid(0);
        assert!(system.admits(1001));
        assert_eq!(system.socket_mode(), 0o666);
    }

    #[test]
    fn users_are_matched_by_uid_and_by_name_only_without_one() {
        let snap = InventorySnapshot {
            users: vec![
                OsUser { name: "alice".into(), uid: Some(1000), home: "/home/alice".into() },
                OsUser { name: "bob".into(), uid: Some(1001), home: "/home/bob".into() },
                OsUser { name: "carol".into(), uid: None, home: "/home/carol".into() },
            ],
            ..Default::default()
        };
        let as_names = |c: &Caller| owned_users(&snap, c).into_iter().collect::<Vec<_>>();
        assert_eq!(as_names(&Caller { uid: 1000, account: Some("alice".into()) }), ["alice"]);
        // A different account that happens to be called "bob" on this machine is not bob.
        assert!(as_names(&Caller { uid: 2000, account: Some("bob".into()) }).is_empty());
        assert_eq!(as_names(&Caller { uid: 3000, account: Some("carol".into()) }), ["carol"]);
        assert!(as_names(&Caller { uid: 3000, account: None }).is_empty());
    }

    #[test]
    fn passwd_lookup_finds_the_account_of_a_uid() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n# comment\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(account_from_passwd(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(account_from_passwd(passwd, 0).as_deref(), Some("root"));
        assert_eq!(account_from_passwd(passwd, 7), None);
    }
}
