//! JSON lines: well-known keys, flattening, OTel and collector shapes, rejects.

use ::time::macros::datetime;

use super::{ctx, field, ms};
use crate::{parse_json_object, parse_line, Format, JsonError, Level};

#[test]
fn timestamp_keys_and_encodings() {
    let t = ms(datetime!(2023-11-14 22:13:20.123 UTC));
    let cases = [
        r#"{"@timestamp":"2023-11-14T22:13:20.123Z"}"#,
        r#"{"timestamp":"2023-11-14T23:13:20.123+01:00"}"#,
        r#"{"time":"2023-11-14 22:13:20,123"}"#,
        r#"{"ts":1700000000.123}"#,
        r#"{"ts":1700000000123}"#,
        r#"{"date":1700000000123456}"#,
        r#"{"datetime":"1700000000123"}"#,
        r#"{"t":{"$date":"2023-11-14T22:13:20.123Z"}}"#,
        r#"{"eventTime":"2023-11-14T22:13:20.123000Z"}"#,
        r#"{"timeUnixNano":"1700000000123456789"}"#,
        r#"{"observedTimeUnixNano":1700000000123456789}"#,
        r#"{"timestamp":"not a time","time":"2023-11-14T22:13:20.123Z"}"#,
    ];
    for line in cases {
        let p = parse_line(line, &ctx());
        assert_eq!(p.format, Format::Json, "{line}");
        assert_eq!(p.timestamp_ms, Some(t), "{line}");
    }
    // An unparsable timestamp value is kept as a field, not consumed.
    let p = parse_line(r#"{"timestamp":"not a time","time":"2023-11-14T22:13:20.123Z"}"#, &ctx());
    assert_eq!(field(&p, "timestamp"), Some("not a time"));
    assert_eq!(field(&p, "time"), None);
    // Small numbers are not epoch times.
    assert_eq!(parse_line(r#"{"t":5}"#, &ctx()).timestamp_ms, None);
}

#[test]
fn level_keys_and_numbers() {
    use Level::*;
    let cases = [
        (r#"{"level":"info"}"#, Some(Info)),
        (r#"{"severity":"ERROR"}"#, Some(Error)),
        (r#"{"severityText":"WARN","severityNumber":13}"#, Some(Warn)),
        (r#"{"severityNumber":17}"#, Some(Error)),
        (r#"{"severityNumber":2}"#, Some(Trace)),
        (r#"{"severityNumber":24}"#, Some(Fatal)),
        (r#"{"lvl":"dbug"}"#, None),
        (r#"{"loglevel":"warning"}"#, Some(Warn)),
        (r#"{"log":{"level":"error"}}"#, Some(Error)),
        (r#"{"log.level":"debug"}"#, Some(Debug)),
        (r#"{"levelname":"CRITICAL"}"#, Some(Fatal)),
        (r#"{"level":30}"#, Some(Info)),
        (r#"{"level":50}"#, Some(Error)),
        (r#"{"level":"E"}"#, Some(Error)),
        (r#"{"msg":"ERROR in text is not a level"}"#, None),
    ];
    for (line, want) in cases {
        assert_eq!(parse_line(line, &ctx()).level, want, "{line}");
    }
}

#[test]
fn message_and_fields() {
    let line = r#"{"ts":"2023-11-14T22:13:20Z","level":"warn","msg":"disk \"sda\" full","user":{"id":7,"name":"ann","tags":["a","b"],"empty":{}},"ok":true,"n":null,"pi":3.5}"#;
    let p = parse_line(line, &ctx());
    assert_eq!(p.format, Format::Json);
    assert_eq!(p.level, Some(Level::Warn));
    assert_eq!(p.message.as_deref(), Some("disk \"sda\" full"));
    let mut fields = p.fields.clone();
    fields.sort();
    let want: Vec<(String, String)> = [
        ("n", "null"),
        ("ok", "true"),
        ("pi", "3.5"),
        ("user.empty", "{}"),
        ("user.id", "7"),
        ("user.name", "ann"),
        ("user.tags", r#"["a","b"]"#),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(fields, want);
}

#[test]
fn message_key_preference_and_fallback() {
    let cases = [
        (r#"{"message":"a","msg":"b"}"#, Some("a")),
        (r#"{"log":"from docker\n","stream":"stdout"}"#, Some("from docker")),
        (r#"{"@message":"x"}"#, Some("x")),
        (r#"{"text":"y"}"#, Some("y")),
        (r#"{"body":"otel body"}"#, Some("otel body")),
        (r#"{"message":{"nested":1}}"#, None),
        (r#"{"other":"z"}"#, None),
    ];
    for (line, want) in cases {
        assert_eq!(parse_line(line, &ctx()).message.as_deref(), want, "{line}");
    }
    let p = parse_line(r#"{"message":{"nested":1}}"#, &ctx());
    assert_eq!(field(&p, "message.nested"), Some("1"));
}

#[test]
fn parse_json_object_rejects_non_objects() {
    assert!(matches!(parse_json_object("[1,2]", &ctx()), Err(JsonError::NotAnObject)));
    assert!(matches!(parse_json_object("\"s\"", &ctx()), Err(JsonError::NotAnObject)));
    assert!(matches!(parse_json_object("{\"a\":", &ctx()), Err(JsonError::Invalid(_))));
    assert!(matches!(parse_json_object("", &ctx()), Err(JsonError::Invalid(_))));
    assert!(parse_json_object(" {\"a\":1} ", &ctx()).is_ok());
}

#[test]
fn broken_json_line_falls_back_to_text() {
    let p = parse_line(r#"{"level":"error","msg":"cut"#, &ctx());
    assert_eq!(p.format, Format::Unknown);
    assert_eq!(p.message, None);
    let deep = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    assert_eq!(parse_line(&deep, &ctx()).format, Format::Unknown);
}
