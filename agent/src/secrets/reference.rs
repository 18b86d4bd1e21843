//! Recognising values that *point at* a secret instead of containing one: environment and
//! input references of every MCP client (`${env:X}`, `${input:x}`, `${X}`, `${X:-default}`,
//! `{env:X}`, `{file:..}`, `$X`, `$(cmd)`, `%X%`, `${{ secrets.X }}`, ...), secret-manager URIs
//! (`op://`, keychain and keyring references), field-level indirections (`env_keys`,
//! `bearer_token_env_var`, ...) and placeholders (`<your-token>`, `YOUR_API_KEY`, `changeme`).
//!
//! A reference is never a literal secret. This module does not decide whether the text around a
//! reference is a secret (a `${X:-default}` default can be one); the detector does that with
//! [`strip_references`].

use std::sync::{LazyLock, OnceLock};

use regex::Regex;

/// Which spelling a reference uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReferenceSyntax {
    /// `${env:NAME}` (VS Code, Cursor, Windsurf, Cline, Roo, Amazon Q, mcphub).
    EnvColon,
    /// `${input:id}` (VS Code prompt inputs, mcphub).
    Input,
    /// `${{ secrets.NAME }}` (Continue).
    ContinueSecret,
    /// `{env:NAME}` (opencode, Kilo).
    BraceEnv,
    /// `{file:path}` or `${file:path}` (opencode, Windsurf): the file's contents.
    File,
    /// `$(command)`, `${cmd: command}` or `$: command`: a shell command's output.
    Command,
    /// `${NAME}` or `${NAME:-default}` (Claude Code, Gemini CLI, Crush, Kiro, Copilot CLI).
    Braced,
    /// `${user_config.KEY}` (Claude Desktop extensions, Claude Code plugins).
    UserConfig,
    /// `{{ NAME }}` template placeholders.
    Template,
    /// Bare `$NAME` (Gemini CLI, Crush, legacy mcphub).
    Dollar,
    /// `%NAME%` (Windows environment syntax, Gemini CLI env blocks).
    Percent,
    /// `op://vault/item/field` (1Password secret references).
    OnePassword,
    /// `keychain:...`, `keyring:...` and similar OS credential-store references.
    Keychain,
    /// A secret manager's URI: `vault://...`, `arn:aws:secretsmanager:...`, `arn:aws:ssm:...`,
    /// `ssm://...`, `gcp-sm://...`, `azure-kv://...`, `bitwarden://...`, `doppler://...`.
    SecretManager,
    /// A field whose value is the *name* of a variable (`env_keys`, `bearer_token_env_var`,
    /// `env_http_headers`, `bearerTokenEnvVar`, `api_key_env`, `env_vars`, `envFile`,
    /// `headersHelper`).
    FieldIndirection,
}

impl ReferenceSyntax {
    /// Stable lower-case id for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ReferenceSyntax::EnvColon => "env-colon",
            ReferenceSyntax::Input => "input",
            ReferenceSyntax::ContinueSecret => "continue-secret",
            ReferenceSyntax::BraceEnv => "brace-env",
            ReferenceSyntax::File => "file",
            ReferenceSyntax::Command => "command",
            ReferenceSyntax::Braced => "braced",
            ReferenceSyntax::UserConfig => "user-config",
            ReferenceSyntax::Template => "template",
            ReferenceSyntax::Dollar => "dollar",
            ReferenceSyntax::Percent => "percent",
            ReferenceSyntax::OnePassword => "1password",
            ReferenceSyntax::Keychain => "keychain",
            ReferenceSyntax::SecretManager => "secret-manager",
            ReferenceSyntax::FieldIndirection => "field-indirection",
        }
    }

    /// Whether the syntax exists to hold secrets (prompted inputs, secret stores, file or
    /// command indirection), as opposed to a general variable reference.
    pub fn is_secret_store(self) -> bool {
        matches!(
            self,
            ReferenceSyntax::Input
                | ReferenceSyntax::ContinueSecret
                | ReferenceSyntax::File
                | ReferenceSyntax::Command
                | ReferenceSyntax::OnePassword
                | ReferenceSyntax::Keychain
                | ReferenceSyntax::SecretManager
        )
    }

    /// Where the referenced secret is kept, as reported: the environment, a secret manager or
    /// credential helper (a command's output counts: `$(op read ...)`, `headersHelper`), a
    /// prompt of the client, or a file.
    pub fn kind(self) -> ReferenceKind {
        match self {
            ReferenceSyntax::EnvColon
            | ReferenceSyntax::BraceEnv
            | ReferenceSyntax::Braced
            | ReferenceSyntax::Dollar
            | ReferenceSyntax::Percent
            | ReferenceSyntax::Template
            | ReferenceSyntax::FieldIndirection => ReferenceKind::Environment,
            ReferenceSyntax::ContinueSecret
            | ReferenceSyntax::Command
            | ReferenceSyntax::OnePassword
            | ReferenceSyntax::Keychain
            | ReferenceSyntax::SecretManager => ReferenceKind::SecretManager,
            ReferenceSyntax::Input | ReferenceSyntax::UserConfig => ReferenceKind::Prompt,
            ReferenceSyntax::File => ReferenceKind::File,
        }
    }
}

