//! The agent's local API (`muster.local.v1.LocalAgent`): what the developer on this machine sees
//! of the agent, for the tray app and `muster-agent status`.
//!
//! The daemon publishes its state ([`AgentView`]: the latest inventory, the connection to the
//! control plane) through a [`StatusPublisher`] after every scan and send; the server
//! (`server.rs`) answers each caller with the part of it that is theirs (`view.rs`), pushing a
//! new answer on a stream whenever their part changes. The caller is whoever the kernel says is
//! on the other end of the Unix domain socket (`caller.rs`); nothing in a request can claim
//! another identity. What is served is the masked wire model, never a raw value.
//!
//! Policy decisions, pending actions and quarantines come from the daemon's policy step
//! (`enforce::engine`), published as a [`PolicyView`] tagged with each item's OS user. Not here:
//! exception requests (their list is always empty). The Windows
//! named pipe (with the client's SID checked) is not built: on Windows `muster-agent run`
//! serves no local API.

pub mod caller;
#[cfg(unix)]
pub mod fixes;
pub mod places;
pub mod render;
pub mod requests;
#[cfg(unix)]
pub mod server;
pub mod view;

use std::sync::Arc;

use muster_proto::local::v1::ConnectionState;
use muster_proto::v1::InventorySnapshot;

pub use crate::policy::PolicyView;
use tokio::sync::watch;

/// Everything the local API serves from, as the daemon last published it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentView {
    /// Grows by one with each published change.
    pub revision: u64,
    /// The latest inventory (the masked wire model), once the first scan has finished.
    pub snapshot: Option<Arc<InventorySnapshot>>,
    pub connection: Connection,
    /// What the policy in force decided, by user.
    pub policy: Arc<PolicyView>,
    /// Where each server's entry is in its config file (by server id).
    pub places: Arc<places::Places>,
    /// Each unpinned server's version pin candidate, or why it has none (by server id).
    pub pins: Arc<crate::pins::Candidates>,
}

/// The agent's link to the control plane, as the local API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    pub state: ConnectionState,
    /// The control plane's address when enrolled.
    pub server: String,
    pub last_acknowledged_unix: Option<i64>,
    /// Why the last send failed, already scrubbed.
    pub last_error: String,
    pub queued_reports: u32,
}

impl Default for Connection {
    fn default() -> Self {
        Connection {
            state: ConnectionState::NotEnrolled,
            server: String::new(),
            last_acknowledged_unix: None,
            last_error: String::new(),
            queued_reports: 0,
        }
    }
}

/// The daemon's end: publishes changes; every subscriber sees the latest view.
#[derive(Clone, Debug)]
pub struct StatusPublisher {
    tx: watch::Sender<AgentView>,
}

impl StatusPublisher {
    pub fn new(initial: Connection) -> StatusPublisher {
        let (tx, _) = watch::channel(AgentView {
            revision: 0,
            snapshot: None,
            connection: initial,
            policy: Arc::default(),
            places: Arc::default(),
            pins: Arc::default(),
        });
        StatusPublisher { tx }
    }

    pub fn subscribe(&self) -> watch::Receiver<AgentView> {
        self.tx.subscribe()
    }

    /// The view as last published.
    pub fn current(&self) -> AgentView {
        self.tx.borrow().clone()
    }

    /// Publishes a new inventory unless it equals the one served (apart from the scan time,
    /// which changes with every periodic rescan and would wake every client for nothing).
    pub fn publish_snapshot(&self, snapshot: &InventorySnapshot) {
        self.publish(snapshot, None);
    }

    /// [`Self::publish_snapshot`] with where each server's entry is in its file and the pin
    /// candidates: one change when any changed (an entry moved within its file changes only its
    /// place; a cache that learnt a version, only the candidates).
    pub fn publish_scan(&self, snapshot: &InventorySnapshot, places: places::Places, pins: crate::pins::Candidates) {
        self.publish(snapshot, Some((places, pins)));
    }

