//! BSD syslog (RFC 3164): `[<PRI>]Mmm dd hh:mm:ss host tag[pid]: msg`. The year is guessed
//! from the context's clock. Also accepts the ISO timestamp rsyslog writes
//! (`2023-03-01T10:00:00.123+01:00 host app[12]: msg`), but without `<PRI>` only when the tag
//! carries a pid, so a plain `timestamp word word:` line is not taken for syslog.

use super::{facility_name, push_field, split_tag};
use crate::cursor::{sub, Cursor};
use crate::{header, level, time, Format, ParseContext, Parsed};

/// The parts of a header after the PRI.
#[derive(Default)]
struct Header<'a> {
    timestamp_ms: Option<i64>,
    bsd_timestamp: bool,
    hostname: Option<&'a str>,
    app: Option<&'a str>,
    pid: Option<&'a str>,
    /// Byte offset where the free text starts.
    msg_start: usize,
}

/// A line that starts with `<PRI>` but not with an RFC 5424 version: always syslog, even
/// when nothing after the PRI parses.
pub(super) fn parse_with_pri(line: &str, pri: u8, start: usize, ctx: &ParseContext) -> Parsed {
    let rest = line.as_bytes().get(start..).unwrap_or(&[]);
    let ts = time::scan(rest, ctx.now_ms);
    let h = ts.map(|ts| header(line, start, ts)).unwrap_or(Header { msg_start: start, ..Header::default() });
    let mut p = build(h);
    p.level = Some(level::from_syslog_severity(pri & 7));
    p.fields.push(("facility".to_string(), facility_name(pri).to_string()));
    p
}

/// A line without `<PRI>` whose leading timestamp (`ts`: ms and length) the caller has
/// already read: syslog only when that is a BSD timestamp, or an ISO one followed by
/// `host app[pid]:`.
pub(crate) fn parse_without_pri(line: &str, ts: (i64, usize)) -> Option<Parsed> {
    let h = header(line, 0, ts);
    if !h.bsd_timestamp && h.pid.is_none() {
        return None;
    }
    let msg = line.as_bytes().get(h.msg_start..).unwrap_or(&[]);
    let level = header::level_after_timestamp(msg, 1);
    let mut p = build(h);
    p.level = level;
    Some(p)
}

fn build(h: Header<'_>) -> Parsed {
    let mut fields = Vec::new();
    push_field(&mut fields, "hostname", h.hostname.unwrap_or(""));
    push_field(&mut fields, "app", h.app.unwrap_or(""));
    push_field(&mut fields, "pid", h.pid.unwrap_or(""));
    Parsed { timestamp_ms: h.timestamp_ms, level: None, message: None, fields, format: Format::Syslog3164 }
}

/// The timestamp at `start` (already read: ms and length), then optional hostname, then
/// optional tag.
fn header(line: &str, start: usize, (ts, len): (i64, usize)) -> Header<'_> {
    let s = line.as_bytes();
    let mut h = Header {
        timestamp_ms: Some(ts),
        bsd_timestamp: starts_with_month(s.get(start..).unwrap_or(&[])),
        ..Header::default()
    };
    let mut c = Cursor::at(s, start + len);
    c.skip_blanks();
    h.msg_start = c.pos();
    let tok_start = c.pos();
    let first = sub(line, tok_start, tok_start + c.token().len());
    if let Some((app, pid)) = split_tag(first) {
        (h.app, h.pid) = (Some(app), pid);
        c.skip_blanks();
        h.msg_start = c.pos();
        return h;
    }
    if !is_hostname(first) {
        return h;
    }
    h.hostname = Some(first);
    c.skip_blanks();
    h.msg_start = c.pos();
    let tag_start = c.pos();
    let second = sub(line, tag_start, tag_start + c.token().len());
    if let Some((app, pid)) = split_tag(second) {
        (h.app, h.pid) = (Some(app), pid);
        c.skip_blanks();
        h.msg_start = c.pos();
    }
    h
}

/// `Oct 11 ...`, not `Sun Dec 04 ... 2005` (ctime) nor a digit.
fn starts_with_month(s: &[u8]) -> bool {
    match s {
        [a, b, c, ..] => time::civil::month_from_abbrev([*a, *b, *c]).is_some(),
        _ => false,
    }
}

/// A hostname or address; a level word (`INFO`) is the header of some other format.
fn is_hostname(tok: &str) -> bool {
    tok.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric)
        && !tok.ends_with(':')
        && level::word(tok.as_bytes()).is_none()
        && tok.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
}
