//! `muster-server` configuration: one typed tree, TOML with `version = 1` and no unknown keys.
//!
//! Precedence is CLI > environment > file > default. [`load`] is a pure function of the file text,
//! an environment map and the CLI overrides, and reports every problem it finds at once. It does
//! not read files or the process environment itself.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use std::time::Duration;

use serde::Deserialize;

use crate::store::Role;

pub const DEFAULT_DATA_DIR: &str = "./muster-data";
pub const DEFAULT_GRPC_LISTEN: &str = "127.0.0.1:7443";
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:7080";
pub const CONFIG_VERSION: u32 = 1;

/// Environment variables read by [`load`].
pub const ENV_DATA_DIR: &str = "MUSTER_DATA_DIR";
pub const ENV_DATABASE_URL: &str = "MUSTER_DATABASE_URL";
pub const ENV_GRPC_LISTEN: &str = "MUSTER_GRPC_LISTEN";
pub const ENV_HTTP_LISTEN: &str = "MUSTER_HTTP_LISTEN";
/// Comma-separated DNS names and IP addresses.
pub const ENV_TLS_NAMES: &str = "MUSTER_TLS_NAMES";
/// The OIDC client secret, so it need not sit in the config file.
pub const ENV_OIDC_CLIENT_SECRET: &str = "MUSTER_OIDC_CLIENT_SECRET";

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub grpc_listen: SocketAddr,
    pub http_listen: SocketAddr,
    pub tls_names: Vec<String>,
    pub limits: Limits,
    pub http: HttpConfig,
}

/// The dashboard and API listener (`[http]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Serve HTTPS (the default). Plain HTTP is only accepted on a loopback listen address.
    pub tls: bool,
    /// A certificate chain and key (PEM) to serve instead of the control plane's own certificate.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Origins (`https://host[:port]`) allowed to call `/api/v1` from a browser; empty: no CORS.
    pub cors_origins: Vec<String>,
    /// Absolute session lifetime.
    pub session_ttl: Duration,
    /// A session unused for this long ends.
    pub session_idle: Duration,
    pub oidc: Option<OidcConfig>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            tls: true,
            tls_cert: None,
            tls_key: None,
            cors_origins: Vec::new(),
            session_ttl: Duration::from_secs(12 * 3600),
            session_idle: Duration::from_secs(30 * 60),
            oidc: None,
        }
    }
}

/// OpenID Connect single sign-on (`[http.oidc]`): authorization code flow with PKCE.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer URL; its discovery document is fetched from `/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// Also `MUSTER_OIDC_CLIENT_SECRET`.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// This server's callback, ending in `/auth/oidc/callback`, as registered with the provider.
    pub redirect_url: String,
    /// The ID token claim naming the account (default `email`).
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// The ID token claim holding group or role names (a string or an array of strings).
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// Claim value -> role; the most privileged match wins. No match and no `default_role`:
    /// login is refused.
    #[serde(default)]
    pub role_map: BTreeMap<String, Role>,
    #[serde(default)]
    pub default_role: Option<Role>,
}

fn default_username_claim() -> String {
    "email".to_string()
}

fn default_role_claim() -> String {
    "groups".to_string()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    tls: Option<bool>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    cors_origins: Option<Vec<String>>,
    session_ttl: Option<String>,
    session_idle: Option<String>,
    oidc: Option<OidcConfig>,
}

/// Abuse and fairness limits on the gRPC API (`[limits]`; documented in `docs/configuration.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest accepted request message.
    pub max_message_bytes: usize,
    /// Token bucket per agent: burst size.
    pub agent_burst: u32,
    /// Token bucket per agent: requests refilled per minute.
    pub agent_requests_per_minute: u32,
    /// Servers in one full snapshot (or upserted, or removed, by one delta); a larger report is
    /// refused for good (`InvalidArgument`).
    pub max_servers_per_report: u64,
    /// Items in any other top-level list of one report (sources, users, processes, problems,
    /// host-wide findings); a larger report is refused for good.
    pub max_list_items_per_report: u64,
    /// Work budget per agent (a second token bucket): burst, in work units. A report costs one
    /// unit per server, one per other list item and one per KiB; over budget is
    /// `ResourceExhausted`.
    pub agent_work_burst: u64,
    /// Work budget per agent: units refilled per minute.
    pub agent_work_per_minute: u64,
    /// Work units all reports in ingest may hold at once; reports beyond it wait, smaller first.
    pub ingest_work_capacity: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 8 * 1024 * 1024,
            agent_burst: 60,
            agent_requests_per_minute: 600,
            max_servers_per_report: 50_000,
            max_list_items_per_report: 50_000,
            agent_work_burst: 150_000,
            agent_work_per_minute: 30_000,
            ingest_work_capacity: 200_000,
        }
    }
}

