//! The Prometheus HTTP API over the metric store, with Prometheus's JSON shapes and error
//! format, so Grafana's Prometheus data source and other Prometheus clients work unchanged:
//! `/api/v1/query`, `/api/v1/query_range`, `/api/v1/series`, `/api/v1/labels`,
//! `/api/v1/label/{name}/values`, `/api/v1/metadata`. Parameters come from the query string
//! (GET) or a form body (POST), as Prometheus accepts both; `params.rs` reads them and
//! `answer.rs` writes the answers.

mod answer;
mod handlers;
mod params;

use std::sync::Arc;

use axum::{routing::get, Router};
use vigil_metricstore::MetricStore;

/// The Prometheus API routes over `store`.
pub fn router(store: Arc<MetricStore>) -> Router {
    Router::new()
        .route("/api/v1/query", get(handlers::query).post(handlers::query))
        .route("/api/v1/query_range", get(handlers::query_range).post(handlers::query_range))
        .route("/api/v1/series", get(handlers::series).post(handlers::series))
        .route("/api/v1/labels", get(handlers::labels).post(handlers::labels))
        .route("/api/v1/label/{name}/values", get(handlers::label_values))
        .route("/api/v1/metadata", get(handlers::metadata))
        .with_state(store)
}
