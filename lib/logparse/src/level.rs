//! Level words and numbers: which tokens count as a level (spellings come from
//! [`Level::parse`]), and the numeric schemes (syslog severity, HTTP status, OpenTelemetry
//! `severityNumber`, pino/bunyan levels).

use vigil_model::Level;

/// Longest level spelling worth asking [`Level::parse`] about (`informational`).
const MAX_WORD: usize = 13;

/// A level word of at least three letters (`INFO`, `Warning`, `err`, `trace1`): the leading
/// run of ASCII letters in `token`, which must not be followed by another letter or digit
/// (Apache's `trace1`..`trace8` excepted).
pub(crate) fn word(token: &[u8]) -> Option<Level> {
    let n = token.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    if !(3..=MAX_WORD).contains(&n) {
        return None;
    }
    let letters = token.get(..n)?;
    // Every spelling Level::parse knows starts with one of these; skip the allocation it
    // makes for the many words that cannot be a level.
    if !matches!(
        letters.first()?.to_ascii_lowercase(),
        b't' | b'f' | b'v' | b'd' | b'i' | b'n' | b'w' | b'e' | b's' | b'c' | b'a' | b'p'
    ) {
        return None;
    }
    let rest = token.get(n..).unwrap_or(&[]);
    let trace_digit = letters.eq_ignore_ascii_case(b"trace")
        && rest.first().is_some_and(u8::is_ascii_digit)
        && !rest.get(1).is_some_and(u8::is_ascii_alphanumeric);
    if rest.first().is_some_and(u8::is_ascii_alphanumeric) && !trace_digit {
        return None;
    }
    Level::parse(std::str::from_utf8(letters).ok()?)
}

/// A one-letter level as logcat, glog and klog write it (`V D I W E F A`). Only meaningful
/// where the format puts a letter, never in free text.
pub(crate) fn letter(b: u8) -> Option<Level> {
    match b {
        b'V' => Some(Level::Trace),
        b'D' => Some(Level::Debug),
        b'I' => Some(Level::Info),
        b'W' => Some(Level::Warn),
        b'E' => Some(Level::Error),
        b'F' | b'A' => Some(Level::Fatal),
        _ => None,
    }
}

/// Syslog severity (PRI & 7): 0-2 fatal, 3 error, 4 warn, 5 notice, 6 info, 7 debug.
pub(crate) fn from_syslog_severity(sev: u8) -> Level {
    match sev {
        0..=2 => Level::Fatal,
        3 => Level::Error,
        4 => Level::Warn,
        5 => Level::Notice,
        6 => Level::Info,
        _ => Level::Debug,
    }
}

/// Access-log status: 5xx error, 4xx warn, anything else info.
pub(crate) fn from_http_status(status: u16) -> Level {
    match status {
        500..=599 => Level::Error,
        400..=499 => Level::Warn,
        _ => Level::Info,
    }
}

/// OpenTelemetry `severityNumber`: 1-4 trace, 5-8 debug, 9-12 info, 13-16 warn,
/// 17-20 error, 21-24 fatal.
pub(crate) fn from_otel_number(n: i64) -> Option<Level> {
    Some(match n {
        1..=4 => Level::Trace,
        5..=8 => Level::Debug,
        9..=12 => Level::Info,
        13..=16 => Level::Warn,
        17..=20 => Level::Error,
        21..=24 => Level::Fatal,
        _ => return None,
    })
}

/// pino / bunyan numeric levels: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal.
pub(crate) fn from_pino_number(n: i64) -> Option<Level> {
    Some(match n {
        10 => Level::Trace,
        20 => Level::Debug,
        30 => Level::Info,
        40 => Level::Warn,
        50 => Level::Error,
        60 => Level::Fatal,
        _ => return None,
    })
}