/// Where a referenced secret is kept (the report's `ReferenceKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReferenceKind {
    Environment,
    SecretManager,
    Prompt,
    File,
}

/// A reference found in a value: its syntax and the name it points at (a variable name, input
/// id, file path, secret-manager URI, or the first word of a command). Never secret material.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    pub syntax: ReferenceSyntax,
    pub name: String,
}

/// One reference pattern: the syntax, the regex, the capture group holding the name and an
/// optional group holding an inline default value. The regex is compiled on first need: only
/// for a value holding the character every match contains (`needs`), which most values lack.
struct Pattern {
    syntax: ReferenceSyntax,
    pattern: &'static str,
    needs: char,
    regex: OnceLock<Option<Regex>>,
    name_group: usize,
    default_group: Option<usize>,
}

impl Pattern {
    /// The regex, when `value` could hold a match at all. The patterns are constants checked by
    /// `every_pattern_compiles`; one that failed would drop its syntax rather than abort.
    fn regex_for(&self, value: &str) -> Option<&Regex> {
        if !value.contains(self.needs) {
            return None;
        }
        self.regex.get_or_init(|| Regex::new(self.pattern).ok()).as_ref()
    }
}

/// The character every match of a syntax's patterns contains (checked against the patterns'
/// syntax trees by `every_match_contains_the_needed_character`).
fn needed_char(syntax: ReferenceSyntax) -> char {
    match syntax {
        ReferenceSyntax::File | ReferenceSyntax::BraceEnv | ReferenceSyntax::Template => '{',
        ReferenceSyntax::Percent => '%',
        ReferenceSyntax::OnePassword | ReferenceSyntax::Keychain | ReferenceSyntax::SecretManager => ':',
        _ => '$',
    }
}

/// Most specific first: `${env:X}` must win over `${X}`, `${{ secrets.X }}` over `{{ X }}`.
const TABLE: &[(ReferenceSyntax, &str, usize, Option<usize>)] = &[
    (ReferenceSyntax::ContinueSecret, r"\$\{\{\s*secrets\.([A-Za-z0-9_.\-]+)\s*\}\}", 1, None),
    (ReferenceSyntax::EnvColon, r"\$\{env:\s*([^}\s]+)\s*\}", 1, None),
    (ReferenceSyntax::Input, r"\$\{input:\s*([^}\s]+)\s*\}", 1, None),
    (ReferenceSyntax::File, r"\$?\{file:\s*([^}]+)\}", 1, None),
    (ReferenceSyntax::Command, r"\$\{cmd:\s*([^}\s]+)[^}]*\}", 1, None),
    (ReferenceSyntax::Command, r"\$\(\s*([^)\s]+)[^)]*\)", 1, None),
    (ReferenceSyntax::Command, r"^\$:\s*(\S+).*$", 1, None),
    (ReferenceSyntax::UserConfig, r"\$\{(user_config\.[A-Za-z0-9_.\-]+)\}", 1, None),
    (ReferenceSyntax::BraceEnv, r"\{env:\s*([^}\s]+)\s*\}", 1, None),
    (ReferenceSyntax::Braced, r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}", 1, Some(2)),
    (ReferenceSyntax::Template, r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}", 1, None),
    // Bare `$NAME` only in upper case and at a token boundary: a literal password such as
    // `pa:$word9` must not turn into a reference. `(^|[\s=:/])` stands in for a
    // look-behind, which the regex crate lacks.
    (ReferenceSyntax::Dollar, r"(^|[\s=:/])\$([A-Z_][A-Z0-9_]*)($|[\s@/:;&])", 2, None),
    (ReferenceSyntax::Percent, r"%([A-Za-z_][A-Za-z0-9_]+)%", 1, None),
    (ReferenceSyntax::OnePassword, r"^(op://[^\s]+)$", 1, None),
    (
        ReferenceSyntax::Keychain,
        r"(?i)^((?:keychain|keyring|secret-service|wincred|credential-manager|secretstorage)(?::|://)\S+)$",
        1,
        None,
    ),
    (
        ReferenceSyntax::SecretManager,
        r"(?i)^((?:vault|aws-sm|aws-ssm|ssm|secretsmanager|gcp-sm|gsm|azure-kv|akv|bw|bitwarden|doppler|infisical)://\S+|arn:aws:(?:secretsmanager|ssm):\S+)$",
        1,
        None,
    ),
];

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    TABLE
        .iter()
        .map(|&(syntax, pattern, name_group, default_group)| Pattern {
            syntax,
            pattern,
            needs: needed_char(syntax),
            regex: OnceLock::new(),
            name_group,
            default_group,
        })
        .collect()
});

