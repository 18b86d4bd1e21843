//! The outbox on real files: reports are on disk before they are handed out, leave only when
//! acknowledged, keep their sequence numbers across restarts, and compact to a full snapshot.

use std::fs;

use muster_agent::outbox::{Enqueued, Limits, Outbox};
use muster_proto::v1::report_request::Body;

use crate::support::inventory;

fn entry_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".report"))
        .collect();
    names.sort();
    names
}

#[test]
fn reports_are_on_disk_in_order_until_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("outbox");
    let mut outbox = Outbox::open(&dir, Limits::default()).unwrap();
    assert_eq!(outbox.enqueue(&inventory(&["a"]), false).unwrap(), Enqueued::Full { sequence: 1, superseded: 0 });
    assert_eq!(outbox.enqueue(&inventory(&["a"]), false).unwrap(), Enqueued::Unchanged);
    assert_eq!(outbox.enqueue(&inventory(&["a", "b"]), false).unwrap(), Enqueued::Delta { sequence: 2 });
    assert_eq!(outbox.enqueue(&inventory(&["b"]), false).unwrap(), Enqueued::Delta { sequence: 3 });
    assert_eq!(entry_files(&dir).len(), 3, "each report is a file before anyone sends it");

    let head = outbox.head().unwrap().unwrap();
    assert_eq!(head.sequence, 1);
    assert!(matches!(head.body, Some(Body::Full(_))));

    assert_eq!(outbox.ack(1).unwrap(), 1);
    let head = outbox.head().unwrap().unwrap();
    assert_eq!((head.sequence, head.base_sequence), (2, 1));
    let Some(Body::Delta(d)) = head.body else { panic!("expected a delta") };
    assert_eq!(d.upserted_servers.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["b"]);

    assert_eq!(outbox.ack(3).unwrap(), 2);
    assert!(outbox.is_empty());
    assert!(entry_files(&dir).is_empty(), "acknowledged reports leave the disk");
    assert_eq!(outbox.head().unwrap(), None);
}

#[test]
fn a_restart_resends_the_same_sequence_numbers_and_continues_after_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("outbox");
    {
        let mut outbox = Outbox::open(&dir, Limits::default()).unwrap();
        outbox.enqueue(&inventory(&["a"]), false).unwrap();
        outbox.enqueue(&inventory(&["a", "b"]), false).unwrap();
        outbox.ack(1).unwrap();
    }
    let mut outbox = Outbox::open(&dir, Limits::default()).unwrap();
    assert_eq!(outbox.pending(), [2]);
    assert_eq!(outbox.last_sequence(), 2);
    assert!(outbox.has_base(), "the state after the last queued report survives the restart");
    let head = outbox.head().unwrap().unwrap();
    assert_eq!((head.sequence, head.base_sequence), (2, 1));
    // Nothing changed since: no new report; a change continues the numbering.
    assert_eq!(outbox.enqueue(&inventory(&["a", "b"]), false).unwrap(), Enqueued::Unchanged);
    assert_eq!(outbox.enqueue(&inventory(&["b"]), false).unwrap(), Enqueued::Delta { sequence: 3 });

    // Everything acknowledged: numbering still continues after a restart.
    outbox.ack(3).unwrap();
    drop(outbox);
    let mut outbox = Outbox::open(&dir, Limits::default()).unwrap();
    assert!(outbox.is_empty());
    assert_eq!(outbox.enqueue(&inventory(&["c"]), false).unwrap(), Enqueued::Delta { sequence: 4 });
}

#[test]
fn an_interrupted_write_is_not_a_report_and_a_stale_base_forces_a_full_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("outbox");
    {
        let mut outbox = Outbox::open(&dir, Limits::default()).unwrap();
        outbox.enqueue(&inventory(&["a"]), false).unwrap();
    }
    // A crash mid-write leaves a temp file that was never renamed into place.
    fs::write(dir.join(".00000000000000000002.report.tmp"), b"half a rep").unwrap();
    // A crash between writing entry 2 and the head: the head still says sequence 1.
    let head_before = fs::read(dir.join("head.pb")).unwrap();
    {
        let mut outbox = Outbox::open(&dir, Limits::default()).unwrap();
        outbox.enqueue(&inventory(&["a", "b"]), false).unwrap();
    }
    fs::write(dir.join("head.pb"), head_before).unwrap();

    let mut outbox = Outbox::open(&dir, Limits::default()).unwrap();
    assert!(!dir.join(".00000000000000000002.report.tmp").exists(), "temp files are cleaned up");
    assert_eq!(outbox.pending(), [1, 2]);
    assert_eq!(outbox.last_sequence(), 2, "the newest entry wins over an older head");
    assert!(!outbox.has_base(), "a head older than the newest entry is not a base for deltas");
    assert_eq!(outbox.enqueue(&inventory(&["a", "b"]), false).unwrap(), Enqueued::Full { sequence: 3, superseded: 2 });
}

#[test]
fn a_corrupt_entry_is_dropped_and_the_next_report_is_full() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("outbox");
    {
        let mut outbox = Outbox::open(&dir, Limits::default()).unwrap();
        outbox.enqueue(&inventory(&["a"]), false).unwrap();
        outbox.enqueue(&inventory(&["a", "b"]), false).unwrap();
    }
    fs::write(dir.join(format!("{:020}.report", 2)), b"\xff\xff not protobuf").unwrap();
    let mut outbox = Outbox::open(&dir, Limits::default()).unwrap();
    assert_eq!(outbox.pending(), [1]);
    assert!(!outbox.has_base());
    assert!(matches!(outbox.enqueue(&inventory(&["a", "b"]), false).unwrap(), Enqueued::Full { sequence: 3, .. }));
}

