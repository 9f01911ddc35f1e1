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

/// A sample value as Prometheus writes it: a number, `+Inf`, `-Inf`, `NaN`.
fn write_value(out: &mut String, value: f64) {
    use std::fmt::Write;
    if value.is_nan() {
        out.push_str("NaN");
    } else if value == f64::INFINITY {
        out.push_str("+Inf");
    } else if value == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{value}");
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

/// Seconds as Prometheus writes them: `1435781451.781`, or `1435781451` on a whole second.
fn write_seconds(out: &mut String, time_ms: i64) {
    use std::fmt::Write;
    let _ = write!(out, "{}", time_ms as f64 / 1000.0);
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