/// Field names whose value is the *name* of a variable rather than a value.
const INDIRECTION_FIELDS: &[&str] = &[
    "env_keys",
    "env_vars",
    "bearer_token_env_var",
    "bearertokenenvvar",
    "env_http_headers",
    "api_key_env",
    "apikeyenv",
    "envfile",
    "env_file",
    "headershelper",
    "headers_helper",
];

/// Whether a configuration field holds a variable name (or helper command) instead of a value.
pub fn is_indirection_field(field: &str) -> bool {
    let last = field.rsplit('.').next().unwrap_or(field).to_ascii_lowercase();
    INDIRECTION_FIELDS.contains(&last.as_str())
}

/// The syntax of an indirection field's value: a helper command (`headersHelper`), a file of
/// variables (`envFile`), else the name of a variable.
pub fn indirection_syntax(field: &str) -> ReferenceSyntax {
    match field.rsplit('.').next().unwrap_or(field).to_ascii_lowercase().as_str() {
        "headershelper" | "headers_helper" => ReferenceSyntax::Command,
        "envfile" | "env_file" => ReferenceSyntax::File,
        _ => ReferenceSyntax::FieldIndirection,
    }
}

/// The first reference in `value`, if any.
///
/// ```
/// use muster_agent::secrets::reference::{reference, ReferenceSyntax};
/// let r = reference("${env:GITHUB_TOKEN}").unwrap();
/// assert_eq!((r.syntax, r.name.as_str()), (ReferenceSyntax::EnvColon, "GITHUB_TOKEN"));
/// assert!(reference("ghp_literal").is_none());
/// ```
pub fn reference(value: &str) -> Option<Reference> {
    references(value).into_iter().next()
}

/// Every reference in `value`, most specific syntax first for overlapping spellings.
pub fn references(value: &str) -> Vec<Reference> {
    let mut found: Vec<(usize, Reference)> = Vec::new();
    let mut taken: Vec<std::ops::Range<usize>> = Vec::new();
    for p in PATTERNS.iter() {
        let Some(regex) = p.regex_for(value) else { continue };
        for caps in regex.captures_iter(value) {
            let (Some(whole), Some(name)) = (caps.get(0), caps.get(p.name_group)) else { continue };
            if taken.iter().any(|r| r.start < whole.end() && whole.start() < r.end) {
                continue;
            }
            taken.push(whole.range());
            found.push((whole.start(), Reference { syntax: p.syntax, name: name.as_str().trim().to_string() }));
        }
    }
    found.sort_by_key(|(start, _)| *start);
    found.into_iter().map(|(_, r)| r).collect()
}

/// `value` with every reference removed. Inline defaults (`${X:-default}`) are kept, separated
/// by spaces, because a default is a literal the detector must still judge.
pub fn strip_references(value: &str) -> String {
    let mut out = value.to_string();
    for p in PATTERNS.iter() {
        let Some(regex) = p.regex_for(&out) else { continue };
        out = regex
            .replace_all(&out, |caps: &regex::Captures<'_>| {
                let default = p.default_group.and_then(|g| caps.get(g)).map(|m| m.as_str()).unwrap_or("");
                // Keep the boundary characters (groups 1 and 3) the bare-`$NAME` pattern consumed.
                let (lead, trail) = if p.syntax == ReferenceSyntax::Dollar {
                    (caps.get(1).map_or("", |m| m.as_str()), caps.get(3).map_or("", |m| m.as_str()))
                } else {
                    ("", "")
                };
                if default.is_empty() { format!("{lead}{trail}") } else { format!("{lead} {default} {trail}") }
            })
            .into_owned();
    }
    out
}

