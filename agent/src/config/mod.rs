//! The agent's installed configuration file (`agent.toml`): one typed tree, TOML with
//! `version = 1` and no unknown keys, the same style as the control plane's `muster-server` config.
//!
//! [`load`] is a pure function of the file text and reports every problem it finds at once; it does
//! not read files (not even the token file it names) or the process environment. [`default_path`]
//! says where IT puts the file on each OS. What the daemon does with it on its first start (enroll,
//! then delete the token file) is [`first_start`]. Command-line flags of `muster-agent run` win over
//! the file; `MUSTER_LOG` wins over `log_level`.

pub mod first_start;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::enroll::pin::CaFingerprint;
use crate::platform::{EnvMap, Os};

pub const CONFIG_VERSION: u32 = 1;

/// The resolved configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentConfig {
    /// `None`: no control plane; the agent scans and keeps its inventory locally (for the tray).
    pub control_plane: Option<ControlPlaneConfig>,
    /// `None`: the default state dir (`/var/lib/muster-agent` for root).
    pub state_dir: Option<PathBuf>,
    /// A `tracing` filter (`info`, `warn,muster_agent=debug`, …).
    pub log_level: String,
    /// Endpoint tags for policy targeting, as configured (checked against `muster_proto::tags`).
    pub tags: Vec<String>,
    pub scan: ScanSettings,
    pub watch: WatchSettings,
    /// `[enforce] enabled`: carry out the policy's `block`, `quarantine` and tool-level actions
    /// (default). When false the agent still evaluates and reports the policy, each enforced
    /// action as pending.
    pub enforce: bool,
    /// `[enforce] claude_code_policy_helper`: configure Claude Code's `policyHelper` to run
    /// `muster-agent hook claude-code` (default off; docs/adr/0017).
    pub claude_code_policy_helper: bool,
}

/// `[control_plane]`: where to enroll and report.
#[derive(Clone, PartialEq, Eq)]
pub struct ControlPlaneConfig {
    /// `https://HOST:PORT`, tried in order when enrolling; the one that enrolls is kept.
    pub addresses: Vec<String>,
    pub ca_fingerprint: CaFingerprint,
    /// `None` once enrolled and the secret removed (an enrolled agent needs none).
    pub enrollment: Option<EnrollmentSecret>,
}

impl fmt::Debug for ControlPlaneConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControlPlaneConfig")
            .field("addresses", &self.addresses)
            .field("ca_fingerprint", &self.ca_fingerprint)
            .field("enrollment", &self.enrollment)
            .finish()
    }
}

/// The one-time (or fleet-wide) enrollment token, inline or in a file of its own.
#[derive(Clone, PartialEq, Eq)]
pub enum EnrollmentSecret {
    /// `enroll_token = "…"`; kept out of `Debug`.
    Inline(Zeroizing<String>),
    /// `enroll_token_file = "/etc/muster/enroll-token"`: deleted after a successful enrollment.
    File(PathBuf),
}

impl fmt::Debug for EnrollmentSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnrollmentSecret::Inline(_) => f.write_str("Inline(<redacted>)"),
            EnrollmentSecret::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// `[scan]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanSettings {
    /// List running processes (MCP servers started by clients).
    pub processes: bool,
    /// How often processes and configuration are re-listed.
    pub interval: Duration,
    /// How often a full snapshot replaces deltas.
    pub full_interval: Duration,
    /// Ask remote MCP servers, without credentials, how they authenticate (answers kept a day
    /// in the state dir); `false` judges them from the configuration alone.
    pub probe_remote_auth: bool,
}

/// `[watch]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchSettings {
    /// Rescan as soon as a watched configuration file changes (else only every `scan.interval`).
    pub enabled: bool,
    /// Wait after a change before rescanning.
    pub debounce: Duration,
}

