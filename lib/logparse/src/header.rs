//! Finding the level in a line's header: the few tokens right after the timestamp (or the
//! first token of a line without one). A level word further into the text is message
//! content and never read as the level.

use vigil_model::Level;

use crate::level;

/// How many tokens after a timestamp may hold the level (`081109 203615 148 INFO`,
/// logcat `03-17 16:13:38.811  1702  2395 D`, Python `- root - WARNING`).
pub(crate) const HEADER_TOKENS: usize = 4;

/// Bytes that separate header tokens.
fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'|')
}

/// Strips wrapping punctuation: `[INFO]`, `(WARN)`, `<error>`, `INFO:`, `Info,`.
fn strip(tok: &[u8]) -> &[u8] {
    let start = tok.iter().position(|b| !matches!(b, b'[' | b'(' | b'<' | b'{')).unwrap_or(tok.len());
    let tok = tok.get(start..).unwrap_or(&[]);
    let end =
        tok.iter().rposition(|b| !matches!(b, b']' | b')' | b'>' | b'}' | b':' | b',' | b';')).map_or(0, |p| p + 1);
    tok.get(..end).unwrap_or(&[])
}

/// The level among the first `max_tokens` tokens of `s` (the text after a timestamp).
/// Bare punctuation (`-`, `]`, `,`) does not count as a token. The header ends at a token
/// ending in `:` (`dfs.DataNode$PacketResponder:`) and at a plain word (`Starting`) unless a
/// separator follows it (Python's `- root - WARNING`): ids, numbers, `[thread]`,
/// `dotted.names` and upper-case labels (`UTC`, `CBS`) are header, prose is not. A single letter counts only right after
/// all-digit tokens, the logcat `pid tid L` position.
pub(crate) fn level_after_timestamp(s: &[u8], max_tokens: usize) -> Option<Level> {
    let mut seen = 0;
    let mut all_digits = true;
    let mut after_plain_word = false;
    for raw in s.split(|&b| is_sep(b)) {
        let tok = strip(raw);
        if !tok.iter().any(u8::is_ascii_alphanumeric) {
            if !tok.is_empty() || !raw.is_empty() {
                after_plain_word = false;
            }
            continue;
        }
        if after_plain_word {
            return None;
        }
        if let Some(l) = level_in_token(tok) {
            return Some(l);
        }
        if let [b] = tok {
            if all_digits && seen > 0 {
                if let Some(l) = level::letter(*b) {
                    return Some(l);
                }
            }
        }
        all_digits &= tok.iter().all(u8::is_ascii_digit);
        after_plain_word =
            raw.len() > 1 && raw.iter().all(u8::is_ascii_alphabetic) && raw.iter().any(u8::is_ascii_lowercase);
        seen += 1;
        if seen >= max_tokens || raw.last() == Some(&b':') {
            return None;
        }
    }
    None
}

/// A level word, or `level=...` / `lvl=...` / `severity=...`.
fn level_in_token(tok: &[u8]) -> Option<Level> {
    if let Some(eq) = tok.iter().position(|&b| b == b'=') {
        let key = tok.get(..eq)?;
        let is_level_key =
            [&b"level"[..], b"lvl", b"severity", b"loglevel"].iter().any(|k| key.eq_ignore_ascii_case(k));
        if !is_level_key {
            return None;
        }
        let value = tok.get(eq + 1..)?;
        let value = value.strip_prefix(b"\"").unwrap_or(value);
        return level::word(value);
    }
    level::word(tok)
}

/// The level of a line without a timestamp: a level word leading the line (`ERROR x`,
/// `[WARN] x`, `INFO:root:x`), or a logcat-brief letter (`E/Tag( 123): x`).
pub(crate) fn leading_level(s: &[u8]) -> Option<Level> {
    let tok = s.split(|&b| is_sep(b)).next()?;
    if let [l, b'/', next, ..] = tok {
        if next.is_ascii_alphabetic() {
            return level::letter(*l);
        }
    }
    level_in_token(strip(tok))
}
