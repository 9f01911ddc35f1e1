//! Lines with no timestamp: format Unknown, and a level only when a level word leads.

use super::ctx;
use crate::{parse_line, Format, Level, Parsed};

#[test]
fn leading_level_word_without_timestamp() {
    use Level::*;
    let cases = [
        ("ERROR something broke", Some(Error)),
        ("[WARN] x", Some(Warn)),
        ("warning: deprecated flag", Some(Warn)),
        ("INFO:root:hello", Some(Info)),
        ("<error> x", Some(Error)),
        ("E/ActivityManager( 1234): x", Some(Error)),
        ("CRITICAL disk gone", Some(Fatal)),
        ("Errors were found", None),
        ("something ERROR later", None),
        ("E x", None),
        ("\tat java.lang.Thread.run(Thread.java:745)", None),
        ("java.io.IOException: Connection reset", None),
    ];
    for (line, want) in cases {
        let p = parse_line(line, &ctx());
        assert_eq!(p.level, want, "{line}");
        assert_eq!(p.timestamp_ms, None, "{line}");
        assert_eq!(p.format, Format::Unknown, "{line}");
        assert_eq!(p.message, None, "{line}");
    }
}

#[test]
fn empty_and_blank_lines() {
    for line in ["", " ", "\t\t", "\u{feff}"] {
        assert_eq!(parse_line(line, &ctx()), Parsed::default(), "{line:?}");
    }
}