impl Default for AgentConfig {
    fn default() -> Self {
        let daemon = crate::daemon::Settings::default();
        AgentConfig {
            control_plane: None,
            state_dir: None,
            log_level: "info".to_string(),
            tags: Vec::new(),
            scan: ScanSettings {
                processes: true,
                interval: daemon.rescan_interval,
                full_interval: daemon.full_interval,
                probe_remote_auth: true,
            },
            watch: WatchSettings { enabled: true, debounce: daemon.debounce },
            enforce: true,
            claude_code_policy_helper: false,
        }
    }
}

/// Every problem found while loading, reported together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} configuration problem(s)", self.0.len())?;
        for problem in &self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Where the installed configuration lives: `/etc/muster/agent.toml` (Linux),
/// `/Library/Application Support/Muster/agent.toml` (macOS), `%ProgramData%\Muster\agent.toml`
/// (Windows; `C:\ProgramData` when the variable is unset). A pure function of its inputs.
pub fn default_path(os: Os, env: &EnvMap) -> PathBuf {
    match os {
        Os::Linux => PathBuf::from("/etc/muster/agent.toml"),
        Os::Macos => PathBuf::from("/Library/Application Support/Muster/agent.toml"),
        Os::Windows => {
            let base = env.get("ProgramData").or_else(|| env.get("PROGRAMDATA")).map_or("C:\\ProgramData", |v| v);
            // Joined with `\` by hand: on the Linux build host `Path::join` would use `/`.
            PathBuf::from(format!("{}\\Muster\\agent.toml", base.trim_end_matches('\\')))
        }
    }
}

/// Allowed keys per table; `""` is the top level. Checked before the typed parse so every unknown
/// key is named (serde stops at the first).
const SCHEMA: &[(&str, &[&str])] = &[
    ("", &["version", "state_dir", "log_level", "tags", "control_plane", "scan", "watch", "enforce"]),
    ("control_plane", &["addresses", "ca_fingerprint", "enroll_token", "enroll_token_file"]),
    ("scan", &["processes", "interval", "full_interval", "probe_remote_auth"]),
    ("watch", &["enabled", "debounce"]),
    ("enforce", &["enabled", "claude_code_policy_helper"]),
];

#[derive(Debug, Default, Deserialize)]
struct FileConfig {
    version: Option<u32>,
    state_dir: Option<PathBuf>,
    log_level: Option<String>,
    tags: Vec<String>,
    control_plane: Option<ControlPlaneFile>,
    #[serde(default)]
    scan: ScanFile,
    #[serde(default)]
    watch: WatchFile,
    #[serde(default)]
    enforce: EnforceFile,
}

