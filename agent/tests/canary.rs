//! The canary leak test: plants format-valid fake secrets of every kind the detector knows in
//! realistic config files of many clients on a synthetic machine image (env values, header
//! values, `--flag=value` and `--flag value` arguments, positional arguments, URL userinfo and
//! query, connection strings, Codex `http_headers`, Goose `envs`, Continue `apiKey`, OAuth client
//! secrets, and files that fail to parse), runs the real binary in every output format and at
//! every log level, and asserts that no canary byte leaves the process: not in stdout, stderr or
//! any file written, neither raw nor base64 / URL-safe base64 / percent / hex / JSON-escaped, nor
//! any 12-character window of it. It also asserts that the scan *did* detect every parsable
//! canary as a literal credential at its planted location, so it cannot pass by seeing nothing.
//!
//! It does not judge detection quality beyond the planted values (`secret_detection.rs` does).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Deterministic generation of fake, format-valid secrets
// ---------------------------------------------------------------------------------------------

/// splitmix64: a fixed seed keeps failures reproducible; every canary gets its own random core.
struct Rng(u64);

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn from(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char).collect()
    }
    fn alnum(&mut self, n: usize) -> String {
        self.from(ALNUM, n)
    }
    fn digits(&mut self, n: usize) -> String {
        // No leading zero, so numeric ids look real.
        let mut s = self.from(b"123456789", 1);
        s.push_str(&self.from(b"0123456789", n - 1));
        s
    }
}

