//! `GET /api/v1/logs/context?source=&offset=&before=&after=&host=`

use std::collections::HashMap;

use axum::{
    extract::{Query, State},
    Json,
};
use vigil_common::ApiError;
use vigil_logstore::search::{self, ContextRequest};
use vigil_model::search::ContextResponse;

use super::run_blocking;
use crate::{error::to_api_error, params::Params, AppState};

pub async fn context(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<ContextResponse>, ApiError> {
    let mut params = Params::new(raw);
    let request = ContextRequest {
        source: params.required_string("source")?,
        host: params.string("host"),
        offset: params.number::<u64>("offset")?.ok_or_else(|| ApiError::bad_request("parameter offset is required"))?,
        before: params.number::<usize>("before")?.unwrap_or(10),
        after: params.number::<usize>("after")?.unwrap_or(10),
    };
    params.finish()?;
    let reader = state.reader.clone();
    let context = run_blocking(&state, move |_| search::context(&reader, &request).map_err(to_api_error)).await?;
    Ok(Json(context))
}
