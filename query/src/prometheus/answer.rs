//! Answers in Prometheus's JSON shapes: `{"status":"success","data":...}`, and errors as
//! `{"status":"error","errorType":...,"error":...}` with Prometheus's status codes.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Map, Value as Json_};
use vigil_metricstore::Labels;
use vigil_promql::{QueryError, Series, Value};

/// An error answer.
#[derive(Debug)]
pub struct PromError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl PromError {
    pub fn bad_data(message: impl Into<String>) -> PromError {
        PromError { status: StatusCode::BAD_REQUEST, kind: "bad_data", message: message.into() }
    }

    pub fn internal(message: impl Into<String>) -> PromError {
        PromError { status: StatusCode::INTERNAL_SERVER_ERROR, kind: "internal", message: message.into() }
    }
}

impl From<QueryError> for PromError {
    fn from(error: QueryError) -> PromError {
        let (status, kind) = match &error {
            QueryError::Parse(_) => (StatusCode::BAD_REQUEST, "bad_data"),
            // Prometheus answers 422 for queries it cannot execute; "not supported" is one.
            QueryError::Unsupported(_) | QueryError::Execution(_) => (StatusCode::UNPROCESSABLE_ENTITY, "execution"),
            QueryError::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
        };
        PromError { status, kind, message: error.to_string() }
    }
}

impl IntoResponse for PromError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"status": "error", "errorType": self.kind, "error": self.message}))).into_response()
    }
}

pub fn success(data: Json_) -> Response {
    Json(json!({"status": "success", "data": data})).into_response()
}

/// A sample value as Prometheus writes it: a number (the shortest digits that read back to
/// it, never an exponent, no trailing `.0`), `+Inf`, `-Inf`, `NaN`. Formatting floats was
/// half of a large range query's time; `ryu` gives the same digits as `Display` faster, and
/// the rare value it would write with an exponent goes through `Display`.
fn write_value(out: &mut String, value: f64) {
    use std::fmt::Write;
    if value.is_nan() {
        out.push_str("NaN");
    } else if value == f64::INFINITY {
        out.push_str("+Inf");
    } else if value == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let mut buffer = ryu::Buffer::new();
        let text = buffer.format_finite(value);
        if text.contains('e') {
            let _ = write!(out, "{value}");
        } else {
            out.push_str(text.strip_suffix(".0").unwrap_or(text));
        }
    }
}

pub fn labels_json(labels: &Labels) -> Json_ {
    let map: Map<String, Json_> = labels.iter().map(|(n, v)| (n.to_string(), Json_::String(v.to_string()))).collect();
    Json_::Object(map)
}

/// Query results as JSON text, written straight into one string: a range query over
/// thousands of series has millions of points, and a tree of JSON values for them cost more
/// than evaluating the query.
pub struct JsonText(String);

