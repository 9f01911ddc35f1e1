//! The crate's one error: a JSON payload that is not a JSON object.

/// Why [`crate::parse_json_object`] refused a payload. Either way the caller keeps the raw
/// text and flags it; the variants only make the log message precise.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("invalid json: {0}")]
    Invalid(#[from] serde_json::Error),
    #[error("json value is not an object")]
    NotAnObject,
}
