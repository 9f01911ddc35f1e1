//! The registry's REST API: services and instances (`services.rs`), KV (`kv.rs`), cluster
//! status (`cluster.rs`). Writes go to the leader; reads are linearizable unless the request
//! says `?consistency=stale`.

mod cluster;
mod documents;
mod forward;
mod kv;
mod params;
mod services;
mod sessions;
mod tokens;
mod watch;

use std::sync::Arc;

use axum::{
    routing::{delete, get, post, put},
    Json, Router,
};
use serde_json::{json, Value};
use vigil_common::http::ApiError;
use vigil_model::{registry::CommandOutcome, ErrorCode};

use crate::node::RegistryNode;

/// Largest request body (a registration, a KV value): 512 KiB, as Consul's KV.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

pub fn routes(node: Arc<RegistryNode>) -> Router {
    Router::new()
        .route("/v1/registry/services", get(services::list_services))
        .route("/v1/registry/heartbeats", put(services::heartbeats))
        .route("/v1/registry/services/{service}", put(services::put_service).get(services::get_service))
        .route("/v1/registry/services/{service}/instances", get(services::list_instances))
        .route(
            "/v1/registry/services/{service}/instances/{id}",
            put(services::register).delete(services::deregister).get(services::get_instance),
        )
        .route("/v1/registry/services/{service}/instances/{id}/heartbeat", put(services::heartbeat))
        .route("/v1/kv/{*key}", put(kv::put).get(kv::get).delete(kv::delete))
        .route("/v1/policies/{kind}", get(documents::list_policies))
        .route(
            "/v1/policies/{kind}/{name}",
            put(documents::put_policy).get(documents::get_policy).delete(documents::delete_policy),
        )
        .route("/v1/alert-rules", get(documents::list_rule_groups).post(documents::import_rule_file))
        .route(
            "/v1/alert-rules/{group}",
            put(documents::put_rule_group).get(documents::get_rule_group).delete(documents::delete_rule_group),
        )
        .route("/v1/sessions", post(sessions::create).get(sessions::list))
        .route("/v1/sessions/{id}", delete(sessions::destroy))
        .route("/v1/sessions/{id}/renew", put(sessions::renew))
        .route("/v1/locks/{name}", put(sessions::lock).delete(sessions::unlock).get(sessions::lock_holder))
        .route("/v1/elections/{name}", post(sessions::campaign).delete(sessions::resign).get(sessions::leader))
        .route("/v1/watch", get(watch::watch))
        .route("/v1/cluster/status", get(cluster::status))
        .route("/v1/cluster/members", post(cluster::add_member))
        .route("/v1/cluster/members/{id}/promote", post(cluster::promote_member))
        .route("/v1/cluster/members/{id}", delete(cluster::remove_member))
        .route("/v1/auth/tokens", post(tokens::create).get(tokens::list))
        .route("/v1/auth/tokens/{id}", delete(tokens::delete))
        .layer(axum::middleware::from_fn_with_state(node.clone(), last_contact))
        .layer(axum::middleware::from_fn_with_state(node.clone(), crate::auth::authorize))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(node)
}

/// The header a stale read carries: milliseconds since the answering node last heard from the
/// leader (0 on the leader), so a caller can judge how stale the answer may be.
pub const LAST_CONTACT_HEADER: &str = "x-vigil-last-contact";

async fn last_contact(
    axum::extract::State(node): axum::extract::State<Arc<RegistryNode>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let stale = request.uri().query().is_some_and(|query| query.split('&').any(|pair| pair == "consistency=stale"));
    let mut response = next.run(request).await;
    if stale {
        let value = node.last_contact_ms().map_or_else(|| "never".to_string(), |ms| ms.to_string());
        if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
            response.headers_mut().insert(LAST_CONTACT_HEADER, value);
        }
    }
    response
}

/// The answer to a write: its revision, or why it did nothing.
pub(crate) fn answer(outcome: CommandOutcome) -> Result<Json<Value>, ApiError> {
    match outcome {
        CommandOutcome::Applied { revision } | CommandOutcome::Unchanged { revision } => {
            Ok(Json(json!({"revision": revision})))
        }
        CommandOutcome::CasFailed { current } => Err(ApiError::new(
            ErrorCode::Conflict,
            if current == 0 {
                "compare-and-set failed: the key does not exist".to_string()
            } else {
                format!("compare-and-set failed: the key is at revision {current}; read it again and retry with cas={current}")
            },
        )),
        CommandOutcome::NotFound => Err(ApiError::new(ErrorCode::NotFound, "nothing to change: it does not exist")),
        CommandOutcome::Batch { .. } => Err(ApiError::internal("a batch outcome reached a single request")),
    }
}
