//! Raft RPCs to peers: JSON over HTTP POST to `/raft/*` on the peer's listener.

use std::time::Duration;

use openraft::{
    error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable},
    network::{RPCOption, RaftNetwork, RaftNetworkFactory},
    raft::{
        AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
        VoteResponse,
    },
    BasicNode,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::TypeConfig;

/// Creates one [`PeerClient`] per peer; they share one HTTP connection pool.
#[derive(Clone)]
pub struct HttpNetwork {
    client: reqwest::Client,
    isolated: Isolation,
}

/// Peers this node pretends it cannot reach (fault injection in tests); shared by the network
/// client and the server side of the Raft routes.
pub type Isolation = std::sync::Arc<std::sync::RwLock<std::collections::HashSet<u64>>>;

/// The header naming the node a node-to-node call comes from.
pub const NODE_HEADER: &str = "x-vigil-node";

impl HttpNetwork {
    /// `secret`: the cluster secret every call carries (when the cluster has one).
    pub fn new(node_id: u64, secret: Option<&str>, isolated: Isolation) -> anyhow::Result<HttpNetwork> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(500))
            .default_headers(cluster_headers(node_id, secret)?)
            .build()?;
        Ok(HttpNetwork { client, isolated })
    }
}

/// The headers of a node-to-node call: who sends it, and the cluster secret if any.
pub fn cluster_headers(node_id: u64, secret: Option<&str>) -> anyhow::Result<reqwest::header::HeaderMap> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(NODE_HEADER, reqwest::header::HeaderValue::from_str(&node_id.to_string())?);
    if let Some(secret) = secret {
        headers.insert(crate::auth::CLUSTER_HEADER, reqwest::header::HeaderValue::from_str(secret)?);
    }
    Ok(headers)
}

impl RaftNetworkFactory<TypeConfig> for HttpNetwork {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> PeerClient {
        PeerClient { target, node: node.clone(), client: self.client.clone(), isolated: self.isolated.clone() }
    }
}

pub struct PeerClient {
    isolated: Isolation,
    target: u64,
    node: BasicNode,
    client: reqwest::Client,
}

impl PeerClient {
    async fn call<Req, Resp, E>(
        &self,
        path: &str,
        request: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<u64, BasicNode, RaftError<u64, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        if self.isolated.read().is_ok_and(|isolated| isolated.contains(&self.target)) {
            let error = std::io::Error::other("partitioned from this peer (fault injection)");
            return Err(RPCError::Unreachable(Unreachable::new(&error)));
        }
        let url = format!("http://{}/raft/{path}", self.node.addr);
        let response =
            self.client.post(&url).timeout(option.hard_ttl()).json(request).send().await.map_err(|error| {
                if error.is_connect() {
                    RPCError::Unreachable(Unreachable::new(&error))
                } else {
                    RPCError::Network(NetworkError::new(&error))
                }
            })?;
        let answer: Result<Resp, RaftError<u64, E>> =
            response.json().await.map_err(|error| RPCError::Network(NetworkError::new(&error)))?;
        answer.map_err(|error| RPCError::RemoteError(RemoteError::new_with_node(self.target, self.node.clone(), error)))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        request: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call("append", &request, &option).await
    }

    async fn install_snapshot(
        &mut self,
        request: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>> {
        self.call("snapshot", &request, &option).await
    }

    async fn vote(
        &mut self,
        request: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call("vote", &request, &option).await
    }
}
