//! Apache httpd error log: 2.2 `[Sun Dec 04 04:47:44 2005] [notice] text` and 2.4
//! `[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] [client
//! 1.2.3.4:5678] text`. Fields: `module`, `pid`, `tid`, `client` where present.

use crate::cursor::{as_str, Cursor};
use crate::{level, Format, Parsed};

/// Continues a line that starts with `[timestamp` (already read: `timestamp_ms`, and `end`,
/// the byte offset just past it) as an Apache error-log line; `None` when it is not one
/// (the second bracket must hold a level, optionally after `module:`).
pub(crate) fn parse_after_timestamp(line: &str, timestamp_ms: i64, end: usize) -> Option<Parsed> {
    let mut c = Cursor::at(line.as_bytes(), end);
    if !c.eat(b']') || !c.eat(b' ') || !c.eat(b'[') {
        return None;
    }
    let tag = c.take_until(|b| b == b']' || b == b' ');
    if !c.eat(b']') {
        return None;
    }
    let (module, word) = match tag.iter().position(|&b| b == b':') {
        Some(i) => (tag.get(..i), tag.get(i + 1..).unwrap_or(&[])),
        None => (None, tag),
    };
    let level = level::word(word)?;
    let mut fields = Vec::new();
    if let Some(m) = module.filter(|m| !m.is_empty()) {
        fields.push(("module".to_string(), as_str(m).to_string()));
    }
    while c.eat(b' ') && c.eat(b'[') {
        let body = as_str(c.take_until(|b| b == b']'));
        if !c.eat(b']') {
            break;
        }
        bracket_fields(body, &mut fields);
    }
    Some(Parsed {
        timestamp_ms: Some(timestamp_ms),
        level: Some(level),
        message: None,
        fields,
        format: Format::ApacheError,
    })
}

/// `pid 35708:tid 4328636416`, `pid 35708`, `client 1.2.3.4:5678`; anything else is text.
fn bracket_fields(body: &str, fields: &mut Vec<(String, String)>) {
    if let Some(rest) = body.strip_prefix("pid ") {
        let (pid, tid) = match rest.split_once(":tid ") {
            Some((p, t)) => (p, Some(t)),
            None => (rest, None),
        };
        fields.push(("pid".to_string(), pid.to_string()));
        if let Some(t) = tid {
            fields.push(("tid".to_string(), t.to_string()));
        }
    } else if let Some(client) = body.strip_prefix("client ") {
        fields.push(("client".to_string(), client.to_string()));
    }
}
