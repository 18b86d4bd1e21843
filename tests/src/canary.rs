//! Canary secrets for the leak scenario: format-valid fake credentials (a GitHub classic token
//! with a valid CRC32 checksum, a Slack bot token, a PostgreSQL URL password) planted in an
//! image's `~/.claude.json`, and the search for their bytes, raw or encoded, in whatever a test
//! captured. Values are derived from a fixed seed so a failure is reproducible.

use std::path::Path;

/// One planted secret and where the agent must report it.
#[derive(Debug, Clone)]
pub struct Canary {
    pub label: &'static str,
    /// The bytes that must never leave the agent.
    pub secret: String,
    /// The whole value the secret sits in (the connection string for the password).
    pub value: String,
    pub server: &'static str,
    pub location: &'static str,
    pub kind: &'static str,
}

/// splitmix64 over a fixed seed.
struct Rng(u64);

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| char::from(alphabet[(self.next() % alphabet.len() as u64) as usize])).collect()
    }
}

/// `n` in base62 (digits, upper, lower), left-padded with `0` to six characters: the checksum
/// tail of GitHub's classic tokens.
fn base62_six(mut n: u32) -> String {
    let mut digits = Vec::new();
    while n > 0 {
        digits.push(ALNUM[(n % 62) as usize]);
        n /= 62;
    }
    digits.resize(6.max(digits.len()), b'0');
    digits.reverse();
    String::from_utf8_lossy(&digits).into_owned()
}

/// A GitHub classic PAT whose last six characters are the checksum of the 30 before them.
pub fn github_classic(seed: u64) -> String {
    let body = Rng(seed).pick(ALNUM, 30);
    format!("ghp_{body}{}", base62_six(crc32fast::hash(body.as_bytes())))
}

/// The three canaries of `seed`.
pub fn canaries(seed: u64) -> Vec<Canary> {
    let mut rng = Rng(seed ^ 0x5EED);
    let github = github_classic(seed);
    let slack = format!("xoxb-{}-{}-{}", rng.pick(b"123456789", 12), rng.pick(b"0123456789", 13), rng.pick(ALNUM, 24));
    let password = format!("Cnry{}", rng.pick(ALNUM, 20));
    let pg_url = format!("postgresql://app:{password}@db.internal:5432/shop");
    vec![
        Canary {
            label: "github-classic",
            secret: github.clone(),
            value: github,
            server: "canary-github",
            location: "env:GITHUB_PERSONAL_ACCESS_TOKEN",
            kind: "github-classic-pat",
        },
        Canary {
            label: "slack-bot",
            secret: slack.clone(),
            value: slack,
            server: "canary-slack",
            location: "arg:3",
            kind: "slack-bot-token",
        },
        Canary {
            label: "postgres-password",
            secret: password,
            value: pg_url,
            server: "canary-postgres",
            location: "arg:2",
            kind: "postgres-connection-string",
        },
    ]
}

/// Adds one server per canary to the image's `~/.claude.json`.
pub fn plant(root: &Path, canaries: &[Canary]) -> anyhow::Result<()> {
    let path = crate::image::claude_config(root);
    crate::image::edit_mcp_servers(&path, |servers| {
        for c in canaries {
            let entry = match c.label {
                "github-classic" => serde_json::json!({
                    "command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
                    "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": c.value}
                }),
                "slack-bot" => serde_json::json!({
                    "command": "npx", "args": ["-y", "slack-mcp-server", "--token", c.value]
                }),
                _ => serde_json::json!({
                    "command": "npx", "args": ["-y", "@modelcontextprotocol/server-postgres", c.value]
                }),
            };
            servers.insert(c.server.to_string(), entry);
        }
    })
}

fn base64(bytes: &[u8]) -> String {
    crate::leakgen::b64(bytes, false)
}

/// Every spelling of `secret` whose presence is a leak: raw, hex (how PostgreSQL prints bytea),
/// upper-case hex, base64 without padding, and its first and last 16 characters raw (a leak
/// of part of a value).
pub fn needles(secret: &str) -> Vec<(&'static str, Vec<u8>)> {
    let half = secret.len().min(16);
    vec![
        ("raw", secret.as_bytes().to_vec()),
        ("hex", hex::encode(secret).into_bytes()),
        ("HEX", hex::encode_upper(secret).into_bytes()),
        ("base64", base64(secret.as_bytes()).into_bytes()),
        ("prefix", secret.as_bytes()[..half].to_vec()),
        ("suffix", secret.as_bytes()[secret.len() - half..].to_vec()),
    ]
}

/// `(canary, spelling, where)` for every needle of every canary found in `haystacks`.
pub fn find_leaks(canaries: &[Canary], haystacks: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut leaks = Vec::new();
    for c in canaries {
        for (spelling, needle) in needles(&c.secret) {
            for (place, bytes) in haystacks {
                if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                    leaks.push(format!("{} ({spelling}) in {place}", c.label));
                }
            }
        }
    }
    leaks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_canary_carries_a_valid_checksum() {
        let token = github_classic(7);
        assert_eq!(token.len(), 40);
        let (body, check) = token["ghp_".len()..].split_at(30);
        assert_eq!(check, base62_six(crc32fast::hash(body.as_bytes())));
    }

    #[test]
    fn needles_find_hex_and_base64_spellings() {
        let c = &canaries(1)[1];
        let hay = vec![("x".to_string(), format!("..{}..", base64(c.secret.as_bytes())).into_bytes())];
        assert!(!find_leaks(std::slice::from_ref(c), &hay).is_empty());
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE");
    }
}
