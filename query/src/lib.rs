//! The query service: the log search API over the log store, and the Prometheus API over the
//! metric store (`prometheus/`).
//!
//! `GET /api/v1/logs/search`, `/histogram`, `/context` and `/tail` (server-sent events). Start
//! at [`router`]; each endpoint is one file under `handlers/`, request parameters are read
//! and validated in [`params`], and store errors become API errors in `error.rs`.

pub mod config;
mod error;
mod handlers;
pub mod params;
pub mod prometheus;

use std::{path::Path, sync::Arc};

use axum::{routing::get, Router};
use tokio::sync::Semaphore;
use vigil_logstore::{LogReader, LogSchema};

pub use config::QueryConfig;

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    reader: Arc<LogReader>,
    config: QueryConfig,
    /// Bounds concurrent searches: past it, requests wait (and time out) instead of piling
    /// blocking work onto the machine.
    permits: Arc<Semaphore>,
}

/// The log query routes over the store at `logs_dir`.
pub fn router(logs_dir: &Path, config: QueryConfig) -> Router {
    let state = AppState {
        reader: Arc::new(LogReader::new(logs_dir, LogSchema::new())),
        permits: Arc::new(Semaphore::new(config.max_concurrent_searches.max(1))),
        config,
    };
    Router::new()
        .route("/api/v1/logs/search", get(handlers::search::search))
        .route("/api/v1/logs/histogram", get(handlers::histogram::histogram))
        .route("/api/v1/logs/context", get(handlers::context::context))
        .route("/api/v1/logs/tail", get(handlers::tail::tail))
        .with_state(state)
}
