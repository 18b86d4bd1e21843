//! The generated leak test's cases: fake secrets of every family the detector knows, placed in
//! every field of every config format the scenario writes, instead of a hand-picked few.
//!
//! - **Secrets** ([`secrets`]): one value per provider shape rule of the agent's detector,
//!   generated from the rule's own regex (`rand_regex`), so a rule added to the detector is
//!   planted without touching this file (checksummed families then fail their checksum); the
//!   checksum-valid GitHub and npm families computed properly; credential pairs (`user:secret`,
//!   `id/key:secret`); unknown random tokens (base62, base64, base64url, hex, a UUID); and
//!   low-entropy passwords (`maple-river-4127`) in the [`GUARDED`] placements only, where a
//!   name or the structure (a flag, `KEY=`, `Bearer`, a URL's userinfo, query or fragment) is
//!   all that marks them.
//! - **Placements** ([`PLACEMENTS`]): env values, header values, each argument position and
//!   flag spelling, inside command strings (POSIX `env`, Windows `cmd /c set`), URL userinfo /
//!   path / query / fragment, `mcp-remote` URLs, package specs of npm, PyPI and OCI, `cwd`,
//!   the server name, a file path argument.
//! - **Formats** ([`Format`]): Cursor JSON, VS Code JSONC, Codex TOML, Continue YAML, written
//!   with real serialisers.
//!
//! Every (placement, format) cell gets three secrets, rotating through the list so every secret
//! is planted at least twice. Broken files (JSON and YAML that fail to parse) and project
//! directories named after a secret come on top. Fixed seeds keep a failure reproducible.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, Value, json};

/// One planted value.
#[derive(Debug, Clone)]
pub struct Planted {
    /// The family or class it belongs to (`github-classic-pat`, `pair`, `random-base62`, ...).
    pub family: String,
    /// The bytes that must never leave the agent.
    pub secret: String,
    /// Leading bytes public by design (`ghp_`): 12-character windows wholly inside them are not
    /// searched for.
    pub public_prefix: usize,
}

/// Every string whose presence in captured output is a leak: the raw value and its encodings,
/// and each 12-character window of its non-public part.
pub fn needles(p: &Planted) -> Vec<(String, Vec<u8>)> {
    let s = &p.secret;
    let mut out = vec![
        ("raw".to_string(), s.as_bytes().to_vec()),
        ("hex".into(), hex::encode(s).into_bytes()),
        ("HEX".into(), hex::encode_upper(s).into_bytes()),
        ("base64".into(), b64(s.as_bytes(), false).into_bytes()),
        ("base64url".into(), b64(s.as_bytes(), true).into_bytes()),
        ("percent".into(), percent(s).into_bytes()),
        ("json".into(), serde_json::to_string(s).unwrap_or_default().trim_matches('"').as_bytes().to_vec()),
    ];
    let bytes = s.as_bytes();
    for start in 0..bytes.len().saturating_sub(11) {
        if start + 12 > p.public_prefix {
            out.push((format!("window@{start}"), bytes[start..start + 12].to_vec()));
        }
    }
    out
}