impl Limits {
    /// The per-report caps, for [`crate::ingest::limits`].
    pub fn report_caps(&self) -> crate::ingest::limits::ReportCaps {
        crate::ingest::limits::ReportCaps {
            max_servers: self.max_servers_per_report,
            max_list_items: self.max_list_items_per_report,
        }
    }
}

/// Values given on the command line; `None` means not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub grpc_listen: Option<String>,
    pub http_listen: Option<String>,
    pub tls_names: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    version: Option<u32>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    grpc_listen: Option<String>,
    http_listen: Option<String>,
    tls_names: Option<Vec<String>>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    http: HttpFile,
}

/// Every problem found while loading, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// The default names on the server certificate: loopback and this machine's host name.
pub fn default_tls_names() -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    if !host.is_empty() && !names.contains(&host) {
        names.push(host);
    }
    names
}

const FILE_KEYS: &[&str] =
    &["version", "data_dir", "database_url", "grpc_listen", "http_listen", "tls_names", "limits", "http"];
const LIMIT_KEYS: &[&str] = &[
    "max_message_bytes",
    "agent_burst",
    "agent_requests_per_minute",
    "max_servers_per_report",
    "max_list_items_per_report",
    "agent_work_burst",
    "agent_work_per_minute",
    "ingest_work_capacity",
];

/// Parses the file, reporting every unknown key (serde would stop at the first) before the typed
/// parse; on a problem the file counts as empty so later checks still run.
fn parse_file(text: &str, problems: &mut Vec<String>) -> FileConfig {
    let fallback = || FileConfig { version: Some(CONFIG_VERSION), ..FileConfig::default() };
    let mut table = match text.parse::<toml::Table>() {
        Ok(table) => table,
        Err(error) => {
            problems.push(format!("config file: {}", error.message().trim_end()));
            return fallback();
        }
    };
    let before = problems.len();
    for key in table.keys().filter(|key| !FILE_KEYS.contains(&key.as_str())) {
        problems.push(format!("config file: unknown key `{key}`"));
    }
    if let Some(toml::Value::Table(limits)) = table.get("limits") {
        for key in limits.keys().filter(|key| !LIMIT_KEYS.contains(&key.as_str())) {
            problems.push(format!("config file: unknown key `limits.{key}`"));
        }
    }
    table.retain(|key, _| FILE_KEYS.contains(&key));
    if let Some(toml::Value::Table(limits)) = table.get_mut("limits") {
        limits.retain(|key, _| LIMIT_KEYS.contains(&key));
    }
    match toml::Value::Table(table).try_into::<FileConfig>() {
        Ok(file) if problems.len() == before => file,
        Ok(file) => FileConfig { version: file.version.or(Some(CONFIG_VERSION)), ..file },
        Err(error) => {
            problems.push(format!("config file: {}", error.message().trim_end()));
            fallback()
        }
    }
}

