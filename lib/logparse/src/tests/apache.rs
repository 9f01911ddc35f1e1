//! Apache httpd error logs (2.2 and 2.4 layouts).

use ::time::macros::datetime;

use super::{ctx, field, ms};
use crate::{parse_line, Format, Level};

#[test]
fn apache_error_lines() {
    let p = parse_line(
        "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
        &ctx(),
    );
    assert_eq!(p.format, Format::ApacheError);
    assert_eq!(p.timestamp_ms, Some(ms(datetime!(2005-12-04 04:47:44 UTC))));
    assert_eq!(p.level, Some(Level::Notice));
    assert!(p.fields.is_empty());

    let p = parse_line(
        "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] \
         [client 72.15.99.187:5678] AH00124: Request exceeded the limit",
        &ctx(),
    );
    assert_eq!(p.format, Format::ApacheError);
    assert_eq!(p.timestamp_ms, Some(ms(datetime!(2000-10-11 14:32:52.123 UTC))));
    assert_eq!(p.level, Some(Level::Error));
    assert_eq!(field(&p, "module"), Some("core"));
    assert_eq!(field(&p, "pid"), Some("35708"));
    assert_eq!(field(&p, "tid"), Some("4328636416"));
    assert_eq!(field(&p, "client"), Some("72.15.99.187:5678"));
    assert_eq!(p.message, None);
}

#[test]
fn apache_levels() {
    use Level::*;
    for (word, level) in [
        ("emerg", Fatal),
        ("alert", Fatal),
        ("crit", Fatal),
        ("error", Error),
        ("warn", Warn),
        ("notice", Notice),
        ("info", Info),
        ("debug", Debug),
        ("trace3", Trace),
        ("ssl:warn", Warn),
    ] {
        let line = format!("[Sun Dec 04 04:47:44 2005] [{word}] x");
        let p = parse_line(&line, &ctx());
        assert_eq!(p.format, Format::ApacheError, "{word}");
        assert_eq!(p.level, Some(level), "{word}");
    }
}

#[test]
fn bracketed_timestamp_without_level_bracket_is_generic() {
    let p = parse_line("[Sun Dec 04 04:47:44 2005] [client 1.2.3.4] x", &ctx());
    assert_eq!(p.format, Format::LeadingTimestamp);
    assert_eq!(p.level, None);
}
