//! Shared plumbing for every Vigil role.
//!
//! Charter: this crate holds only what every role needs in the same form, and nothing else:
//! telemetry initialisation ([`telemetry`]), config loading with environment overrides
//! ([`config`]), the HTTP error type and the `/health` + `/metrics` routes ([`http`]), the
//! shutdown signal ([`shutdown`]) and the data-directory lock ([`data_dir`]). Domain logic never goes here; a helper used by one crate
//! stays in that crate.

pub mod config;
pub mod data_dir;
pub mod http;
pub mod shutdown;
pub mod telemetry;

pub use http::ApiError;
