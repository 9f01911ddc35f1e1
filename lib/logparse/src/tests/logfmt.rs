//! logfmt lines and the "mostly pairs" rule.

use ::time::macros::datetime;

use super::{ctx, field, ms};
use crate::{parse_line, Format, Level};

#[test]
fn logfmt_line() {
    let line = r#"time=2023-11-14T22:13:20.5Z level=info msg="quoted \" text" k=v path=/a/b empty= n=3"#;
    let p = parse_line(line, &ctx());
    assert_eq!(p.format, Format::Logfmt);
    assert_eq!(p.timestamp_ms, Some(ms(datetime!(2023-11-14 22:13:20.5 UTC))));
    assert_eq!(p.level, Some(Level::Info));
    assert_eq!(p.message.as_deref(), Some("quoted \" text"));
    let want: Vec<(String, String)> = [("k", "v"), ("path", "/a/b"), ("empty", ""), ("n", "3")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(p.fields, want);
}

#[test]
fn logfmt_variants() {
    let cases = [
        (r#"ts=1700000000 lvl=warn message="m""#, Some(Level::Warn), Some("m")),
        ("level=error err=timeout", Some(Level::Error), None),
        (r#"at=info method=GET path="/" status=200"#, None, None),
        (r#"msg="unterminated value k=v"#, None, None),
    ];
    for (line, level, msg) in cases {
        let p = parse_line(line, &ctx());
        assert_eq!(p.level, level, "{line}");
        assert_eq!(p.message.as_deref(), msg, "{line}");
    }
    let p = parse_line(r#"at=info method=GET path="/" status=200"#, &ctx());
    assert_eq!(p.format, Format::Logfmt);
    assert_eq!(field(&p, "at"), Some("info"));
    assert_eq!(field(&p, "status"), Some("200"));
}

#[test]
fn prose_with_a_pair_or_two_is_not_logfmt() {
    for line in [
        "user=bob logged in from the office today",
        "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=1.2.3.4",
        "k=v",
        "=x =y",
        "1=2 3=4",
    ] {
        assert_ne!(parse_line(line, &ctx()).format, Format::Logfmt, "{line}");
    }
}
