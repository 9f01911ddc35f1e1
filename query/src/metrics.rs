//! Metric names of the query service, defined once.

pub const REQUESTS_TOTAL: &str = "vigil_query_requests_total";
pub const REQUEST_SECONDS: &str = "vigil_query_request_seconds";
