//! KV: `PUT|GET|DELETE /v1/kv/{key}`, with `?cas=` (compare-and-set on the key's
//! `mod_revision`; 0 means "only if absent") and `?prefix=true` on GET to list a prefix.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    response::Response,
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_common::http::ApiError;
use vigil_model::{
    registry::{Command, CommandOutcome},
    ErrorCode,
};

use super::{params::Common, watch};
use crate::{node::RegistryNode, store::changes::WatchTarget};

type Node = State<Arc<RegistryNode>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteQuery {
    cas: Option<u64>,
    /// Bind the key to this session: deleted when the session ends.
    session: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    consistency: Option<String>,
    /// `true`: every key starting with the path, sorted.
    prefix: Option<bool>,
    /// Blocking query: answer once the key (or prefix) changed past this index.
    index: Option<u64>,
    wait: Option<String>,
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > 1024 {
        return Err(ApiError::bad_request("a key is 1 to 1024 bytes long"));
    }
    Ok(())
}

pub async fn put(
    State(node): Node,
    Path(key): Path<String>,
    Query(query): Query<WriteQuery>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    check_key(&key)?;
    let value = String::from_utf8(body.to_vec()).map_err(|error| {
        ApiError::bad_request(format!(
            "the value is not UTF-8 text (byte {}): KV values are text",
            error.utf8_error().valid_up_to()
        ))
    })?;
    let session = query.session.clone();
    match node.write(Command::KvPut { key, value, cas: query.cas, session: query.session }).await? {
        CommandOutcome::NotFound => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("session {} does not exist (it expired or was destroyed)", session.unwrap_or_default()),
        )),
        outcome => super::answer(outcome),
    }
}

pub async fn delete(
    State(node): Node,
    Path(key): Path<String>,
    Query(query): Query<WriteQuery>,
) -> Result<Json<Value>, ApiError> {
    check_key(&key)?;
    super::answer(node.write(Command::KvDelete { key, cas: query.cas }).await?)
}

pub async fn get(
    State(node): Node,
    Path(key): Path<String>,
    Query(query): Query<ReadQuery>,
) -> Result<Response, ApiError> {
    check_key(&key)?;
    let wait = watch::wait_of(query.wait.as_deref())?;
    Common { namespace: None, consistency: query.consistency }.read_barrier(&node).await?;
    let prefix = query.prefix.unwrap_or(false);
    let target = if prefix { WatchTarget::Prefix(key.clone()) } else { WatchTarget::Key(key.clone()) };
    let index = watch::block(&node, &target, query.index, wait).await;
    if prefix {
        let (revision, entries) = node.read(|applied| {
            let entries: Vec<_> = applied
                .state
                .kv
                .range(key.clone()..)
                .take_while(|(k, _)| k.starts_with(&key))
                .map(|(_, entry)| entry.clone())
                .collect();
            (applied.state.revision, entries)
        });
        return Ok(watch::with_index(index, Json(json!({"revision": revision, "index": index, "entries": entries}))));
    }
    let (revision, entry) = node.read(|applied| (applied.state.revision, applied.state.kv.get(&key).cloned()));
    match entry {
        Some(entry) => {
            Ok(watch::with_index(index, Json(json!({"revision": revision, "index": index, "entry": entry}))))
        }
        None => Err(ApiError::new(ErrorCode::NotFound, format!("key {key:?} does not exist (index {index})"))),
    }
}