#[test]
fn a_full_outbox_compacts_to_the_latest_full_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("outbox");
    let mut outbox = Outbox::open(&dir, Limits { max_entries: 3, max_bytes: u64::MAX }).unwrap();
    outbox.enqueue(&inventory(&["s0"]), false).unwrap();
    outbox.enqueue(&inventory(&["s0", "s1"]), false).unwrap();
    outbox.enqueue(&inventory(&["s0", "s1", "s2"]), false).unwrap();
    assert_eq!(outbox.pending(), [1, 2, 3]);
    let newest = inventory(&["s0", "s1", "s2", "s3"]);
    assert_eq!(outbox.enqueue(&newest, false).unwrap(), Enqueued::Full { sequence: 4, superseded: 3 });
    assert_eq!(outbox.pending(), [4]);
    assert_eq!(entry_files(&dir), [format!("{:020}.report", 4)]);
    let head = outbox.head().unwrap().unwrap();
    let Some(Body::Full(full)) = head.body else { panic!("expected a full snapshot") };
    assert_eq!(full, newest, "compaction keeps the newest state, not the oldest");
    // After compaction deltas resume from the full state.
    assert_eq!(outbox.enqueue(&inventory(&["s3"]), false).unwrap(), Enqueued::Delta { sequence: 5 });
}

#[test]
fn the_byte_limit_also_compacts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("outbox");
    let mut outbox = Outbox::open(&dir, Limits { max_entries: 1000, max_bytes: 400 }).unwrap();
    let mut ids: Vec<String> = Vec::new();
    let mut fulls = 0;
    for i in 0..20 {
        ids.push(format!("server-{i}"));
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        if let Enqueued::Full { .. } = outbox.enqueue(&inventory(&refs), false).unwrap() {
            fulls += 1;
        }
        // One full snapshot may exceed the cap on its own (the newest state is never dropped);
        // beyond that the queue stays within it.
        assert!(outbox.pending().len() == 1 || outbox.pending_bytes() <= 400, "{} bytes", outbox.pending_bytes());
    }
    assert!(fulls >= 2, "the byte cap forced compactions ({fulls} full snapshots)");
}

#[test]
fn an_ack_beyond_anything_sent_jumps_the_numbering_and_drops_the_base() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("outbox");
    let mut outbox = Outbox::open(&dir, Limits::default()).unwrap();
    outbox.enqueue(&inventory(&["a"]), false).unwrap();
    outbox.ack(41).unwrap();
    assert_eq!(outbox.last_sequence(), 41);
    assert!(!outbox.has_base());
    drop(outbox);
    let mut outbox = Outbox::open(&dir, Limits::default()).unwrap();
    assert_eq!(outbox.enqueue(&inventory(&["a"]), false).unwrap(), Enqueued::Full { sequence: 42, superseded: 0 });
}

#[cfg(unix)]
#[test]
fn outbox_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("outbox");
    let mut outbox = Outbox::open(&dir, Limits::default()).unwrap();
    outbox.enqueue(&inventory(&["a"]), false).unwrap();
    assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    for e in fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        assert_eq!(e.metadata().unwrap().permissions().mode() & 0o777, 0o600, "{:?}", e.file_name());
    }
}

#[test]
fn a_changed_policy_state_is_reported_even_when_the_inventory_did_not_change() {
    use muster_proto::v1::{PolicyActionResult, PolicyReport, PolicyServerState};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("outbox");
    let policy = |version: u64, evaluated_at_unix: i64, state: i32| PolicyReport {
        applied_version: version,
        acked_version: version,
        evaluated_at_unix,
        servers: vec![PolicyServerState {
            server_id: "a".into(),
            actions: vec![PolicyActionResult { rule_id: "r".into(), state, ..Default::default() }],
        }],
        refusal: String::new(),
        ..PolicyReport::default()
    };
    let mut outbox = Outbox::open(&dir, Limits::default()).unwrap();
    let inv = inventory(&["a"]);
    assert_eq!(
        outbox.enqueue_with_policy(&inv, &policy(1, 10, 1), false).unwrap(),
        Enqueued::Full { sequence: 1, superseded: 0 }
    );
    assert_eq!(outbox.head().unwrap().unwrap().policy, Some(policy(1, 10, 1)), "the report carries the policy state");
    assert_eq!(
        outbox.enqueue_with_policy(&inv, &policy(1, 20, 1), false).unwrap(),
        Enqueued::Unchanged,
        "only the evaluation time changed"
    );
    assert_eq!(outbox.enqueue_with_policy(&inv, &policy(1, 30, 2), false).unwrap(), Enqueued::Delta { sequence: 2 });
    outbox.ack(1).unwrap();
    let head = outbox.head().unwrap().unwrap();
    let Some(Body::Delta(d)) = &head.body else { panic!("expected a delta") };
    assert!(d.upserted_servers.is_empty() && d.removed_server_ids.is_empty(), "an empty delta: {d:?}");
    assert_eq!(head.policy, Some(policy(1, 30, 2)));

    // A restart remembers what was last queued: the same state is not queued again.
    drop(outbox);
    let mut outbox = Outbox::open(&dir, Limits::default()).unwrap();
    assert_eq!(outbox.enqueue_with_policy(&inv, &policy(1, 40, 2), false).unwrap(), Enqueued::Unchanged);
    assert_eq!(outbox.enqueue_with_policy(&inv, &policy(2, 50, 2), false).unwrap(), Enqueued::Delta { sequence: 3 });
}
