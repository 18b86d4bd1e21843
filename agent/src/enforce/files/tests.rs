//! Tests of the file-safety layer on real files: restore is byte-identical with owner and mode,
//! a file edited after planning is never overwritten, confinement, and crash injection (a fault
//! at every step of every kind of write, and real killed processes).

use super::faults::{FaultMode, Faults};
use super::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn scratch() -> tempfile::TempDir {
    crate::enforce::scratch_dir()
}

fn intent(key: &str) -> Intent {
    Intent { key: key.into(), decision: format!("test decision for {key}") }
}

fn write(keeper: &FileKeeper, path: &Path, bytes: &[u8]) -> Result<Option<Touch>, FileSafetyError> {
    let (observed, _) = Observed::read(path)?;
    keeper.apply(&observed, Change::Write { bytes, mode_if_created: 0o644 }, &intent("k"))
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Files in `dir` whose names mark them as temp files of this layer.
fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn a_replaced_file_is_restored_byte_identical_with_its_mode_after_a_restart() {
    let tmp = scratch();
    let state = tmp.path().join("state");
    let file = tmp.path().join("settings.json");
    let old = b"\xEF\xBB\xBF{\r\n  // mine\r\n  \"a\": 1,\r\n}\r\n";
    fs::write(&file, old).unwrap();
    #[cfg(unix)]
    set_mode(&file, 0o640);
    let keeper = FileKeeper::open(&state).unwrap();
    let touch = write(&keeper, &file, b"{}\n").unwrap().unwrap();
    assert_eq!(fs::read(&file).unwrap(), b"{}\n");
    #[cfg(unix)]
    assert_eq!(mode_of(&file), 0o640, "the file keeps its mode");
    assert_eq!(touch.status, TouchStatus::Applied);
    let FileState::Present { backup: Some(name), mode, .. } = &touch.before else { panic!("{touch:?}") };
    assert_eq!(fs::read(state.join(ENFORCE_DIR).join("backups").join(name)).unwrap(), old);
    #[cfg(unix)]
    assert_eq!(*mode, 0o640);
    let _ = mode;
    drop(keeper);

    let keeper = FileKeeper::open(&state).unwrap();
    assert_eq!(keeper.touches().unwrap(), std::slice::from_ref(&touch));
    assert_eq!(keeper.restore(touch.id).unwrap(), [touch.id]);
    assert_eq!(fs::read(&file).unwrap(), old);
    #[cfg(unix)]
    assert_eq!(mode_of(&file), 0o640);
    assert_eq!(keeper.touches().unwrap()[0].status, TouchStatus::Restored);
    assert!(temp_files(tmp.path()).is_empty());
    // Restoring twice changes nothing.
    assert!(keeper.restore(touch.id).unwrap().is_empty());
    assert_eq!(fs::read(&file).unwrap(), old);
}

#[test]
fn a_file_edited_after_planning_is_not_overwritten() {
    let tmp = scratch();
    let file = tmp.path().join("mcp.json");
    fs::write(&file, "{\"servers\": {}}").unwrap();
    let keeper = FileKeeper::open(&tmp.path().join("state")).unwrap();
    let (observed, _) = Observed::read(&file).unwrap();
    fs::write(&file, "{\"servers\": {\"new\": {}}}").unwrap();
    let err =
        keeper.apply(&observed, Change::Write { bytes: b"planned", mode_if_created: 0o644 }, &intent("k")).unwrap_err();
    assert!(matches!(err, FileSafetyError::Changed { .. }), "{err}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "{\"servers\": {\"new\": {}}}");
    assert!(keeper.touches().unwrap().is_empty());
}

/// The last check before the rename: an edit landing while the temp file is written wins.
#[test]
fn a_file_edited_during_the_write_is_not_overwritten() {
    let tmp = scratch();
    let file = tmp.path().join("config.toml");
    fs::write(&file, "a = 1\n").unwrap();
    let edited = Arc::new(AtomicBool::new(false));
    let (f, e) = (file.clone(), edited.clone());
    let faults = Faults::none().with_hook(move |step| {
        if step == "fsync temp" && !e.swap(true, Ordering::SeqCst) {
            fs::write(&f, "a = 2 # the developer's edit\n").unwrap();
        }
    });
    let keeper = FileKeeper::open_with(&tmp.path().join("state"), faults).unwrap();
    let err = write(&keeper, &file, b"a = 1\nb = 2\n").unwrap_err();
    assert!(edited.load(Ordering::SeqCst));
    assert!(matches!(err, FileSafetyError::Changed { .. }), "{err}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "a = 2 # the developer's edit\n");
    assert!(temp_files(tmp.path()).is_empty());
    let touches = keeper.touches().unwrap();
    assert_eq!(touches.len(), 1);
    assert_eq!(touches[0].status, TouchStatus::Interrupted, "neither old nor new: left alone, backup kept");
}

#[test]
fn restore_refuses_a_file_changed_since_muster_wrote_it() {
    let tmp = scratch();
    let file = tmp.path().join("a.yaml");
    fs::write(&file, "old: 1\n").unwrap();
    let keeper = FileKeeper::open(&tmp.path().join("state")).unwrap();
    let touch = write(&keeper, &file, b"new: 1\n").unwrap().unwrap();
    fs::write(&file, "new: 1\nmine: 2\n").unwrap();
    let err = keeper.restore(touch.id).unwrap_err();
    assert!(matches!(err, FileSafetyError::ChangedSinceWrite { .. }), "{err}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "new: 1\nmine: 2\n");
    let (undone, refused) = keeper.restore_all().unwrap();
    assert!(undone.is_empty());
    assert_eq!(refused.len(), 1);
}

#[test]
fn a_created_file_and_its_directories_are_removed_on_restore() {
    let tmp = scratch();
    let file = tmp.path().join("etc").join("claude-code").join("managed-settings.json");
    let keeper = FileKeeper::open(&tmp.path().join("state")).unwrap();
    let touch = write(&keeper, &file, b"{}").unwrap().unwrap();
    assert_eq!(touch.before, FileState::Absent);
    assert_eq!(touch.created_dirs.len(), 2);
    #[cfg(unix)]
    assert_eq!(mode_of(&file), 0o644);
    keeper.restore(touch.id).unwrap();
    assert!(!tmp.path().join("etc").exists());
}

#[test]
fn a_removed_file_comes_back_and_later_touches_are_undone_first() {
    let tmp = scratch();
    let file = tmp.path().join("f");
    fs::write(&file, "one").unwrap();
    let keeper = FileKeeper::open(&tmp.path().join("state")).unwrap();
    let first = write(&keeper, &file, b"two").unwrap().unwrap();
    let (observed, _) = Observed::read(&file).unwrap();
    let second = keeper.apply(&observed, Change::Remove, &intent("gone")).unwrap().unwrap();
    assert!(!file.exists());
    assert_eq!(keeper.restore(first.id).unwrap(), [second.id, first.id]);
    assert_eq!(fs::read(&file).unwrap(), b"one");
}

#[test]
fn writing_what_is_already_there_records_nothing() {
    let tmp = scratch();
    let file = tmp.path().join("f");
    fs::write(&file, "same").unwrap();
    let keeper = FileKeeper::open(&tmp.path().join("state")).unwrap();
    assert!(write(&keeper, &file, b"same").unwrap().is_none());
    assert!(keeper.touches().unwrap().is_empty());
}

#[cfg(unix)]
#[test]
fn a_symlinked_config_stays_a_link_and_confinement_follows_links() {
    let tmp = scratch();
    let root = tmp.path().join("root");
    let dotfiles = tmp.path().join("dotfiles");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&dotfiles).unwrap();
    fs::write(dotfiles.join("mcp.json"), "{}").unwrap();
    std::os::unix::fs::symlink(dotfiles.join("mcp.json"), root.join("mcp.json")).unwrap();
    let keeper = FileKeeper::open(&tmp.path().join("state")).unwrap();
    write(&keeper, &root.join("mcp.json"), b"{\"x\":1}").unwrap().unwrap();
    assert!(fs::symlink_metadata(root.join("mcp.json")).unwrap().file_type().is_symlink());
    assert_eq!(fs::read(dotfiles.join("mcp.json")).unwrap(), b"{\"x\":1}");

    let confined = FileKeeper::open(&tmp.path().join("state")).unwrap().confined_to(&root).unwrap();
    let err = write(&confined, &root.join("mcp.json"), b"{}").unwrap_err();
    assert!(matches!(err, FileSafetyError::OutsideRoot { .. }), "{err}");
    let err = write(&confined, &tmp.path().join("elsewhere.json"), b"{}").unwrap_err();
    assert!(matches!(err, FileSafetyError::OutsideRoot { .. }), "{err}");
    assert!(!tmp.path().join("elsewhere.json").exists());
    write(&confined, &root.join("inside.json"), b"{}").unwrap().unwrap();
}

#[cfg(unix)]
#[test]
fn a_hard_linked_file_is_refused() {
    let tmp = scratch();
    let file = tmp.path().join("f");
    fs::write(&file, "x").unwrap();
    fs::hard_link(&file, tmp.path().join("g")).unwrap();
    let keeper = FileKeeper::open(&tmp.path().join("state")).unwrap();
    assert!(matches!(write(&keeper, &file, b"y").unwrap_err(), FileSafetyError::HardLinked { .. }));
    assert_eq!(fs::read(&file).unwrap(), b"x");
}

#[cfg(unix)]
#[test]
fn a_fifo_is_never_opened() {
    let tmp = scratch();
    let fifo = tmp.path().join("settings.local.json");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    // A writer that waits for a reader: without the check, `read` would be that reader and
    // succeed with the writer's bytes.
    let path = fifo.clone();
    let writer = std::thread::spawn(move || fs::write(path, b"{}"));
    let result = Observed::read(&fifo);
    // Unblock the writer with a reader of our own, whatever happened.
    if result.is_err() {
        fs::read(&fifo).unwrap();
    }
    writer.join().unwrap().unwrap();
    assert!(matches!(result, Err(FileSafetyError::NotRegular { .. })), "{result:?}");
}

/// A small deterministic generator, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Content of several shapes: empty, BOM, CRLF, a page and more, arbitrary bytes.
fn content(rng: &mut XorShift, tag: u64) -> Vec<u8> {
    let mut out = Vec::new();
    match rng.below(5) {
        0 => {}
        1 => out.extend_from_slice(b"\xEF\xBB\xBF{\r\n  \"k\": 1,\r\n}\r\n"),
        2 => out.extend((0..4100).map(|i| (i % 251) as u8)),
        3 => out.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
        _ => out.extend_from_slice(b"# comment\nkey = \"value\"\n"),
    }
    out.extend_from_slice(format!("#{tag}").as_bytes());
    out
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Replace,
    Create,
    Remove,
    Restore,
}

/// Sets up one scenario, runs `op` with a fault at point `at`, "restarts", and checks that the
/// file holds the old or the new content byte-exact and can be brought back to the original.
fn crash_case(rng: &mut XorShift, op: Op, at: u32, mode: FaultMode) -> (u32, bool) {
    let tmp = scratch();
    let state = tmp.path().join("state");
    let dir = tmp.path().join("home").join(".config");
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("client.json");
    let original = content(rng, 0);
    let new = content(rng, 1);
    let mut expected_original: Option<Vec<u8>> = Some(original.clone());
    match op {
        Op::Replace | Op::Remove | Op::Restore => fs::write(&file, &original).unwrap(),
        Op::Create => expected_original = None,
    }
    #[cfg(unix)]
    if file.exists() {
        set_mode(&file, 0o640);
    }
    if let Op::Restore = op {
        let keeper = FileKeeper::open(&state).unwrap();
        write(&keeper, &file, &new).unwrap().unwrap();
    }
    let faults = Faults::at(at, mode);
    let keeper = FileKeeper::open_with(&state, faults).unwrap();
    let result = match op {
        Op::Replace | Op::Create => write(&keeper, &file, &new).map(|_| ()),
        Op::Remove => {
            Observed::read(&file).and_then(|(o, _)| keeper.apply(&o, Change::Remove, &intent("k"))).map(|_| ())
        }
        Op::Restore => keeper.restore_all().map(|_| ()),
    };
    let (seen, tripped) = (keeper.faults.seen(), keeper.faults.tripped());
    if !tripped {
        result.unwrap();
    }
    drop(keeper);

    // The restart: recovery settles whatever was left.
    let keeper = FileKeeper::open(&state).unwrap();
    let now = fs::read(&file).ok();
    let new_state = match op {
        Op::Remove => None,
        Op::Replace | Op::Create => Some(new.clone()),
        Op::Restore => expected_original.clone(),
    };
    let old_state = match op {
        Op::Restore => Some(new.clone()),
        _ => expected_original.clone(),
    };
    assert!(
        now == old_state || now == new_state,
        "{op:?} fault {mode:?} at {at}: the file holds neither the old nor the new content"
    );
    assert!(temp_files(&dir).is_empty(), "{op:?} {mode:?} at {at}: temp file left");
    for touch in keeper.touches().unwrap() {
        assert!(
            matches!(touch.status, TouchStatus::Applied | TouchStatus::NotApplied | TouchStatus::Restored),
            "{op:?} {mode:?} at {at}: {touch:?}"
        );
    }
    let (_, refused) = keeper.restore_all().unwrap();
    assert!(refused.is_empty(), "{op:?} {mode:?} at {at}: {refused:?}");
    assert_eq!(fs::read(&file).ok(), expected_original, "{op:?} {mode:?} at {at}: restore is not byte-exact");
    #[cfg(unix)]
    if expected_original.is_some() {
        assert_eq!(mode_of(&file), 0o640, "{op:?} {mode:?} at {at}: mode lost");
    }
    if expected_original.is_none() {
        assert!(!tmp.path().join("home").join(".config").join("client.json").exists());
    }
    (seen, tripped)
}

/// 10,000 interrupted rewrites: every kind of change, a fault at every step, both as an error
/// the code cleans up after and as a dead process that cleans up nothing.
#[test]
fn ten_thousand_interrupted_rewrites_leave_old_or_new_content_and_restore() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut runs = 0u32;
    let mut interrupted = 0u32;
    'outer: loop {
        for op in [Op::Replace, Op::Create, Op::Remove, Op::Restore] {
            for mode in [FaultMode::FailOnce, FaultMode::Crash] {
                let mut at = 0;
                loop {
                    let (seen, tripped) = crash_case(&mut rng, op, at, mode);
                    runs += 1;
                    if !tripped {
                        // The fault point is past the last step: every step has been failed once.
                        assert!(seen > 5, "{op:?}: only {seen} steps");
                        break;
                    }
                    interrupted += 1;
                    at += 1;
                    if interrupted >= 10_000 {
                        break 'outer;
                    }
                }
            }
        }
    }
    assert!(runs >= 10_000);
}

/// Real processes killed mid-write (at whatever step the kill lands): the file holds one of the
/// contents written, byte-exact, and restore brings back the original.
#[cfg(unix)]
#[test]
fn killed_writers_leave_old_or_new_content_and_restore() {
    const CHILD: &str = "MUSTER_TEST_KILLED_WRITER_DIR";
    if let Some(dir) = std::env::var_os(CHILD) {
        // The child: rewrite the file until killed (bounded, should the parent vanish).
        let dir = PathBuf::from(dir);
        let keeper = FileKeeper::open(&dir.join("state")).unwrap();
        let file = dir.join("config.json");
        for i in 1..10_000u64 {
            write(&keeper, &file, &killed_content(i)).unwrap();
            println!("wrote {i}");
        }
        return;
    }
    use std::io::BufRead;
    let mut rng = XorShift(0xD1B5_4A32_D192_ED03);
    let exe = std::env::current_exe().unwrap();
    for round in 0..12 {
        let tmp = scratch();
        let file = tmp.path().join("config.json");
        fs::write(&file, killed_content(0)).unwrap();
        let mut child = std::process::Command::new(&exe)
            .args(["--exact", "enforce::files::tests::killed_writers_leave_old_or_new_content_and_restore"])
            .args(["--nocapture", "--test-threads=1"])
            .env(CHILD, tmp.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let wait_for = 1 + rng.below(40);
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        while seen < wait_for {
            let line = lines.next().expect("child ended early").unwrap();
            if line.starts_with("wrote ") {
                seen += 1;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let now = fs::read(&file).unwrap();
        let i: u64 = std::str::from_utf8(&now).unwrap().trim_start_matches("content ").parse().unwrap_or(u64::MAX);
        assert!(i >= seen && now == killed_content(i), "round {round}: not one of the written contents");
        let keeper = FileKeeper::open(&tmp.path().join("state")).unwrap();
        assert!(temp_files(tmp.path()).is_empty(), "round {round}");
        let (_, refused) = keeper.restore_all().unwrap();
        assert!(refused.is_empty(), "round {round}: {refused:?}");
        assert_eq!(fs::read(&file).unwrap(), killed_content(0), "round {round}");
    }
}

fn killed_content(i: u64) -> Vec<u8> {
    format!("content {i}").into_bytes()
}
