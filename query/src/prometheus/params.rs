//! Request parameters as Prometheus reads them: from the query string and, for POST, a form
//! body; times as RFC 3339 or Unix seconds; steps as durations (`15s`) or seconds.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
};

use super::answer::PromError;

/// Every `name=value` pair of the request (a name may repeat: `match[]`).
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = PromError;

    async fn from_request(request: Request, state: &S) -> Result<Self, PromError> {
        let mut pairs: Vec<(String, String)> = match request.uri().query() {
            Some(query) => serde_urlencoded::from_str(query)
                .map_err(|error| PromError::bad_data(format!("invalid query string: {error}")))?,
            None => Vec::new(),
        };
        let is_form = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            let body = Bytes::from_request(request, state)
                .await
                .map_err(|error| PromError::bad_data(format!("could not read the form body: {error}")))?;
            let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                .map_err(|error| PromError::bad_data(format!("invalid form body: {error}")))?;
            pairs.extend(form);
        }
        Ok(Params(pairs))
    }
}

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    pub fn required(&self, name: &str) -> Result<&str, PromError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| PromError::bad_data(format!("missing parameter {name:?}")))
    }

    /// A time parameter in ms, or `default` when absent.
    pub fn time_ms(&self, name: &str, default: i64) -> Result<i64, PromError> {
        match self.get(name).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(text) => parse_time_ms(text).ok_or_else(|| {
                PromError::bad_data(format!("invalid parameter {name:?}: cannot parse {text:?} to a valid timestamp"))
            }),
        }
    }
}

/// `1700000000`, `1700000000.123` or `2023-11-14T22:13:20Z` → ms since the epoch.
pub fn parse_time_ms(text: &str) -> Option<i64> {
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds.is_finite().then(|| (seconds * 1000.0).round() as i64);
    }
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some((parsed.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// `15s`, `1m30s`, `1.5` (seconds) → ms; a step must be positive.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    vigil_promql::parse_duration_ms(text).filter(|ms| *ms > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_read_as_prometheus_reads_them() {
        assert_eq!(parse_time_ms("1700000000"), Some(1_700_000_000_000));
        assert_eq!(parse_time_ms("1700000000.5"), Some(1_700_000_000_500));
        assert_eq!(parse_time_ms("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(parse_time_ms("yesterday"), None);
        assert_eq!(parse_duration_ms("15s"), Some(15_000));
        assert_eq!(parse_duration_ms("1m30s"), Some(90_000));
        assert_eq!(parse_duration_ms("0.5"), Some(500));
        assert_eq!(parse_duration_ms("0"), None);
        assert_eq!(parse_duration_ms("5x"), None);
    }
}
