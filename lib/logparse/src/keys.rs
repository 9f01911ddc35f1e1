//! The well-known keys of structured lines (JSON, logfmt): which key holds the timestamp,
//! the level and the message, in order of preference.

use vigil_model::Level;

use crate::level;

/// Timestamp keys, most specific first. OTel's `*UnixNano` values are ns epoch numbers.
pub(crate) const TIMESTAMP_KEYS: &[&str] = &[
    "@timestamp",
    "timestamp",
    "time",
    "ts",
    "date",
    "datetime",
    "t",
    "t.$date",
    "eventTime",
    "timeUnixNano",
    "observedTimeUnixNano",
];

/// Level keys whose value is a word (or a pino/bunyan number).
pub(crate) const LEVEL_KEYS: &[&str] =
    &["level", "severity", "severityText", "lvl", "loglevel", "log.level", "levelname"];

/// OpenTelemetry's numeric severity (1..=24), read when no level word is present.
pub(crate) const OTEL_SEVERITY_NUMBER: &str = "severityNumber";

/// Message keys, in order of preference; only a string value is taken as the message.
pub(crate) const MESSAGE_KEYS: &[&str] = &["message", "msg", "log", "@message", "text", "body"];

/// A level field's text value: any spelling [`Level::parse`] knows, or Apache's `trace1`..
pub(crate) fn level_value(v: &str) -> Option<Level> {
    let v = v.trim();
    if v.len() > 13 {
        return None;
    }
    level::word(v.as_bytes()).or_else(|| Level::parse(v))
}