#[derive(Debug, Default, Deserialize)]
struct EnforceFile {
    enabled: Option<bool>,
    claude_code_policy_helper: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct ControlPlaneFile {
    #[serde(default)]
    addresses: Vec<String>,
    ca_fingerprint: Option<String>,
    enroll_token: Option<String>,
    enroll_token_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
struct ScanFile {
    processes: Option<bool>,
    probe_remote_auth: Option<bool>,
    interval: Option<String>,
    full_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct WatchFile {
    enabled: Option<bool>,
    debounce: Option<String>,
}

/// Removes (and reports) unknown keys, then parses each table on its own so a type error in one
/// does not hide the problems of the others.
fn parse_file(text: &str, problems: &mut Vec<String>) -> FileConfig {
    let mut table = match text.parse::<toml::Table>() {
        Ok(table) => table,
        Err(error) => {
            problems.push(format!("config file: {}", error.message().trim_end()));
            return FileConfig { version: Some(CONFIG_VERSION), ..FileConfig::default() };
        }
    };
    let top = SCHEMA[0].1;
    for key in table.keys().filter(|key| !top.contains(&key.as_str())) {
        problems.push(format!("unknown key `{key}`"));
    }
    table.retain(|key, _| top.contains(&key));
    for (name, keys) in &SCHEMA[1..] {
        match table.get_mut(*name) {
            Some(toml::Value::Table(sub)) => {
                for key in sub.keys().filter(|key| !keys.contains(&key.as_str())) {
                    problems.push(format!("unknown key `{name}.{key}`"));
                }
                sub.retain(|key, _| keys.contains(&key));
            }
            Some(_) => {
                problems.push(format!("`{name}` must be a table ([{name}])"));
                table.remove(*name);
            }
            None => {}
        }
    }
    fn part<T: serde::de::DeserializeOwned + Default>(
        table: &mut toml::Table,
        name: &str,
        problems: &mut Vec<String>,
    ) -> T {
        match table.remove(name) {
            None => T::default(),
            Some(value) => value.try_into().unwrap_or_else(|e: toml::de::Error| {
                problems.push(format!("{name}: {}", e.message().trim_end()));
                T::default()
            }),
        }
    }
    let control_plane: Option<ControlPlaneFile> =
        table.contains_key("control_plane").then(|| part::<ControlPlaneFile>(&mut table, "control_plane", problems));
    let scan = part::<ScanFile>(&mut table, "scan", problems);
    let watch = part::<WatchFile>(&mut table, "watch", problems);
    let enforce = part::<EnforceFile>(&mut table, "enforce", problems);
    let mut scalar = |key: &str| table.remove(key);
    let version = match scalar("version") {
        None => None,
        Some(toml::Value::Integer(v)) => Some(u32::try_from(v).unwrap_or(u32::MAX)),
        Some(other) => {
            problems.push(format!("version: expected an integer, found {}", other.type_str()));
            Some(CONFIG_VERSION)
        }
    };
    let mut string = |key: &str, problems: &mut Vec<String>| match table.remove(key) {
        None => None,
        Some(toml::Value::String(s)) => Some(s),
        Some(other) => {
            problems.push(format!("{key}: expected a string, found {}", other.type_str()));
            None
        }
    };
    let state_dir = string("state_dir", problems).map(PathBuf::from);
    let log_level = string("log_level", problems);
    // Checked here, where a non-string item is still in its place, so every position is right.
    let tags = match table.remove("tags") {
        None => Vec::new(),
        Some(toml::Value::Array(items)) => {
            for (index, item) in items.iter().enumerate().filter(|(_, item)| !item.is_str()) {
                problems.push(format!("tags: tag {} is a {}, not a string", index + 1, item.type_str()));
            }
            let checked = muster_proto::tags::check_items(items.iter().map(toml::Value::as_str));
            problems.extend(checked.into_iter().map(|problem| format!("tags: {problem}")));
            items.into_iter().filter_map(|item| item.as_str().map(str::to_string)).collect()
        }
        Some(other) => {
            problems
                .push(format!("tags: expected a list of strings like [\"team:payments\"], found {}", other.type_str()));
            Vec::new()
        }
    };
    FileConfig { version, state_dir, log_level, tags, control_plane, scan, watch, enforce }
}

fn duration(
    name: &str,
    text: Option<String>,
    default: Duration,
    min: Duration,
    problems: &mut Vec<String>,
) -> Duration {
    match text {
        None => default,
        Some(text) => match crate::daemon::parse_duration(&text) {
            Ok(value) if value >= min => value,
            Ok(_) => {
                problems.push(format!("{name}: `{text}` is shorter than the minimum {min:?}"));
                default
            }
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                default
            }
        },
    }
}

/// Resolves the configuration from the file's text.
pub fn load(text: &str) -> Result<AgentConfig, ConfigErrors> {
    let mut problems = Vec::new();
    let file = parse_file(text, &mut problems);
    match file.version {
        Some(CONFIG_VERSION) => {}
        Some(other) => problems.push(format!("unsupported version {other} (expected {CONFIG_VERSION})")),
        None => problems.push(format!("missing `version = {CONFIG_VERSION}`")),
    }
    let defaults = AgentConfig::default();
    let log_level = file.log_level.unwrap_or(defaults.log_level);
    if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&log_level) {
        problems
            .push(format!("log_level: `{log_level}` is not a log filter like info or warn,muster_agent=debug: {e}"));
    }
    if let Some(dir) = &file.state_dir
        && !dir.is_absolute()
    {
        problems.push(format!("state_dir: `{}` must be an absolute path", dir.display()));
    }
    let tags = file.tags;
    let control_plane = file.control_plane.map(|cp| control_plane(cp, &mut problems));
    let scan = ScanSettings {
        processes: file.scan.processes.unwrap_or(defaults.scan.processes),
        interval: duration(
            "scan.interval",
            file.scan.interval,
            defaults.scan.interval,
            Duration::from_secs(1),
            &mut problems,
        ),
        full_interval: duration(
            "scan.full_interval",
            file.scan.full_interval,
            defaults.scan.full_interval,
            Duration::from_secs(60),
            &mut problems,
        ),
        probe_remote_auth: file.scan.probe_remote_auth.unwrap_or(defaults.scan.probe_remote_auth),
    };
    let watch = WatchSettings {
        enabled: file.watch.enabled.unwrap_or(defaults.watch.enabled),
        debounce: duration(
            "watch.debounce",
            file.watch.debounce,
            defaults.watch.debounce,
            Duration::ZERO,
            &mut problems,
        ),
    };
    let enforce = file.enforce.enabled.unwrap_or(defaults.enforce);
    let control_plane = match control_plane {
        _ if !problems.is_empty() => return Err(ConfigErrors(problems)),
        Some(None) => return Err(ConfigErrors(problems)),
        Some(Some(cp)) => Some(cp),
        None => None,
    };
    let claude_code_policy_helper =
        file.enforce.claude_code_policy_helper.unwrap_or(defaults.claude_code_policy_helper);
    Ok(AgentConfig {
        control_plane,
        state_dir: file.state_dir,
        log_level,
        tags,
        scan,
        watch,
        enforce,
        claude_code_policy_helper,
    })
}

fn control_plane(file: ControlPlaneFile, problems: &mut Vec<String>) -> Option<ControlPlaneConfig> {
    let before = problems.len();
    if file.addresses.is_empty() {
        problems.push("control_plane.addresses: at least one https://HOST:PORT address is needed".to_string());
    }
    for address in &file.addresses {
        if let Err(e) = crate::grpc::ServerAddr::parse(address) {
            problems.push(format!("control_plane.addresses: {e}"));
        }
    }
    let ca_fingerprint = match file.ca_fingerprint.as_deref().map(str::parse::<CaFingerprint>) {
        None => {
            problems.push(
                "control_plane.ca_fingerprint: missing (the SHA-256 of the fleet CA, as `muster-server` prints it)"
                    .to_string(),
            );
            None
        }
        Some(Err(e)) => {
            problems.push(format!("control_plane.ca_fingerprint: {e}"));
            None
        }
        Some(Ok(pin)) => Some(pin),
    };
    let enrollment = match (file.enroll_token, file.enroll_token_file) {
        (Some(_), Some(_)) => {
            problems.push("control_plane: give enroll_token or enroll_token_file, not both".to_string());
            None
        }
        (Some(token), None) if token.trim().is_empty() => {
            problems.push("control_plane.enroll_token: is empty".to_string());
            None
        }
        (Some(token), None) => Some(EnrollmentSecret::Inline(Zeroizing::new(token.trim().to_string()))),
        (None, Some(path)) if !path.is_absolute() => {
            problems.push(format!("control_plane.enroll_token_file: `{}` must be an absolute path", path.display()));
            None
        }
        (None, Some(path)) => Some(EnrollmentSecret::File(path)),
        (None, None) => None,
    };
    match ca_fingerprint {
        Some(ca_fingerprint) if problems.len() == before => {
            Some(ControlPlaneConfig { addresses: file.addresses, ca_fingerprint, enrollment })
        }
        _ => None,
    }
}

/// Reads and loads `path`; a missing or unreadable file is one problem like the others.
pub fn load_file(path: &Path) -> Result<AgentConfig, ConfigErrors> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigErrors(vec![format!("cannot read {}: {e}", path.display())]))?;
    load(&text).map_err(|ConfigErrors(problems)| {
        ConfigErrors(problems.into_iter().map(|p| format!("{}: {p}", path.display())).collect())
    })
}

