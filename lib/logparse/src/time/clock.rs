//! Time of day (`HH:MM:SS`, optional fraction) and UTC offsets (`Z`, `+hh:mm`, `+hhmm`,
//! `+hh`), shared by every timestamp shape.

use crate::cursor::Cursor;

/// A time of day as read: hour, minute, second and ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Clock {
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
}

/// Reads `H[H]<sep>M[M]<sep>S[S]` (HealthApp does not pad: `22:16:0:119`) and an optional fraction (`.123`, `,123`, or `:123` as
/// some Android-era apps write). Leaves the cursor untouched on
/// failure.
pub(crate) fn clock(c: &mut Cursor<'_>, sep: u8) -> Option<Clock> {
    let mut t = *c;
    let (hour, _) = t.digits_between(1, 2)?;
    if !t.eat(sep) {
        return None;
    }
    let (minute, _) = t.digits_between(1, 2)?;
    if !t.eat(sep) {
        return None;
    }
    let (second, _) = t.digits_between(1, 2)?;
    let (hour, minute, second) = (u32::try_from(hour).ok()?, u32::try_from(minute).ok()?, u32::try_from(second).ok()?);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let millis = fraction(&mut t, sep).unwrap_or(0);
    if t.peek().is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    *c = t;
    Some(Clock { hour, minute, second, millis })
}

/// Reads a fractional-second part and returns it as whole ms. After `.` or `,` it is a
/// decimal fraction (`.5` is 500 ms); after `:` it is a count of ms that some apps do not
/// zero-pad (HealthApp writes `35:96` then `35:104`), so 1 to 3 digits read as an integer.
fn fraction(c: &mut Cursor<'_>, clock_sep: u8) -> Option<u32> {
    let sep = c.peek()?;
    let ok_sep = sep == b'.' || sep == b',' || (sep == b':' && clock_sep == b':');
    if !ok_sep || !c.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut t = *c;
    t.advance(1);
    if sep == b':' {
        let (ms, _) = t.digits_between(1, 3)?;
        if t.peek().is_some_and(|b| b.is_ascii_digit()) {
            return None;
        }
        *c = t;
        return u32::try_from(ms).ok();
    }
    let mut millis = 0u32;
    let mut n = 0;
    while let Some(b) = t.peek().filter(u8::is_ascii_digit) {
        if n < 3 {
            millis = millis * 10 + u32::from(b - b'0');
        }
        n += 1;
        t.advance(1);
    }
    while n < 3 {
        millis *= 10;
        n += 1;
    }
    *c = t;
    Some(millis)
}

/// Reads an optional UTC offset right after a time: `Z`, `+hh:mm`, `+hhmm` or `+hh`.
/// Returns the offset east of UTC in seconds, or 0 (leaving the cursor) when there is none.
pub(crate) fn zone(c: &mut Cursor<'_>) -> i32 {
    match c.peek() {
        Some(b'Z' | b'z') if !c.peek_at(1).is_some_and(|b| b.is_ascii_alphanumeric()) => {
            c.advance(1);
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            let mut t = *c;
            t.advance(1);
            match numeric_offset(&mut t) {
                Some(secs) => {
                    *c = t;
                    if sign == b'-' {
                        -secs
                    } else {
                        secs
                    }
                }
                None => 0,
            }
        }
        _ => 0,
    }
}

/// Like [`zone`], but also accepts one space before a `+hhmm` / `-hh:mm` offset, as access
/// logs and many `strftime("%Y-%m-%d %H:%M:%S %z")` layouts write it.
pub(crate) fn zone_maybe_spaced(c: &mut Cursor<'_>) -> i32 {
    if c.peek() != Some(b' ') || !matches!(c.peek_at(1), Some(b'+' | b'-')) {
        return zone(c);
    }
    let mut t = *c;
    t.advance(1);
    let before = t.pos();
    let offset = zone(&mut t);
    if t.pos() > before {
        *c = t;
    }
    offset
}

fn numeric_offset(t: &mut Cursor<'_>) -> Option<i32> {
    let hh = t.digits(2)?;
    let mm = if t.eat(b':') { t.digits(2)? } else { t.digits(2).unwrap_or(0) };
    if t.peek().is_some_and(|b| b.is_ascii_digit()) || hh > 18 || mm > 59 {
        return None;
    }
    i32::try_from(hh * 3600 + mm * 60).ok()
}
