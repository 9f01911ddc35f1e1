//! Store errors as API errors: what the user can fix is a 400 that says how.

use vigil_common::ApiError;
use vigil_logstore::LogStoreError;
use vigil_model::ErrorCode;

pub(crate) fn to_api_error(error: LogStoreError) -> ApiError {
    match error {
        LogStoreError::BadQuery(message) | LogStoreError::OverLimit(message) => ApiError::bad_request(message),
        LogStoreError::Timeout => timeout_error(),
        other => ApiError::internal(format!("search failed: {other}")),
    }
}

pub(crate) fn timeout_error() -> ApiError {
    ApiError::new(ErrorCode::Timeout, "query exceeded its time budget: narrow the time range or the query")
}
