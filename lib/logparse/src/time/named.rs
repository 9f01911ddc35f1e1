//! Timestamps with an English month name: BSD syslog (`Mar  3 10:00:01`), ctime / Apache
//! error (`Sun Dec 04 04:47:44 2005`, `Wed Oct 11 14:32:52.123456 2000`), access log
//! (`10/Oct/2000:13:55:36 -0700`), Tomcat (`18-Jan-2019 10:00:00.123`) and log4j DATE
//! (`18 Jan 2019 10:00:00,123`).

use super::civil::{is_weekday_abbrev, month_from_abbrev, Parts};
use super::clock::{clock, zone_maybe_spaced};
use crate::cursor::Cursor;

/// Reads a month-name timestamp at the cursor, advancing past it on success.
pub(crate) fn scan(c: &mut Cursor<'_>) -> Option<Parts> {
    let mut t = *c;
    let parts = match t.peek()? {
        b if b.is_ascii_alphabetic() => ctime(&mut t).or_else(|| bsd(&mut t))?,
        b if b.is_ascii_digit() => day_first(&mut t)?,
        _ => return None,
    };
    *c = t;
    Some(parts)
}

/// A three-letter month name followed by a non-letter.
/// `Mon D[D] ` (blanks after each): the month and day shared by the BSD and ctime shapes.
fn month_day(t: &mut Cursor<'_>) -> Option<(u32, u64)> {
    let month = month(t)?;
    if t.skip_blanks() == 0 {
        return None;
    }
    let (day, _) = t.digits_between(1, 2)?;
    if t.skip_blanks() == 0 {
        return None;
    }
    Some((month, day))
}

fn month(t: &mut Cursor<'_>) -> Option<u32> {
    let m = month_from_abbrev(t.letters3()?)?;
    if t.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    Some(m)
}

/// `Mon D[D] [YYYY ]HH:MM:SS[.f]` (day may be space-padded). The year is usually absent.
fn bsd(c: &mut Cursor<'_>) -> Option<Parts> {
    let mut t = *c;
    let (month, day) = month_day(&mut t)?;
    let mut year = None;
    let mut y = t;
    if let Some(v) = y.digits(4) {
        if y.eat(b' ') {
            year = Some(v);
            t = y;
        }
    }
    let clock = clock(&mut t, b':')?;
    *c = t;
    Some(Parts::at(year, u64::from(month), day, clock, 0))
}

/// `Www Mon D[D] HH:MM:SS[.f] [ZONE ]YYYY` (C `ctime`, Apache error log, Java `Date`).
/// A zone name is skipped and the time read as UTC.
fn ctime(c: &mut Cursor<'_>) -> Option<Parts> {
    let mut t = *c;
    if !is_weekday_abbrev(t.letters3()?) {
        return None;
    }
    t.eat(b',');
    if t.skip_blanks() == 0 {
        return None;
    }
    let (month, day) = month_day(&mut t)?;
    let clock = clock(&mut t, b':')?;
    if t.skip_blanks() == 0 {
        return None;
    }
    if t.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
        let name = t.take_until(|b| !b.is_ascii_alphabetic());
        if name.len() > 5 || t.skip_blanks() == 0 {
            return None;
        }
    }
    let year = t.digits(4)?;
    if t.peek().is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    *c = t;
    Some(Parts::at(Some(year), u64::from(month), day, clock, 0))
}

/// `DD/Mon/YYYY:HH:MM:SS +zzzz`, `DD-Mon-YYYY HH:MM:SS` and `DD Mon YYYY HH:MM:SS`.
fn day_first(c: &mut Cursor<'_>) -> Option<Parts> {
    let mut t = *c;
    let (day, _) = t.digits_between(1, 2)?;
    let sep = t.peek().filter(|b| matches!(b, b'/' | b'-' | b' '))?;
    t.advance(1);
    let month = month(&mut t)?;
    if !t.eat(sep) {
        return None;
    }
    let year = t.digits(4)?;
    let between = t.peek()?;
    if !(between == b':' || between == b' ') {
        return None;
    }
    t.advance(1);
    let clock = clock(&mut t, b':')?;
    let offset = zone_maybe_spaced(&mut t);
    *c = t;
    Some(Parts::at(Some(year), u64::from(month), day, clock, offset))
}
