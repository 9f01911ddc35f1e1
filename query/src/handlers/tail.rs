//! `GET /api/v1/logs/tail?q=&service=&host=&level=`: new matching lines as server-sent
//! events (`event: log`, data: one hit as JSON), from the moment of the request.
//!
//! Each poll asks for lines that *arrived* since a little before the previous poll (commits
//! land up to a commit interval after arrival), and drops lines already sent.

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    hash::{DefaultHasher, Hash, Hasher},
    time::Duration,
};

use axum::{
    extract::{Query, State},
    response::sse::{Event, KeepAlive, Sse},
};
use futures::Stream;
use vigil_common::ApiError;
use vigil_logstore::search::{self, SearchRequest, SortOrder};
use vigil_model::search::LogHit;

use super::run_blocking;
use crate::{params::now_ms, params::Params, AppState};

/// How far back each poll looks, to catch lines whose commit landed after the last poll.
const LOOKBACK_MS: i64 = 5_000;
/// Most lines sent per poll.
const MAX_PER_POLL: usize = 1_000;

pub async fn tail(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let mut params = Params::new(raw);
    let filter = params.filter()?;
    params.finish()?;
    // Validate the query once, so a bad q is a 400 and not a silent empty stream.
    filter.to_query(state.reader.schema()).map_err(crate::error::to_api_error)?;
    let interval = state.config.tail_poll_interval;
    let stream = poll_stream(state, filter, interval);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn poll_stream(
    state: AppState,
    filter: vigil_logstore::search::LogFilter,
    interval: Duration,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let started_ms = now_ms();
    futures::stream::unfold(
        (state, filter, started_ms, HashMap::<u64, i64>::new(), VecDeque::<Event>::new()),
        move |(state, mut filter, mut since_ms, mut sent, mut queue)| async move {
            loop {
                if let Some(event) = queue.pop_front() {
                    return Some((Ok(event), (state, filter, since_ms, sent, queue)));
                }
                tokio::time::sleep(interval).await;
                let poll_started = now_ms();
                filter.ingest_from_ms = Some(since_ms - LOOKBACK_MS);
                let request = SearchRequest {
                    filter: filter.clone(),
                    limit: MAX_PER_POLL,
                    sort: SortOrder::Asc,
                    ..Default::default()
                };
                let reader = state.reader.clone();
                let hits = match run_blocking(&state, move |deadline| {
                    search::search(&reader, &request, deadline).map_err(crate::error::to_api_error)
                })
                .await
                {
                    Ok(found) => found.hits,
                    Err(error) => {
                        let event = Event::default().event("error").data(error.message);
                        return Some((Ok(event), (state, filter, since_ms, sent, queue)));
                    }
                };
                // Forget what is older than the lookback window: it cannot come back.
                sent.retain(|_, at| *at >= since_ms - LOOKBACK_MS);
                for hit in hits {
                    let key = hit_key(&hit);
                    if sent.insert(key, poll_started).is_none() {
                        if let Ok(event) = Event::default().event("log").json_data(&hit) {
                            queue.push_back(event);
                        }
                    }
                }
                since_ms = poll_started;
            }
        },
    )
}

fn hit_key(hit: &LogHit) -> u64 {
    let mut hasher = DefaultHasher::new();
    (&hit.host, &hit.source, hit.offset, &hit.timestamp, &hit.message).hash(&mut hasher);
    hasher.finish()
}