/// Resolves the configuration from a config file's text (if any), environment and CLI.
pub fn load(
    file_text: Option<&str>,
    env: &BTreeMap<String, String>,
    cli: &Overrides,
) -> Result<ServerConfig, ConfigErrors> {
    let mut problems = Vec::new();
    let file = match file_text {
        None => FileConfig { version: Some(CONFIG_VERSION), ..FileConfig::default() },
        Some(text) => parse_file(text, &mut problems),
    };
    match file.version {
        Some(CONFIG_VERSION) => {}
        Some(other) => problems.push(format!("config file: unsupported version {other} (expected {CONFIG_VERSION})")),
        None => problems.push(format!("config file: missing `version = {CONFIG_VERSION}`")),
    }
    let env_get = |key: &str| env.get(key).filter(|v| !v.is_empty()).cloned();

    let data_dir = cli
        .data_dir
        .clone()
        .or_else(|| env_get(ENV_DATA_DIR).map(PathBuf::from))
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let database_url = cli
        .database_url
        .clone()
        .or_else(|| env_get(ENV_DATABASE_URL))
        .or(file.database_url)
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("muster.db").display()));
    if !["sqlite:", "postgres://", "postgresql://"].iter().any(|prefix| database_url.starts_with(prefix)) {
        problems.push("database_url: expected sqlite://PATH or postgres://...".to_string());
    }
    let mut addr = |name: &str, cli: &Option<String>, env_key: &str, file: Option<String>, default: &str| {
        let text = cli.clone().or_else(|| env_get(env_key)).or(file).unwrap_or_else(|| default.to_string());
        text.parse::<SocketAddr>()
            .map_err(|_| problems.push(format!("{name}: `{text}` is not an IP:PORT address")))
            .ok()
    };
    let grpc_listen = addr("grpc_listen", &cli.grpc_listen, ENV_GRPC_LISTEN, file.grpc_listen, DEFAULT_GRPC_LISTEN);
    let http_listen = addr("http_listen", &cli.http_listen, ENV_HTTP_LISTEN, file.http_listen, DEFAULT_HTTP_LISTEN);
    let tls_names = cli
        .tls_names
        .clone()
        .or_else(|| {
            env_get(ENV_TLS_NAMES)
                .map(|names| names.split(',').map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect())
        })
        .or(file.tls_names)
        .unwrap_or_else(default_tls_names);
    if tls_names.is_empty() {
        problems.push("tls_names: at least one DNS name or IP address is needed".to_string());
    }
    let limits = file.limits;
    if limits.max_message_bytes < 1024 {
        problems.push("limits.max_message_bytes: must be at least 1024".to_string());
    }
    if limits.agent_burst == 0 || limits.agent_requests_per_minute == 0 {
        problems.push("limits: agent_burst and agent_requests_per_minute must be positive".to_string());
    }
    for (name, value) in [
        ("max_servers_per_report", limits.max_servers_per_report),
        ("max_list_items_per_report", limits.max_list_items_per_report),
        ("agent_work_burst", limits.agent_work_burst),
        ("agent_work_per_minute", limits.agent_work_per_minute),
        ("ingest_work_capacity", limits.ingest_work_capacity),
    ] {
        if value == 0 {
            problems.push(format!("limits.{name}: must be positive"));
        }
    }
    let http = http_config(file.http, env, http_listen, &mut problems);
    match (grpc_listen, http_listen) {
        (Some(grpc_listen), Some(http_listen)) if problems.is_empty() => {
            Ok(ServerConfig { data_dir, database_url, grpc_listen, http_listen, tls_names, limits, http })
        }
        _ => Err(ConfigErrors(problems)),
    }
}

fn http_config(
    file: HttpFile,
    env: &BTreeMap<String, String>,
    listen: Option<SocketAddr>,
    problems: &mut Vec<String>,
) -> HttpConfig {
    let defaults = HttpConfig::default();
    let mut duration = |name: &str, text: Option<String>, default: Duration| match text {
        None => default,
        Some(text) => match humantime::parse_duration(&text) {
            Ok(value) if value >= Duration::from_secs(60) => value,
            _ => {
                problems.push(format!("http.{name}: `{text}` is not a duration of at least 1m (e.g. 30m, 12h)"));
                default
            }
        },
    };
    let session_ttl = duration("session_ttl", file.session_ttl, defaults.session_ttl);
    let session_idle = duration("session_idle", file.session_idle, defaults.session_idle);
    let tls = file.tls.unwrap_or(true);
    if let Some(listen) = listen.filter(|listen| !tls && !listen.ip().is_loopback()) {
        problems.push(format!(
            "http.tls = false: plain HTTP is only allowed on a loopback address, not {listen}; \
             serve HTTPS or listen on 127.0.0.1"
        ));
    }
    if file.tls_cert.is_some() != file.tls_key.is_some() {
        problems.push("http.tls_cert and http.tls_key: give both or neither".to_string());
    }
    let cors_origins = file.cors_origins.unwrap_or_default();
    for origin in &cors_origins {
        if !is_origin(origin) {
            problems.push(format!("http.cors_origins: `{origin}` is not an origin like https://host[:port]"));
        }
    }
    let oidc = file.oidc.map(|mut oidc| {
        if let Some(secret) = env.get(ENV_OIDC_CLIENT_SECRET).filter(|v| !v.is_empty()) {
            oidc.client_secret = Some(secret.clone());
        }
        for (name, value) in [("issuer", &oidc.issuer), ("redirect_url", &oidc.redirect_url)] {
            if !(value.starts_with("https://") || value.starts_with("http://")) {
                problems.push(format!("http.oidc.{name}: `{value}` is not an http(s) URL"));
            }
        }
        if oidc.client_id.is_empty() {
            problems.push("http.oidc.client_id: must not be empty".to_string());
        }
        oidc
    });
    HttpConfig { tls, tls_cert: file.tls_cert, tls_key: file.tls_key, cors_origins, session_ttl, session_idle, oidc }
}