/// Base62 of `n`, zero-padded to `width` (GitHub's and npm's checksum alphabet).
fn base62(mut n: u32, width: usize) -> String {
    let mut d = Vec::new();
    while n > 0 {
        d.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    while d.len() < width {
        d.push(b'0');
    }
    d.reverse();
    String::from_utf8(d).unwrap()
}

/// `prefix` + 30 random characters + the base62 CRC32 of those 30 (GitHub classic, npm).
fn checksummed(rng: &mut Rng, prefix: &str) -> String {
    let body = rng.alnum(30);
    format!("{prefix}{body}{}", base62(crc32fast::hash(body.as_bytes()), 6))
}

fn b64(bytes: &[u8], url_safe: bool, pad: bool) -> String {
    let table: &[u8] = if url_safe {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(table[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// The planted canaries
// ---------------------------------------------------------------------------------------------

/// Where a canary must show up as a literal credential in the JSON output.
struct Expect {
    config: String,
    server: &'static str,
    location: String,
    kind: &'static str,
}

struct Canary {
    label: &'static str,
    /// The secret bytes that must never leave the process.
    secret: String,
    /// Leading bytes that are public by design (`ghp_`, `sk-ant-api03-`, a JWT's standard
    /// header): 12-character windows lying wholly inside them are not searched for.
    public_prefix: usize,
    /// `None` for canaries in files that cannot be parsed (only the leak check applies).
    expect: Option<Expect>,
}

impl Canary {
    /// Every string whose presence in an output is a leak.
    fn needles(&self) -> Vec<(String, String)> {
        let s = &self.secret;
        let mut out = vec![
            ("raw".to_string(), s.clone()),
            ("base64".into(), b64(s.as_bytes(), false, true)),
            ("base64-unpadded".into(), b64(s.as_bytes(), false, false)),
            ("base64url".into(), b64(s.as_bytes(), true, false)),
            ("percent".into(), percent(s)),
            ("hex".into(), hex(s)),
            ("hex-upper".into(), hex(s).to_uppercase()),
            ("json".into(), serde_json::to_string(s).unwrap().trim_matches('"').to_string()),
        ];
        // Windows within each line (a PEM body is several lines; no output joins them).
        let mut offset = 0;
        for line in s.split('\n') {
            let chars: Vec<char> = line.chars().collect();
            for start in 0..chars.len().saturating_sub(11) {
                if offset + start + 12 > self.public_prefix {
                    out.push((format!("window@{}", offset + start), chars[start..start + 12].iter().collect()));
                }
            }
            offset += line.len() + 1;
        }
        out
    }
}

/// Machine paths on the Linux image.
const HOME: &str = "/home/dev";

fn p(rel: &str) -> String {
    format!("{HOME}/{rel}")
}

struct Plant {
    canaries: Vec<Canary>,
    /// machine path -> file text
    files: BTreeMap<String, String>,
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Builds every canary and the files that hold them.
fn plant() -> Plant {
    let mut rng = Rng(0x00C0_FFEE_CA4A_2025);
    let mut c: Vec<Canary> = Vec::new();
    let mut files = BTreeMap::new();
    let mut add = |label, secret: &str, public_prefix, expect: Option<(&str, &'static str, &str, &'static str)>| {
        c.push(Canary {
            label,
            secret: secret.to_string(),
            public_prefix,
            expect: expect.map(|(config, server, location, kind)| Expect {
                config: config.to_string(),
                server,
                location: location.to_string(),
                kind,
            }),
        });
    };

    // --- Claude Code ~/.claude.json: env values, --token=x, --token x, positional URL arg. ---
    let claude = p(".claude.json");
    let gh_classic = checksummed(&mut rng, "ghp_");
    let gitlab = format!("glpat-{}", rng.alnum(20));
    let slack = format!("xoxb-{}-{}-{}", rng.digits(12), rng.digits(13), rng.alnum(24));
    let pg_pw = format!("PgCnry{}", rng.alnum(18));
    let pg_url = format!("postgresql://app:{pg_pw}@db.internal:5432/shop");
    let generic = format!("{}-{}_{}", rng.alnum(14), rng.alnum(12), rng.alnum(14));
    add(
        "github-classic",
        &gh_classic,
        4,
        Some((&claude, "github", "env:GITHUB_PERSONAL_ACCESS_TOKEN", "github-classic-pat")),
    );
    add("generic-token", &generic, 0, Some((&claude, "github", "env:ACME_SYNC_TOKEN", "generic-secret")));
    add("gitlab", &gitlab, 6, Some((&claude, "gitlab", "arg:2", "gitlab-pat")));
    add("slack-bot", &slack, 5, Some((&claude, "slack", "arg:3", "slack-bot-token")));
    add("postgres-password", &pg_pw, 0, Some((&claude, "postgres", "arg:2", "postgres-connection-string")));
    files.insert(
        claude.clone(),
        serde_json::to_string_pretty(&serde_json::json!({
            "numStartups": 3,
            "mcpServers": {
                "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
                           "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": gh_classic, "ACME_SYNC_TOKEN": generic}},
                "gitlab": {"command": "npx", "args": ["-y", "@zereight/mcp-gitlab", format!("--token={gitlab}")]},
                "slack": {"command": "npx", "args": ["-y", "slack-mcp-server", "--token", slack]},
                "postgres": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-postgres", pg_url]}
            }
        }))
        .unwrap(),
    );

    // --- Cursor: remote with Bearer header (fine-grained PAT), URL userinfo, URL query. ---
    let cursor = p(".cursor/mcp.json");
    let gh_fine = format!("github_pat_{}_{}", rng.alnum(22), rng.alnum(59));
    let userinfo_pw = format!("UiCnry{}", rng.alnum(18));
    let google = format!("AIza{}", rng.from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", 35));
    let stripe = format!("sk_test_{}", rng.alnum(24));
    add(
        "github-fine-grained",
        &gh_fine,
        11,
        Some((&cursor, "gh-remote", "header:Authorization", "github-fine-grained-pat")),
    );
    add("url-userinfo-password", &userinfo_pw, 0, Some((&cursor, "internal", "url", "url-credentials")));
    add("google-api-key", &google, 4, Some((&cursor, "maps", "url", "google-api-key")));
    add("stripe", &stripe, 8, Some((&cursor, "stripe", "arg:2", "stripe-secret-key")));
    files.insert(
        cursor.clone(),
        format!(
            r#"{{
  "mcpServers": {{
    "gh-remote": {{"url": "https://api.githubcopilot.com/mcp/", "headers": {{"Authorization": {}}}}},
    "internal": {{"url": {}}},
    "maps": {{"url": {}}},
    "stripe": {{"command": "npx", "args": ["-y", "@stripe/mcp", {}]}}
  }}
}}
"#,
            json_str(&format!("Bearer {gh_fine}")),
            json_str(&format!("https://svc-user:{userinfo_pw}@mcp.internal.example.com/mcp")),
            json_str(&format!("https://maps.example.com/mcp?key={google}&region=eu")),
            json_str(&stripe),
        ),
    );

    // --- VS Code user mcp.json: npm token env, Basic header, Bearer header (opaque). ---
    let vscode = p(".config/Code/User/mcp.json");
    let npm = checksummed(&mut rng, "npm_");
    let basic_pw = format!("BaCnry{}", rng.alnum(16));
    let basic = b64(format!("svc-bot:{basic_pw}").as_bytes(), false, true);
    let bearer = rng.alnum(44);
    add("npm", &npm, 4, Some((&vscode, "registry", "env:NPM_TOKEN", "npm-token")));
    add("basic-credential", &basic, 0, Some((&vscode, "jira", "header:Authorization", "basic-auth")));
    add("basic-password", &basic_pw, 0, None);
    add("bearer-opaque", &bearer, 0, Some((&vscode, "wiki", "header:Authorization", "bearer-token")));
    files.insert(
        vscode.clone(),
        format!(
            r#"// VS Code MCP servers
{{
  "servers": {{
    "registry": {{"type": "stdio", "command": "npx", "args": ["-y", "@acme/registry-mcp@1.2.0"], "env": {{"NPM_TOKEN": {}}}}},
    "jira": {{"type": "http", "url": "https://jira.acme.example/mcp", "headers": {{"Authorization": {}}}}},
    "wiki": {{"type": "http", "url": "https://wiki.acme.example/mcp", "headers": {{"Authorization": {}}}}}
  }}
}}
"#,
            json_str(&npm),
            json_str(&format!("Basic {basic}")),
            json_str(&format!("Bearer {bearer}")),
        ),
    );

    // --- Codex config.toml: `http_headers` (Anthropic), env (PyPI). ---
    let codex = p(".codex/config.toml");
    let anthropic =
        format!("sk-ant-api03-{}AA", rng.from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", 93));
    let pypi = format!("pypi-AgEIcHlwaS5vcmc{}", rng.alnum(64));
    add("anthropic", &anthropic, 13, Some((&codex, "claude-proxy", "header:x-api-key", "anthropic-api-key")));
    add("pypi", &pypi, 19, Some((&codex, "publish", "env:PYPI_TOKEN", "pypi-token")));
    files.insert(
        codex.clone(),
        format!(
            "model = \"o4-mini\"\n\n[mcp_servers.claude-proxy]\nurl = \"https://llm-proxy.acme.example/mcp\"\nhttp_headers = {{ \"x-api-key\" = \"{anthropic}\" }}\n\n[mcp_servers.publish]\ncommand = \"uvx\"\nargs = [\"pypi-mcp==0.3.1\"]\nenv = {{ PYPI_TOKEN = \"{pypi}\" }}\n"
        ),
    );

    // --- Goose config.yaml: `envs` (AWS key id + secret, AMQP URL). ---
    let goose = p(".config/goose/config.yaml");
    let aws_id = format!("AKIA{}", rng.from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16));
    let aws_secret = rng.from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+", 40);
    let amqp_pw = format!("MqCnry{}", rng.alnum(18));
    add("aws-key-id", &aws_id, 4, Some((&goose, "aws", "env:AWS_ACCESS_KEY_ID", "aws-access-key-id")));
    add("aws-secret", &aws_secret, 0, Some((&goose, "aws", "env:AWS_SECRET_ACCESS_KEY", "aws-secret-access-key")));
    add("amqp-password", &amqp_pw, 0, Some((&goose, "queue", "env:AMQP_URL", "amqp-connection-string")));
    files.insert(
        goose.clone(),
        format!(
            "extensions:\n  aws:\n    type: stdio\n    name: aws\n    cmd: uvx\n    args: [awslabs.aws-api-mcp-server]\n    envs:\n      AWS_ACCESS_KEY_ID: {aws_id}\n      AWS_SECRET_ACCESS_KEY: \"{aws_secret}\"\n      AWS_REGION: eu-west-1\n    enabled: true\n  queue:\n    type: stdio\n    name: queue\n    cmd: npx\n    args: [-y, \"@acme/amqp-mcp@0.1.0\"]\n    envs:\n      AMQP_URL: \"amqp://guest:{amqp_pw}@mq.internal:5672/orders\"\n    enabled: true\n"
        ),
    );

    // --- Continue config.yaml: `apiKey` (OpenAI), redis via `--redis-url x`. ---
    let cont = p(".continue/config.yaml");
    let openai = format!("sk-proj-{}T3BlbkFJ{}", rng.alnum(64), rng.alnum(64));
    let redis_pw = format!("RdCnry{}", rng.alnum(18));
    add("openai", &openai, 8, Some((&cont, "llm-tools", "field:apiKey", "openai-api-key")));
    add("redis-password", &redis_pw, 0, Some((&cont, "cache", "arg:1", "redis-connection-string")));
    files.insert(
        cont.clone(),
        format!(
            "name: local\nversion: 1.0.0\nschema: v1\nmcpServers:\n  - name: llm-tools\n    command: npx\n    args: [\"-y\", \"@acme/llm-tools-mcp@2.0.0\"]\n    apiKey: {openai}\n  - name: cache\n    command: redis-mcp\n    args: [\"--redis-url\", \"redis://default:{redis_pw}@cache.internal:6379/0\"]\n"
        ),
    );

    // --- Gemini settings.json: OAuth client secret, JWT, PEM key, mysql, mongodb+srv, JDBC. ---
    let gemini = p(".gemini/settings.json");
    let oauth_secret = format!("GOCSPX-{}", rng.alnum(28));
    let jwt = format!(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{}.{}",
        b64(format!("{{\"sub\":\"canary-{}\",\"iss\":\"muster-canary\"}}", rng.alnum(16)).as_bytes(), true, false),
        rng.from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", 43)
    );
    let pem_body: Vec<String> =
        (0..4).map(|_| rng.from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 64)).collect();
    let pem_body = pem_body.join("\n");
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{pem_body}\n-----END PRIVATE KEY-----\n");
    let mysql_pw = format!("MyCnry{}", rng.alnum(18));
    let mongo_pw = format!("MgCnry{}", rng.alnum(18));
    let jdbc_pw = format!("JdCnry{}", rng.alnum(18));
    add(
        "oauth-client-secret",
        &oauth_secret,
        0,
        Some((&gemini, "workspace", "field:oauth.clientSecret", "generic-secret")),
    );
    add("jwt", &jwt, 37, Some((&gemini, "supa", "env:SERVICE_ROLE_JWT", "jwt")));
    add("pem-private-key", &pem_body, 0, Some((&gemini, "okta", "env:OKTA_PRIVATE_KEY", "private-key")));
    add("mysql-password", &mysql_pw, 0, Some((&gemini, "mysql", "env:DATABASE_URL", "mysql-connection-string")));
    add(
        "mongodb-password",
        &mongo_pw,
        0,
        Some((&gemini, "mongo", "env:MDB_MCP_CONNECTION_STRING", "mongodb-connection-string")),
    );
    add("jdbc-password", &jdbc_pw, 0, Some((&gemini, "warehouse", "env:JDBC_URL", "jdbc-connection-string")));
    files.insert(
        gemini.clone(),
        serde_json::to_string_pretty(&serde_json::json!({
            "theme": "Default",
            "mcpServers": {
                "workspace": {"httpUrl": "https://workspace-mcp.acme.example/mcp",
                              "oauth": {"enabled": true, "clientId": "1234567890-abc.apps.googleusercontent.com", "clientSecret": oauth_secret}},
                "supa": {"command": "npx", "args": ["-y", "@supabase/mcp-server-supabase@0.4.5"], "env": {"SERVICE_ROLE_JWT": jwt}},
                "okta": {"command": "npx", "args": ["-y", "@okta/mcp-server@1.0.0"], "env": {"OKTA_PRIVATE_KEY": pem}},
                "mysql": {"command": "uvx", "args": ["mysql-mcp-server==0.2.1"], "env": {"DATABASE_URL": format!("mysql://root:{mysql_pw}@mysql.internal:3306/app")}},
                "mongo": {"command": "npx", "args": ["-y", "mongodb-mcp-server@0.1.0"],
                          "env": {"MDB_MCP_CONNECTION_STRING": format!("mongodb+srv://app:{mongo_pw}@cluster0.ab1cd.mongodb.net/prod?retryWrites=true")}},
                "warehouse": {"command": "java", "args": ["-jar", "/opt/jdbc-mcp.jar"],
                              "env": {"JDBC_URL": format!("jdbc:postgresql://dw.internal:5432/dw?user=etl&password={jdbc_pw}")}}
            }
        }))
        .unwrap(),
    );

    // --- Claude Desktop: a trailing comma (the client refuses it; Muster parses leniently). ---
    let desktop = p(".config/Claude/claude_desktop_config.json");
    let gh_desktop = checksummed(&mut rng, "ghp_");
    add(
        "github-in-trailing-comma-file",
        &gh_desktop,
        4,
        Some((&desktop, "github", "env:GITHUB_TOKEN", "github-classic-pat")),
    );
    files.insert(
        desktop,
        format!(
            "{{\n  \"mcpServers\": {{\n    \"github\": {{\"command\": \"npx\", \"args\": [\"-y\", \"@modelcontextprotocol/server-github\"], \"env\": {{\"GITHUB_TOKEN\": {}}},}},\n  }},\n}}\n",
            json_str(&gh_desktop)
        ),
    );

    // --- Error paths: files and entries that cannot be read as servers. ---
    // Truncated JSON, the canary right before the syntax error.
    let gh_broken = checksummed(&mut rng, "ghp_");
    add("github-in-truncated-json", &gh_broken, 4, None);
    files.insert(
        p(".cline/data/settings/cline_mcp_settings.json"),
        format!("{{\"mcpServers\": {{\"github\": {{\"command\": \"npx\", \"env\": {{\"GITHUB_TOKEN\": \"{gh_broken}\" \"X\"\n"),
    );
    // A TOML error on the canary's own line (toml's Display quotes that line).
    let toml_broken = format!("sk-ant-api03-{}AA", rng.alnum(93));
    add("anthropic-in-broken-toml", &toml_broken, 13, None);
    files.insert(
        p("src/shop/.codex/config.toml"),
        format!("[mcp_servers.x]\ncommand = \"npx\"\nenv = {{ ANTHROPIC_API_KEY = \"{toml_broken}\" oops }}\n"),
    );
    // A YAML error right after the canary.
    let yaml_broken = format!("xoxb-{}-{}-{}", rng.digits(12), rng.digits(13), rng.alnum(24));
    add("slack-in-broken-yaml", &yaml_broken, 5, None);
    files.insert(
        p(".continue/mcpServers/slack.yaml"),
        format!("name: slack\nmcpServers:\n  - name: slack\n    command: npx\n    env:\n      SLACK_BOT_TOKEN: \"{yaml_broken}\n    args: [unclosed\n"),
    );
    // An invalid entry (args of the wrong type) next to a good one in the same file.
    let invalid_entry = checksummed(&mut rng, "npm_");
    add("npm-in-invalid-entry", &invalid_entry, 4, None);
    files.insert(
        p(".codeium/windsurf/mcp_config.json"),
        format!(
            "{{\"mcpServers\": {{\"bad\": {{\"command\": \"npx\", \"args\": 42, \"env\": {{\"NPM_TOKEN\": {}}}}}, \"ok\": {{\"command\": \"uvx\", \"args\": [\"mcp-server-time==1.0.0\"]}}}}}}\n",
            json_str(&invalid_entry)
        ),
    );

    Plant { canaries: c, files }
}

// ---------------------------------------------------------------------------------------------
// Running the binary and searching its outputs
// ---------------------------------------------------------------------------------------------

const LOG_LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

struct Run {
    what: String,
    output: Output,
    /// Files written under the run's output dirs (HOME, TMPDIR, XDG dirs, cwd, state dir).
    written: Vec<(PathBuf, Vec<u8>)>,
}

fn write_image(root: &Path, plant: &Plant) {
    for (machine, text) in &plant.files {
        let host = root.join(machine.trim_start_matches('/'));
        std::fs::create_dir_all(host.parent().unwrap()).unwrap();
        std::fs::write(&host, text).unwrap();
    }
    // The project with the broken Codex file is a git work tree under a code root.
    std::fs::create_dir_all(root.join("home/dev/src/shop/.git")).unwrap();
}

fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push((path, bytes));
            }
        }
    }
    out
}

