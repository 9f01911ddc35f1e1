//! The receiving side of Raft RPCs: `/raft/append`, `/raft/vote`, `/raft/snapshot`, and the
//! internal calls followers make to the leader (`/raft/write`, `/raft/read-index`).

use axum::{extract::State, routing::post, Json, Router};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use vigil_model::registry::{MemberChange, RegistryRequest};

use crate::{node::RegistryNode, TypeConfig};

pub fn routes(node: std::sync::Arc<RegistryNode>) -> Router {
    Router::new()
        .route("/raft/append", post(append))
        .route("/raft/vote", post(vote))
        .route("/raft/snapshot", post(snapshot))
        .route("/raft/write", post(write))
        .route("/raft/read-index", post(read_index))
        .route("/raft/members", post(members))
        .route("/raft/debug/partition", post(partition))
        .layer(axum::middleware::from_fn_with_state(node.clone(), drop_isolated))
        .layer(axum::middleware::from_fn_with_state(node.clone(), crate::auth::cluster_only))
        .with_state(node)
}

type Node = State<std::sync::Arc<RegistryNode>>;

async fn append(State(node): Node, Json(request): Json<AppendEntriesRequest<TypeConfig>>) -> Json<serde_json::Value> {
    let answer = node.raft().append_entries(request).await;
    if answer.as_ref().is_ok_and(|response| response.is_success()) {
        node.touched_by_leader();
    }
    Json(to_json(answer))
}

async fn vote(State(node): Node, Json(request): Json<VoteRequest<u64>>) -> Json<serde_json::Value> {
    Json(to_json(node.raft().vote(request).await))
}

async fn snapshot(
    State(node): Node,
    Json(request): Json<InstallSnapshotRequest<TypeConfig>>,
) -> Json<serde_json::Value> {
    Json(to_json(node.raft().install_snapshot(request).await))
}

/// A write a follower received and forwards; answered as the API answers it.
async fn write(State(node): Node, Json(request): Json<RegistryRequest>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match node.write_local(request).await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(error) => error.into_response(),
    }
}

/// ReadIndex for a follower: the log index a linearizable read must wait to have applied.
async fn read_index(State(node): Node) -> axum::response::Response {
    use axum::response::IntoResponse;
    match node.read_index_local().await {
        Ok(index) => Json(index).into_response(),
        Err(error) => error.into_response(),
    }
}

/// A membership change a follower forwards.
async fn members(State(node): Node, Json(change): Json<MemberChange>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match node.change_members(change).await {
        Ok(status) => Json(status).into_response(),
        Err(error) => error.into_response(),
    }
}

/// Fault injection: calls from a peer this node is cut off from fail as if the network did.
async fn drop_isolated(
    State(node): Node,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let sender = request
        .headers()
        .get(crate::network::client::NODE_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let cut = sender.is_some_and(|id| node.isolated.read().is_ok_and(|isolated| isolated.contains(&id)));
    if cut {
        return vigil_common::http::ApiError::unavailable("partitioned from the calling node (fault injection)")
            .into_response();
    }
    next.run(request).await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Partition {
    /// Peers to cut this node off from; empty heals.
    isolate: Vec<u64>,
}

/// `POST /raft/debug/partition {"isolate":[2,3]}`: only with `registry.fault_injection`.
async fn partition(State(node): Node, Json(partition): Json<Partition>) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !node.fault_injection {
        return vigil_common::http::not_found().await.into_response();
    }
    if let Ok(mut isolated) = node.isolated.write() {
        *isolated = partition.isolate.into_iter().collect();
    }
    Json(serde_json::json!({"isolated": node.isolated.read().map(|i| i.len()).unwrap_or(0)})).into_response()
}

fn to_json<T: serde::Serialize, E: serde::Serialize>(result: Result<T, E>) -> serde_json::Value {
    serde_json::to_value(result).unwrap_or_else(|error| serde_json::json!({"Err": error.to_string()}))
}