    fn publish(&self, snapshot: &InventorySnapshot, local: Option<(places::Places, crate::pins::Candidates)>) {
        self.tx.send_if_modified(|view| {
            let same = view.snapshot.as_deref().is_some_and(|old| same_content(old, snapshot));
            let moved = local.as_ref().is_some_and(|(p, _)| *p != *view.places);
            let repinned = local.as_ref().is_some_and(|(_, c)| *c != *view.pins);
            if same && !moved && !repinned {
                return false;
            }
            if !same {
                view.snapshot = Some(Arc::new(snapshot.clone()));
            }
            if let Some((places, pins)) = local {
                if moved {
                    view.places = Arc::new(places);
                }
                if repinned {
                    view.pins = Arc::new(pins);
                }
            }
            view.revision += 1;
            true
        });
    }

    /// Publishes the policy's decisions if they changed.
    pub fn publish_policy(&self, policy: PolicyView) {
        self.tx.send_if_modified(|view| {
            if *view.policy == policy {
                return false;
            }
            view.policy = Arc::new(policy);
            view.revision += 1;
            true
        });
    }

    /// Applies `change` to the connection and publishes it if anything changed.
    pub fn update_connection(&self, change: impl FnOnce(&mut Connection)) {
        self.tx.send_if_modified(|view| {
            let before = view.connection.clone();
            change(&mut view.connection);
            if view.connection == before {
                return false;
            }
            view.revision += 1;
            true
        });
    }
}

fn same_content(a: &InventorySnapshot, b: &InventorySnapshot) -> bool {
    if a.scanned_at_unix == b.scanned_at_unix {
        return a == b;
    }
    let mut b = b.clone();
    b.scanned_at_unix = a.scanned_at_unix;
    *a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rescan_that_changes_nothing_but_the_time_publishes_nothing() {
        let publisher = StatusPublisher::new(Connection::default());
        let rx = publisher.subscribe();
        let snap = InventorySnapshot { scanned_at_unix: 1, agent_version: "x".into(), ..Default::default() };
        publisher.publish_snapshot(&snap);
        assert_eq!(rx.borrow().revision, 1);
        publisher.publish_snapshot(&InventorySnapshot { scanned_at_unix: 2, ..snap.clone() });
        assert_eq!(rx.borrow().revision, 1, "only the scan time changed");
        publisher.publish_snapshot(&InventorySnapshot { agent_version: "y".into(), ..snap });
        assert_eq!(rx.borrow().revision, 2);
        publisher.update_connection(|c| c.state = ConnectionState::NotEnrolled);
        assert_eq!(rx.borrow().revision, 2, "unchanged connection");
        publisher.update_connection(|c| c.state = ConnectionState::Connected);
        assert_eq!(rx.borrow().revision, 3);
    }

    #[test]
    fn an_entry_moved_within_its_file_is_published_and_an_unmoved_one_is_not() {
        use crate::enforce::quarantine::EntryPlace;
        let publisher = StatusPublisher::new(Connection::default());
        let rx = publisher.subscribe();
        let snap = InventorySnapshot { scanned_at_unix: 1, ..Default::default() };
        let at = |line| places::Places::from([("s1".to_string(), EntryPlace { line, column: 3 })]);
        publisher.publish_scan(&snap, at(2), Default::default());
        assert_eq!((rx.borrow().revision, rx.borrow().places.get("s1").map(|p| p.line)), (1, Some(2)));
        publisher.publish_scan(&InventorySnapshot { scanned_at_unix: 2, ..snap.clone() }, at(2), Default::default());
        assert_eq!(rx.borrow().revision, 1, "nothing moved");
        publisher.publish_scan(&snap, at(7), Default::default());
        assert_eq!((rx.borrow().revision, rx.borrow().places.get("s1").map(|p| p.line)), (2, Some(7)));
        publisher.publish_snapshot(&InventorySnapshot { agent_version: "y".into(), ..snap });
        assert_eq!(rx.borrow().places.get("s1").map(|p| p.line), Some(7), "a snapshot alone keeps the places");
    }
}
