//! `GET /api/v1/logs/histogram?q=&start=&end=&service=&host=&level=&interval=`

use std::{collections::HashMap, time::Instant};

use axum::{
    extract::{Query, State},
    Json,
};
use vigil_common::ApiError;
use vigil_logstore::search;
use vigil_model::search::{HistogramBucket, HistogramResponse};

use super::run_blocking;
use crate::{error::to_api_error, params::Params, AppState};

pub async fn histogram(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<HistogramResponse>, ApiError> {
    let started = Instant::now();
    let mut params = Params::new(raw);
    let filter = params.filter()?;
    let interval = params.duration_ms("interval")?;
    params.finish()?;
    let reader = state.reader.clone();
    let histogram = run_blocking(&state, move |deadline| {
        search::histogram(&reader, &filter, interval, deadline).map_err(to_api_error)
    })
    .await?;
    Ok(Json(HistogramResponse {
        interval_ms: histogram.interval_ms,
        total: histogram.total,
        buckets: histogram.buckets.into_iter().map(|(start_ms, count)| HistogramBucket { start_ms, count }).collect(),
        took_ms: started.elapsed().as_millis() as u64,
    }))
}
