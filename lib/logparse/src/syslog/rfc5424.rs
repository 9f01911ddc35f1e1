//! RFC 5424 syslog: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID k="v"...] MSG`.
//! Nil values (`-`) become absent fields; structured-data parameters become fields named
//! `<sd-id>.<param>` (`exampleSDID@32473.iut`).

use super::{facility_name, push_field};
use crate::cursor::{as_str, Cursor};
use crate::{level, time, Format, ParseContext, Parsed};

/// Parses the rest of a line after `<PRI>` (which spans `start` bytes) as RFC 5424; `None`
/// when the version and the five header fields are not there.
pub(super) fn parse(line: &str, pri: u8, start: usize, ctx: &ParseContext) -> Option<Parsed> {
    let s = line.as_bytes();
    let mut c = Cursor::at(s, start);
    let (version, _) = c.digits_between(1, 2)?;
    if version == 0 || !c.eat(b' ') {
        return None;
    }
    let timestamp_ms = if c.eat(b'-') {
        None
    } else {
        let (ms, len) = time::scan(c.rest(), ctx.now_ms)?;
        c.advance(len);
        Some(ms)
    };
    let mut header = [""; 4];
    for slot in &mut header {
        if !c.eat(b' ') {
            return None;
        }
        *slot = as_str(c.token());
        if slot.is_empty() {
            return None;
        }
    }
    let [hostname, app, pid, msgid] = header;
    let mut fields = Vec::new();
    push_field(&mut fields, "hostname", hostname);
    push_field(&mut fields, "app", app);
    push_field(&mut fields, "pid", pid);
    push_field(&mut fields, "msgid", msgid);
    fields.push(("facility".to_string(), facility_name(pri).to_string()));
    if c.eat(b' ') {
        structured_data(&mut c, &mut fields);
    }
    Some(Parsed {
        timestamp_ms,
        level: Some(level::from_syslog_severity(pri & 7)),
        message: None,
        fields,
        format: Format::Syslog5424,
    })
}

/// Reads `[id k="v" ...]...` into fields; stops quietly at anything malformed.
fn structured_data(c: &mut Cursor<'_>, fields: &mut Vec<(String, String)>) {
    while c.eat(b'[') {
        let id = as_str(c.take_until(|b| b == b' ' || b == b']'));
        loop {
            if c.eat(b']') {
                break;
            }
            if !c.eat(b' ') {
                return;
            }
            let name = as_str(c.take_until(|b| b == b'=' || b == b' ' || b == b']'));
            if !c.eat(b'=') || !c.eat(b'"') {
                return;
            }
            let Some(value) = quoted_value(c) else {
                return;
            };
            fields.push((format!("{id}.{name}"), value));
        }
    }
}

/// Reads a PARAM-VALUE up to its closing quote (already past the opening one), undoing
/// the `\"`, `\\` and `\]` escapes.
fn quoted_value(c: &mut Cursor<'_>) -> Option<String> {
    let mut out = Vec::new();
    loop {
        let b = c.peek()?;
        c.advance(1);
        match b {
            b'"' => return String::from_utf8(out).ok(),
            b'\\' => match c.peek() {
                Some(e @ (b'"' | b'\\' | b']')) => {
                    out.push(e);
                    c.advance(1);
                }
                _ => out.push(b'\\'),
            },
            _ => out.push(b),
        }
    }
}
