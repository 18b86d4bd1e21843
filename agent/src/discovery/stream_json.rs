//! Reading a large strict-JSON file as a stream, keeping only the members its client reads
//! ([`Keep`]): a `~/.claude.json` with megabytes of project history is read in 64 KiB blocks,
//! the history is checked for syntax and dropped, and only the kept values (the server maps
//! and disabled lists) are built, each by `serde_json` from its own bytes. Neither the file's
//! text nor a tree of the whole document is ever held.
//!
//! The reader is one pass of a small state machine over the bytes (strings are skipped eight
//! bytes at a time), so it costs about what reading the file costs. It accepts exactly strict
//! JSON (RFC 8259 grammar, UTF-8 strings; it does not refuse numbers beyond `f64` or lone
//! surrogate escapes in values it skips, which `JSON.parse` accepts too) and gives up (`None`)
//! on anything else: a byte-order mark, a syntax error, invalid UTF-8. The caller then reads the
//! file whole and parses it the lenient way, so error positions, the recovery of neighbouring
//! entries and the "client will ignore this file" problem are exactly those of a small file.
//!
//! It also records where each member of a kept object starts (its key's line and column), so
//! the local API can point at a server's entry without reading the file again. It does not know
//! what a server is: that is the client module's job, on the value it returns.

use std::io::Read;

use serde_json::{Map, Value};

use super::formats::Keep;

/// Bytes read at a time (more while one token or kept value is longer than that).
const BLOCK: usize = 64 * 1024;

/// Deepest nesting accepted (the explicit stack has no recursion limit of its own).
const MAX_DEPTH: usize = 512;

/// A 1-based line and column (in characters) in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextPosition {
    pub line: u32,
    pub column: u32,
}

/// What [`read_kept`] returns.
#[derive(Debug)]
pub struct KeptDocument {
    /// The document with every member `keep` does not name left out (as
    /// [`super::formats::parse_kept`] builds it from text).
    pub value: Value,
    /// Every member of a kept object whose value is an object: its key path from the root
    /// (e.g. `["projects", "/p", "mcpServers", "github"]`) and where its key starts.
    pub members: Vec<(Vec<String>, TextPosition)>,
}

/// Reads strict JSON from `reader`, keeping what `keep` names; `None` when the bytes are not
/// strict JSON or cannot be read (see the module docs).
pub fn read_kept(reader: &mut dyn Read, keep: &Keep) -> Option<KeptDocument> {
    read_kept_in_blocks(reader, keep, BLOCK)
}

pub(in crate::discovery) fn read_kept_in_blocks(
    reader: &mut dyn Read,
    keep: &Keep,
    block: usize,
) -> Option<KeptDocument> {
    let mut s = Scanner::new(keep);
    loop {
        match s.step() {
            Ok(true) => break,
            Ok(false) => {}
            Err(Stop::Bad) => return None,
            Err(Stop::NeedMore) => s.refill(reader, block)?,
        }
    }
    Some(KeptDocument { value: s.root?, members: s.members })
}

/// Why a step could not finish.
#[derive(Debug)]
enum Stop {
    /// The token runs past the bytes read so far.
    NeedMore,
    /// Not strict JSON.
    Bad,
}

/// What happens to the value being read.
#[derive(Clone, Copy, Debug)]
enum Mode<'k> {
    /// An object some of whose members are kept (a non-object here is kept whole).
    Prune(&'k Keep),
    /// Checked and dropped.
    Skip,
    /// Kept whole: its bytes are parsed by `serde_json` when it ends.
    Capture,
}

fn mode_of(rule: &Keep) -> Mode<'_> {
    match rule {
        Keep::All => Mode::Capture,
        rule => Mode::Prune(rule),
    }
}

/// What the grammar allows next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Value,
    FirstKeyOrEnd,
    Key,
    Colon,
    CommaOrObjectEnd,
    FirstValueOrArrayEnd,
    CommaOrArrayEnd,
    Done,
}

#[derive(Debug)]
struct Frame<'k> {
    object: bool,
    mode: Mode<'k>,
}

/// A kept value being read: where it starts (absolute offset), how deep, and its key.
#[derive(Debug)]
struct Capture {
    start: u64,
    depth: usize,
    key: Option<String>,
}