/// A minimal config file enrolling with `addresses` (used by installers that take the server,
/// token and tags as properties, e.g. the MSI's `SERVER_URL` and `TAGS`): the text is checked
/// with [`load`] before it is returned, so a bad property is refused at install time with every
/// problem named.
pub fn minimal(
    addresses: &[String],
    ca_fingerprint: &str,
    token: Option<&str>,
    tags: &[String],
) -> Result<String, ConfigErrors> {
    let mut cp = toml::Table::new();
    cp.insert("addresses".into(), toml::Value::Array(addresses.iter().cloned().map(toml::Value::String).collect()));
    cp.insert("ca_fingerprint".into(), toml::Value::String(ca_fingerprint.to_string()));
    if let Some(token) = token {
        cp.insert("enroll_token".into(), toml::Value::String(token.to_string()));
    }
    let mut top = toml::Table::new();
    top.insert("version".into(), toml::Value::Integer(i64::from(CONFIG_VERSION)));
    if !tags.is_empty() {
        top.insert("tags".into(), toml::Value::Array(tags.iter().cloned().map(toml::Value::String).collect()));
    }
    top.insert("control_plane".into(), toml::Value::Table(cp));
    let text = format!("# Written by the installer; `muster-agent config check` validates it.\n{top}");
    load(&text)?;
    Ok(text)
}

