//! Unit tests, one module per format family, table-driven; `never_panics` is the proptest.

mod access;
mod apache;
mod json;
mod leading;
mod logfmt;
mod never_panics;
mod no_timestamp;
mod syslog;
mod time_shapes;

use crate::ParseContext;

/// 2024-06-15T12:00:00Z.
pub(super) const NOW_MS: i64 = 1_718_452_800_000;

pub(super) fn ctx() -> ParseContext {
    ParseContext { now_ms: NOW_MS }
}

/// ms since the epoch of a `time` date-time (computed independently of the parser).
pub(super) fn ms(dt: ::time::OffsetDateTime) -> i64 {
    i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).expect("test dates fit in i64")
}

/// The value of field `key`, if present.
pub(super) fn field<'a>(p: &'a crate::Parsed, key: &str) -> Option<&'a str> {
    p.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}
