//! The last gate for free text: every string that leaves the agent and was taken from a config
//! file, a command line or a path (arguments, command strings, URLs, package names and
//! versions, working directories, names, paths, finding and problem messages) passes through
//! [`scrub_text`] (or [`scrub_command_line`] for a whole command string) on its way out.
//!
//! Masking by known places (`--token x`, URL userinfo, query values) cannot be complete, so this
//! module turns it around and judges the text *token by token*, whatever field it came from:
//!
//! 1. every provider *shape* anywhere in the text, checksum or not (the detector's rules,
//!    unanchored), then the secrets the detector finds embedded ([`detect_embedded`]:
//!    `NAME=value` under secret names, URL credentials, PEM blocks, JWTs);
//! 2. every URL loses its userinfo password, query values and fragment ([`mask::mask_url`]);
//! 3. `NAME=value` where the name is secret-like (`TOKEN=…`, `--api-key=…`);
//! 4. every run of token characters (`A-Z a-z 0-9 _ - + / = . ~ %`) is judged whole, then split
//!    at `/`, then at `= + ~ %`, then at `.`, then at `-`/`_`, each piece judged again: a piece
//!    that has a provider's *shape* (checksum or not), is a JWT, or is random per
//!    [`looks_random`] is masked.
//!
//! The output never contains a value the detector or the shape rules would call secret; what it
//! keeps is names, structure and low-entropy words. It is idempotent: scrubbing scrubbed text
//! changes nothing. It does not report credentials (the analysis does); [`suspect_tokens`] lets
//! the analysis turn the pieces only this gate catches into credentials where they are likely
//! real ones (URL path segments, `id:secret` pairs).

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::decode;
use super::detect::detect_embedded;
use super::entropy::is_high_entropy;
use super::mask::{self, MASK, is_secret_name};
use super::rules::match_shape;
use super::{Secret, is_placeholder};

/// Why a token was judged secret-shaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suspicion {
    /// A provider's shape (prefix and length) whether or not its checksum verifies.
    ProviderShape { kind: &'static str, provider: &'static str },
    /// A JSON Web Token.
    Jwt,
    /// Random enough to be a key (see [`looks_random`]).
    Random,
}

/// A secret-shaped token found by [`suspect_tokens`], with its byte range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suspect {
    pub range: Range<usize>,
    pub why: Suspicion,
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '=' | '.' | '~' | '%')
}

/// Split levels: a run is judged whole, then its pieces at each level in turn.
const LEVELS: &[&[char]] = &[&['/'], &['=', '+', '~', '%'], &['.'], &['-', '_']];

