//! Plain-text lines that open with a timestamp: bare (`2015-10-18 18:01:47,978 INFO ...`,
//! `081109 203615 148 INFO ...`), bracketed (`[2016-12-19 20:26:45,231] INFO ...`), glog /
//! klog (`I0102 15:04:05.000000 ...`), an epoch number, or a level word first
//! (`INFO 2015-...`, Ruby's `I, [2016-...]`). The level is looked for only in the header
//! tokens right after the timestamp. BSD-syslog and Apache-error lines found on the way
//! are handed to their modules, so each line's timestamp is read once.

use vigil_model::Level;

use crate::cursor::Cursor;
use crate::header::{leading_level, level_after_timestamp, HEADER_TOKENS};
use crate::{apache_error, level, syslog, time, Format, ParseContext, Parsed};

/// Parses a line that starts with a timestamp, or returns `None`.
pub(crate) fn parse(line: &str, ctx: &ParseContext) -> Option<Parsed> {
    let s = line.as_bytes();
    let first = *s.first()?;
    if let Some((ms, len)) = time::scan(s, ctx.now_ms) {
        if let Some(p) = syslog::parse_without_pri(line, (ms, len)) {
            return Some(p);
        }
        return Some(found(ms, s.get(len..), None));
    }
    if first == b'[' {
        if let Some((ms, len)) = time::scan(s.get(1..)?, ctx.now_ms) {
            if let Some(p) = apache_error::parse_after_timestamp(line, ms, 1 + len) {
                return Some(p);
            }
            return Some(found(ms, s.get(1 + len..), None));
        }
    }
    if let Some(l) = level::letter(first).filter(|_| matches!(first, b'I' | b'W' | b'E' | b'F')) {
        if let Some((ms, _)) = time::scan_glog(s.get(1..)?, ctx.now_ms) {
            // The letter is authoritative; the rest of glog's header is not searched.
            return Some(found(ms, None, Some(l)));
        }
    }
    if let Some((ms, len)) = time::scan_leading_epoch(s) {
        return Some(found(ms, s.get(len..), None));
    }
    level_first(s, ctx)
}

/// `INFO 2015-10-18 ...`, `[WARN] [2015-...] ...`, `I, [2016-12-19T20:26:45.231 #1]  INFO -- :`.
fn level_first(s: &[u8], ctx: &ParseContext) -> Option<Parsed> {
    let mut c = Cursor::new(s);
    let tok = c.token();
    let lead = match tok {
        [l, b','] => level::letter(*l),
        _ => leading_level(tok),
    }?;
    c.skip_blanks();
    c.eat(b'[');
    let (ms, len) = time::scan(c.rest(), ctx.now_ms)?;
    let after = c.rest().get(len..);
    Some(found(ms, after, Some(lead)))
}

/// A timestamped line; the level from the header tokens in `after`, else `lead`.
fn found(timestamp_ms: i64, after: Option<&[u8]>, lead: Option<Level>) -> Parsed {
    let level = after.and_then(|a| level_after_timestamp(a, HEADER_TOKENS)).or(lead);
    Parsed {
        timestamp_ms: Some(timestamp_ms),
        level,
        message: None,
        fields: Vec::new(),
        format: Format::LeadingTimestamp,
    }
}
