//! Sessions, locks and elections.
//!
//! A session is a lease a client renews (`PUT /v1/sessions/{id}/renew`); keys can be bound to
//! it (`PUT /v1/kv/{key}?session=`) and are deleted when it ends, by `DELETE` or by expiry.
//! A lock is a key bound to the holder's session, created only if absent
//! (`PUT /v1/locks/{name}?session=`); an election is the same with the leader's identity as
//! the value (`/v1/elections/{name}`). Waiters block on `GET …?index=&wait=` until the key is
//! deleted, then try again.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::HeaderMap,
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

use super::{params::check_document_name, watch};
use crate::{node::RegistryNode, store::changes::WatchTarget};

type Node = State<Arc<RegistryNode>>;

const MIN_TTL: Duration = Duration::from_secs(1);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    #[serde(with = "humantime_serde")]
    ttl: Duration,
    name: Option<String>,
}

/// `POST /v1/sessions` `{"ttl":"10s","name":"worker-3"}`: a new session, renewed from now on.
pub async fn create(State(node): Node, body: super::params::JsonBody<NewSession>) -> Result<Json<Value>, ApiError> {
    let super::params::JsonBody(new) = body;
    if new.ttl < MIN_TTL {
        return Err(ApiError::bad_request(format!("ttl {:?} is below the minimum of 1s", new.ttl)));
    }
    let id = crate::auth::new_secret().trim_start_matches("vgl_").chars().take(24).collect::<String>();
    let outcome = node.write(Command::CreateSession { id: id.clone(), ttl: new.ttl, name: new.name }).await?;
    if node.is_leader() {
        node.leases.renew_session(&id, new.ttl);
    }
    let Json(mut answer) = super::answer(outcome)?;
    answer["id"] = json!(id);
    answer["ttl"] = json!(humantime::format_duration(new.ttl).to_string());
    Ok(Json(answer))
}

/// `PUT /v1/sessions/{id}/renew`: restarts the session's clock (on the leader).
pub async fn renew(State(node): Node, Path(id): Path<String>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    if !node.is_leader() {
        return super::forward::to_leader(&node, reqwest::Method::PUT, &format!("/v1/sessions/{id}/renew"), &headers)
            .await;
    }
    let ttl = node.read(|applied| applied.state.sessions.get(&id).map(|session| session.ttl));
    let Some(ttl) = ttl else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("session {id} does not exist (it expired or was destroyed): create a new one"),
        ));
    };
    node.leases.renew_session(&id, ttl);
    Ok(Json(json!({"id": id, "ok": true})))
}

pub async fn destroy(State(node): Node, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    super::answer(node.write(Command::DestroySession { id }).await?)
}

pub async fn list(State(node): Node) -> Result<Json<Value>, ApiError> {
    node.read_barrier().await?;
    let sessions: Vec<Value> =
        node.read(|applied| applied.state.sessions.values().filter_map(|s| serde_json::to_value(s).ok()).collect());
    Ok(Json(json!({ "sessions": sessions })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolderQuery {
    session: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchQuery {
    index: Option<u64>,
    wait: Option<String>,
    consistency: Option<String>,
}

/// A holder's value: text, as every KV value.
fn text(body: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(body.to_vec()).map_err(|error| {
        ApiError::bad_request(format!(
            "the body is not UTF-8 text (byte {}): send a name or an address",
            error.utf8_error().valid_up_to()
        ))
    })
}

fn lock_key(prefix: &str, name: &str) -> Result<String, ApiError> {
    check_document_name(name)?;
    Ok(format!("{prefix}{name}"))
}

/// Takes the lock (or the leadership) for `session`; answers who holds it when it is taken.
async fn acquire(node: &RegistryNode, key: String, session: String, value: String) -> Result<Json<Value>, ApiError> {
    let command = Command::KvPut { key: key.clone(), value, cas: Some(0), session: Some(session.clone()) };
    match node.write(command).await? {
        CommandOutcome::Applied { revision } => Ok(Json(json!({"held": true, "revision": revision}))),
        CommandOutcome::NotFound => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("session {session} does not exist (it expired or was destroyed)"),
        )),
        _ => {
            let holder = node.read(|applied| applied.state.kv.get(&key).cloned());
            match holder {
                Some(entry) if entry.session.as_deref() == Some(session.as_str()) => {
                    Ok(Json(json!({"held": true, "revision": entry.mod_revision})))
                }
                Some(entry) => Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!(
                        "held by session {} ({:?}) since revision {}: wait with GET ?index={}&wait=",
                        entry.session.unwrap_or_default(),
                        entry.value,
                        entry.create_revision,
                        entry.mod_revision
                    ),
                )),
                None => Err(ApiError::unavailable("the holder just let go: try again")),
            }
        }
    }
}

