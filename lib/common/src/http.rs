//! The one HTTP error type ([`ApiError`]) and the routes every role serves.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use vigil_model::{
    error::{ErrorBody, ErrorDetail},
    ErrorCode,
};

/// An error answer: `{"error":{"code","message"}}` with the code's status. Handlers return
/// this and never build error responses by hand.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::BadRequest, message)
    }
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Unavailable, message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Internal, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(code = ?self.code, message = %self.message, "request failed");
        }
        let body = ErrorBody { error: ErrorDetail { code: self.code, message: self.message } };
        (status, Json(body)).into_response()
    }
}

/// `/health` (200 "ok") and `/metrics` (Prometheus text), served by every role.
pub fn observability_routes() -> Router {
    let handle = crate::telemetry::metrics_handle();
    Router::new().route("/health", get(|| async { "ok" })).route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move { ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()) }
        }),
    )
}

/// Answers unknown paths with the standard error body instead of an empty 404.
pub async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such endpoint: see the README for the API")
}

/// Requests answered, by route template, method and status.
pub const HTTP_REQUESTS_TOTAL: &str = "vigil_http_requests_total";
/// Time to answer, by route template and method.
pub const HTTP_REQUEST_SECONDS: &str = "vigil_http_request_seconds";

/// Middleware (`axum::middleware::from_fn(track_requests)`): one span per request and the
/// request metrics, labelled by route template so the label set stays bounded.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = method_label(request.method());
    let started = Instant::now();
    let span = tracing::debug_span!("request", %method, %route);
    let response = tracing::Instrument::instrument(next.run(request), span).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS_TOTAL, "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_REQUEST_SECONDS, "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The method as a label: the standard ones by name, anything else as `other`, so a client
/// inventing methods cannot grow the label set (and no allocation per request).
fn method_label(method: &axum::http::Method) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS"];
    KNOWN.into_iter().find(|known| *known == method.as_str()).unwrap_or("other")
}