/// Whether `piece` looks like a content digest that is meant to be public (`sha256:<64 hex>`
/// in an OCI reference): `before` is the text just before the piece.
fn is_digest(before: &str, piece: &str) -> bool {
    let Some(before) = before.strip_suffix(':') else { return false };
    let algo = before.rsplit(|c: char| !c.is_ascii_alphanumeric()).next().unwrap_or("");
    let want = match algo {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    piece.len() == want && piece.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether a token with no name around it is random enough to be a key: at least 20
/// characters and the detector's generic entropy rule ([`is_high_entropy`]). Shorter tokens
/// are left alone: without a name, randomness below that length is as likely an id or a version
/// as a secret. Long random-looking names (a Windows package family name, a 32-digit hex
/// directory) are masked too: a masked name costs a reader some context, a leaked key costs a
/// rotation.
pub fn looks_random(token: &str) -> bool {
    token.len() >= 20 && is_high_entropy(token)
}

fn judge(before: &str, piece: &str) -> Option<Suspicion> {
    if piece.len() < 8 {
        return None;
    }
    let why = suspicion(piece)?;
    // The exemptions are checked only for a piece that would be masked: most pieces are not,
    // and a placeholder check costs two regex searches.
    let exempt = piece.contains(MASK)
        || is_placeholder(piece)
        || is_digest(before, piece)
        || is_fingerprint_mention(before, piece);
    (!exempt).then_some(why)
}

/// Why `piece` would be masked, before the exemptions of [`judge`].
fn suspicion(piece: &str) -> Option<Suspicion> {
    if let Some(rule) = match_shape(piece) {
        return Some(Suspicion::ProviderShape { kind: rule.kind, provider: rule.provider });
    }
    // Every JWT starts with base64 of `{"`.
    if piece.starts_with("eyJ") && decode::is_jwt(piece) {
        return Some(Suspicion::Jwt);
    }
    // A `.` is in no base64 alphabet: a run with one is a name, a version or a host
    // (`mcp-server-git==2025.7.1`, `AndroidStudio2024.2`), judged by its pieces instead.
    if piece.contains('.') || is_package_family_name(piece) {
        return None;
    }
    looks_random(piece).then_some(Suspicion::Random)
}

/// A keyed fingerprint the agent itself wrote into a message (`fingerprint 630c…`): 32 hex
/// digits right after the word, an HMAC that reveals nothing without the fleet key.
fn is_fingerprint_mention(before: &str, piece: &str) -> bool {
    before.ends_with("fingerprint ") && piece.len() == 32 && piece.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A Windows package family name (`Claude_pzs8sxrjxfjjc`): the app's name, `_`, and the
/// 13-character publisher id, public by design and part of well-known config paths.
fn is_package_family_name(piece: &str) -> bool {
    piece.rsplit_once('_').is_some_and(|(name, publisher)| {
        name.len() >= 2
            && name.chars().all(|c| c.is_ascii_alphanumeric())
            && publisher.len() == 13
            && publisher.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

/// Judges `text[range]`, then, unless it is secret-shaped as a whole, its pieces at the first
/// split level from `level` on whose separators it contains. Each piece is judged once.
fn judge_run(text: &str, range: Range<usize>, level: usize, out: &mut Vec<Suspect>) {
    let piece = &text[range.clone()];
    if piece.len() < 8 {
        return;
    }
    if let Some(why) = judge(&text[..range.start], piece) {
        out.push(Suspect { range, why });
        return;
    }
    let Some((found, separators)) = LEVELS.iter().enumerate().skip(level).find(|(_, seps)| piece.contains(**seps))
    else {
        return;
    };
    let mut start = range.start;
    for (i, c) in piece.char_indices() {
        if separators.contains(&c) {
            if start < range.start + i {
                judge_run(text, start..range.start + i, found + 1, out);
            }
            start = range.start + i + c.len_utf8();
        }
    }
    if start < range.end {
        judge_run(text, start..range.end, found + 1, out);
    }
}

/// Every secret-shaped token of `text` by the token rules alone (step 4 of the module doc),
/// in order, not overlapping.
pub fn suspect_tokens(text: &str) -> Vec<Suspect> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        let inside = i < text.len() && is_token_char(c);
        match (inside, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                judge_run(text, s..i, 0, &mut out);
                start = None;
            }
            _ => {}
        }
    }
    continue_across_slashes(text, &mut out);
    out
}

/// A base64 key holds `/`, so a path or userinfo split can leave its tail as a piece of its own,
/// too short to look random (`…/mcp/s/<key part>/<tail>/mcp`). A piece next to a suspect (or to
/// a [`MASK`] an earlier step wrote) across one `/` is taken as the rest of it when it could be
/// part of a base64 value: at least 4 characters of the base64 alphabets, mixing two of upper
/// case, lower case and digits (`mcp`, `api`, `index.js`, `shadow-mcp` never qualify).
fn continue_across_slashes(text: &str, out: &mut Vec<Suspect>) {
    fn continues(piece: &str) -> bool {
        let b = piece.as_bytes();
        let classes = [u8::is_ascii_uppercase, u8::is_ascii_lowercase, u8::is_ascii_digit]
            .iter()
            .filter(|class| b.iter().any(class))
            .count();
        b.len() >= 4 && classes >= 2 && b.iter().all(|c| c.is_ascii_alphanumeric() || b"+=_-".contains(c))
    }
    // The piece after `at` (which is a `/`), up to the next `/` or the end of the token.
    let after = |at: usize| -> usize {
        text[at + 1..].find(|c: char| c == '/' || !is_token_char(c)).map_or(text.len(), |n| at + 1 + n)
    };
    let before =
        |at: usize| -> usize { text[..at].rfind(|c: char| c == '/' || !is_token_char(c)).map_or(0, |n| n + 1) };
    let mut anchors: Vec<Range<usize>> = out.iter().map(|s| s.range.clone()).collect();
    anchors.extend(text.match_indices(MASK).map(|(i, m)| i..i + m.len()));
    let mut added: Vec<Suspect> = Vec::new();
    for anchor in anchors {
        let mut end = anchor.end;
        while text[end..].starts_with('/') {
            let stop = after(end);
            if !continues(&text[end + 1..stop]) {
                break;
            }
            added.push(Suspect { range: end + 1..stop, why: Suspicion::Random });
            end = stop;
        }
        let mut start = anchor.start;
        while start > 0 && text[..start].ends_with('/') {
            let from = before(start - 1);
            if !continues(&text[from..start - 1]) {
                break;
            }
            added.push(Suspect { range: from..start - 1, why: Suspicion::Random });
            start = from;
        }
    }
    if added.is_empty() {
        return;
    }
    out.extend(added);
    out.sort_by_key(|s| (s.range.start, std::cmp::Reverse(s.range.end)));
    out.dedup_by(|later, earlier| later.range.start < earlier.range.end);
}

fn replace_ranges(text: &str, ranges: &[Range<usize>]) -> String {
    let mut ranges: Vec<Range<usize>> = ranges.to_vec();
    ranges.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for r in ranges {
        if r.end <= pos {
            continue;
        }
        let start = r.start.max(pos);
        out.push_str(&text[pos..start]);
        out.push_str(MASK);
        pos = r.end;
    }
    out.push_str(&text[pos..]);
    out
}

static NAMED_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"(?P<name>-{0,2}[A-Za-z_][A-Za-z0-9_.\-]*)=(?P<value>[^\s"'&;,]+)"#).ok());

/// Provider-shaped text anywhere (inside a URL path, after a `:`, glued to other text), with or
/// without a valid checksum: masked whole, before any splitting could cut it into pieces too
/// short to judge.
fn mask_shapes(text: &str) -> Cow<'_, str> {
    let ranges = shape_ranges(text);
    if ranges.is_empty() { Cow::Borrowed(text) } else { Cow::Owned(replace_ranges(text, &ranges)) }
}

/// Byte ranges of provider-shaped text anywhere in `text` (possibly overlapping).
pub fn shape_ranges(text: &str) -> Vec<Range<usize>> {
    let mut ranges: Vec<Range<usize>> = Vec::new();
    // Every provider shape rule as an unanchored regex, compiled only for a text that could
    // hold a match by the rule's `PatternFacts` (a text without `ghp_` never compiles GitHub's
    // rule). Whole pieces are judged by the detector's own anchored regexes ([`match_shape`]'s).
    let rules = super::rules::current();
    let shapes = rules.shapes();
    for i in shapes.anywhere_candidates(text) {
        let Some(re) = shapes.anywhere_regex(i) else { continue };
        ranges.extend(re.find_iter(text).filter(|m| m.len() >= 8).map(|m| m.range()));
    }
    ranges
}

/// Detector findings embedded in the text, masked whole (a URL keeps its shape).
fn mask_detected(text: &str) -> Cow<'_, str> {
    let found = detect_embedded(&Secret::new(text));
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    let ranges: Vec<Range<usize>> = found.into_iter().map(|e| e.range).collect();
    Cow::Owned(mask_ranges(text, &ranges, &[]))
}

/// `value` with `ranges` masked: overlapping ranges merged first, so one rule's part-match never
/// leaves another's fragments behind. A merged range that is a URL or connection string keeps
/// its shape when URL masking hides its credential part (password, lone userinfo, query
/// values), with every one of `whole` inside it masked too (a provider-shaped userinfo or path
/// segment: `git+https://****@github.com/org/repo`); anything else becomes [`MASK`], and so does
/// each of `whole` outside a merged range.
pub fn mask_ranges(value: &str, ranges: &[Range<usize>], whole: &[Range<usize>]) -> String {
    let mut all: Vec<Range<usize>> = ranges.iter().chain(whole).cloned().collect();
    all.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::new();
    for r in all {
        match merged.last_mut() {
            Some(last) if r.start < last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    let mut out = String::with_capacity(value.len());
    let mut pos = 0;
    for r in merged {
        if r.end > value.len() || !value.is_char_boundary(r.start) || !value.is_char_boundary(r.end) {
            continue;
        }
        out.push_str(&value[pos..r.start]);
        let part = &value[r.clone()];
        if part.contains("://") && mask::mask_url(part) != part {
            // Shapes inside the URL first (merging made them lie inside `r`), then the URL's own
            // credential parts: masking the whole URL instead would hide a package's name.
            let inner: Vec<Range<usize>> = whole
                .iter()
                .filter(|w| r.start <= w.start && w.end <= r.end)
                .map(|w| w.start - r.start..w.end - r.start)
                .collect();
            out.push_str(&mask::mask_url(&replace_ranges(part, &inner)));
        } else {
            out.push_str(MASK);
        }
        pos = r.end;
    }
    out.push_str(&value[pos..]);
    out
}

fn mask_urls(text: &str) -> Cow<'_, str> {
    // Every match of the URL pattern contains `://`.
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let Some(re) = super::detect::URL_RE.as_ref() else { return Cow::Borrowed(text) };
    re.replace_all(text, |c: &regex::Captures<'_>| mask::mask_url(&c[0]))
}

fn mask_named(text: &str) -> Cow<'_, str> {
    // Every match of `NAME=value` contains `=`.
    if !text.contains('=') {
        return Cow::Borrowed(text);
    }
    let Some(re) = NAMED_RE.as_ref() else { return Cow::Borrowed(text) };
    re.replace_all(text, |c: &regex::Captures<'_>| {
        let (name, value) = (&c["name"], &c["value"]);
        if is_secret_name(name) && value != MASK { format!("{name}={MASK}") } else { c[0].to_string() }
    })
}

/// `text` with everything secret-shaped masked (see the module doc). Borrowed when nothing
/// changed.
pub fn scrub_text(text: &str) -> Cow<'_, str> {
    if text.is_empty() {
        return Cow::Borrowed(text);
    }
    // A scan scrubs the same strings several times (paths, clients and names per server, an
    // argument in the analysis and again at the door): results are remembered per thread, keyed
    // by a hash of the input so no raw value is kept; an output is remembered as its own result
    // (the gate is idempotent).
    let key = hash_of(text);
    if let Some(known) = MEMO.with(|m| m.borrow().get(&key).cloned()) {
        return match known {
            None => Cow::Borrowed(text),
            Some(out) => Cow::Owned(out),
        };
    }
    let out = scrub_uncached(text);
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        match &out {
            Cow::Borrowed(_) => remember(&mut m, key, None),
            Cow::Owned(o) => {
                remember(&mut m, hash_of(o), None);
                remember(&mut m, key, Some(o.clone()));
            }
        };
    });
    out
}