struct Scanner<'k> {
    buf: Vec<u8>,
    pos: usize,
    /// Absolute file offset of `buf[0]`.
    base: u64,
    eof: bool,
    expect: Expect,
    stack: Vec<Frame<'k>>,
    /// The mode of the value expected next.
    next: Mode<'k>,
    /// 1-based line of `pos`, the offset its line starts at, and the UTF-8 continuation bytes
    /// between the two (a column counts characters).
    line: u32,
    line_start: u64,
    continuation_in_line: u64,
    /// Open pruned objects, each with its key in its parent (none for the root).
    objects: Vec<(Option<String>, Map<String, Value>)>,
    /// The key of the value expected next, when it is kept.
    pending_key: Option<String>,
    /// A member of a kept object whose value has not started yet.
    pending_member: Option<(Vec<String>, TextPosition)>,
    capture: Option<Capture>,
    root: Option<Value>,
    members: Vec<(Vec<String>, TextPosition)>,
}

impl<'k> Scanner<'k> {
    fn new(keep: &'k Keep) -> Self {
        Scanner {
            buf: Vec::new(),
            pos: 0,
            base: 0,
            eof: false,
            expect: Expect::Value,
            stack: Vec::new(),
            next: mode_of(keep),
            line: 1,
            line_start: 0,
            continuation_in_line: 0,
            objects: Vec::new(),
            pending_key: None,
            pending_member: None,
            capture: None,
            root: None,
            members: Vec::new(),
        }
    }

