//! The one HTTP error type ([`ApiError`]) and the routes every role serves.

use axum::{
    http::StatusCode,
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