type Memo = std::collections::HashMap<u64, Option<String>>;

fn remember(m: &mut Memo, key: u64, out: Option<String>) {
    if m.len() > MEMO_LIMIT {
        m.clear();
    }
    m.insert(key, out);
}

const MEMO_LIMIT: usize = 100_000;

thread_local! {
    static MEMO: std::cell::RefCell<Memo> = std::cell::RefCell::new(Memo::new());
}

fn hash_of(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

fn scrub_uncached(text: &str) -> Cow<'_, str> {
    // Shapes first: a detector rule that matches part of a long token (a JWT-like segment of a
    // base64 key) would otherwise cut it into pieces the shape no longer matches.
    let step = mask_shapes(text);
    // The detector's embedded rules need a `name=value`, a `name: value`, a URL or a PEM block;
    // its bare-token rules are covered by the shapes above and the token scan below.
    let step = if step.contains(['=', ':']) || step.contains("-----BEGIN") {
        match mask_detected(&step) {
            Cow::Borrowed(_) => step,
            Cow::Owned(s) => Cow::Owned(s),
        }
    } else {
        step
    };
    let step = match mask_urls(&step) {
        Cow::Borrowed(_) => step,
        Cow::Owned(s) => Cow::Owned(s),
    };
    let step = match mask_named(&step) {
        Cow::Borrowed(_) => step,
        Cow::Owned(s) => Cow::Owned(s),
    };
    let suspects = suspect_tokens(&step);
    if suspects.is_empty() {
        return step;
    }
    let ranges: Vec<Range<usize>> = suspects.into_iter().map(|s| s.range).collect();
    Cow::Owned(replace_ranges(&step, &ranges))
}

