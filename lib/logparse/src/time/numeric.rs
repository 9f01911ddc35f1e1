//! Timestamps whose date is all digits: ISO 8601 / RFC 3339 (`2015-10-18T18:01:47.978Z`,
//! `2015-10-18 18:01:47,978`), slashes and dots (`2015/05/17 10:05:43`, `17/06/09 20:10:40`,
//! `03/17/2016 ...`, `17.03.2016 ...`), DB2/BGL (`2005-06-03-15.42.50.675872`), compact
//! (`20171223-22:15:29:606`, `081109 203615`) and year-less (`03-17 16:13:38.811`,
//! `10.30 16:49:06`).

use super::civil::Parts;
use super::clock::{clock, zone_maybe_spaced, Clock};
use crate::cursor::Cursor;

/// Reads a numeric-date timestamp at the cursor, advancing past it on success.
pub(crate) fn scan(c: &mut Cursor<'_>) -> Option<Parts> {
    let mut t = *c;
    let lead = count_digits(t.rest());
    let parts = match lead {
        4 => year_first(&mut t)?,
        8 => compact(&mut t)?,
        6 => hdfs(&mut t)?,
        2 => two_digit_first(&mut t)?,
        _ => return None,
    };
    *c = t;
    Some(parts)
}

/// glog / klog after the level letter: `MMDD HH:MM:SS.ffffff` (no year).
pub(crate) fn scan_glog(c: &mut Cursor<'_>) -> Option<Parts> {
    let mut t = *c;
    let month = t.digits(2)?;
    let day = t.digits(2)?;
    if !t.eat(b' ') {
        return None;
    }
    let clock = clock(&mut t, b':')?;
    *c = t;
    Some(Parts::at(None, u64::from(month), u64::from(day), clock, 0))
}

fn count_digits(s: &[u8]) -> usize {
    s.iter().take_while(|b| b.is_ascii_digit()).count()
}

fn is_date_sep(b: u8) -> bool {
    matches!(b, b'-' | b'/' | b'.')
}

/// `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY.MM.DD` (month and day may have one digit), then
/// `T`, space, `-` (DB2: `-15.42.50`) or `:` before the time.
fn year_first(t: &mut Cursor<'_>) -> Option<Parts> {
    let year = t.digits(4)?;
    let sep = t.peek().filter(|&b| is_date_sep(b))?;
    t.advance(1);
    let (month, _) = t.digits_between(1, 2)?;
    if !t.eat(sep) {
        return None;
    }
    let (day, _) = t.digits_between(1, 2)?;
    let clock = match t.peek()? {
        b'T' | b't' | b' ' | b':' => {
            t.advance(1);
            clock(t, b':')?
        }
        b'-' => {
            t.advance(1);
            clock(t, b'.').or_else(|| clock(t, b':'))?
        }
        _ => return None,
    };
    Some(with_zone(t, Some(year), month, day, clock))
}

/// `YYYYMMDD` then `-`, `T` or space and `HH:MM:SS`, or `T` and `HHMMSS`.
fn compact(t: &mut Cursor<'_>) -> Option<Parts> {
    let year = t.digits(4)?;
    let month = t.digits(2)?;
    let day = t.digits(2)?;
    let sep = t.peek()?;
    if !matches!(sep, b'-' | b'T' | b't' | b' ') {
        return None;
    }
    t.advance(1);
    let clock = match clock(t, b':') {
        Some(c) => c,
        None if sep != b' ' => compact_clock(t)?,
        None => return None,
    };
    Some(with_zone(t, Some(year), u64::from(month), u64::from(day), clock))
}

/// HDFS: `yyMMdd HHmmss`.
fn hdfs(t: &mut Cursor<'_>) -> Option<Parts> {
    let yy = t.digits(2)?;
    let month = t.digits(2)?;
    let day = t.digits(2)?;
    if !t.eat(b' ') {
        return None;
    }
    let clock = compact_clock(t)?;
    Some(Parts::at(Some(century(yy)), u64::from(month), u64::from(day), clock, 0))
}

fn compact_clock(t: &mut Cursor<'_>) -> Option<Clock> {
    let mut u = *t;
    let hour = u.digits(2)?;
    let minute = u.digits(2)?;
    let second = u.digits(2)?;
    if u.peek().is_some_and(|b| b.is_ascii_digit()) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    *t = u;
    Some(Clock { hour, minute, second, millis: 0 })
}

/// Dates that start with two digits: `MM/DD/YYYY` (or `DD/MM/YYYY` when the first number
/// cannot be a month, and always `DD.MM.YYYY` with dots), `yy/MM/dd` (log4j `%d{yy/MM/dd}`,
/// Spark), `dd.MM.yy`, and year-less `MM-DD`, `MM/DD`, `MM.DD` (logcat, Proxifier).
fn two_digit_first(t: &mut Cursor<'_>) -> Option<Parts> {
    let a = t.digits(2)?;
    let sep = t.peek().filter(|&b| is_date_sep(b))?;
    t.advance(1);
    let (b, _) = t.digits_between(1, 2)?;
    let b = u32::try_from(b).ok()?;
    let (year, month, day) = if t.eat(sep) {
        let (c, n) = t.digits_between(2, 4)?;
        let c = u32::try_from(c).ok()?;
        match (n, sep) {
            (4, b'.') => (c, b, a),
            (4, _) if a > 12 => (c, b, a),
            (4, _) => (c, a, b),
            (2, b'.') => (century(c), b, a),
            (2, _) => (century(a), b, c),
            _ => return None,
        }
    } else {
        (0, a, b)
    };
    if t.skip_blanks() == 0 {
        return None;
    }
    let clock = clock(t, b':')?;
    let year = (year != 0).then_some(year);
    Some(with_zone(t, year, u64::from(month), u64::from(day), clock))
}

/// Two-digit years: 70..99 are 19xx, the rest 20xx.
fn century(yy: u32) -> u32 {
    if yy >= 70 {
        1900 + yy
    } else {
        2000 + yy
    }
}

fn with_zone(t: &mut Cursor<'_>, year: Option<u32>, month: u64, day: u64, c: Clock) -> Parts {
    let offset = zone_maybe_spaced(t);
    Parts::at(year, month, day, c, offset)
}
