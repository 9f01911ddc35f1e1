//! Metric names of the bus, defined once.

pub const APPENDED_MESSAGES_TOTAL: &str = "vigil_bus_appended_messages_total";
pub const APPENDED_BYTES_TOTAL: &str = "vigil_bus_appended_bytes_total";
pub const FSYNC_SECONDS: &str = "vigil_bus_fsync_seconds";
pub const RECOVERED_TRUNCATED_BYTES_TOTAL: &str = "vigil_bus_recovered_truncated_bytes_total";
pub const PRODUCE_ERRORS_TOTAL: &str = "vigil_bus_produce_errors_total";
