//! Syslog RFC 3164 (with and without PRI) and RFC 5424.

use ::time::macros::datetime;

use super::{ctx, field, ms};
use crate::{parse_line, Format, Level};

#[test]
fn rfc3164_lines() {
    // (line, timestamp, level, hostname, app, pid, facility)
    let cases = [
        (
            "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
            datetime!(2023-10-11 22:14:15 UTC),
            Some(Level::Fatal),
            Some("mymachine"),
            Some("su"),
            None,
            Some("auth"),
        ),
        (
            "<13>Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure",
            datetime!(2024-06-14 15:16:01 UTC),
            Some(Level::Notice),
            Some("combo"),
            Some("sshd(pam_unix)"),
            Some("19939"),
            Some("user"),
        ),
        (
            "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; uid=0",
            datetime!(2024-06-14 15:16:01 UTC),
            None,
            Some("combo"),
            Some("sshd(pam_unix)"),
            Some("19939"),
            None,
        ),
        (
            "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
            datetime!(2023-12-10 06:55:46 UTC),
            None,
            Some("LabSZ"),
            Some("sshd"),
            Some("24200"),
            None,
        ),
        (
            "Mar  3 10:00:01 host kernel: [ 0.000000] Linux version 5.4",
            datetime!(2024-03-03 10:00:01 UTC),
            None,
            Some("host"),
            Some("kernel"),
            None,
            None,
        ),
        (
            "Mar 27 13:06:56 ip-10-77-20-248 sshd[1291]: error: maximum attempts exceeded",
            datetime!(2024-03-27 13:06:56 UTC),
            Some(Level::Error),
            Some("ip-10-77-20-248"),
            Some("sshd"),
            Some("1291"),
            None,
        ),
        (
            "2023-03-01T10:00:00.123+01:00 web-1 nginx[812]: started",
            datetime!(2023-03-01 09:00:00.123 UTC),
            None,
            Some("web-1"),
            Some("nginx"),
            Some("812"),
            None,
        ),
        ("Jun 14 15:16:01 -- MARK --", datetime!(2024-06-14 15:16:01 UTC), None, None, None, None, None),
    ];
    for (line, ts, level, host, app, pid, facility) in cases {
        let p = parse_line(line, &ctx());
        assert_eq!(p.format, Format::Syslog3164, "{line}");
        assert_eq!(p.timestamp_ms, Some(ms(ts)), "{line}");
        assert_eq!(p.level, level, "{line}");
        assert_eq!(field(&p, "hostname"), host, "{line}");
        assert_eq!(field(&p, "app"), app, "{line}");
        assert_eq!(field(&p, "pid"), pid, "{line}");
        assert_eq!(field(&p, "facility"), facility, "{line}");
        assert_eq!(p.message, None, "{line}");
    }
}

#[test]
fn pri_severity_maps_to_level() {
    use Level::*;
    let want = [Fatal, Fatal, Fatal, Error, Warn, Notice, Info, Debug];
    for (sev, level) in want.into_iter().enumerate() {
        let line = format!("<{}>Oct 11 22:14:15 h app: x", 16 * 8 + sev);
        let p = parse_line(&line, &ctx());
        assert_eq!(p.level, Some(level), "{line}");
        assert_eq!(field(&p, "facility"), Some("local0"), "{line}");
    }
}

#[test]
fn pri_without_parsable_header_is_still_syslog() {
    let p = parse_line("<11>something odd", &ctx());
    assert_eq!(p.format, Format::Syslog3164);
    assert_eq!(p.level, Some(Level::Error));
    assert_eq!(p.timestamp_ms, None);
    assert_eq!(field(&p, "facility"), Some("user"));
}

#[test]
fn rfc5424_lines() {
    let line = r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high \"x\""] An application event"#;
    let p = parse_line(line, &ctx());
    assert_eq!(p.format, Format::Syslog5424);
    assert_eq!(p.timestamp_ms, Some(ms(datetime!(2003-10-11 22:14:15.003 UTC))));
    assert_eq!(p.level, Some(Level::Notice));
    assert_eq!(field(&p, "hostname"), Some("mymachine.example.com"));
    assert_eq!(field(&p, "app"), Some("evntslog"));
    assert_eq!(field(&p, "pid"), None);
    assert_eq!(field(&p, "msgid"), Some("ID47"));
    assert_eq!(field(&p, "facility"), Some("local4"));
    assert_eq!(field(&p, "exampleSDID@32473.iut"), Some("3"));
    assert_eq!(field(&p, "exampleSDID@32473.eventID"), Some("1011"));
    assert_eq!(field(&p, "examplePriority@32473.class"), Some("high \"x\""));
    assert_eq!(p.message, None);

    let nil = parse_line("<34>1 - - - - - -", &ctx());
    assert_eq!(nil.format, Format::Syslog5424);
    assert_eq!(nil.timestamp_ms, None);
    assert_eq!(nil.level, Some(Level::Fatal));
    assert_eq!(field(&nil, "hostname"), None);

    let offset = parse_line("<14>1 2003-08-24T05:14:15.000003-07:00 h a 8710 - - %% x", &ctx());
    assert_eq!(offset.timestamp_ms, Some(ms(datetime!(2003-08-24 12:14:15 UTC))));
    assert_eq!(field(&offset, "pid"), Some("8710"));
}