/// Base64 without padding, standard or URL-safe alphabet.
pub fn b64(bytes: &[u8], url_safe: bool) -> String {
    let table: &[u8] = if url_safe {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(table[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `(place, planted family)` for every needle of every planted value found in `haystacks`,
/// searched in one pass per haystack (Aho-Corasick over all needles).
pub fn find_leaks(planted: &[Planted], haystacks: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut labels = Vec::new();
    let mut patterns = Vec::new();
    for p in planted {
        for (spelling, needle) in needles(p) {
            labels.push(format!("{} ({spelling})", p.family));
            patterns.push(needle);
        }
    }
    let Ok(automaton) = aho_corasick::AhoCorasick::new(&patterns) else {
        return vec!["the needle automaton could not be built".to_string()];
    };
    let mut leaks = Vec::new();
    for (place, bytes) in haystacks {
        for m in automaton.find_overlapping_iter(bytes.as_slice()) {
            leaks.push(format!("{} in {place}", labels[m.pattern().as_usize()]));
        }
    }
    leaks.sort();
    leaks.dedup();
    leaks
}

/// A pattern's alternatives at the top level (outside groups and classes); the whole pattern
/// when it has none.
fn top_level_alternatives(pattern: &str) -> Vec<&str> {
    let (mut out, mut depth, mut in_class, mut escaped, mut start) = (Vec::new(), 0usize, false, false, 0);
    for (i, c) in pattern.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => depth = depth.saturating_sub(1),
            '|' if !in_class && depth == 0 => {
                out.push(&pattern[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&pattern[start..]);
    out
}

/// The literal text a pattern (or one alternative of it) starts with, escapes included
/// (`https://hooks\.slack\.com/` gives `https://hooks.slack.com/`): the same in every value
/// it matches, so public.
fn pattern_literal(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() => out.push(e),
                _ => break,
            },
            '*' | '+' | '?' | '{' => {
                out.pop();
                break;
            }
            '[' | '(' | '.' | '|' | '^' | '$' | ')' | ']' | '}' => break,
            c => out.push(c),
        }
    }
    out
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn pick(rng: &mut StdRng, alphabet: &[u8], n: usize) -> String {
    (0..n).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect()
}

/// Random base62 with all three character classes (what the detector's entropy rule expects
/// of a key; a draw without a digit is drawn again).
fn key(rng: &mut StdRng, n: usize) -> String {
    loop {
        let k = pick(rng, BASE62, n);
        let classes = [u8::is_ascii_lowercase, u8::is_ascii_uppercase, u8::is_ascii_digit];
        if classes.iter().all(|class| k.bytes().any(|b| class(&b))) {
            return k;
        }
    }
}

fn base62_crc(mut n: u32) -> String {
    let mut d = Vec::new();
    while n > 0 {
        d.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    d.resize(6.max(d.len()), b'0');
    d.reverse();
    String::from_utf8_lossy(&d).into_owned()
}

/// Every planted secret, deterministic for `seed`.
pub fn secrets(seed: u64) -> Vec<Planted> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for shape in muster_agent::secrets::provider_shapes() {
        let Ok(re) = rand_regex::Regex::compile(shape.pattern, 40) else { continue };
        // Draw until the value is a single token of the characters configs hold unquoted.
        let value = (0..50)
            .map(|_| -> String { rng.sample(&re) })
            .find(|v| v.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-+/=.~:".contains(&b)));
        if let Some(secret) = value {
            let suffix = if shape.checked { "-bad-checksum" } else { "" };
            // A pattern that alternates at the top level (`ABSK…|bedrock-api-key-YmVk…`) has one
            // public literal per alternative: the one the drawn value starts with is public.
            let public_prefix = top_level_alternatives(shape.pattern)
                .into_iter()
                .map(pattern_literal)
                .filter(|public| !public.is_empty() && secret.starts_with(public.as_str()))
                .map(|public| public.len())
                .max()
                .unwrap_or(shape.literal_prefix.len());
            out.push(Planted { family: format!("{}{suffix}", shape.kind), public_prefix, secret });
        }
    }
    for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "npm_"] {
        let body = pick(&mut rng, BASE62, 30);
        let secret = format!("{prefix}{body}{}", base62_crc(crc32fast::hash(body.as_bytes())));
        out.push(Planted { family: format!("{prefix}checksum-valid"), secret, public_prefix: prefix.len() });
    }
    let random = |family: &str, secret: String| Planted { family: family.to_string(), secret, public_prefix: 0 };
    out.push(random("pair-user-secret", key(&mut rng, 24)));
    out.push(random("pair-id-key-secret", key(&mut rng, 28)));
    out.push(random("random-base62", key(&mut rng, 32)));
    out.push(random("random-base64", format!("{}+{}/{}", key(&mut rng, 14), key(&mut rng, 14), key(&mut rng, 12))));
    out.push(random("random-base64url", format!("{}-{}_{}", key(&mut rng, 16), key(&mut rng, 12), key(&mut rng, 14))));
    out.push(random("random-hex", pick(&mut rng, b"0123456789abcdef", 40)));
    let h = pick(&mut rng, b"0123456789abcdef", 32);
    out.push(random("random-uuid", format!("{}-{}-4{}-a{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..])));
    out
}

/// How a planted value is written into a config where the family needs a partner: pairs get
/// their public half, everything else is written as it is.
fn as_written(p: &Planted) -> String {
    match p.family.as_str() {
        "pair-user-secret" => format!("svc-deploy:{}", p.secret),
        "pair-id-key-secret" => format!("AKIAIOSFODNN7EXAMPLE/build:{}", p.secret),
        _ => p.secret.clone(),
    }
}

/// A server entry in the shape every format writer understands.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub name: String,
    pub command: Option<String>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub url: Option<String>,
    pub headers: Vec<(String, String)>,
    pub cwd: Option<String>,
}

type Place = fn(&str) -> Entry;

fn stdio(args: &[&str]) -> Entry {
    Entry { command: Some("npx".into()), args: args.iter().map(|a| a.to_string()).collect(), ..Entry::default() }
}

fn remote(url: String) -> Entry {
    Entry { url: Some(url), ..Entry::default() }
}

/// Every field a planted value is put in: `(name, builder of the entry around value S)`.
pub const PLACEMENTS: &[(&str, Place)] = &[
    ("env-secret-name", |s| Entry { env: vec![("ACME_API_KEY".into(), s.into())], ..stdio(&["-y", "acme-mcp"]) }),
    ("env-neutral-name", |s| Entry { env: vec![("ACME_WORKSPACE".into(), s.into())], ..stdio(&["-y", "acme-mcp"]) }),
    ("header-bearer", |s| Entry {
        headers: vec![("Authorization".into(), format!("Bearer {s}"))],
        ..remote("https://mcp.acme.example/mcp".into())
    }),
    ("header-custom", |s| Entry {
        headers: vec![("X-Acme-Key".into(), s.into())],
        ..remote("https://mcp.acme.example/mcp".into())
    }),
    ("arg-0", |s| stdio(&[s])),
    ("arg-2-positional", |s| stdio(&["-y", "acme-mcp", s])),
    ("arg-flag-equals", |s| stdio(&["-y", "acme-mcp", &format!("--api-key={s}")])),
    ("arg-flag-space", |s| stdio(&["-y", "acme-mcp", "--token", s])),
    ("arg-neutral-flag", |s| stdio(&["-y", "acme-mcp", "--workspace", s])),
    ("arg-header", |s| {
        stdio(&["-y", "mcp-remote", "https://mcp.acme.example/mcp", "--header", &format!("Authorization: Bearer {s}")])
    }),
    ("command-string-flag", |s| Entry { command: Some(format!("npx -y acme-mcp --token {s}")), ..Entry::default() }),
    ("command-string-env", |s| Entry {
        command: Some(format!("env ACME_TOKEN={s} npx -y acme-mcp")),
        ..Entry::default()
    }),
    ("command-string-windows", |s| Entry {
        command: Some("cmd".into()),
        args: vec!["/c".into(), format!("set ACME_TOKEN={s}&& npx -y acme-mcp")],
        ..Entry::default()
    }),
    ("url-userinfo-password", |s| remote(format!("https://svc:{s}@mcp.acme.example/mcp"))),
    ("url-userinfo-token", |s| remote(format!("https://{s}@mcp.acme.example/mcp"))),
    ("url-path", |s| remote(format!("https://mcp.acme.example/mcp/{s}/sse"))),
    ("url-query", |s| remote(format!("https://mcp.acme.example/mcp?apiKey={s}&region=eu"))),
    ("url-fragment", |s| remote(format!("https://mcp.acme.example/mcp#{s}"))),
    ("mcp-remote-url-path", |s| stdio(&["-y", "mcp-remote", &format!("https://mcp.acme.example/api/mcp/s/{s}/mcp")])),
    ("npm-git-userinfo", |s| stdio(&["-y", &format!("git+https://{s}@github.com/acme/private-mcp.git")])),
    ("npm-git-x-access-token", |s| {
        stdio(&["-y", &format!("git+https://x-access-token:{s}@github.com/acme/private-mcp.git")])
    }),
    ("npm-tarball-token", |s| {
        stdio(&["-y", &format!("https://npm.acme.example/acme-mcp/-/acme-mcp-1.0.0.tgz?token={s}")])
    }),
    ("pypi-from-git", |s| Entry {
        command: Some("uvx".into()),
        args: vec![
            "--from".into(),
            format!("git+https://oauth2:{s}@gitlab.acme.example/tools/acme-mcp"),
            "acme-mcp".into(),
        ],
        ..Entry::default()
    }),
    ("oci-image-path", |s| Entry {
        command: Some("docker".into()),
        args: vec!["run".into(), "-i".into(), "--rm".into(), format!("registry.acme.example/{s}/acme-mcp:1.0.0")],
        ..Entry::default()
    }),
    ("oci-env-flag", |s| Entry {
        command: Some("docker".into()),
        args: ["run", "-i", "--rm", "-e", &format!("ACME_TOKEN={s}"), "ghcr.io/acme/acme-mcp:1.0.0"]
            .iter()
            .map(|a| a.to_string())
            .collect(),
        ..Entry::default()
    }),
    ("command-string-bearer", |s| Entry {
        command: Some(format!("npx -y mcp-remote https://mcp.acme.example/mcp --header \"Authorization: Bearer {s}\"")),
        ..Entry::default()
    }),
    ("url-query-neutral", |s| remote(format!("https://mcp.acme.example/mcp?sig={s}"))),
    ("cwd", |s| Entry { cwd: Some(format!("/home/dev/work/{s}")), ..stdio(&["-y", "acme-mcp"]) }),
    ("server-name", |s| Entry { name: format!("svc-{s}"), ..stdio(&["-y", "acme-mcp"]) }),
    ("file-path-arg", |s| stdio(&["-y", "acme-mcp", "--config", &format!("/home/dev/.acme/{s}/config.json")])),
];

/// Placements where a name or the structure says the value is a secret, so even a
/// low-entropy password must be masked there (randomness cannot tell it from a word).
pub const GUARDED: &[&str] = &[
    "env-secret-name",
    "header-bearer",
    "arg-flag-equals",
    "arg-flag-space",
    "command-string-flag",
    "command-string-env",
    "command-string-windows",
    "command-string-bearer",
    "url-userinfo-password",
    "url-query",
    "url-query-neutral",
    "url-fragment",
];

const WORDS: &[&str] =
    &["maple", "river", "copper", "lantern", "orbit", "meadow", "falcon", "harbor", "cedar", "velvet"];

/// A password a person would pick: two words and a number (`maple-river-4127`). No entropy
/// rule calls it random; only its place gives it away.
fn password(rng: &mut StdRng) -> String {
    let w = |rng: &mut StdRng| WORDS[rng.random_range(0..WORDS.len())];
    format!("{}-{}-{}", w(rng), w(rng), rng.random_range(1000..9999))
}

/// A config format and the client file it is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    /// Cursor, `~/.cursor/mcp.json`.
    Json,
    /// VS Code, `~/.config/Code/User/mcp.json` (comments, trailing commas).
    Jsonc,
    /// Codex, `~/.codex/config.toml`.
    Toml,
    /// Continue, `~/.continue/config.yaml`.
    Yaml,
}

pub const FORMATS: [Format; 4] = [Format::Json, Format::Jsonc, Format::Toml, Format::Yaml];

impl Format {
    /// The file's path relative to the image's home directory.
    pub fn home_path(self) -> &'static str {
        match self {
            Format::Json => ".cursor/mcp.json",
            Format::Jsonc => ".config/Code/User/mcp.json",
            Format::Toml => ".codex/config.toml",
            Format::Yaml => ".continue/config.yaml",
        }
    }

    fn write(self, entries: &[Entry]) -> String {
        match self {
            Format::Json => {
                let servers: Map<String, Value> =
                    entries.iter().map(|e| (e.name.clone(), json_entry(e, false))).collect();
                serde_json::to_string_pretty(&json!({"mcpServers": servers})).unwrap_or_default()
            }
            Format::Jsonc => {
                let mut text = String::from("// VS Code MCP servers (generated leak test)\n{\n  \"servers\": {\n");
                for e in entries {
                    let body = serde_json::to_string(&json_entry(e, true)).unwrap_or_default();
                    text.push_str(&format!(
                        "    // {}\n    {}: {body},\n",
                        "entry",
                        serde_json::to_string(&e.name).unwrap_or_default()
                    ));
                }
                text.push_str("  },\n}\n");
                text
            }
            Format::Toml => {
                let mut servers = toml::Table::new();
                for e in entries {
                    let mut t = toml::Table::new();
                    if let Some(c) = &e.command {
                        t.insert("command".into(), c.clone().into());
                    }
                    if !e.args.is_empty() {
                        t.insert("args".into(), e.args.clone().into());
                    }
                    if let Some(u) = &e.url {
                        t.insert("url".into(), u.clone().into());
                    }
                    if let Some(c) = &e.cwd {
                        t.insert("cwd".into(), c.clone().into());
                    }
                    if !e.env.is_empty() {
                        t.insert(
                            "env".into(),
                            toml::Value::Table(e.env.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect()),
                        );
                    }
                    if !e.headers.is_empty() {
                        t.insert(
                            "http_headers".into(),
                            toml::Value::Table(e.headers.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect()),
                        );
                    }
                    servers.insert(e.name.clone(), toml::Value::Table(t));
                }
                let mut root = toml::Table::new();
                root.insert("model".into(), "o4-mini".into());
                root.insert("mcp_servers".into(), toml::Value::Table(servers));
                toml::to_string(&root).unwrap_or_default()
            }
            Format::Yaml => {
                let list: Vec<Value> = entries
                    .iter()
                    .map(|e| {
                        let mut v = json_entry(e, true);
                        if let Some(m) = v.as_object_mut() {
                            m.insert("name".into(), e.name.clone().into());
                        }
                        v
                    })
                    .collect();
                serde_norway::to_string(
                    &json!({"name": "generated", "version": "1.0.0", "schema": "v1", "mcpServers": list}),
                )
                .unwrap_or_default()
            }
        }
    }
}

fn json_entry(e: &Entry, typed: bool) -> Value {
    let mut m = Map::new();
    if typed {
        m.insert("type".into(), if e.url.is_some() { "http" } else { "stdio" }.into());
    }
    if let Some(c) = &e.command {
        m.insert("command".into(), c.clone().into());
    }
    if !e.args.is_empty() {
        m.insert("args".into(), e.args.clone().into());
    }
    if let Some(u) = &e.url {
        m.insert("url".into(), u.clone().into());
    }
    if let Some(c) = &e.cwd {
        m.insert("cwd".into(), c.clone().into());
    }
    if !e.env.is_empty() {
        m.insert(
            "env".into(),
            e.env.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect::<Map<_, _>>().into(),
        );
    }
    if !e.headers.is_empty() {
        m.insert(
            "headers".into(),
            e.headers.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect::<Map<_, _>>().into(),
        );
    }
    Value::Object(m)
}

/// Everything the scenario writes into an image's home directory.
#[derive(Debug)]
pub struct Plan {
    pub planted: Vec<Planted>,
    /// Home-relative path -> file text.
    pub files: BTreeMap<String, String>,
    /// How many servers each parsable file holds (the scan must find exactly these).
    pub servers_per_file: BTreeMap<String, usize>,
}

/// The whole plan for `seed`.
pub fn plan(seed: u64) -> Plan {
    let mut planted = secrets(seed);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9A55);
    let rotating = planted.len();
    let mut files = BTreeMap::new();
    let mut servers_per_file = BTreeMap::new();
    let mut next = 0usize;
    for format in FORMATS {
        let mut entries = Vec::new();
        for (place, build) in PLACEMENTS {
            for k in 0..3 {
                let written = as_written(&planted[next % rotating]);
                next += 1;
                let mut e = build(&written);
                if e.name.is_empty() {
                    e.name = format!("{place}-{k}");
                } else {
                    e.name = format!("{}-{k}", e.name);
                }
                entries.push(e);
            }
            if GUARDED.contains(place) {
                let secret = password(&mut rng);
                let mut e = build(&secret);
                e.name = format!("{place}-password");
                entries.push(e);
                planted.push(Planted { family: format!("password@{place}"), secret, public_prefix: 0 });
            }
        }
        servers_per_file.insert(format.home_path().to_string(), entries.len());
        files.insert(format.home_path().to_string(), format.write(&entries));
    }
    // Broken files: every secret once, in a JSON and a YAML file that fail to parse.
    let mut broken_json = String::from("{\"mcpServers\": {\n");
    let mut broken_yaml = String::from("extensions:\n");
    for (i, p) in planted.iter().take(rotating).enumerate() {
        broken_json.push_str(&format!(
            "  \"b{i}\": {{\"command\": \"npx\", \"args\": [\"-y\", \"x\", \"{}\"]}},\n",
            as_written(p)
        ));
        broken_yaml.push_str(&format!("  b{i}:\n    cmd: npx\n    args: [-y, x, \"{}\"\n", as_written(p)));
    }
    broken_json.push_str("  \"truncated\": {\"command\": ");
    files.insert(".codeium/windsurf/mcp_config.json".into(), broken_json);
    files.insert(".config/goose/config.yaml".into(), broken_yaml);
    // Project directories named after a random secret, each with a project `.mcp.json`.
    for p in planted.iter().filter(|p| p.family.starts_with("random-") && !p.secret.contains('/')) {
        let path = format!("src/{}/.mcp.json", p.secret);
        let text = serde_json::to_string_pretty(
            &json!({"mcpServers": {"project-tool": {"command": "npx", "args": ["-y", "acme-mcp@1.0.0"]}}}),
        )
        .unwrap_or_default();
        servers_per_file.insert(path.clone(), 1);
        files.insert(path, text);
    }
    Plan { planted, files, servers_per_file }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_family_is_planted_and_every_cell_is_filled() {
        let plan = plan(7);
        let families = muster_agent::secrets::provider_shapes().len();
        let from_rules = plan
            .planted
            .iter()
            .filter(|p| {
                !p.family.starts_with("random-")
                    && !p.family.starts_with("pair-")
                    && !p.family.starts_with("password@")
                    && !p.family.ends_with("checksum-valid")
            })
            .count();
        assert_eq!(from_rules, families, "a provider rule produced no value");
        let rotating = plan.planted.iter().filter(|p| !p.family.starts_with("password@")).count();
        let cells = PLACEMENTS.len() * FORMATS.len() * 3;
        assert!(cells >= 2 * rotating, "{cells} placements for {rotating} secrets");
        let passwords = plan.planted.len() - rotating;
        assert_eq!(passwords, GUARDED.len() * FORMATS.len(), "one password per guarded cell");
        for format in FORMATS {
            let text = &plan.files[format.home_path()];
            assert!(text.len() > 1000, "{format:?}");
        }
    }

    #[test]
    fn each_top_level_alternative_has_its_own_public_literal() {
        let pattern =
            r"ABSK[A-Za-z0-9+/]{109,269}={0,2}|bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/=_\-]*";
        let alternatives = top_level_alternatives(pattern);
        assert_eq!(alternatives.len(), 2, "{alternatives:?}");
        assert_eq!(pattern_literal(alternatives[0]), "ABSK");
        assert_eq!(pattern_literal(alternatives[1]), "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t");
        assert_eq!(top_level_alternatives(r"a(b|c)[|]d").len(), 1);
    }

    #[test]
    fn needles_find_windows_but_not_inside_the_public_prefix() {
        let p = Planted { family: "x".into(), secret: "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ".into(), public_prefix: 4 };
        let hay = vec![("out".to_string(), b"..DEFGHIJKLMNO..".to_vec())];
        assert_eq!(find_leaks(std::slice::from_ref(&p), &hay).len(), 1);
        let none = vec![("out".to_string(), b"ghp_ABCD".to_vec())];
        assert!(find_leaks(&[p], &none).is_empty());
    }
}
