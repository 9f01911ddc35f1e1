//! logfmt: `time=2023-01-02T03:04:05Z level=info msg="quoted \" text" k=v`. A line counts
//! as logfmt only when it starts with a pair and is mostly pairs (at least two, and at most
//! one bare word per three pairs). `time`/`ts`/..., `level`/`lvl`/... and `msg`/`message`
//! are consumed; every other pair becomes a field.

use crate::cursor::{as_str, Cursor};
use crate::{keys, time, Format, ParseContext, Parsed};

/// Parses a logfmt line, or returns `None` when the line is not mostly `key=value` pairs.
pub(crate) fn parse(line: &str, ctx: &ParseContext) -> Option<Parsed> {
    let s = line.as_bytes();
    if !s.first().is_some_and(|&b| is_key_start(b)) {
        return None;
    }
    let mut c = Cursor::new(s);
    let mut pairs: Vec<(&str, String)> = Vec::new();
    let mut bare = 0usize;
    loop {
        c.skip_blanks();
        if c.is_end() {
            break;
        }
        let key = c.take_until(|b| !is_key_byte(b));
        if key.first().is_some_and(|&b| is_key_start(b)) && c.eat(b'=') {
            let value = if c.eat(b'"') { quoted(&mut c) } else { as_str(c.token()).to_string() };
            pairs.push((as_str(key), value));
        } else {
            if pairs.is_empty() {
                return None;
            }
            c.token();
            bare += 1;
            if bare * 3 > pairs.len() + 3 {
                return None;
            }
        }
    }
    if pairs.len() < 2 || bare * 3 > pairs.len() {
        return None;
    }
    Some(build(pairs, ctx))
}

fn build(pairs: Vec<(&str, String)>, ctx: &ParseContext) -> Parsed {
    let mut p = Parsed { format: Format::Logfmt, ..Parsed::default() };
    let mut used = vec![false; pairs.len()];
    let find = |names: &[&str], ok: &dyn Fn(&str) -> bool| {
        names.iter().find_map(|name| pairs.iter().position(|(k, v)| k == name && ok(v)))
    };
    if let Some(i) = find(keys::TIMESTAMP_KEYS, &|v| time::parse_value(v, ctx.now_ms).is_some()) {
        p.timestamp_ms = pairs.get(i).and_then(|(_, v)| time::parse_value(v, ctx.now_ms));
        used[i] = true;
    }
    if let Some(i) = find(keys::LEVEL_KEYS, &|v| keys::level_value(v).is_some()) {
        p.level = pairs.get(i).and_then(|(_, v)| keys::level_value(v));
        used[i] = true;
    }
    if let Some(i) = find(&["msg", "message"], &|_| true) {
        p.message = pairs.get(i).map(|(_, v)| v.clone());
        used[i] = true;
    }
    p.fields = pairs.into_iter().zip(used).filter(|(_, u)| !u).map(|((k, v), _)| (k.to_string(), v)).collect();
    p
}

fn is_key_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'@'
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'@' | b'/')
}

/// Reads a quoted value (past the opening quote) up to the closing quote or the end of the
/// line, undoing `\"`, `\\`, `\n`, `\t` and `\r`.
fn quoted(c: &mut Cursor<'_>) -> String {
    let mut out = Vec::new();
    while let Some(b) = c.peek() {
        c.advance(1);
        match b {
            b'"' => break,
            b'\\' => {
                let e = c.peek();
                let unescaped = match e {
                    Some(b'"') => Some(b'"'),
                    Some(b'\\') => Some(b'\\'),
                    Some(b'n') => Some(b'\n'),
                    Some(b't') => Some(b'\t'),
                    Some(b'r') => Some(b'\r'),
                    _ => None,
                };
                match unescaped {
                    Some(u) => {
                        out.push(u);
                        c.advance(1);
                    }
                    None => out.push(b'\\'),
                }
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