/// Runs the binary with a clean environment whose every writable place is a fresh directory.
fn run(what: String, args: &[&std::ffi::OsStr], log: &str) -> Run {
    let out_dir = tempfile::tempdir().unwrap();
    let o = out_dir.path();
    for d in ["home", "tmp", "cwd", "state", "cache", "data", "config"] {
        std::fs::create_dir_all(o.join(d)).unwrap();
    }
    let args: Vec<std::ffi::OsString> = args
        .iter()
        .map(|a| if *a == "@STATE@" { o.join("state").into_os_string() } else { a.to_os_string() })
        .collect();
    let output = Command::new(env!("CARGO_BIN_EXE_muster-agent"))
        .args(&args)
        .env_clear()
        .env("MUSTER_LOG", log)
        .env("RUST_BACKTRACE", "1")
        .env("HOME", o.join("home"))
        .env("TMPDIR", o.join("tmp"))
        .env("XDG_STATE_HOME", o.join("state"))
        .env("XDG_CACHE_HOME", o.join("cache"))
        .env("XDG_DATA_HOME", o.join("data"))
        .env("XDG_CONFIG_HOME", o.join("config"))
        .current_dir(o.join("cwd"))
        .output()
        .unwrap();
    Run { what, output, written: files_under(o) }
}