    /// Drops what is consumed (keeping a kept value being read) and reads more; `None` on a
    /// read error or when the input ended inside the document.
    fn refill(&mut self, reader: &mut dyn Read, block: usize) -> Option<()> {
        if self.eof {
            return None;
        }
        let keep_from = match &self.capture {
            Some(c) => usize::try_from(c.start - self.base).ok()?.min(self.pos),
            None => self.pos,
        };
        self.buf.drain(..keep_from);
        self.base += keep_from as u64;
        self.pos -= keep_from;
        // Grow geometrically while one token is longer than a block, so a long string is not
        // rescanned once per block.
        let want = block.max(self.buf.len());
        let old = self.buf.len();
        self.buf.resize(old + want, 0);
        let n = loop {
            match reader.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        };
        self.buf.truncate(old + n);
        if n == 0 {
            self.eof = true;
        }
        // A byte-order mark is not strict JSON (the whole-text path strips it).
        if self.base == 0 && self.buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
            return None;
        }
        Some(())
    }

    fn peek(&self, at: usize) -> Result<Option<u8>, Stop> {
        match self.buf.get(at) {
            Some(b) => Ok(Some(*b)),
            None if self.eof => Ok(None),
            None => Err(Stop::NeedMore),
        }
    }

    fn position(&self) -> TextPosition {
        let bytes = self.base + self.pos as u64 - self.line_start;
        let column = bytes - self.continuation_in_line + 1;
        TextPosition { line: self.line, column: u32::try_from(column).unwrap_or(u32::MAX) }
    }

    fn skip_whitespace(&mut self) {
        while let Some(&b) = self.buf.get(self.pos) {
            match b {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    self.line = self.line.saturating_add(1);
                    self.line_start = self.base + self.pos as u64;
                    self.continuation_in_line = 0;
                }
                _ => break,
            }
        }
    }

    /// Reads one token; `Ok(true)` once the document has ended.
    fn step(&mut self) -> Result<bool, Stop> {
        self.skip_whitespace();
        let Some(b) = self.peek(self.pos)? else {
            // The input ended: only after the whole value.
            return if self.expect == Expect::Done { Ok(true) } else { Err(Stop::Bad) };
        };
        match (self.expect, b) {
            (Expect::Done, _) => Err(Stop::Bad),
            (Expect::Value, _) => self.value(b),
            (Expect::FirstKeyOrEnd, b'}') | (Expect::CommaOrObjectEnd, b'}') => self.close(),
            (Expect::FirstKeyOrEnd | Expect::Key, b'"') => self.key(),
            (Expect::Colon, b':') => {
                self.pos += 1;
                self.expect = Expect::Value;
                Ok(false)
            }
            (Expect::CommaOrObjectEnd, b',') => {
                self.pos += 1;
                self.expect = Expect::Key;
                Ok(false)
            }
            (Expect::FirstValueOrArrayEnd, b']') | (Expect::CommaOrArrayEnd, b']') => self.close(),
            (Expect::FirstValueOrArrayEnd, _) => {
                self.next = self.stack.last().map_or(Mode::Skip, |f| f.mode);
                self.value(b)
            }
            (Expect::CommaOrArrayEnd, b',') => {
                self.pos += 1;
                self.next = self.stack.last().map_or(Mode::Skip, |f| f.mode);
                self.expect = Expect::Value;
                Ok(false)
            }
            _ => Err(Stop::Bad),
        }
    }

    /// Starts (or, for a scalar, reads) a value whose first byte is `b`.
    fn value(&mut self, b: u8) -> Result<bool, Stop> {
        // Scalars are scanned before anything changes, so a token cut by the block end is
        // simply read again after the refill.
        let scalar_end = match b {
            b'{' | b'[' => None,
            b'"' => {
                let token = self.string(self.pos)?;
                Some((token.end, token.continuation))
            }
            b't' => Some((self.literal(b"true")?, 0)),
            b'f' => Some((self.literal(b"false")?, 0)),
            b'n' => Some((self.literal(b"null")?, 0)),
            b'-' | b'0'..=b'9' => Some((self.number()?, 0)),
            _ => return Err(Stop::Bad),
        };
        let member = self.pending_member.take();
        let mode = match self.next {
            Mode::Prune(rule) if b == b'{' => Mode::Prune(rule),
            Mode::Prune(_) | Mode::Capture => {
                if self.capture.is_none() {
                    self.capture = Some(Capture {
                        start: self.base + self.pos as u64,
                        depth: self.stack.len(),
                        key: self.pending_key.take(),
                    });
                }
                Mode::Capture
            }
            Mode::Skip => Mode::Skip,
        };
        if let Some((end, continuation)) = scalar_end {
            self.continuation_in_line += continuation;
            self.pos = end;
            return self.after_value();
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(Stop::Bad);
        }
        if let (Some(member), b'{') = (member, b) {
            self.members.push(member);
        }
        if let Mode::Prune(_) = mode {
            self.objects.push((self.pending_key.take(), Map::new()));
        }
        self.stack.push(Frame { object: b == b'{', mode });
        self.pos += 1;
        self.expect = if b == b'{' { Expect::FirstKeyOrEnd } else { Expect::FirstValueOrArrayEnd };
        Ok(false)
    }

    /// Reads a member's key and decides what happens to its value.
    fn key(&mut self) -> Result<bool, Stop> {
        let at = self.position();
        let token = self.string(self.pos)?;
        let Some(frame) = self.stack.last() else { return Err(Stop::Bad) };
        let text = &self.buf[self.pos..token.end];
        self.next = match frame.mode {
            Mode::Skip => Mode::Skip,
            Mode::Capture => {
                // A direct member of a kept object: remember where it is.
                if let Some(c) = &self.capture
                    && c.depth + 1 == self.stack.len()
                {
                    let mut path: Vec<String> = self.objects.iter().filter_map(|(k, _)| k.clone()).collect();
                    path.extend(c.key.clone());
                    path.push(decode_key(text, token.escaped)?);
                    self.pending_member = Some((path, at));
                }
                Mode::Capture
            }
            Mode::Prune(Keep::Keys(keys)) => {
                let key = decode_key(text, token.escaped)?;
                match keys.iter().find(|(k, _)| *k == key) {
                    Some((_, rule)) => {
                        self.pending_key = Some(key);
                        mode_of(rule)
                    }
                    None => Mode::Skip,
                }
            }
            Mode::Prune(Keep::Each(rule)) => {
                self.pending_key = Some(decode_key(text, token.escaped)?);
                mode_of(rule)
            }
            Mode::Prune(Keep::All) => Mode::Capture,
        };
        self.continuation_in_line += token.continuation;
        self.pos = token.end;
        self.expect = Expect::Colon;
        Ok(false)
    }

    /// Ends the innermost object or array.
    fn close(&mut self) -> Result<bool, Stop> {
        let Some(frame) = self.stack.pop() else { return Err(Stop::Bad) };
        self.pos += 1;
        if let Mode::Prune(_) = frame.mode {
            let Some((key, map)) = self.objects.pop() else { return Err(Stop::Bad) };
            self.place(key, Value::Object(map));
        }
        self.after_value()
    }

    /// After a whole value: a kept value that ends here is parsed; then what may follow.
    fn after_value(&mut self) -> Result<bool, Stop> {
        if self.capture.as_ref().is_some_and(|c| c.depth == self.stack.len())
            && let Some(c) = self.capture.take()
        {
            let start = usize::try_from(c.start - self.base).map_err(|_| Stop::Bad)?;
            let value: Value = serde_json::from_slice(&self.buf[start..self.pos]).map_err(|_| Stop::Bad)?;
            self.place(c.key, value);
        }
        self.expect = match self.stack.last() {
            None => Expect::Done,
            Some(f) if f.object => Expect::CommaOrObjectEnd,
            Some(_) => Expect::CommaOrArrayEnd,
        };
        Ok(false)
    }

    /// Puts a finished kept value into its parent (or makes it the document).
    fn place(&mut self, key: Option<String>, value: Value) {
        match (self.objects.last_mut(), key) {
            (Some((_, parent)), Some(key)) => {
                parent.insert(key, value);
            }
            _ => self.root = Some(value),
        }
    }

    fn literal(&self, word: &[u8]) -> Result<usize, Stop> {
        let end = self.pos + word.len();
        match self.buf.get(self.pos..end) {
            Some(bytes) if bytes == word => Ok(end),
            Some(_) => Err(Stop::Bad),
            None if self.eof => Err(Stop::Bad),
            None => Err(Stop::NeedMore),
        }
    }

    /// The end of the number at `pos` (RFC 8259 grammar).
    fn number(&self) -> Result<usize, Stop> {
        let mut at = self.pos;
        if self.peek(at)? == Some(b'-') {
            at += 1;
        }
        match self.peek(at)? {
            Some(b'0') => at += 1,
            Some(b'1'..=b'9') => at = self.digits(at)?,
            _ => return Err(Stop::Bad),
        }
        if self.peek(at)? == Some(b'.') {
            let after = self.digits(at + 1)?;
            if after == at + 1 {
                return Err(Stop::Bad);
            }
            at = after;
        }
        if let Some(b'e' | b'E') = self.peek(at)? {
            at += 1;
            if let Some(b'+' | b'-') = self.peek(at)? {
                at += 1;
            }
            let after = self.digits(at)?;
            if after == at {
                return Err(Stop::Bad);
            }
            at = after;
        }
        Ok(at)
    }

    fn digits(&self, mut at: usize) -> Result<usize, Stop> {
        while let Some(b'0'..=b'9') = self.peek(at)? {
            at += 1;
        }
        Ok(at)
    }

    /// Scans the string starting at `start` (its opening quote).
    fn string(&self, start: usize) -> Result<StringToken, Stop> {
        let buf = &self.buf;
        let mut at = start + 1;
        let mut escaped = false;
        let mut non_ascii = false;
        loop {
            // Eight plain bytes at a time: no quote, backslash, control or non-ASCII byte.
            while let Some(word) = buf.get(at..at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
                if special(u64::from_le_bytes(word)) {
                    break;
                }
                at += 8;
            }
            let Some(&b) = buf.get(at) else {
                return Err(if self.eof { Stop::Bad } else { Stop::NeedMore });
            };
            match b {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    match buf.get(at + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => at += 2,
                        Some(b'u') => match buf.get(at + 2..at + 6) {
                            Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => at += 6,
                            Some(_) => return Err(Stop::Bad),
                            None if self.eof => return Err(Stop::Bad),
                            None => return Err(Stop::NeedMore),
                        },
                        Some(_) => return Err(Stop::Bad),
                        None if self.eof => return Err(Stop::Bad),
                        None => return Err(Stop::NeedMore),
                    }
                }
                0..=0x1F => return Err(Stop::Bad),
                0x80.. => {
                    non_ascii = true;
                    at += 1;
                }
                _ => at += 1,
            }
        }
        let body = &buf[start + 1..at];
        let mut continuation = 0;
        if non_ascii {
            std::str::from_utf8(body).map_err(|_| Stop::Bad)?;
            continuation = body.iter().filter(|&&b| b & 0xC0 == 0x80).count() as u64;
        }
        Ok(StringToken { end: at + 1, escaped, continuation })
    }
}

