//! `GET /v1/cluster/status` (this node's view of the cluster) and membership changes.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    Json,
};
use serde::Deserialize;
use vigil_common::http::ApiError;
use vigil_model::registry::{ClusterStatus, MemberChange};

use crate::node::RegistryNode;

pub async fn status(State(node): State<Arc<RegistryNode>>) -> Json<ClusterStatus> {
    Json(node.status())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    id: u64,
    /// Where the cluster reaches the new node (`host:port`).
    address: String,
}

/// `POST /v1/cluster/members`: adds a node as a learner; answers once it caught up.
pub async fn add_member(
    State(node): State<Arc<RegistryNode>>,
    body: super::params::JsonBody<NewMember>,
) -> Result<Json<ClusterStatus>, ApiError> {
    let super::params::JsonBody(member) = body;
    if member.id == 0 || member.address.trim().is_empty() {
        return Err(ApiError::bad_request("a member needs an id above 0 and an address (host:port)"));
    }
    Ok(Json(node.change_members(MemberChange::AddLearner { id: member.id, address: member.address }).await?))
}

/// `POST /v1/cluster/members/{id}/promote`: a learner becomes a voter.
pub async fn promote_member(
    State(node): State<Arc<RegistryNode>>,
    Path(id): Path<u64>,
) -> Result<Json<ClusterStatus>, ApiError> {
    Ok(Json(node.change_members(MemberChange::Promote { id }).await?))
}

/// `DELETE /v1/cluster/members/{id}`.
pub async fn remove_member(
    State(node): State<Arc<RegistryNode>>,
    Path(id): Path<u64>,
) -> Result<Json<ClusterStatus>, ApiError> {
    Ok(Json(node.change_members(MemberChange::Remove { id }).await?))
}