/// `scheme://host[:port]` with nothing after it (what browsers send in `Origin`).
fn is_origin(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://")) else {
        return false;
    };
    !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_need_no_file() {
        let config = load(None, &env(&[]), &Overrides::default()).unwrap();
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(
            config.database_url,
            format!("sqlite://{}", PathBuf::from(DEFAULT_DATA_DIR).join("muster.db").display())
        );
        assert_eq!(config.grpc_listen.to_string(), DEFAULT_GRPC_LISTEN);
        assert!(config.tls_names.contains(&"localhost".to_string()));
    }

    #[test]
    fn cli_beats_env_beats_file() {
        let file = "version = 1\ngrpc_listen = \"127.0.0.1:1\"\nhttp_listen = \"127.0.0.1:2\"\ndata_dir = \"/file\"\n";
        let env = env(&[(ENV_GRPC_LISTEN, "127.0.0.1:3"), (ENV_DATA_DIR, "/env")]);
        let cli = Overrides { grpc_listen: Some("127.0.0.1:4".into()), ..Overrides::default() };
        let config = load(Some(file), &env, &cli).unwrap();
        assert_eq!(config.grpc_listen.port(), 4);
        assert_eq!(config.http_listen.port(), 2);
        assert_eq!(config.data_dir, PathBuf::from("/env"));
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let file = "version = 2\ngrpc_listen = \"nowhere\"\nhttp_listen = \"also nowhere\"\ndatabase_url = \"mysql://x\"\ntls_names = []\n";
        let errors = load(Some(file), &env(&[]), &Overrides::default()).unwrap_err();
        assert_eq!(errors.0.len(), 5, "{errors}");
    }

    #[test]
    fn ingest_limits_have_defaults_and_can_be_set() {
        let config = load(Some("version = 1\n"), &env(&[]), &Overrides::default()).unwrap();
        assert_eq!(config.limits.max_servers_per_report, 50_000);
        assert!(config.limits.agent_work_burst >= 50_000 + 8 * 1024, "a maximal report fits a full budget");
        let file = "version = 1\n[limits]\nmax_servers_per_report = 10\nmax_list_items_per_report = 20\n\
                    agent_work_burst = 30\nagent_work_per_minute = 40\ningest_work_capacity = 50\n";
        let limits = load(Some(file), &env(&[]), &Overrides::default()).unwrap().limits;
        assert_eq!(
            (
                limits.max_servers_per_report,
                limits.max_list_items_per_report,
                limits.agent_work_burst,
                limits.agent_work_per_minute,
                limits.ingest_work_capacity
            ),
            (10, 20, 30, 40, 50)
        );
        let zero = "version = 1\n[limits]\nmax_servers_per_report = 0\ningest_work_capacity = 0\n";
        let errors = load(Some(zero), &env(&[]), &Overrides::default()).unwrap_err();
        assert_eq!(errors.0.len(), 2, "{errors}");
    }

    #[test]
    fn unknown_keys_and_missing_version_are_refused() {
        let errors = load(
            Some("version = 1\ncolour = \"red\"\nshape = 1\ngrpc_listen = \"bad\"\n[limits]\nspeed = 2\n"),
            &env(&[]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert_eq!(errors.0.len(), 4, "{errors}");
        assert!(errors.0.iter().any(|p| p.contains("colour")) && errors.0.iter().any(|p| p.contains("limits.speed")));
        let errors = load(Some("data_dir = \"/x\"\n"), &env(&[]), &Overrides::default()).unwrap_err();
        assert!(errors.0[0].contains("version"), "{errors}");
    }
}
