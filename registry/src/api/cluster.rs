//! `GET /v1/cluster/status`: this node's view of the cluster.

use std::sync::Arc;

use axum::{extract::State, Json};
use vigil_model::registry::ClusterStatus;

use crate::node::RegistryNode;

pub async fn status(State(node): State<Arc<RegistryNode>>) -> Json<ClusterStatus> {
    Json(node.status())
}
