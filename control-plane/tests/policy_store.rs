//! Policy versions on both backends, through the use-cases the API and the CLI share: publish
//! (stamped, stored, refused with places and nothing stored), rollback (a new version with the
//! old text), history and current, concurrent publishes taking distinct numbers, and the audit
//! events they return.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::sync::Mutex;

use muster_control_plane::error::ActionError;
use muster_control_plane::policies::{self, NoListener, PolicyListener};
use muster_control_plane::store::DynStore;
use muster_control_plane::store::policies::PolicyVersionRecord;
use support::{conformance_suite, run_postgres, run_sqlite};

const NOW: i64 = 1_800_000_000;

const FIRST: &str = r#"# first draft
version = 1
name = "acme"

[[rule]]
id = "no-sse"
action = "notify"
[rule.match]
transport = ["sse"]
"#;

const SECOND: &str = r#"version = 1
name = "acme"

[[rule]]
id = "no-sse"
action = "block"
[rule.match]
transport = ["sse"]
"#;

/// Records what it was told.
#[derive(Default)]
struct Heard(Mutex<Vec<u64>>);

impl PolicyListener for Heard {
    fn policy_published(&self, version: &PolicyVersionRecord) {
        self.0.lock().unwrap().push(version.version);
    }
}

conformance_suite!(
    publish_stamps_stores_and_tells_the_listener,
    a_refused_file_names_its_places_and_stores_nothing,
    rollback_publishes_the_old_text_as_a_new_version,
    history_pages_newest_first,
    concurrent_publishes_take_distinct_versions,
);

async fn publish_stamps_stores_and_tells_the_listener(store: DynStore) {
    assert!(policies::current(store.as_ref()).await.unwrap().is_none());
    let heard = Heard::default();
    let (v1, event) = policies::publish(store.as_ref(), &heard, FIRST, "alice", " first ", NOW).await.unwrap();
    assert_eq!((v1.version, v1.name.as_str(), v1.author.as_str(), v1.reason.as_str()), (1, "acme", "alice", "first"));
    assert_eq!(v1.source_text, FIRST, "the text as written is kept");
    assert_eq!(v1.published_at, Some(NOW));
    let bundle = muster_policy::parse(std::str::from_utf8(&v1.canonical).unwrap()).unwrap();
    assert_eq!((bundle.revision(), bundle.published_at()), (1, Some(NOW)), "the stamp is in the signed bytes");
    assert_eq!(v1.digest.len(), 64);
    assert_eq!((event.action.as_str(), event.target.as_str()), ("policy.publish", "policy/1"));
    assert!(event.detail.contains("\"first\""), "{}", event.detail);

    let (v2, _) = policies::publish(store.as_ref(), &heard, SECOND, "bob", "", NOW + 10).await.unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(*heard.0.lock().unwrap(), vec![1, 2]);
    let current = policies::current(store.as_ref()).await.unwrap().unwrap();
    assert_eq!(current, v2);
    assert_eq!(policies::version(store.as_ref(), 1).await.unwrap(), v1);
    assert!(matches!(policies::version(store.as_ref(), 3).await, Err(ActionError::NotFound(_))));
}

async fn a_refused_file_names_its_places_and_stores_nothing(store: DynStore) {
    let broken = FIRST.replace("transport = [\"sse\"]", "trasnport = [\"sse\"]").replace("\"notify\"", "\"shout\"");
    let heard = Heard::default();
    let error = policies::publish(store.as_ref(), &heard, &broken, "alice", "", NOW).await.unwrap_err();
    let ActionError::Invalid(message) = error else { panic!("not a refusal: {error:?}") };
    let lines: Vec<&str> = message.lines().collect();
    assert!(lines[0].starts_with("policy refused"), "{message}");
    assert!(lines[1..].iter().any(|l| l.starts_with("7:")), "the bad action's line: {message}");
    assert!(policies::current(store.as_ref()).await.unwrap().is_none());
    assert!(policies::history(store.as_ref(), None, 10).await.unwrap().is_empty());
    assert!(heard.0.lock().unwrap().is_empty());
    let long = "x".repeat(policies::MAX_REASON + 1);
    assert!(matches!(
        policies::publish(store.as_ref(), &heard, FIRST, "a", &long, NOW).await,
        Err(ActionError::Invalid(_))
    ));
    assert!(policies::history(store.as_ref(), None, 10).await.unwrap().is_empty());
}

async fn rollback_publishes_the_old_text_as_a_new_version(store: DynStore) {
    let (v1, _) = policies::publish(store.as_ref(), &NoListener, FIRST, "alice", "", NOW).await.unwrap();
    policies::publish(store.as_ref(), &NoListener, SECOND, "alice", "", NOW + 1).await.unwrap();
    let heard = Heard::default();
    let (v3, event) =
        policies::rollback(store.as_ref(), &heard, 1, "carol", "block broke builds", NOW + 2).await.unwrap();
    assert_eq!((v3.version, v3.rollback_of, v3.source_text.as_str()), (3, Some(1), FIRST));
    assert_ne!(v3.canonical, v1.canonical, "a new revision, so agents holding version 2 take it");
    assert_eq!(policies::current(store.as_ref()).await.unwrap().unwrap().version, 3);
    assert_eq!((event.action.as_str(), event.target.as_str()), ("policy.rollback", "policy/3"));
    assert_eq!(*heard.0.lock().unwrap(), vec![3]);
    assert!(matches!(
        policies::rollback(store.as_ref(), &heard, 9, "carol", "", NOW).await,
        Err(ActionError::NotFound(_))
    ));
}

async fn history_pages_newest_first(store: DynStore) {
    for i in 0..5 {
        policies::publish(store.as_ref(), &NoListener, FIRST, "alice", &format!("r{i}"), NOW + i).await.unwrap();
    }
    let page = policies::history(store.as_ref(), None, 2).await.unwrap();
    assert_eq!(page.iter().map(|v| v.version).collect::<Vec<_>>(), vec![5, 4]);
    let next = policies::history(store.as_ref(), Some(4), 10).await.unwrap();
    assert_eq!(next.iter().map(|v| v.version).collect::<Vec<_>>(), vec![3, 2, 1]);
    assert_eq!(next[2].reason, "r0");
}

async fn concurrent_publishes_take_distinct_versions(store: DynStore) {
    let mut tasks = Vec::new();
    for i in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            policies::publish(store.as_ref(), &NoListener, FIRST, &format!("admin{i}"), "", NOW)
                .await
                .unwrap()
                .0
                .version
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, vec![1, 2, 3, 4]);
}