/// One line per setting, for `muster-agent config check`. Never prints the token.
pub fn describe(config: &AgentConfig) -> String {
    let mut lines: BTreeMap<&str, String> = BTreeMap::new();
    match &config.control_plane {
        None => {
            lines.insert("control_plane", "none (the inventory is kept locally only)".to_string());
        }
        Some(cp) => {
            lines.insert("control_plane.addresses", cp.addresses.join(", "));
            lines.insert("control_plane.ca_fingerprint", cp.ca_fingerprint.to_string());
            lines.insert(
                "control_plane.enrollment",
                match &cp.enrollment {
                    None => "no token (needs an existing enrollment)".to_string(),
                    Some(EnrollmentSecret::Inline(_)) => "inline token (not shown)".to_string(),
                    Some(EnrollmentSecret::File(path)) => format!("token file {}", path.display()),
                },
            );
        }
    }
    lines.insert(
        "state_dir",
        config.state_dir.as_ref().map_or_else(|| "default".to_string(), |d| d.display().to_string()),
    );
    lines.insert("log_level", config.log_level.clone());
    lines.insert("tags", if config.tags.is_empty() { "none".to_string() } else { config.tags.join(", ") });
    lines.insert("scan.processes", config.scan.processes.to_string());
    lines.insert("scan.interval", format!("{:?}", config.scan.interval));
    lines.insert("scan.full_interval", format!("{:?}", config.scan.full_interval));
    lines.insert("scan.probe_remote_auth", config.scan.probe_remote_auth.to_string());
    lines.insert("watch.enabled", config.watch.enabled.to_string());
    lines.insert("watch.debounce", format!("{:?}", config.watch.debounce));
    lines.insert("enforce.claude_code_policy_helper", config.claude_code_policy_helper.to_string());
    let width = lines.keys().map(|k| k.len()).max().unwrap_or(0);
    lines.iter().map(|(k, v)| format!("  {k:width$} = {v}\n")).collect()
}

#[cfg(test)]
mod tests;
