use super::*;

const PIN: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn full() -> String {
    format!(
        "version = 1\nstate_dir = \"/var/lib/muster-agent\"\nlog_level = \"warn,muster_agent=debug\"\n\
         tags = [\"team:payments\", \"ring/canary\"]\n\
         [control_plane]\naddresses = [\"https://cp.example.com:7443\", \"https://10.0.0.2:7443\"]\n\
         ca_fingerprint = \"{PIN}\"\nenroll_token_file = \"/etc/muster/enroll-token\"\n\
         [scan]\nprocesses = false\ninterval = \"1m\"\nfull_interval = \"12h\"\nprobe_remote_auth = false\n\
         [watch]\nenabled = false\ndebounce = \"1s\"\n"
    )
}

#[test]
fn a_full_file_is_read_into_every_setting() {
    let config = load(&full()).unwrap();
    let cp = config.control_plane.as_ref().unwrap();
    assert_eq!(cp.addresses, ["https://cp.example.com:7443", "https://10.0.0.2:7443"]);
    assert_eq!(cp.ca_fingerprint.to_string(), PIN);
    assert_eq!(cp.enrollment, Some(EnrollmentSecret::File("/etc/muster/enroll-token".into())));
    assert_eq!(config.state_dir.as_deref(), Some(Path::new("/var/lib/muster-agent")));
    assert_eq!(config.log_level, "warn,muster_agent=debug");
    assert_eq!(config.tags, ["team:payments", "ring/canary"]);
    assert_eq!(
        config.scan,
        ScanSettings {
            processes: false,
            interval: Duration::from_secs(60),
            full_interval: Duration::from_secs(12 * 3600),
            probe_remote_auth: false,
        }
    );
    assert_eq!(config.watch, WatchSettings { enabled: false, debounce: Duration::from_secs(1) });
}

#[test]
fn a_version_alone_is_a_local_only_agent_with_defaults() {
    let config = load("version = 1\n").unwrap();
    assert_eq!(config, AgentConfig::default());
    assert!(config.control_plane.is_none());
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "version = 2\ncolour = \"red\"\nlog_level = \"[[\"\nstate_dir = \"relative\"\n\
                [control_plane]\naddresses = [\"http://plain:1\"]\nca_fingerprint = \"abc\"\n\
                enroll_token = \"t\"\nenroll_token_file = \"/x\"\nspeed = 1\n\
                [scan]\ninterval = \"fast\"\nfull_interval = \"1s\"\n[watch]\ndebounce = \"1y\"\nshape = 2\n";
    let errors = load(text).unwrap_err();
    let expected = [
        "unknown key `colour`",
        "unknown key `control_plane.speed`",
        "unknown key `watch.shape`",
        "unsupported version 2",
        "log_level",
        "state_dir",
        "control_plane.addresses",
        "control_plane.ca_fingerprint",
        "not both",
        "scan.interval",
        "scan.full_interval",
        "watch.debounce",
    ];
    for needle in expected {
        assert!(errors.0.iter().any(|p| p.contains(needle)), "no problem mentions {needle:?}: {errors}");
    }
    assert_eq!(errors.0.len(), expected.len(), "{errors}");
}

#[test]
fn a_type_error_in_one_table_does_not_hide_the_others() {
    let errors = load("version = 1\n[scan]\nprocesses = \"yes\"\n[watch]\nbogus = 1\n").unwrap_err();
    assert_eq!(errors.0.len(), 2, "{errors}");
    assert!(errors.0[0].contains("watch.bogus") || errors.0[1].contains("watch.bogus"), "{errors}");
}

#[test]
fn missing_version_and_missing_control_plane_fields_are_refused() {
    let errors = load("[control_plane]\n").unwrap_err();
    assert_eq!(errors.0.len(), 3, "{errors}");
    assert!(errors.0.iter().any(|p| p.contains("missing `version = 1`")), "{errors}");
    let errors =
        load("version = 1\n[control_plane]\naddresses = [\"https://a:1\"]\nenroll_token_file = \"t\"\n").unwrap_err();
    assert_eq!(errors.0.len(), 2, "{errors}");
}

