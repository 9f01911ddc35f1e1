//! Timestamp shapes at the start of a line, and the year guess for formats without one.

use ::time::macros::datetime;

use super::{ctx, ms};
use crate::{parse_line, Format, ParseContext};

#[test]
fn leading_timestamp_shapes() {
    let cases = [
        ("2015-10-18 18:01:47,978 INFO [main] x", datetime!(2015-10-18 18:01:47.978 UTC)),
        ("2015-10-18T18:01:47.978Z x", datetime!(2015-10-18 18:01:47.978 UTC)),
        ("2015-10-18T18:01:47.978123456Z x", datetime!(2015-10-18 18:01:47.978 UTC)),
        ("2015-10-18T18:01:47+02:00 x", datetime!(2015-10-18 16:01:47 UTC)),
        ("2015-10-18T18:01:47-0130 x", datetime!(2015-10-18 19:31:47 UTC)),
        ("2015-10-18T18:01:47+05 x", datetime!(2015-10-18 13:01:47 UTC)),
        ("2015-10-18 18:01:47 x", datetime!(2015-10-18 18:01:47 UTC)),
        ("2015-10-18 18:01:47 +0200 x", datetime!(2015-10-18 16:01:47 UTC)),
        ("2015-10-18 18:01:47 - INFO x", datetime!(2015-10-18 18:01:47 UTC)),
        ("2015-10-18T18:01:47.5 x", datetime!(2015-10-18 18:01:47.5 UTC)),
        ("[2016-12-19 20:26:45,231] INFO x", datetime!(2016-12-19 20:26:45.231 UTC)),
        ("2016-09-28 04:30:30, Info  CBS x", datetime!(2016-09-28 04:30:30 UTC)),
        ("2015/05/17 10:05:43 [error] 1234#0: x", datetime!(2015-05-17 10:05:43 UTC)),
        ("081109 203615 148 INFO dfs.x: y", datetime!(2008-11-09 20:36:15 UTC)),
        ("17/06/09 20:10:40 INFO spark.x: y", datetime!(2017-06-09 20:10:40 UTC)),
        ("03/17/2016 10:00:00 x", datetime!(2016-03-17 10:00:00 UTC)),
        ("17/03/2016 10:00:00 x", datetime!(2016-03-17 10:00:00 UTC)),
        ("17.03.2016 10:00:00 x", datetime!(2016-03-17 10:00:00 UTC)),
        ("20171223-22:15:29:606|Step_LSC|1|x", datetime!(2017-12-23 22:15:29.606 UTC)),
        ("20171223-22:16:0:96|Step_LSC|1|x", datetime!(2017-12-23 22:16:00.096 UTC)),
        ("20171223T221529Z x", datetime!(2017-12-23 22:15:29 UTC)),
        ("2005-06-03-15.42.50.675872 R02 x", datetime!(2005-06-03 15:42:50.675 UTC)),
        ("Sun Dec 04 04:47:44 2005 x", datetime!(2005-12-04 04:47:44 UTC)),
        ("Mon Jan 02 15:04:05 UTC 2006 x", datetime!(2006-01-02 15:04:05 UTC)),
        ("18-Jan-2019 10:00:00.123 INFO x", datetime!(2019-01-18 10:00:00.123 UTC)),
        ("18 Jan 2019 10:00:00,123 INFO x", datetime!(2019-01-18 10:00:00.123 UTC)),
        ("1700000000 x", datetime!(2023-11-14 22:13:20 UTC)),
        ("1700000000.25 x", datetime!(2023-11-14 22:13:20.25 UTC)),
        ("1700000000123 x", datetime!(2023-11-14 22:13:20.123 UTC)),
    ];
    for (line, want) in cases {
        let p = parse_line(line, &ctx());
        assert_eq!(p.timestamp_ms, Some(ms(want)), "{line}");
        assert_eq!(p.format, Format::LeadingTimestamp, "{line}");
    }
}

#[test]
fn year_less_shapes_take_the_year_from_now() {
    let cases = [
        ("03-17 16:13:38.811  1702  2395 D Wm: x", datetime!(2024-03-17 16:13:38.811 UTC)),
        ("[10.30 16:49:06] chrome.exe - x", datetime!(2023-10-30 16:49:06 UTC)),
        ("I0102 15:04:05.123456 1 main.go:12] x", datetime!(2024-01-02 15:04:05.123 UTC)),
    ];
    for (line, want) in cases {
        assert_eq!(parse_line(line, &ctx()).timestamp_ms, Some(ms(want)), "{line}");
    }
}

#[test]
fn year_guess_never_lands_more_than_a_day_ahead() {
    let at = |now| ParseContext { now_ms: ms(now) };
    let cases = [
        // December lines read in January belong to last year.
        (datetime!(2024-01-05 00:00 UTC), "Dec 31 23:59:59 h a: x", datetime!(2023-12-31 23:59:59 UTC)),
        // A little clock skew across New Year stays in the next year.
        (datetime!(2023-12-31 23:30 UTC), "Jan  1 00:10:00 h a: x", datetime!(2024-01-01 00:10:00 UTC)),
        (datetime!(2024-06-15 00:00 UTC), "Jun 15 20:00:00 h a: x", datetime!(2024-06-15 20:00:00 UTC)),
        (datetime!(2024-06-15 00:00 UTC), "Jun 17 00:00:00 h a: x", datetime!(2023-06-17 00:00:00 UTC)),
        // Feb 29 walks back to a leap year.
        (datetime!(2025-03-01 00:00 UTC), "Feb 29 10:00:00 h a: x", datetime!(2024-02-29 10:00:00 UTC)),
    ];
    for (now, line, want) in cases {
        assert_eq!(parse_line(line, &at(now)).timestamp_ms, Some(ms(want)), "{line}");
    }
}

#[test]
fn impossible_dates_and_times_are_not_timestamps() {
    for line in [
        "2015-13-18 18:01:47 x",
        "2015-02-30 18:01:47 x",
        "2015-10-18 25:01:47 x",
        "2015-10-18 18:61:47 x",
        "2015-10-18 x",
        "1.2.3 not a time",
        "123456789 short epoch",
        "12345678901234 too many digits for s, too few for us",
    ] {
        let p = parse_line(line, &ctx());
        assert_eq!(p.timestamp_ms, None, "{line}");
        assert_eq!(p.format, Format::Unknown, "{line}");
    }
}
