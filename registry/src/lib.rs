//! The registry: service instances with leases, and a KV store with revisions, replicated with
//! openraft over HTTP.
//!
//! Start at [`node::RegistryNode`] (how a node opens its storage, joins or bootstraps a
//! cluster and serves), then `store/` (the durable Raft log, the state machine and the pure
//! [`store::RegistryState`]), `network/` (Raft RPCs over HTTP), `lease.rs` (heartbeats kept on
//! the leader, only expiry replicated) and `api/` (the REST API).

// openraft's `StorageError` is large, and the storage traits return it.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod auth;
pub mod checks;
pub mod config;
mod dead_leader;
mod lease;
pub mod metrics;
pub mod network;
pub mod node;
mod proposer;
pub mod store;

pub use config::RegistryConfig;
pub use node::RegistryNode;

use std::io::Cursor;

use vigil_model::registry::{CommandOutcome, RegistryRequest};

openraft::declare_raft_types!(
    /// Raft types of the registry: entries carry a [`RegistryRequest`].
    pub TypeConfig:
        D = RegistryRequest,
        R = CommandOutcome,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type Raft = openraft::Raft<TypeConfig>;

/// Every route of a registry node: the REST API and the Raft RPCs.
pub fn router(node: std::sync::Arc<RegistryNode>) -> axum::Router {
    api::routes(node.clone()).merge(network::server::routes(node))
}
