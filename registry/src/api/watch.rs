//! Blocking queries (`?index=N&wait=30s`) and the watch stream (`GET /v1/watch`, server-sent
//! events). Both read the node's change log: a blocking query returns once the watched
//! resource changed past `index` (a change elsewhere does not wake it), a stream sends every
//! change after `from`, in revision order.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{
    extract::{Query, State},
    http::HeaderValue,
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
};
use futures::Stream;
use serde::Deserialize;
use vigil_common::http::ApiError;
use vigil_model::{registry::DEFAULT_NAMESPACE, ErrorCode};

use super::params::{check_name, Common};
use crate::{
    node::RegistryNode,
    store::changes::{Compacted, WatchTarget},
};

/// `wait` when a blocking query gives none, and the most it may ask for (Consul's values).
const DEFAULT_WAIT: Duration = Duration::from_secs(300);
const MAX_WAIT: Duration = Duration::from_secs(600);

/// The header holding a resource's index, to pass back as `?index=`.
pub const INDEX_HEADER: &str = "x-vigil-index";

/// Parses `wait` (`"30s"`, `"5m"`), capped at [`MAX_WAIT`].
pub fn wait_of(wait: Option<&str>) -> Result<Duration, ApiError> {
    match wait {
        None => Ok(DEFAULT_WAIT),
        Some(text) => humantime::parse_duration(text)
            .map(|wait| wait.min(MAX_WAIT))
            .map_err(|error| ApiError::bad_request(format!("wait={text:?} is not a duration like 30s or 5m: {error}"))),
    }
}

/// Returns the index of `target` once it is past `index` or `wait` is over.
pub async fn block(node: &RegistryNode, target: &WatchTarget, index: Option<u64>, wait: Duration) -> u64 {
    let mut revisions = node.state().revisions();
    let Some(index) = index else {
        return node.read(|applied| applied.changes.index_of(target));
    };
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        revisions.borrow_and_update();
        let current = node.read(|applied| applied.changes.index_of(target));
        if current > index {
            return current;
        }
        match tokio::time::timeout_at(deadline, revisions.changed()).await {
            Ok(Ok(())) => continue,
            _ => return current,
        }
    }
}

/// Adds the index header to an answer.
pub fn with_index(index: u64, answer: impl IntoResponse) -> Response {
    let mut response = answer.into_response();
    if let Ok(value) = HeaderValue::from_str(&index.to_string()) {
        response.headers_mut().insert(INDEX_HEADER, value);
    }
    response
}

fn compacted(compacted: Compacted) -> ApiError {
    ApiError::new(
        ErrorCode::Compacted,
        format!(
            "changes up to revision {} were compacted away on this node: list the resource again and watch from the revision it answers",
            compacted.compacted_at
        ),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchQuery {
    /// Send changes after this revision (default: from now on).
    from: Option<u64>,
    namespace: Option<String>,
    /// Watch the instances of one service (of `namespace`).
    service: Option<String>,
    key: Option<String>,
    prefix: Option<String>,
    consistency: Option<String>,
}

/// `GET /v1/watch?from=&service=|key=|prefix=`: every change after `from`, as events named
/// `change` whose data is a `WatchEvent`.
pub async fn watch(
    State(node): State<Arc<RegistryNode>>,
    Query(query): Query<WatchQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let namespace_given = query.namespace.is_some();
    let common = Common { namespace: query.namespace, consistency: query.consistency };
    let namespace = common.namespace()?;
    let target = match (query.service, query.key, query.prefix) {
        (Some(service), None, None) => {
            check_name("service", &service)?;
            Some(WatchTarget::Service { namespace, service })
        }
        (None, Some(key), None) => Some(WatchTarget::Key(key)),
        (None, None, Some(prefix)) => Some(WatchTarget::Prefix(prefix)),
        (None, None, None) if namespace_given || namespace != DEFAULT_NAMESPACE => {
            Some(WatchTarget::Namespace { namespace })
        }
        (None, None, None) => None,
        _ => return Err(ApiError::bad_request("give at most one of service, key and prefix")),
    };
    common.read_barrier(&node).await?;
    let from = match query.from {
        Some(from) => {
            // Refuse up front, as a plain error answer, rather than inside the stream.
            node.read(|applied| applied.changes.since(from, target.as_ref()).map(|_| ())).map_err(compacted)?;
            from
        }
        None => node.read(|applied| applied.state.revision),
    };
    let revisions = node.state().revisions();
    let stream = futures::stream::unfold(
        (node, target, from, revisions, std::collections::VecDeque::new(), false),
        |(node, target, mut sent, mut revisions, mut queue, mut ended)| async move {
            loop {
                if let Some(event) = queue.pop_front() {
                    return Some((Ok(event), (node, target, sent, revisions, queue, ended)));
                }
                if ended {
                    return None;
                }
                revisions.borrow_and_update();
                match node.read(|applied| applied.changes.since(sent, target.as_ref())) {
                    Ok(events) => {
                        for change in events {
                            sent = change.revision;
                            if let Ok(event) = Event::default().event("change").id(sent.to_string()).json_data(&change)
                            {
                                queue.push_back(event);
                            }
                        }
                    }
                    Err(gone) => {
                        // This watcher fell behind by more than the change log holds.
                        queue.push_back(Event::default().event("error").data(compacted(gone).message));
                        ended = true;
                    }
                }
                if queue.is_empty() && revisions.changed().await.is_err() {
                    return None;
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