/// Every place a leak could land, as (name, bytes).
fn haystacks(r: &Run) -> Vec<(String, &[u8])> {
    let mut h = vec![
        (format!("{}: stdout", r.what), r.output.stdout.as_slice()),
        (format!("{}: stderr", r.what), r.output.stderr.as_slice()),
    ];
    for (path, bytes) in &r.written {
        h.push((format!("{}: file {}", r.what, path.display()), bytes.as_slice()));
    }
    h
}

fn find(hay: &[u8], needle: &str) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn leaks(plant: &Plant, runs: &[Run]) -> Vec<String> {
    let needles: Vec<(&str, String, String)> =
        plant.canaries.iter().flat_map(|c| c.needles().into_iter().map(move |(form, n)| (c.label, form, n))).collect();
    // One line per canary and place, listing the forms found there.
    let mut found: BTreeMap<(String, &str), Vec<&str>> = BTreeMap::new();
    for r in runs {
        for (place, hay) in haystacks(r) {
            for (label, form, needle) in &needles {
                if find(hay, needle) {
                    found.entry((place.clone(), label)).or_default().push(form);
                }
            }
        }
    }
    found.into_iter().map(|((place, label), forms)| format!("{label} in {place}: {}", forms.join(", "))).collect()
}

fn scan_args(root: &Path, format: &str) -> Vec<std::ffi::OsString> {
    ["scan", "--offline", "--root"]
        .iter()
        .map(std::ffi::OsString::from)
        .chain([root.as_os_str().to_os_string()])
        .chain(["--os", "linux", "--format", format, "--no-processes"].iter().map(std::ffi::OsString::from))
        .collect()
}