static PLACEHOLDER_WORDS: &[&str] = &[
    "changeme",
    "change_me",
    "change-me",
    "replaceme",
    "replace_me",
    "replace-me",
    "placeholder",
    "redacted",
    "<redacted>",
    "secret",
    "password",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "todo",
    "tbd",
    "fixme",
    "example",
    "sample",
    "dummy",
    "test",
    "none",
    "null",
    "nil",
    "undefined",
    "true",
    "false",
    "yes",
    "no",
    "on",
    "off",
    "foo",
    "bar",
    "foobar",
    "default",
    "empty",
    "required",
    "optional",
    "string",
    "xxx",
];

static PLACEHOLDER_SHAPES: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)^(?:",
        r"<[^<>]*>",                                                                // <your-token>
        r"|\[[^\[\]]*\]",                                                           // [YOUR_TOKEN]
        r"|(?:insert|enter|put|add|paste|replace)?[-_ ]?(?:with[-_ ])?your[-_ ].*", // YOUR_API_KEY
        r"|.*[-_ ]here",                                                            // token-goes-here
        r")$"
    ))
    .ok()
});

/// Filler inside a token-like value (no spaces, no `://`): `ghp_xxxx`, `sk-...`, `****`,
/// `sk_test_placeholder`, `AKIA...EXAMPLE`. Not applied to URLs or prose, where a host such as
/// `example.com` says nothing about the credential in it.
static PLACEHOLDER_FILLER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^[A-Za-z0-9_\-.+/=~*#…]*(?:x{4,}|\.{3,}|\*{3,}|…|#{4,}|placeholder|changeme|change_me|redacted|dummy|example|replace[-_]?me)[A-Za-z0-9_\-.+/=~*#…]*$",
    )
    .ok()
});

