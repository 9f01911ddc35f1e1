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
use vigil_logstore::search::{self, LogFilter, SearchRequest, SortOrder};
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

/// What a tail remembers between polls.
struct Tail {
    state: AppState,
    filter: LogFilter,
    /// When the previous poll started: the next one asks for arrivals since a little before.
    since_ms: i64,
    /// Lines already sent (key -> when), within the lookback window.
    sent: HashMap<u64, i64>,
    /// Events found but not yet handed to the stream.
    queue: VecDeque<Event>,
}

impl Tail {
    /// Searches for new arrivals and queues the ones not sent yet; an `error` event when the
    /// search fails.
    async fn poll(&mut self) {
        let poll_started = now_ms();
        self.filter.ingest_from_ms = Some(self.since_ms - LOOKBACK_MS);
        let request = SearchRequest {
            filter: self.filter.clone(),
            limit: MAX_PER_POLL,
            sort: SortOrder::Asc,
            ..Default::default()
        };
        let reader = self.state.reader.clone();
        let found = run_blocking(&self.state, move |deadline| {
            search::search(&reader, &request, deadline).map_err(crate::error::to_api_error)
        })
        .await;
        let hits = match found {
            Ok(found) => found.hits,
            Err(error) => {
                self.queue.push_back(Event::default().event("error").data(error.message));
                return;
            }
        };
        // Forget what is older than the lookback window: it cannot come back.
        let horizon = self.since_ms - LOOKBACK_MS;
        self.sent.retain(|_, at| *at >= horizon);
        for hit in hits {
            if self.sent.insert(hit_key(&hit), poll_started).is_none() {
                if let Ok(event) = Event::default().event("log").json_data(&hit) {
                    self.queue.push_back(event);
                }
            }
        }
        self.since_ms = poll_started;
    }
}

fn poll_stream(
    state: AppState,
    filter: LogFilter,
    interval: Duration,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let tail = Tail { state, filter, since_ms: now_ms(), sent: HashMap::new(), queue: VecDeque::new() };
    futures::stream::unfold(tail, move |mut tail| async move {
        loop {
            if let Some(event) = tail.queue.pop_front() {
                return Some((Ok(event), tail));
            }
            tokio::time::sleep(interval).await;
            tail.poll().await;
        }
    })
}

fn hit_key(hit: &LogHit) -> u64 {
    let mut hasher = DefaultHasher::new();
    (&hit.host, &hit.source, hit.offset, &hit.timestamp, &hit.message).hash(&mut hasher);
    hasher.finish()
}