/// `{"status":"success","data":...}` around JSON text.
pub fn success_text(data: JsonText) -> Response {
    let body = format!(r#"{{"status":"success","data":{}}}"#, data.0);
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// An instant query's `data`.
pub fn instant_data(value: Value, time_ms: i64) -> JsonText {
    let mut out = String::new();
    match value {
        Value::Scalar(v) => {
            out.push_str(r#"{"resultType":"scalar","result":"#);
            write_point(&mut out, time_ms, v);
            out.push('}');
        }
        Value::String(text) => {
            out.push_str(r#"{"resultType":"string","result":["#);
            write_seconds(&mut out, time_ms);
            out.push(',');
            write_str(&mut out, &text);
            out.push_str("]}");
        }
        Value::Vector(samples) => {
            out.push_str(r#"{"resultType":"vector","result":["#);
            for (i, sample) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                write_labels(&mut out, &sample.labels);
                out.push_str(r#","value":"#);
                write_point(&mut out, time_ms, sample.value);
                out.push('}');
            }
            out.push_str("]}");
        }
        Value::Matrix(series) => return matrix_data(&series),
    }
    JsonText(out)
}

/// A range query's (or a range selector's) `data`.
pub fn matrix_data(series: &[Series]) -> JsonText {
    let points: usize = series.iter().map(|s| s.points.len()).sum();
    let mut out = String::with_capacity(series.len() * 128 + points * 24);
    out.push_str(r#"{"resultType":"matrix","result":["#);
    for (i, one) in series.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"metric":"#);
        write_labels(&mut out, &one.labels);
        out.push_str(r#","values":["#);
        for (j, (time, value)) in one.points.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            write_point(&mut out, *time, *value);
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    JsonText(out)
}

/// `[unix seconds, "value"]`
fn write_point(out: &mut String, time_ms: i64, value: f64) {
    out.push('[');
    write_seconds(out, time_ms);
    out.push_str(",\"");
    write_value(out, value);
    out.push_str("\"]");
}

/// Seconds as Prometheus writes them: `1435781451.781`, or `1435781451` on a whole second
/// (integer formatting: cheaper than a float's, and exact).
fn write_seconds(out: &mut String, time_ms: i64) {
    use std::fmt::Write;
    if time_ms < 0 {
        let _ = write!(out, "{}", time_ms as f64 / 1000.0);
        return;
    }
    let (seconds, millis) = (time_ms / 1000, time_ms % 1000);
    let _ = match millis {
        0 => write!(out, "{seconds}"),
        m if m % 100 == 0 => write!(out, "{seconds}.{}", m / 100),
        m if m % 10 == 0 => write!(out, "{seconds}.{:02}", m / 10),
        m => write!(out, "{seconds}.{m:03}"),
    };
}

fn write_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, name);
        out.push(':');
        write_str(out, value);
    }
    out.push('}');
}

/// A JSON string; text with nothing to escape (nearly all label values) is copied as is.
fn write_str(out: &mut String, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(text).expect("strings serialize"));
    }
}

#[cfg(test)]
mod tests {
    use vigil_promql::Sample;

    use super::*;

    #[test]
    fn values_read_back_exactly_and_times_are_written_as_display_writes_them() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut exact =
            vec![0.0, -0.0, 1.0, 600.0, 0.1, 1e21, 1e-7, 123456789.125, f64::MAX, f64::MIN_POSITIVE, 5e-324];
        let mut decimals = vec![0.5, 17.25, 1234.5678];
        for _ in 0..100_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            exact.push(f64::from_bits(seed));
            decimals.push((seed % 1_000_000) as f64 / 100.0);
        }
        let written = |value: f64| {
            let mut out = String::new();
            write_value(&mut out, value);
            out
        };
        // Every finite value reads back bit for bit, without an exponent (Prometheus's format);
        // where two shortest forms exist, either may be written.
        for value in exact.into_iter().filter(|v| v.is_finite()) {
            let text = written(value);
            assert!(!text.contains('e'), "{text}");
            assert_eq!(text.parse::<f64>().map(f64::to_bits), Ok(value.to_bits()), "{text}");
        }
        // Values with a few decimals (what exporters send) read exactly as Display writes them.
        for value in decimals {
            assert_eq!(written(value), format!("{value}"));
        }
        for time_ms in [0, 1, 10, 100, 999, 1_000, 1_500, 1_050, 1_005, 1_435_781_451_781, -1_500] {
            let mut written = String::new();
            write_seconds(&mut written, time_ms);
            assert_eq!(written, format!("{}", time_ms as f64 / 1000.0), "{time_ms}");
        }
    }

    #[test]
    fn written_json_parses_to_prometheus_shapes() {
        let labels = Labels::new([("__name__", "up"), ("job", "a \"quoted\"\\ job\n")]).unwrap();
        let matrix = matrix_data(&[Series { labels: labels.clone(), points: vec![(1_500, 1.0), (3_000, f64::NAN)] }]);
        let parsed: Json_ = serde_json::from_str(&matrix.0).unwrap();
        assert_eq!(
            parsed,
            json!({"resultType": "matrix", "result": [{
                "metric": {"__name__": "up", "job": "a \"quoted\"\\ job\n"},
                "values": [[1.5, "1"], [3, "NaN"]],
            }]})
        );
        let vector = instant_data(Value::Vector(vec![Sample { labels, value: f64::INFINITY }]), 2_000);
        let parsed: Json_ = serde_json::from_str(&vector.0).unwrap();
        assert_eq!(parsed["result"][0]["value"], json!([2, "+Inf"]));
        let scalar: Json_ = serde_json::from_str(&instant_data(Value::Scalar(-0.5), 1_000).0).unwrap();
        assert_eq!(scalar, json!({"resultType": "scalar", "result": [1, "-0.5"]}));
    }
}