/// Whether a value is empty or an obvious placeholder rather than a credential.
pub fn is_placeholder(value: &str) -> bool {
    let v = value.trim().trim_matches(|c| c == '"' || c == '\'');
    if v.is_empty() {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    if PLACEHOLDER_WORDS.contains(&lower.as_str()) {
        return true;
    }
    // The regex crate has no back-references; handle "one repeated character" by hand.
    let mut chars = v.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return true;
    }
    PLACEHOLDER_SHAPES.as_ref().is_some_and(|re| re.is_match(v))
        || PLACEHOLDER_FILLER.as_ref().is_some_and(|re| re.is_match(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax_and_name(v: &str) -> Option<(ReferenceSyntax, String)> {
        reference(v).map(|r| (r.syntax, r.name))
    }

    #[test]
    fn every_pattern_compiles() {
        assert_eq!(PATTERNS.len(), TABLE.len());
        for p in PATTERNS.iter() {
            assert!(Regex::new(p.pattern).is_ok(), "{}", p.pattern);
        }
        assert!(PLACEHOLDER_SHAPES.is_some());
        assert!(PLACEHOLDER_FILLER.is_some());
    }

    /// Whether every match of `hir` contains `c` (sound, not complete: `false` when unsure).
    fn every_match_contains(hir: &regex_syntax::hir::Hir, c: char) -> bool {
        use regex_syntax::hir::HirKind;
        match hir.kind() {
            HirKind::Literal(l) => std::str::from_utf8(&l.0).is_ok_and(|t| t.contains(c)),
            HirKind::Capture(cap) => every_match_contains(&cap.sub, c),
            HirKind::Repetition(r) => r.min >= 1 && every_match_contains(&r.sub, c),
            HirKind::Concat(parts) => parts.iter().any(|p| every_match_contains(p, c)),
            HirKind::Alternation(alts) => alts.iter().all(|a| every_match_contains(a, c)),
            _ => false,
        }
    }

    /// The pre-check of `Pattern::regex_for` never skips a value the pattern would match.
    #[test]
    fn every_match_contains_the_needed_character() {
        for p in PATTERNS.iter() {
            let hir = regex_syntax::parse(p.pattern).expect("pattern parses");
            assert!(every_match_contains(&hir, p.needs), "{} without {:?}", p.pattern, p.needs);
        }
    }

    #[test]
    fn each_syntax_is_recognised_with_its_name() {
        use ReferenceSyntax::*;
        let cases: &[(&str, ReferenceSyntax, &str)] = &[
            ("${env:GITHUB_TOKEN}", EnvColon, "GITHUB_TOKEN"),
            ("${input:github_pat}", Input, "github_pat"),
            ("${{ secrets.SENTRY_TOKEN }}", ContinueSecret, "SENTRY_TOKEN"),
            ("${{secrets.X}}", ContinueSecret, "X"),
            ("{env:OPENAI_API_KEY}", BraceEnv, "OPENAI_API_KEY"),
            ("{file:~/.secrets/notion}", File, "~/.secrets/notion"),
            ("${file:/run/secrets/token}", File, "/run/secrets/token"),
            ("$(op read op://dev/github/token)", Command, "op"),
            ("${cmd: security find-generic-password -w}", Command, "security"),
            ("$: pass show github", Command, "pass"),
            ("${GITHUB_TOKEN}", Braced, "GITHUB_TOKEN"),
            ("${API_KEY:-}", Braced, "API_KEY"),
            ("${user_config.api_key}", UserConfig, "user_config.api_key"),
            ("{{ NOTION_TOKEN }}", Template, "NOTION_TOKEN"),
            ("$GITHUB_TOKEN", Dollar, "GITHUB_TOKEN"),
            ("%GITHUB_TOKEN%", Percent, "GITHUB_TOKEN"),
            ("op://Private/GitHub/token", OnePassword, "op://Private/GitHub/token"),
            ("keychain:muster-github", Keychain, "keychain:muster-github"),
            ("keyring://login/slack", Keychain, "keyring://login/slack"),
        ];
        for (value, syntax, name) in cases {
            assert_eq!(syntax_and_name(value), Some((*syntax, name.to_string())), "{value}");
        }
    }

    #[test]
    fn references_inside_larger_values() {
        assert_eq!(syntax_and_name("Bearer ${env:TOKEN}"), Some((ReferenceSyntax::EnvColon, "TOKEN".into())));
        assert_eq!(syntax_and_name("--token=$GH_TOKEN"), Some((ReferenceSyntax::Dollar, "GH_TOKEN".into())));
        assert_eq!(
            syntax_and_name("postgres://app:$PGPASSWORD@db:5432/x"),
            Some((ReferenceSyntax::Dollar, "PGPASSWORD".into()))
        );
        let all = references("${A} and ${env:B}");
        assert_eq!(all.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["A", "B"]);
    }

    #[test]
    fn near_misses_are_not_references() {
        for v in [
            "ghp_abc",
            "pa$sword1",    // `$` inside a literal, lower case
            "pa:$word9",    // lower-case bare name after a boundary
            "$1abc",        // digit after `$`
            "%20encoded%",  // starts with a digit
            "{envX}",       // no colon
            "${",           // unterminated
            "op:/bad",      // not a 1Password URI
            "keychainless", // no separator
            "https://x.io/?q=%s",
            "100%",
        ] {
            assert_eq!(reference(v), None, "{v}");
        }
    }

    #[test]
    fn stripping_keeps_defaults_and_literal_text() {
        assert_eq!(strip_references("Bearer ${env:TOKEN}").trim(), "Bearer");
        assert_eq!(strip_references("${TOKEN:-ghp_default}").trim(), "ghp_default");
        assert_eq!(strip_references("postgres://u:$P@h/db"), "postgres://u:@h/db");
        assert_eq!(strip_references("plain"), "plain");
        // Multi-byte boundary characters must not split a character.
        assert_eq!(strip_references("a\u{a0}$TOKEN\u{a0}b"), "a\u{a0}\u{a0}b");
        assert_eq!(reference("\u{2003}$TOKEN").map(|r| r.name), Some("TOKEN".to_string()));
    }

    #[test]
    fn indirection_fields() {
        for f in ["env_keys", "bearer_token_env_var", "bearerTokenEnvVar", "api_key_env", "mcp.env_http_headers"] {
            assert!(is_indirection_field(f), "{f}");
        }
        for f in ["apiKey", "env", "bearer_token", "headers"] {
            assert!(!is_indirection_field(f), "{f}");
        }
    }

    #[test]
    fn placeholders_are_not_secrets() {
        for v in [
            "",
            "  ",
            "<your-token>",
            "<GITHUB_PAT>",
            "[YOUR_TOKEN]",
            "YOUR_API_KEY",
            "your-token-here",
            "your_github_token",
            "paste-token-here",
            "xxx",
            "XXXXXXXX",
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "sk-...",
            "changeme",
            "CHANGEME",
            "...",
            "****",
            "0000000000",
            "null",
        ] {
            assert!(is_placeholder(v), "{v:?}");
        }
        assert!(is_placeholder("sk_test_placeholder"));
        assert!(is_placeholder("AKIAEXAMPLEKEY"));
        assert!(!is_placeholder("rediss://default:Wq9x2Lk7@cache.example.com:6380"));
        for v in ["ghp_9f8Ae3kLmQ", "hunter2", "Tr0ub4dor&3", "s3cr3t-value-42", "yourself", "here"] {
            assert!(!is_placeholder(v), "{v:?}");
        }
    }
}
