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

/// A sample value as Prometheus writes it: a string, `+Inf`, `-Inf`, `NaN`.
pub fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "+Inf".into()
    } else if value == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{value}")
    }
}

/// `[unix seconds, "value"]`
fn point(time_ms: i64, value: f64) -> Json_ {
    json!([time_ms as f64 / 1000.0, format_value(value)])
}

pub fn labels_json(labels: &Labels) -> Json_ {
    let map: Map<String, Json_> = labels.iter().map(|(n, v)| (n.to_string(), Json_::String(v.to_string()))).collect();
    Json_::Object(map)
}

/// An instant query's `data`.
pub fn instant_data(value: Value, time_ms: i64) -> Json_ {
    match value {
        Value::Scalar(v) => json!({"resultType": "scalar", "result": point(time_ms, v)}),
        Value::String(s) => json!({"resultType": "string", "result": [time_ms as f64 / 1000.0, s]}),
        Value::Vector(samples) => json!({
            "resultType": "vector",
            "result": samples.iter().map(|s| json!({"metric": labels_json(&s.labels), "value": point(time_ms, s.value)})).collect::<Vec<_>>(),
        }),
        Value::Matrix(series) => matrix_data(&series),
    }
}

/// A range query's (or a range selector's) `data`.
pub fn matrix_data(series: &[Series]) -> Json_ {
    json!({
        "resultType": "matrix",
        "result": series.iter().map(|s| json!({
            "metric": labels_json(&s.labels),
            "values": s.points.iter().map(|(t, v)| point(*t, *v)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