/// Releases it if `session` holds it.
async fn release(node: &RegistryNode, key: String, session: String) -> Result<Json<Value>, ApiError> {
    node.read_barrier().await?;
    let entry = node.read(|applied| applied.state.kv.get(&key).cloned());
    match entry {
        Some(entry) if entry.session.as_deref() == Some(session.as_str()) => {
            super::answer(node.write(Command::KvDelete { key, cas: Some(entry.mod_revision) }).await?)
        }
        Some(_) => Err(ApiError::new(ErrorCode::Conflict, "another session holds it: only the holder releases")),
        None => Err(ApiError::new(ErrorCode::NotFound, "nobody holds it")),
    }
}

/// The holder (lock) or leader (election), blocking with `?index=&wait=`.
async fn holder(node: &RegistryNode, key: String, query: WatchQuery) -> Result<Response, ApiError> {
    let wait = watch::wait_of(query.wait.as_deref())?;
    super::params::Common { namespace: None, consistency: query.consistency }.read_barrier(node).await?;
    let index = watch::block(node, &WatchTarget::Key(key.clone()), query.index, wait).await;
    let entry = node.read(|applied| applied.state.kv.get(&key).cloned());
    let body = match entry {
        Some(entry) => {
            json!({"held": true, "index": index, "session": entry.session, "value": entry.value, "since_revision": entry.create_revision})
        }
        None => json!({"held": false, "index": index}),
    };
    Ok(watch::with_index(index, Json(body)))
}

pub async fn lock(
    State(node): Node,
    Path(name): Path<String>,
    Query(query): Query<HolderQuery>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    acquire(&node, lock_key("_locks/", &name)?, query.session, text(&body)?).await
}

pub async fn unlock(
    State(node): Node,
    Path(name): Path<String>,
    Query(query): Query<HolderQuery>,
) -> Result<Json<Value>, ApiError> {
    release(&node, lock_key("_locks/", &name)?, query.session).await
}

pub async fn lock_holder(
    State(node): Node,
    Path(name): Path<String>,
    Query(query): Query<WatchQuery>,
) -> Result<Response, ApiError> {
    holder(&node, lock_key("_locks/", &name)?, query).await
}

/// `POST /v1/elections/{name}?session=` with the candidate's identity as the body.
pub async fn campaign(
    State(node): Node,
    Path(name): Path<String>,
    Query(query): Query<HolderQuery>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let value = text(&body)?;
    if value.trim().is_empty() {
        return Err(ApiError::bad_request("the body is empty: send the candidate's identity (an address, a name)"));
    }
    acquire(&node, lock_key("_elections/", &name)?, query.session, value).await
}

pub async fn resign(
    State(node): Node,
    Path(name): Path<String>,
    Query(query): Query<HolderQuery>,
) -> Result<Json<Value>, ApiError> {
    release(&node, lock_key("_elections/", &name)?, query.session).await
}

pub async fn leader(
    State(node): Node,
    Path(name): Path<String>,
    Query(query): Query<WatchQuery>,
) -> Result<Response, ApiError> {
    holder(&node, lock_key("_elections/", &name)?, query).await
}
