//! Calendar arithmetic: civil date and time of day to ms since the epoch, the year guess for
//! formats that omit it, and epoch numbers of unknown unit.

const MS_PER_DAY: i64 = 86_400_000;

/// A date and time as written in a line. `year` is `None` when the format omits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Parts {
    pub year: Option<i32>,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
    /// Offset east of UTC in seconds; 0 for UTC and for local times without a zone.
    pub offset_secs: i32,
}

impl Parts {
    /// Ms since the epoch, guessing the year from `now_ms` when the line has none.
    pub(crate) fn to_ms(self, now_ms: i64) -> Option<i64> {
        if self.hour > 23 || self.minute > 59 || self.second > 60 || self.millis > 999 {
            return None;
        }
        match self.year {
            Some(y) => self.with_year(i64::from(y)),
            None => self.infer_year(now_ms),
        }
    }

    fn with_year(self, year: i64) -> Option<i64> {
        if !valid_date(year, self.month, self.day) {
            return None;
        }
        let days = days_from_civil(year, self.month, self.day);
        let secs = i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second)
            - i64::from(self.offset_secs);
        Some(days * MS_PER_DAY + secs * 1000 + i64::from(self.millis))
    }

    /// The latest year that puts the time no more than a day after `now_ms`, so December
    /// lines read in January land in the previous year. Feb 29 walks back to a leap year.
    fn infer_year(self, now_ms: i64) -> Option<i64> {
        let now_year = year_of(now_ms);
        let limit = now_ms.saturating_add(MS_PER_DAY);
        (0..10).map(|back| now_year + 1 - back).filter_map(|y| self.with_year(y)).find(|&ms| ms <= limit)
    }
}

pub(crate) fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(crate) fn valid_date(y: i64, m: u32, d: u32) -> bool {
    let max = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => return false,
    };
    (1..=max).contains(&d) && (1..=9999).contains(&y)
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar year containing `ms` since the epoch.
pub(crate) fn year_of(ms: i64) -> i64 {
    let z = ms.div_euclid(MS_PER_DAY) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}

/// The month number of a three-letter English month abbreviation, any case.
pub(crate) fn month_from_abbrev(m: [u8; 3]) -> Option<u32> {
    let lower = [m[0].to_ascii_lowercase(), m[1].to_ascii_lowercase(), m[2].to_ascii_lowercase()];
    Some(match &lower {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    })
}

/// True for a three-letter English weekday abbreviation, any case.
pub(crate) fn is_weekday_abbrev(w: [u8; 3]) -> bool {
    let lower = [w[0].to_ascii_lowercase(), w[1].to_ascii_lowercase(), w[2].to_ascii_lowercase()];
    matches!(&lower, b"mon" | b"tue" | b"wed" | b"thu" | b"fri" | b"sat" | b"sun")
}

/// Earliest and latest instants an epoch number is believed to be (1990 .. 2200): guards
/// against reading a counter or an id as a time.
const PLAUSIBLE_MS: std::ops::Range<i64> = 631_152_000_000..7_258_118_400_000;

/// An epoch number of unknown unit (s, ms, us or ns, chosen by magnitude) as ms, if the
/// result is a plausible time.
pub(crate) fn epoch_to_ms(v: f64) -> Option<i64> {
    if !v.is_finite() || v <= 0.0 {
        return None;
    }
    let ms = if v < 1e11 {
        v * 1e3
    } else if v < 1e14 {
        v
    } else if v < 1e17 {
        v / 1e3
    } else {
        v / 1e6
    };
    // Truncation to whole ms is intended; the range check rejects anything out of i64 range.
    let ms = ms.floor();
    if ms >= PLAUSIBLE_MS.start as f64 && ms < PLAUSIBLE_MS.end as f64 {
        Some(ms as i64)
    } else {
        None
    }
}

/// An epoch integer of unknown unit as ms, exact for integer inputs (ns would lose
/// precision through `f64`, harmless at ms resolution but kept exact anyway).
pub(crate) fn epoch_int_to_ms(v: u64) -> Option<i64> {
    let ms = if v < 100_000_000_000 {
        v.checked_mul(1000)?
    } else if v < 100_000_000_000_000 {
        v
    } else if v < 100_000_000_000_000_000 {
        v / 1000
    } else {
        v / 1_000_000
    };
    let ms = i64::try_from(ms).ok()?;
    PLAUSIBLE_MS.contains(&ms).then_some(ms)
}

impl Parts {
    /// Parts from a date and a clock reading; out-of-range numbers become 0 (rejected later).
    pub(super) fn at(year: Option<u32>, month: u64, day: u64, clock: super::clock::Clock, offset_secs: i32) -> Parts {
        Parts {
            year: year.and_then(|y| i32::try_from(y).ok()),
            month: u32::try_from(month).unwrap_or(0),
            day: u32::try_from(day).unwrap_or(0),
            hour: clock.hour,
            minute: clock.minute,
            second: clock.second,
            millis: clock.millis,
            offset_secs,
        }
    }
}
