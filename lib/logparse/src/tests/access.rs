//! Apache / nginx access logs.

use ::time::macros::datetime;

use super::{ctx, field, ms};
use crate::{parse_line, Format, Level};

#[test]
fn combined_and_common_lines() {
    let combined = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#;
    let p = parse_line(combined, &ctx());
    assert_eq!(p.format, Format::AccessLog);
    assert_eq!(p.timestamp_ms, Some(ms(datetime!(2000-10-10 20:55:36 UTC))));
    assert_eq!(p.level, Some(Level::Info));
    assert_eq!(p.message, None);
    let want = [
        ("client_ip", "127.0.0.1"),
        ("method", "GET"),
        ("path", "/apache_pb.gif"),
        ("status", "200"),
        ("bytes", "2326"),
        ("referrer", "http://www.example.com/start.html"),
        ("user_agent", "Mozilla/4.08 [en] (Win98; I ;Nav)"),
    ];
    for (k, v) in want {
        assert_eq!(field(&p, k), Some(v), "{k}");
    }

    let common = r#"::1 - - [17/May/2015:10:05:03 +0000] "POST /login HTTP/1.1" 404 -"#;
    let p = parse_line(common, &ctx());
    assert_eq!(p.format, Format::AccessLog);
    assert_eq!(p.level, Some(Level::Warn));
    assert_eq!(field(&p, "client_ip"), Some("::1"));
    assert_eq!(field(&p, "bytes"), None);
    assert_eq!(field(&p, "referrer"), None);
}

#[test]
fn status_sets_level() {
    use Level::*;
    for (status, level) in [("200", Info), ("304", Info), ("404", Warn), ("503", Error)] {
        let line = format!(r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" {status} 1"#);
        assert_eq!(parse_line(&line, &ctx()).level, Some(level), "{status}");
    }
}

#[test]
fn odd_requests_and_virtual_hosts() {
    let junk = r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "\x16\x03\x01" 400 0 "-" "-""#;
    let p = parse_line(junk, &ctx());
    assert_eq!(p.format, Format::AccessLog);
    assert_eq!(field(&p, "method"), None);
    assert_eq!(field(&p, "status"), Some("400"));

    let escaped = r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /q?a=\"b\" HTTP/1.1" 200 5 "-" "curl \"7\"""#;
    let p = parse_line(escaped, &ctx());
    assert_eq!(field(&p, "path"), Some(r#"/q?a="b""#));
    assert_eq!(field(&p, "user_agent"), Some(r#"curl "7""#));

    let vhost = r#"example.com:443 10.0.0.2 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/2.0" 200 1 "-" "ua""#;
    let p = parse_line(vhost, &ctx());
    assert_eq!(p.format, Format::AccessLog);
    assert_eq!(field(&p, "client_ip"), Some("10.0.0.2"));
}

#[test]
fn near_misses_are_not_access_logs() {
    for line in [
        r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1""#,
        r#"10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" OK 1"#,
        r#"10.0.0.1 - - [not a date] "GET / HTTP/1.1" 200 1"#,
        "a b c d e [17/May/2015:10:05:03 +0000] x",
    ] {
        assert_ne!(parse_line(line, &ctx()).format, Format::AccessLog, "{line}");
    }
}