#[test]
fn an_inline_token_is_kept_out_of_debug_and_describe() {
    let text = format!(
        "version = 1\n[control_plane]\naddresses = [\"https://a:1\"]\nca_fingerprint = \"{PIN}\"\n\
         enroll_token = \"mtok_s3cr3t-value\"\n"
    );
    let config = load(&text).unwrap();
    assert_eq!(
        config.control_plane.as_ref().unwrap().enrollment,
        Some(EnrollmentSecret::Inline(Zeroizing::new("mtok_s3cr3t-value".into())))
    );
    for shown in [format!("{config:?}"), describe(&config)] {
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
    assert!(describe(&config).contains("inline token (not shown)"));
}

#[test]
fn a_syntax_error_is_one_problem_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, "version = \n").unwrap();
    let errors = load_file(&path).unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors}");
    assert!(errors.0[0].starts_with(&path.display().to_string()), "{errors}");
    let missing = load_file(&dir.path().join("absent.toml")).unwrap_err();
    assert!(missing.0[0].contains("cannot read"), "{missing}");
}

#[test]
fn default_paths_per_os() {
    let none = EnvMap::new();
    assert_eq!(default_path(Os::Linux, &none), Path::new("/etc/muster/agent.toml"));
    assert_eq!(default_path(Os::Macos, &none), Path::new("/Library/Application Support/Muster/agent.toml"));
    assert_eq!(default_path(Os::Windows, &none), Path::new("C:\\ProgramData\\Muster\\agent.toml"));
    let env: EnvMap = [("ProgramData".to_string(), "D:\\Data\\".to_string())].into_iter().collect();
    assert_eq!(default_path(Os::Windows, &env), Path::new("D:\\Data\\Muster\\agent.toml"));
}

#[test]
fn an_installer_written_file_loads_and_bad_properties_are_refused() {
    let text = minimal(&["https://cp.example.com:7443".into()], PIN, Some("tok \"quoted\""), &["team:payments".into()])
        .unwrap();
    let config = load(&text).unwrap();
    let cp = config.control_plane.unwrap();
    assert_eq!(config.tags, ["team:payments"]);
    assert_eq!(cp.addresses, ["https://cp.example.com:7443"]);
    assert_eq!(cp.enrollment, Some(EnrollmentSecret::Inline(Zeroizing::new("tok \"quoted\"".into()))));
    let errors = minimal(&["http://plain".into()], "nope", None, &["Bad Tag".into()]).unwrap_err();
    assert_eq!(errors.0.len(), 3, "{errors}");
}

#[test]
fn every_bad_tag_is_reported_at_once_with_the_other_problems() {
    let text = "version = 1\ntags = [\"Team\", \"ok\", \"ok\", 7, \"\", \"a b\"]\nlog_level = \"[[\"\n";
    let errors = load(text).unwrap_err();
    let expected = [
        "tags: tag 4 is a integer, not a string",
        "tags: tag 1 `Team`",
        "tags: tag 3 `ok` is given twice",
        "tags: tag 5 is empty",
        "tags: tag 6 `a b`",
        "log_level",
    ];
    for needle in expected {
        assert!(errors.0.iter().any(|p| p.contains(needle)), "no problem mentions {needle:?}: {errors}");
    }
    assert_eq!(errors.0.len(), expected.len(), "{errors}");
    let errors = load("version = 1\ntags = \"team:payments\"\n").unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors}");
    assert!(errors.0[0].contains("expected a list of strings"), "{errors}");
}

#[test]
fn tags_are_described() {
    let config = load("version = 1\ntags = [\"team:payments\", \"eu\"]\n").unwrap();
    let line = |text: String| text.lines().find(|l| l.trim_start().starts_with("tags ")).map(str::to_string);
    let words = |l: String| l.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(line(describe(&config)).map(words).as_deref(), Some("tags = team:payments, eu"));
    assert!(line(describe(&AgentConfig::default())).is_some_and(|l| l.ends_with("= none")));
}

#[test]
fn the_claude_code_policy_helper_is_opt_in() {
    assert!(!AgentConfig::default().claude_code_policy_helper);
    assert!(!load("version = 1\n").unwrap().claude_code_policy_helper);
    let on = load("version = 1\n[enforce]\nclaude_code_policy_helper = true\n").unwrap();
    assert!(on.claude_code_policy_helper && on.enforce);
    assert!(describe(&on).contains("enforce.claude_code_policy_helper = true"));
    let bad = load("version = 1\n[enforce]\nclaude_code_policy_helper = \"yes\"\n").unwrap_err();
    assert!(bad.0[0].contains("claude_code_policy_helper") || bad.0[0].contains("enforce"), "{bad}");
}
