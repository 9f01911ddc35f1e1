//! The error codes every Vigil API answers with, as `{"error":{"code","message"}}`.

use serde::{Deserialize, Serialize};

/// What went wrong, from the caller's point of view: each code asks the caller to act differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    NotFound,
    BadRequest,
    /// No valid bearer token: give one (`Authorization: Bearer ...`).
    Unauthorized,
    /// The token's scopes do not allow this.
    Forbidden,
    Conflict,
    /// What was asked for is gone (a watch from a revision compacted away): list again.
    Compacted,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unavailable,
    Timeout,
    TooManyRequests,
    Internal,
}

impl ErrorCode {
    /// The HTTP status this code maps to.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::NotFound => 404,
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::Conflict => 409,
            ErrorCode::Compacted => 410,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::Unavailable => 503,
            ErrorCode::Timeout => 503,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::Internal => 500,
        }
    }
}

/// The JSON body of every error answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}