/// What the gate's own rules find in one text, computed once for the credentials analysis
/// (which reports and masks them) and handed back to [`scrub_examined`], so the analysis and the
/// gate do not judge the same argument twice.
pub struct Examined<'a> {
    text: &'a str,
    /// Secrets the detector finds embedded ([`detect_embedded`]).
    pub embedded: Vec<super::Embedded>,
    /// Provider shapes anywhere ([`shape_ranges`]).
    pub shapes: Vec<Range<usize>>,
    /// Secret-shaped tokens ([`suspect_tokens`]).
    pub suspects: Vec<Suspect>,
}

impl<'a> Examined<'a> {
    pub fn of(value: &'a Secret) -> Examined<'a> {
        let text = value.expose();
        Examined { text, embedded: detect_embedded(value), shapes: shape_ranges(text), suspects: suspect_tokens(text) }
    }
}

/// [`scrub_text`] of `text`, shorter when `text` is exactly the text `examined` looked at and
/// nothing was found in it: then only URL and `NAME=value` masking can still change it (the
/// shape, detector and token steps would find what `examined` found: nothing). Otherwise the
/// whole gate runs.
pub fn scrub_examined<'t>(text: &'t str, examined: &Examined<'_>) -> Cow<'t, str> {
    let clean = text == examined.text
        && examined.embedded.is_empty()
        && examined.shapes.is_empty()
        && examined.suspects.is_empty();
    if !clean || text.is_empty() {
        return scrub_text(text);
    }
    let unchanged = matches!(mask_urls(text), Cow::Borrowed(_)) && matches!(mask_named(text), Cow::Borrowed(_));
    if !unchanged {
        return scrub_text(text);
    }
    // Remembered like any result, so the snapshot's own pass over it is a look-up.
    MEMO.with(|m| remember(&mut m.borrow_mut(), hash_of(text), None));
    Cow::Borrowed(text)
}

/// In-place [`scrub_text`].
pub fn scrub_in_place(text: &mut String) {
    if let Cow::Owned(s) = scrub_text(text) {
        *text = s;
    }
}

/// A whole command string (`npx -y pkg --token X`, `env KEY=X npx …`, `cmd /c "set T=X&& …"`):
/// its words get the argument masking (values after secret-named flags, `NAME=value` pairs),
/// then the whole string [`scrub_text`]. Whitespace between words is kept as it was.
pub fn scrub_command_line(text: &str) -> String {
    let mut words: Vec<Secret> = Vec::new();
    let mut gaps: Vec<&str> = Vec::new();
    let mut rest = text;
    loop {
        let gap_len = rest.len() - rest.trim_start().len();
        gaps.push(&rest[..gap_len]);
        rest = &rest[gap_len..];
        if rest.is_empty() {
            break;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        // Quotes around a word are kept, but the flag logic sees the word without them.
        words.push(Secret::new(&rest[..end]));
        rest = &rest[end..];
    }
    let unquoted: Vec<Secret> = words.iter().map(|w| Secret::new(w.expose().trim_matches(['"', '\'']))).collect();
    let masked = mask::mask_args(&unquoted, &|_, _| false);
    let mut out = String::with_capacity(text.len());
    for (i, gap) in gaps.iter().enumerate() {
        out.push_str(gap);
        if let (Some(word), Some(m)) = (words.get(i), masked.get(i)) {
            let w = word.expose();
            let inner = w.trim_matches(['"', '\'']);
            if inner == m {
                out.push_str(w);
            } else {
                let lead = &w[..w.len() - w.trim_start_matches(['"', '\'']).len()];
                let trail = &w[w.trim_end_matches(['"', '\'']).len()..];
                out.push_str(lead);
                out.push_str(m);
                out.push_str(trail);
            }
        }
    }
    scrub_text(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_versions_and_packages_are_kept() {
        for text in [
            "@modelcontextprotocol/server-github",
            "/home/dev/.config/JetBrains/IntelliJIdea2024.3/options/mcp.xml",
            "C:\\Users\\dev\\AppData\\Roaming\\Claude\\claude_desktop_config.json",
            "1.2.3-beta.4+build.5",
            "ghcr.io/github/github-mcp-server@sha256:0f3c6a1b2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8",
            "server \"github\" runs @modelcontextprotocol/server-github without a pinned version",
            "https://mcp.example.com/sse",
            "mcp-server-kubernetes",
            "GITHUB_PERSONAL_ACCESS_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "npx -y @upstash/context7-mcp@latest",
            "mcp-server-git==2025.7.1",
            "C:\\Users\\a\\AppData\\Local\\Packages\\Claude_pzs8sxrjxfjjc\\LocalCache",
        ] {
            assert_eq!(scrub_text(text), text, "{text}");
        }
    }

    #[test]
    fn secret_shaped_tokens_are_masked_wherever_they_sit() {
        let random = "q8ZrT4mWx2LpK9sVb3NdYh7F";
        let bad_checksum = "ghp_aaaaBBBBccccDDDDeeeeFFFFggggHHHH0000";
        for (text, leftover) in [
            (format!("git+https://{random}@github.com/org/repo"), "github.com/org/repo"),
            (format!("git+https://x-access-token:{random}@github.com/org/repo"), "x-access-token"),
            (format!("https://host.example/api/mcp/s/{random}/mcp"), "/api/mcp/s/"),
            (format!("https://mcp.example.com/mcp/{random}/sse"), "/sse"),
            (format!("AKIAIOSFODNN7EXAMPLE/abc:{random}"), "/abc:"),
            (format!("--token {bad_checksum}"), "--token"),
            (format!("/home/dev/{random}/mcp.json"), "/mcp.json"),
            ("https://registry.npmjs.org/pkg/-/pkg-1.0.0.tgz?token=hunter2".to_string(), "pkg-1.0.0.tgz"),
            (format!("{random}.{random}"), ""),
            (format!("prefix-words-here-{random}"), ""),
            ("env GITHUB_TOKEN=hunter2 npx server".to_string(), "env GITHUB_TOKEN="),
        ] {
            let out = scrub_text(&text);
            assert!(
                !out.contains(random) && !out.contains(bad_checksum) && !out.contains("hunter2"),
                "{text} -> {out}"
            );
            assert!(out.contains(leftover), "{text} -> {out}");
            assert!(out.contains(MASK), "{text} -> {out}");
            assert_eq!(scrub_text(&out), out, "idempotent");
        }
    }

    #[test]
    fn command_lines_mask_flag_values_and_assignments() {
        assert_eq!(scrub_command_line("npx -y server --token hunter2"), "npx -y server --token ****");
        assert_eq!(scrub_command_line("env API_KEY=hunter2  npx server"), "env API_KEY=****  npx server");
        let out = scrub_command_line("cmd /c \"set TOKEN=hunter2&& npx -y server\"");
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.starts_with("cmd /c \"set TOKEN="), "{out}");
    }

    #[test]
    fn long_random_tokens_are_random_short_ones_are_not() {
        assert!(looks_random("q8ZrT4mWx2LpK9sVb3NdYh7F"));
        assert!(looks_random("550e8400-e29b-41d4-a716-446655440000"));
        assert!(!looks_random("IntelliJIdea2024.3"));
        assert!(!looks_random("Zk3mQ9xV2bN7pL4s"));
    }

    /// Random keys of 20 to 40 base62 characters are judged random (all of 20,000 draws of a
    /// fixed-seed generator; below 24 characters, draws with all three character classes).
    #[test]
    fn random_base62_keys_are_judged_random() {
        const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut x: u64 = 0x5EED;
        let mut missed = Vec::new();
        for n in 0..20_000 {
            let len = 20 + n % 21;
            let token: String = (0..len)
                .map(|_| {
                    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let mut z = x;
                    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    A[((z ^ (z >> 31)) % 62) as usize] as char
                })
                .collect();
            let classes = [u8::is_ascii_lowercase, u8::is_ascii_uppercase, u8::is_ascii_digit]
                .iter()
                .filter(|class| token.bytes().any(|b| class(&b)))
                .count();
            // The detector's entropy rule wants all three classes below 24 characters.
            if classes < 3 && len < 24 {
                continue;
            }
            if scrub_text(&token) != MASK {
                missed.push(token);
            }
        }
        assert!(missed.is_empty(), "{} of 20000 random keys kept: {:?}", missed.len(), &missed[..missed.len().min(10)]);
    }
}
