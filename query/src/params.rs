//! Request parameters of the log API, read from the query string with errors that name the
//! parameter and say what is accepted.

use std::{
    collections::HashMap,
    time::{SystemTime, UNIX_EPOCH},
};

use time::{format_description::well_known::Rfc3339, OffsetDateTime};
use vigil_common::ApiError;
use vigil_logstore::search::{LogFilter, SortOrder};

/// The raw query string as a map; unknown parameters are refused by [`Params::finish`].
pub struct Params {
    values: HashMap<String, String>,
    known: Vec<&'static str>,
}

impl Params {
    pub fn new(values: HashMap<String, String>) -> Params {
        Params { values, known: Vec::new() }
    }

    /// A non-empty string parameter.
    pub fn string(&mut self, name: &'static str) -> Option<String> {
        self.known.push(name);
        self.values.get(name).filter(|value| !value.is_empty()).cloned()
    }

    pub fn required_string(&mut self, name: &'static str) -> Result<String, ApiError> {
        self.string(name).ok_or_else(|| ApiError::bad_request(format!("parameter {name} is required")))
    }

    pub fn number<T: std::str::FromStr>(&mut self, name: &'static str) -> Result<Option<T>, ApiError> {
        match self.string(name) {
            None => Ok(None),
            Some(raw) => raw.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("parameter {name}={raw:?} is not a valid non-negative integer"))
            }),
        }
    }

    /// A point in time: RFC 3339 (`2024-05-01T10:00:00Z`), epoch milliseconds, `now`, or
    /// `now-15m` style (any humantime duration).
    pub fn time(&mut self, name: &'static str) -> Result<Option<i64>, ApiError> {
        let Some(raw) = self.string(name) else { return Ok(None) };
        parse_time(&raw).map(Some).ok_or_else(|| {
            ApiError::bad_request(format!(
                "parameter {name}={raw:?} is not a time: use RFC 3339 (2024-05-01T10:00:00Z), epoch milliseconds, now or now-15m"
            ))
        })
    }

    /// A duration in ms: humantime (`30s`, `5m`, `1h`) or plain milliseconds.
    pub fn duration_ms(&mut self, name: &'static str) -> Result<Option<i64>, ApiError> {
        let Some(raw) = self.string(name) else { return Ok(None) };
        let parsed = raw
            .parse::<i64>()
            .ok()
            .or_else(|| humantime::parse_duration(&raw).ok().map(|d| d.as_millis() as i64))
            .filter(|ms| *ms > 0);
        parsed.map(Some).ok_or_else(|| {
            ApiError::bad_request(format!(
                "parameter {name}={raw:?} is not a positive duration: use 30s, 5m, 1h or milliseconds"
            ))
        })
    }

    pub fn sort(&mut self) -> Result<SortOrder, ApiError> {
        match self.string("sort").as_deref() {
            None | Some("desc") | Some("timestamp:desc") | Some("-timestamp") => Ok(SortOrder::Desc),
            Some("asc") | Some("timestamp:asc") | Some("timestamp") => Ok(SortOrder::Asc),
            Some(other) => Err(ApiError::bad_request(format!("parameter sort={other:?} must be desc or asc"))),
        }
    }

    pub fn bool(&mut self, name: &'static str) -> Result<bool, ApiError> {
        match self.string(name).as_deref() {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!("parameter {name}={other:?} must be true or false"))),
        }
    }

    /// The common filter parameters: q, start, end, service, host, level.
    pub fn filter(&mut self) -> Result<LogFilter, ApiError> {
        let filter = LogFilter {
            q: self.string("q").unwrap_or_default(),
            start_ms: self.time("start")?,
            end_ms: self.time("end")?,
            service: self.string("service"),
            host: self.string("host"),
            level: self.string("level").map(|level| level.to_ascii_lowercase()),
            source: self.string("source"),
            ingest_from_ms: None,
        };
        if let (Some(start), Some(end)) = (filter.start_ms, filter.end_ms) {
            if start > end {
                return Err(ApiError::bad_request("start is after end"));
            }
        }
        Ok(filter)
    }

    /// Refuses parameters the endpoint does not know: a typo must not silently widen a search.
    pub fn finish(self) -> Result<(), ApiError> {
        let mut unknown: Vec<&String> = self.values.keys().filter(|key| !self.known.contains(&key.as_str())).collect();
        unknown.sort();
        match unknown.first() {
            None => Ok(()),
            Some(name) => Err(ApiError::bad_request(format!(
                "unknown parameter {name}: this endpoint takes {}",
                self.known.join(", ")
            ))),
        }
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn parse_time(raw: &str) -> Option<i64> {
    if let Ok(ms) = raw.parse::<i64>() {
        return Some(ms);
    }
    if raw == "now" {
        return Some(now_ms());
    }
    if let Some(ago) = raw.strip_prefix("now-") {
        return humantime::parse_duration(ago).ok().map(|d| now_ms() - d.as_millis() as i64);
    }
    OffsetDateTime::parse(raw, &Rfc3339).ok().map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn times_in_every_accepted_form() {
        let mut p =
            params(&[("a", "2024-05-01T10:00:00Z"), ("b", "1714557600000"), ("c", "2024-05-01T12:00:00+02:00")]);
        assert_eq!(p.time("a").expect("rfc3339"), Some(1_714_557_600_000));
        assert_eq!(p.time("b").expect("epoch ms"), Some(1_714_557_600_000));
        assert_eq!(p.time("c").expect("offset"), Some(1_714_557_600_000));
        let mut p = params(&[("start", "now-1h")]);
        let start = p.time("start").expect("relative").expect("present");
        assert!((now_ms() - 3_600_000 - start).abs() < 5_000);
    }

    #[test]
    fn bad_values_and_unknown_parameters_are_named() {
        let mut p = params(&[("start", "yesterday")]);
        let error = p.time("start").expect_err("not a time");
        assert!(error.message.contains("start"), "{}", error.message);
        let mut p = params(&[("servce", "api")]);
        let _ = p.string("service");
        let error = p.finish().expect_err("typo");
        assert!(error.message.contains("servce"), "{}", error.message);
    }
}