fn as_refs(v: &[std::ffi::OsString]) -> Vec<&std::ffi::OsStr> {
    v.iter().map(|s| s.as_os_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn canaries_are_unique_and_format_valid() {
    let plant = plant();
    let mut seen = std::collections::BTreeSet::new();
    for c in &plant.canaries {
        assert!(c.secret.len() >= 16, "{}: too short to be a distinctive canary", c.label);
        assert!(seen.insert(c.secret.clone()), "{}: canary not unique", c.label);
    }
    // The checksummed ones verify with the same recipe the detector uses.
    for c in plant.canaries.iter().filter(|c| c.secret.starts_with("ghp_") || c.secret.starts_with("npm_")) {
        let rest = &c.secret[4..];
        let (body, check) = rest.split_at(30);
        assert_eq!(base62(crc32fast::hash(body.as_bytes()), 6), check, "{}", c.label);
    }
    // Every provider family of the reference is represented.
    let labels: Vec<&str> = plant.canaries.iter().map(|c| c.label).collect();
    for family in [
        "github-classic",
        "github-fine-grained",
        "gitlab",
        "slack-bot",
        "aws-key-id",
        "aws-secret",
        "openai",
        "anthropic",
        "stripe",
        "google-api-key",
        "npm",
        "pypi",
        "jwt",
        "pem-private-key",
        "postgres-password",
        "mysql-password",
        "mongodb-password",
        "redis-password",
        "amqp-password",
        "jdbc-password",
        "basic-credential",
        "bearer-opaque",
        "generic-token",
        "oauth-client-secret",
    ] {
        assert!(labels.contains(&family), "no canary for {family}");
    }
}

#[test]
fn the_needles_would_catch_a_leak() {
    // Guard against a search that can never match: each encoding of a canary, put in an
    // output, is reported.
    let plant = plant();
    let c = plant.canaries.iter().find(|c| c.label == "aws-secret").unwrap();
    for (form, needle) in c.needles().into_iter().take(8) {
        let fake = Run {
            what: "fake".into(),
            output: Output {
                status: std::process::ExitStatus::default(),
                stdout: format!("prefix {needle} suffix").into_bytes(),
                stderr: Vec::new(),
            },
            written: Vec::new(),
        };
        assert!(!leaks(&plant, std::slice::from_ref(&fake)).is_empty(), "{form} form not caught");
    }
    let fake = Run {
        what: "window".into(),
        output: Output {
            status: std::process::ExitStatus::default(),
            stdout: Vec::new(),
            stderr: c.secret.as_bytes()[20..32].to_vec(),
        },
        written: vec![],
    };
    assert!(!leaks(&plant, &[fake]).is_empty(), "a 12-character window is caught");
}

#[test]
fn no_canary_leaves_the_process_in_any_format_or_log_level() {
    let plant = plant();
    let image = tempfile::tempdir().unwrap();
    write_image(image.path(), &plant);
    let before: Vec<PathBuf> = files_under(image.path()).into_iter().map(|(p, _)| p).collect();

    let formats = ["table", "json", "sarif"];
    let mut runs = Vec::new();
    for format in &formats {
        for log in LOG_LEVELS {
            let args = scan_args(image.path(), format);
            runs.push(run(format!("scan --format {format} MUSTER_LOG={log}"), &as_refs(&args), log));
        }
    }
    // The daemon's one-shot run with a state dir (not enrolled: it keeps local state only).
    {
        for log in LOG_LEVELS {
            let mut args: Vec<std::ffi::OsString> =
                ["run", "--once", "--state-dir", "@STATE@", "--root"].iter().map(std::ffi::OsString::from).collect();
            args.push(image.path().as_os_str().to_os_string());
            args.extend(["--os", "linux"].iter().map(std::ffi::OsString::from));
            runs.push(run(format!("run --once MUSTER_LOG={log}"), &as_refs(&args), log));
        }
    }

    assert!(runs.iter().any(|r| r.what.starts_with("run --once")), "the daemon run is covered");
    for r in runs.iter().filter(|r| r.what.starts_with("run --once")) {
        assert!(r.output.status.success(), "{} failed: {}", r.what, String::from_utf8_lossy(&r.output.stderr));
        let inventory = r.written.iter().find(|(p, _)| p.ends_with("inventory.json"));
        assert!(inventory.is_some_and(|(_, b)| b.len() > 100), "{}: the local inventory was written", r.what);
    }
    for r in runs.iter().filter(|r| r.what.starts_with("scan")) {
        assert!(r.output.status.success(), "{} failed: {}", r.what, String::from_utf8_lossy(&r.output.stderr));
        assert!(!r.output.stdout.is_empty(), "{}: empty report", r.what);
    }
    let found = leaks(&plant, &runs);
    assert!(found.is_empty(), "canary leaks:\n{}", found.join("\n"));

    // The scan writes nothing into the scanned image.
    let after: Vec<PathBuf> = files_under(image.path()).into_iter().map(|(p, _)| p).collect();
    assert_eq!(before.len(), after.len(), "the scan wrote into the image: {after:?}");

    // Positive: every parsable canary was detected as a literal at its planted location.
    let json_run = runs.iter().find(|r| r.what.starts_with("scan --format json")).unwrap();
    let json: Value = serde_json::from_slice(&json_run.output.stdout).unwrap();
    let servers = json["servers"].as_array().unwrap();
    let mut missing = Vec::new();
    for c in &plant.canaries {
        let Some(e) = &c.expect else { continue };
        let Some(server) = servers.iter().find(|s| s["config_path"] == e.config.as_str() && s["name"] == e.server)
        else {
            missing.push(format!("{}: no server {} in {}", c.label, e.server, e.config));
            continue;
        };
        let hit = server["credentials"].as_array().unwrap().iter().find(|cr| {
            cr["location"] == e.location.as_str()
                && cr["source"] == "literal"
                && cr["fingerprint"].as_str().is_some_and(|f| !f.is_empty())
        });
        match hit {
            None => missing.push(format!(
                "{}: no literal at {} of {}; credentials: {}",
                c.label, e.location, e.server, server["credentials"]
            )),
            Some(cr) if cr["kind"] != e.kind => {
                missing.push(format!("{}: kind {} at {}, expected {}", c.label, cr["kind"], e.location, e.kind))
            }
            Some(_) => {}
        }
    }
    assert!(missing.is_empty(), "canaries not detected:\n{}", missing.join("\n"));

    // The error paths were taken: each broken file or entry is reported as a problem.
    let problems = json["problems"].as_array().unwrap();
    for path in [
        p(".cline/data/settings/cline_mcp_settings.json"),
        p("src/shop/.codex/config.toml"),
        p(".continue/mcpServers/slack.yaml"),
        p(".codeium/windsurf/mcp_config.json"),
        p(".config/Claude/claude_desktop_config.json"),
    ] {
        assert!(problems.iter().any(|pr| pr["path"] == path.as_str()), "no problem for {path}: {problems:#?}");
    }
}
