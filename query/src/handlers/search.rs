//! `GET /api/v1/logs/search?q=&start=&end=&service=&host=&level=&limit=&offset=&sort=&highlight=`

use std::{collections::HashMap, time::Instant};

use axum::{
    extract::{Query, State},
    Json,
};
use vigil_common::ApiError;
use vigil_logstore::search::{self, SearchRequest};
use vigil_model::search::SearchResponse;

use super::run_blocking;
use crate::{error::to_api_error, params::Params, AppState};

pub async fn search(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<SearchResponse>, ApiError> {
    let started = Instant::now();
    let mut params = Params::new(raw);
    let filter = params.filter()?;
    let limit = params.number::<usize>("limit")?.unwrap_or(state.config.default_limit);
    if limit > state.config.max_limit {
        return Err(ApiError::bad_request(format!("limit {limit} is over the maximum of {}", state.config.max_limit)));
    }
    let request = SearchRequest {
        filter,
        limit,
        offset: params.number::<usize>("offset")?.unwrap_or(0),
        sort: params.sort()?,
        highlight: params.bool("highlight")?,
    };
    params.finish()?;
    let reader = state.reader.clone();
    let found =
        run_blocking(&state, move |deadline| search::search(&reader, &request, deadline).map_err(to_api_error)).await;
    let found = found?;
    Ok(Json(SearchResponse { total: found.total, hits: found.hits, took_ms: started.elapsed().as_millis() as u64 }))
}
