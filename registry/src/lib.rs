//! The registry: service instances with leases, and a KV store with revisions, replicated with
//! openraft over HTTP.
//!
//! Start at [`node::RegistryNode`] (how a node opens its storage, joins or bootstraps a
//! cluster and serves), then `store/` (the durable Raft log, the state machine and the pure
//! [`store::RegistryState`]), `network/` (Raft RPCs over HTTP), `lease.rs` (heartbeats kept on
//! the leader, only expiry replicated) and `api/` (the REST API).

pub mod store;

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
