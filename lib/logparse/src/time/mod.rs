//! Timestamp recognition. [`scan`] reads a timestamp at the start of a byte slice in any
//! of the shapes in [`numeric`] and [`named`]; [`parse_value`] reads a whole field value
//! (JSON or logfmt), which may also be an epoch number of unknown unit. [`civil`] does the
//! calendar arithmetic, including the year guess for formats without one.

pub(crate) mod civil;
mod clock;
mod named;
mod numeric;

use crate::cursor::Cursor;

/// Reads a timestamp at the start of `s`. Returns ms since the epoch (local times without a
/// zone are taken as UTC) and the number of bytes it spans.
pub(crate) fn scan(s: &[u8], now_ms: i64) -> Option<(i64, usize)> {
    let first = *s.first()?;
    if !first.is_ascii_alphanumeric() {
        return None;
    }
    let mut c = Cursor::new(s);
    let parts = if first.is_ascii_digit() {
        numeric::scan(&mut c).or_else(|| named::scan(&mut c))?
    } else {
        named::scan(&mut c)?
    };
    Some((parts.to_ms(now_ms)?, c.pos()))
}

/// Reads the glog / klog date after its level letter (`0102 15:04:05.000000`): ms and
/// length.
pub(crate) fn scan_glog(s: &[u8], now_ms: i64) -> Option<(i64, usize)> {
    let mut c = Cursor::new(s);
    let parts = numeric::scan_glog(&mut c)?;
    Some((parts.to_ms(now_ms)?, c.pos()))
}

/// Reads a field value that should be a timestamp in full: an RFC 3339 / ISO 8601 or other
/// [`scan`] shape with nothing after it, or an epoch number (s, ms, us or ns by magnitude,
/// optionally with a fraction).
pub(crate) fn parse_value(v: &str, now_ms: i64) -> Option<i64> {
    let v = v.trim();
    if let Some(ms) = parse_epoch(v) {
        return Some(ms);
    }
    let (ms, end) = scan(v.as_bytes(), now_ms)?;
    (end == v.len()).then_some(ms)
}

/// An all-digit string (optionally with one `.` and fraction digits) as an epoch time.
fn parse_epoch(v: &str) -> Option<i64> {
    let b = v.as_bytes();
    if b.is_empty() || b.len() > 30 {
        return None;
    }
    let (int, frac) = match v.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (v, None),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match frac {
        None => civil::epoch_int_to_ms(int.parse().ok()?),
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => civil::epoch_to_ms(v.parse().ok()?),
        Some(_) => None,
    }
}

/// Reads an epoch number at the start of a line: 10 digits (s, optionally `.fraction`),
/// 13 (ms), 16 (us) or 19 (ns), ending at a non-alphanumeric byte. Returns ms and length.
pub(crate) fn scan_leading_epoch(s: &[u8]) -> Option<(i64, usize)> {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if !matches!(n, 10 | 13 | 16 | 19) {
        return None;
    }
    let mut end = n;
    if n == 10 && s.get(n) == Some(&b'.') {
        let frac = s.get(n + 1..).unwrap_or(&[]).iter().take_while(|b| b.is_ascii_digit()).count();
        if frac > 0 {
            end = n + 1 + frac;
        }
    }
    if s.get(end).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'.') {
        return None;
    }
    let text = std::str::from_utf8(s.get(..end)?).ok()?;
    Some((parse_epoch(text)?, end))
}
