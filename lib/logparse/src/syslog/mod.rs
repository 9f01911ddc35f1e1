//! Syslog: [`rfc3164`] (BSD, with or without `<PRI>`) and [`rfc5424`]. Start at [`parse_with_pri`].
//! The message stays the whole line; the header goes to fields `hostname`, `app`, `pid`,
//! `facility` (and `msgid` plus structured data for RFC 5424).

mod rfc3164;
mod rfc5424;

pub(crate) use rfc3164::parse_without_pri;

use crate::cursor::Cursor;
use crate::{ParseContext, Parsed};

/// Parses a line that starts with `<PRI>` (RFC 5424, else RFC 3164); `None` when it does
/// not. Lines without a PRI go through [`parse_without_pri`] once their timestamp is read.
pub(crate) fn parse_with_pri(line: &str, ctx: &ParseContext) -> Option<Parsed> {
    let (pri, len) = pri(line.as_bytes())?;
    rfc5424::parse(line, pri, len, ctx).or_else(|| Some(rfc3164::parse_with_pri(line, pri, len, ctx)))
}

/// `<PRI>` at the start of the line: the value (0..=191) and the bytes it spans.
fn pri(s: &[u8]) -> Option<(u8, usize)> {
    let mut c = Cursor::new(s);
    if !c.eat(b'<') {
        return None;
    }
    let (v, _) = c.digits_between(1, 3)?;
    if !c.eat(b'>') || v > 191 {
        return None;
    }
    Some((u8::try_from(v).ok()?, c.pos()))
}

/// The facility name for `pri >> 3`.
fn facility_name(pri: u8) -> &'static str {
    const NAMES: [&str; 24] = [
        "kern",
        "user",
        "mail",
        "daemon",
        "auth",
        "syslog",
        "lpr",
        "news",
        "uucp",
        "cron",
        "authpriv",
        "ftp",
        "ntp",
        "security",
        "console",
        "solaris-cron",
        "local0",
        "local1",
        "local2",
        "local3",
        "local4",
        "local5",
        "local6",
        "local7",
    ];
    NAMES.get(usize::from(pri >> 3)).copied().unwrap_or("unknown")
}

/// Splits a syslog tag token (`sshd[24200]:`, `sshd(pam_unix)[19939]:`, `kernel:`) into
/// app and pid. `None` when the token is not a tag (does not end with `:`).
fn split_tag(tok: &str) -> Option<(&str, Option<&str>)> {
    let tok = tok.strip_suffix(':')?;
    if let Some(body) = tok.strip_suffix(']') {
        let open = body.rfind('[')?;
        let app = body.get(..open)?;
        let pid = body.get(open + 1..)?;
        if app.is_empty() || pid.is_empty() {
            return None;
        }
        return Some((app, Some(pid)));
    }
    if tok.is_empty() || tok.contains(['[', ']']) {
        return None;
    }
    Some((tok, None))
}

/// Pushes `key` = `value` unless the value is empty or the RFC 5424 nil `-`.
fn push_field(fields: &mut Vec<(String, String)>, key: &str, value: &str) {
    if !value.is_empty() && value != "-" {
        fields.push((key.to_string(), value.to_string()));
    }
}
