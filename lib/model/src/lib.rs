//! Wire and domain types shared by every Vigil process.
//!
//! Everything that crosses a process boundary (a bus message, an HTTP body) is defined here
//! with a schema version. This crate does no I/O and has no async code: start with
//! [`logs`] for the log path and [`error`] for the error codes every API answers with.

pub mod content_type;
pub mod error;
pub mod log_batch_writer;
pub mod logs;
pub mod metrics;
pub mod metrics_wire;
pub mod policy;
pub mod registry;
pub mod search;

pub use error::ErrorCode;
pub use logs::{Level, LogBatch, LogEvent, LogFlag, LogRecord, LOG_BATCH_SCHEMA_VERSION};
