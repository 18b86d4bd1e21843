//! Taking one of Muster's changes back out of a file the developer edited since: the region
//! where what Muster wrote differs from what it replaced, with up to two whole lines of context
//! on each side, must occur exactly once in the current file, and is replaced by the original's
//! counterpart. Anything else (the developer edited the same lines, the context repeats) is
//! refused rather than guessed. Pure.

/// Start of the line holding `pos`.
fn line_start(buf: &[u8], pos: usize) -> usize {
    buf[..pos].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
}

/// Start of the line holding `pos`, then `n` more lines back.
fn back_lines(buf: &[u8], pos: usize, n: usize) -> usize {
    let mut start = line_start(buf, pos);
    for _ in 0..n {
        if start == 0 {
            break;
        }
        start = line_start(buf, start - 1);
    }
    start
}

/// End of the line holding `pos` (after its newline), then `n` more lines forward.
fn fwd_lines(buf: &[u8], pos: usize, n: usize) -> usize {
    let mut at = pos;
    for _ in 0..=n {
        match buf[at..].iter().position(|&b| b == b'\n') {
            Some(i) => at += i + 1,
            None => return buf.len(),
        }
    }
    at
}

/// `current` with the change `before → after` taken back out, or `None` when the changed
/// region (with its context) is not found exactly once.
pub fn take_back(before: &[u8], after: &[u8], current: &[u8]) -> Option<Vec<u8>> {
    let prefix = before.iter().zip(after).take_while(|(a, b)| a == b).count();
    let room = before.len().min(after.len()) - prefix;
    let suffix = before.iter().rev().zip(after.iter().rev()).take(room).take_while(|(a, b)| a == b).count();
    let start = back_lines(after, prefix, 2);
    let end = fwd_lines(after, after.len() - suffix, 2).max(after.len() - suffix);
    let needle = &after[start..end];
    let replacement = &before[start..before.len() - (after.len() - end)];
    if needle.is_empty() {
        return None;
    }
    let mut hits = current.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i);
    let at = hits.next()?;
    if hits.next().is_some() {
        return None;
    }
    let mut out = Vec::with_capacity(current.len() + replacement.len());
    out.extend_from_slice(&current[..at]);
    out.extend_from_slice(replacement);
    out.extend_from_slice(&current[at + needle.len()..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::take_back;

    #[test]
    fn a_flag_comes_back_out_of_a_file_edited_elsewhere() {
        let before = b"a = 1\n\n[s.x]\ncommand = \"npx\"\n\n[s.y]\nurl = \"u\"\n";
        let after = b"a = 1\n\n[s.x]\ncommand = \"npx\"\nenabled = false\n\n[s.y]\nurl = \"u\"\n";
        let current =
            b"# new comment\na = 2\n\n[s.x]\ncommand = \"npx\"\nenabled = false\n\n[s.y]\nurl = \"u\"\nz = 3\n";
        let out = take_back(before, after, current).unwrap();
        assert_eq!(out, b"# new comment\na = 2\n\n[s.x]\ncommand = \"npx\"\n\n[s.y]\nurl = \"u\"\nz = 3\n");
        // Unedited: the original, byte for byte.
        assert_eq!(take_back(before, after, after).unwrap(), before);
    }

    #[test]
    fn an_edit_on_the_same_lines_is_refused() {
        let before = b"{\n  \"x\": {\"command\": \"a\"}\n}\n";
        let after = b"{\n  \"x\": {\"command\": \"a\", \"disabled\": true}\n}\n";
        let current = b"{\n  \"x\": {\"command\": \"b\", \"disabled\": true}\n}\n";
        assert_eq!(take_back(before, after, current), None);
    }
}