/// A scanned string: where it ends (after the closing quote), whether it holds an escape, and
/// how many UTF-8 continuation bytes it has.
struct StringToken {
    end: usize,
    escaped: bool,
    continuation: u64,
}

/// Whether any of the eight bytes in `w` is a quote, a backslash, a control character or
/// non-ASCII (the classic "has a zero byte" bit trick; exact for "any").
fn special(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    has_zero(w ^ (ONES * u64::from(b'"')))
        || has_zero(w ^ (ONES * u64::from(b'\\')))
        || w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0
        || w & HIGH != 0
}

/// A key's text (with its quotes) as a string.
fn decode_key(token: &[u8], escaped: bool) -> Result<String, Stop> {
    if escaped {
        return serde_json::from_slice(token).map_err(|_| Stop::Bad);
    }
    let body = token.get(1..token.len().saturating_sub(1)).ok_or(Stop::Bad)?;
    String::from_utf8(body.to_vec()).map_err(|_| Stop::Bad)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    static KEEP: Keep = Keep::Keys(&[
        ("mcpServers", Keep::All),
        ("projects", Keep::Each(&Keep::Keys(&[("mcpServers", Keep::All), ("disabledMcpServers", Keep::All)]))),
    ]);

    fn read(text: &str, block: usize) -> Option<KeptDocument> {
        read_kept_in_blocks(&mut text.as_bytes(), &KEEP, block)
    }

    fn strict(text: &str) -> bool {
        serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
    }

    #[test]
    fn kept_members_are_built_and_the_rest_is_dropped_whatever_the_block_size() {
        let text = r#"{"numStartups": 3, "mcpServers": {"a": {"command": "x", "env": {"K": "v\u00e9"}}},
            "projects": {"/p\\q": {"history": [{"display": "long \"quoted\" text \u2603", "n": -1.5e3}],
              "mcpServers": {"b": {"url": "https://b"}}, "disabledMcpServers": ["b"]}, "/r": 7},
            "tail": [true, false, null, {}]}"#;
        let want = serde_json::json!({
            "mcpServers": {"a": {"command": "x", "env": {"K": "vé"}}},
            "projects": {"/p\\q": {"mcpServers": {"b": {"url": "https://b"}}, "disabledMcpServers": ["b"]}, "/r": 7}
        });
        for block in [1, 2, 3, 7, 64, 1 << 16] {
            let doc = read(text, block).expect("strict JSON");
            assert_eq!(doc.value, want, "block {block}");
        }
    }

    #[test]
    fn anything_but_strict_json_gives_up() {
        let bad = [
            "",
            "   ",
            "{",
            "{\"a\": 1,}",
            "{\"a\": 1} x",
            "{\"a\" 1}",
            "[1 2]",
            "{\"a\": 01}",
            "{\"a\": 1.}",
            "{\"a\": -}",
            "{\"a\": 1e}",
            "{\"a\": tru}",
            "{\"a\": \"x\ty\"}",
            "{\"a\": \"\\x\"}",
            "{\"a\": \"\\u12g4\"}",
            "{\"a\": \"open}",
            "// c\n{}",
            "\u{feff}{}",
            "{'a': 1}",
            "{\"mcpServers\": {\"a\": }}",
        ];
        for text in bad {
            assert!(!strict(text), "serde_json refuses {text:?} too");
            for block in [1, 5, 1 << 16] {
                assert!(read(text, block).is_none(), "{text:?} with block {block}");
            }
        }
        let mut not_utf8 = b"{\"history\": \"a".to_vec();
        not_utf8.extend([0xFF, b'"', b'}']);
        assert!(read_kept_in_blocks(&mut not_utf8.as_slice(), &KEEP, 4).is_none());
        let deep = format!("{{\"x\": {}{}}}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(read(&deep, 1 << 16).is_none());
        for good in ["{}", "[]", "0", "\"s\"", " {\"a\": [1, -0.5e-7, \"\\ud83d\\ude00\"]} \n"] {
            assert!(read(good, 3).is_some(), "{good:?}");
        }
    }

    #[test]
    fn members_of_kept_objects_are_placed_at_their_keys() {
        let text = "{\n  \"mcpServers\": {\n    \"a\": {},\n  \"é\": 1,   \"b\": {\"x\": {}}\n  },\n  \"projects\": {\"/p\": {\"history\": [\"ü\"], \"mcpServers\": {\"c\": {}}}}\n}\n";
        for block in [1, 4, 1 << 16] {
            let doc = read(text, block).expect("strict");
            // Written independently: lines counted, columns in characters.
            let at = |needle: &str| {
                let before = &text[..text.find(needle).unwrap()];
                let line_start = before.rfind('\n').map_or(0, |i| i + 1);
                let line = before.matches('\n').count() as u32 + 1;
                TextPosition { line, column: before[line_start..].chars().count() as u32 + 1 }
            };
            let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            assert_eq!(
                doc.members,
                vec![
                    (path(&["mcpServers", "a"]), at("\"a\": {}")),
                    (path(&["mcpServers", "b"]), at("\"b\"")),
                    (path(&["projects", "/p", "mcpServers", "c"]), at("\"c\"")),
                ],
                "block {block}"
            );
        }
    }
}
