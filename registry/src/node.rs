//! A registry node: opens its storage, starts openraft, bootstraps a new cluster, and routes
//! writes and linearizable reads to the leader.

use std::{collections::BTreeMap, path::Path, sync::Arc, time::Duration};

use openraft::{
    error::{ClientWriteError, RaftError},
    BasicNode, ChangeMembers, ServerState, SnapshotPolicy,
};
use vigil_common::http::ApiError;
use vigil_model::{
    registry::{
        ClusterMember, ClusterStatus, Command, CommandOutcome, MemberChange, RegistryRequest, REGISTRY_SCHEMA_VERSION,
    },
    ErrorCode,
};

use crate::{
    lease::Leases,
    network::client::HttpNetwork,
    store::{Applied, LogStore, StateMachineStore},
    Raft, RegistryConfig,
};

/// How long a linearizable read waits for this node to apply what the leader committed.
const READ_WAIT: Duration = Duration::from_secs(5);

/// Whether and how the REST API checks tokens.
#[derive(Debug, Clone, Copy)]
pub struct AuthSettings {
    pub enabled: bool,
    pub anonymous_read: bool,
}

pub struct RegistryNode {
    id: u64,
    auth: AuthSettings,
    /// Guards the node-to-node routes; None: they are open (auth off).
    cluster_secret: Option<String>,
    raft: Raft,
    state: StateMachineStore,
    http: reqwest::Client,
    proposer: crate::proposer::Proposer,
    /// Peers cut off by fault injection (tests only).
    pub(crate) isolated: crate::network::client::Isolation,
    pub(crate) fault_injection: bool,
    /// When this node last heard from a leader (an append or heartbeat RPC), for stale reads.
    last_leader_contact: std::sync::Mutex<Option<std::time::Instant>>,
    pub(crate) leases: Leases,
    pub(crate) checks: crate::checks::Checks,
}

impl RegistryNode {
    /// Opens `<data_dir>/registry`, starts Raft, and bootstraps the cluster if this node's
    /// storage is empty. `advertise` is where peers reach this node.
    pub async fn start(config: &RegistryConfig, data_dir: &Path, advertise: &str) -> anyhow::Result<Arc<RegistryNode>> {
        let single_node = config.peers.is_empty() && !config.join;
        let cluster_secret = match (config.auth, config.cluster_secret.as_str()) {
            (_, secret) if !secret.is_empty() => Some(secret.to_string()),
            (true, _) if single_node => Some(crate::auth::new_secret()),
            (true, _) => anyhow::bail!(
                "registry.auth is on and this cluster has several nodes: set registry.cluster_secret, the same on every node (or turn registry.auth off)"
            ),
            (false, _) => None,
        };
        let dir = data_dir.join("registry");
        let log = LogStore::open(&dir.join("log"))?;
        let state = StateMachineStore::open(&dir.join("state"))?;
        let raft_config = openraft::Config {
            cluster_name: "vigil-registry".into(),
            heartbeat_interval: config.heartbeat_interval.as_millis() as u64,
            election_timeout_min: config.election_timeout_min.as_millis() as u64,
            election_timeout_max: config.election_timeout_max.as_millis() as u64,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_after_entries),
            max_in_snapshot_log_to_keep: config.keep_entries_after_snapshot,
            ..Default::default()
        }
        .validate()?;
        let isolated = crate::network::client::Isolation::default();
        let network = HttpNetwork::new(config.node_id, cluster_secret.as_deref(), isolated.clone())?;
        let raft = Raft::new(config.node_id, Arc::new(raft_config), network, log, state.clone()).await?;
        if !config.join && !raft.is_initialized().await? {
            let members: BTreeMap<u64, BasicNode> =
                config.members(advertise)?.into_iter().map(|(id, addr)| (id, BasicNode { addr })).collect();
            // Every node of a new cluster may call this with the same members; one election
            // wins and the others learn the membership from it.
            if let Err(error) = raft.initialize(members).await {
                tracing::info!(%error, "registry cluster not bootstrapped by this node");
            }
        }
        let node = Arc::new(RegistryNode {
            id: config.node_id,
            auth: AuthSettings { enabled: config.auth, anonymous_read: config.anonymous_read },
            proposer: crate::proposer::Proposer::start(raft.clone(), config.write_timeout),
            isolated,
            fault_injection: config.fault_injection,
            last_leader_contact: std::sync::Mutex::new(None),
            raft,
            state,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .default_headers(crate::network::client::cluster_headers(config.node_id, cluster_secret.as_deref())?)
                .build()?,
            cluster_secret,
            leases: Leases::default(),
            checks: Default::default(),
        });
        tokio::spawn(crate::lease::run(node.clone()));
        tokio::spawn(crate::checks::run(node.clone()));
        if config.detect_dead_leader {
            tokio::spawn(crate::dead_leader::run(node.clone(), config.election_timeout_max, config.heartbeat_interval));
        }
        if config.auth {
            let (node, data_dir) = (node.clone(), data_dir.to_path_buf());
            tokio::spawn(async move { crate::auth::bootstrap_admin_token(node, &data_dir).await });
        }
        Ok(node)
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Records that a leader just reached this node.
    pub(crate) fn touched_by_leader(&self) {
        if let Ok(mut last) = self.last_leader_contact.lock() {
            *last = Some(std::time::Instant::now());
        }
    }

    /// Milliseconds since this node last heard from the leader (0 on the leader itself); None
    /// when it never has.
    pub fn last_contact_ms(&self) -> Option<u64> {
        if self.is_leader() {
            return Some(0);
        }
        let last = self.last_leader_contact.lock().ok().and_then(|last| *last)?;
        Some(last.elapsed().as_millis() as u64)
    }

    /// The client for calls to other nodes (carries the cluster secret).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn auth_settings(&self) -> AuthSettings {
        self.auth
    }

    pub fn cluster_secret(&self) -> Option<&str> {
        self.cluster_secret.as_deref()
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    pub fn state(&self) -> &StateMachineStore {
        &self.state
    }

    /// Reads the applied state (after [`read_barrier`](Self::read_barrier) for a
    /// linearizable read).
    pub fn read<T>(&self, f: impl FnOnce(&Applied) -> T) -> T {
        self.state.read(f)
    }

    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().current_leader == Some(self.id)
    }

    /// The leader's id and address, if one is known.
    pub fn leader(&self) -> Option<(u64, String)> {
        let metrics = self.raft.metrics().borrow().clone();
        let leader = metrics.current_leader?;
        let node = metrics.membership_config.membership().get_node(&leader)?;
        Some((leader, node.addr.clone()))
    }

    /// Where the leader listens, or why there is none to call.
    pub(crate) fn leader_address(&self) -> Result<String, ApiError> {
        self.leader().map(|(_, address)| address).ok_or_else(no_leader)
    }

    /// Proposes `command`, on this node if it leads, else through the leader.
    pub async fn write(&self, command: Command) -> Result<CommandOutcome, ApiError> {
        let request = RegistryRequest { version: REGISTRY_SCHEMA_VERSION, at_ms: now_ms(), command };
        if self.is_leader() {
            return self.write_local(request).await;
        }
        let address = self.leader_address()?;
        let response =
            self.http.post(format!("http://{address}/raft/write")).json(&request).send().await.map_err(|error| {
                ApiError::unavailable(format!("failed to reach the registry leader at {address}: {error}"))
            })?;
        decode_answer(response).await
    }

    /// Proposes `request` on this node (batched with concurrent writes); fails unless it is
    /// the leader. The leader's clock stamps the change, whoever received it.
    pub async fn write_local(&self, request: RegistryRequest) -> Result<CommandOutcome, ApiError> {
        if request.version > REGISTRY_SCHEMA_VERSION {
            return Err(ApiError::bad_request(format!(
                "request version {} is newer than this node's",
                request.version
            )));
        }
        self.proposer.propose(request.command).await
    }

    /// Changes the membership, on the leader (forwarded there from any other node).
    pub async fn change_members(&self, change: MemberChange) -> Result<ClusterStatus, ApiError> {
        if !self.is_leader() {
            let address = self.leader_address()?;
            let response =
                self.http.post(format!("http://{address}/raft/members")).json(&change).send().await.map_err(
                    |error| ApiError::unavailable(format!("failed to reach the registry leader at {address}: {error}")),
                )?;
            return decode_answer(response).await;
        }
        let result = match change {
            MemberChange::AddLearner { id, address } => {
                self.raft.add_learner(id, BasicNode { addr: address }, true).await
            }
            MemberChange::Promote { id } => {
                self.raft.change_membership(ChangeMembers::AddVoterIds([id].into()), false).await
            }
            MemberChange::Remove { id } => {
                let is_voter = self.raft.metrics().borrow().membership_config.membership().voter_ids().any(|v| v == id);
                let change = if is_voter {
                    ChangeMembers::RemoveVoters([id].into())
                } else {
                    ChangeMembers::RemoveNodes([id].into())
                };
                self.raft.change_membership(change, false).await
            }
        };
        match result {
            Ok(_) => Ok(self.status()),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => {
                Err(ApiError::unavailable("leadership moved during the change: retry"))
            }
            Err(RaftError::APIError(error)) => {
                Err(ApiError::bad_request(format!("membership change refused: {error}")))
            }
            Err(RaftError::Fatal(error)) => Err(ApiError::internal(format!("registry stopped: {error}"))),
        }
    }

    /// Waits until this node has applied everything committed before the call: after it, a
    /// local read is linearizable (Raft ReadIndex; a follower asks the leader for the index).
    pub async fn read_barrier(&self) -> Result<(), ApiError> {
        let index = if self.is_leader() {
            self.read_index_local().await?
        } else {
            let address = self.leader_address()?;
            let response =
                self.http.post(format!("http://{address}/raft/read-index")).send().await.map_err(|error| {
                    ApiError::unavailable(format!("failed to reach the registry leader at {address}: {error}"))
                })?;
            decode_answer(response).await?
        };
        self.raft.wait(Some(READ_WAIT)).applied_index_at_least(index, "linearizable read").await.map(|_| ()).map_err(
            |error| ApiError::new(ErrorCode::Timeout, format!("this node did not catch up with the leader: {error}")),
        )
    }

    /// On the leader: the log index a linearizable read must see applied. Fails, rather than
    /// waits, when a quorum does not confirm this node still leads.
    pub async fn read_index_local(&self) -> Result<Option<u64>, ApiError> {
        match tokio::time::timeout(READ_WAIT, self.raft.get_read_log_id()).await {
            Ok(Ok((read_log_id, _))) => Ok(read_log_id.map(|log_id| log_id.index)),
            Ok(Err(RaftError::APIError(error))) => Err(ApiError::unavailable(format!("{error}; retry"))),
            Ok(Err(RaftError::Fatal(error))) => Err(ApiError::internal(format!("registry stopped: {error}"))),
            Err(_) => Err(ApiError::unavailable("no quorum confirmed this node's leadership: retry")),
        }
    }

    pub fn status(&self) -> ClusterStatus {
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let voters: Vec<u64> = membership.voter_ids().collect();
        let role = match metrics.state {
            ServerState::Leader => "leader",
            ServerState::Follower => "follower",
            ServerState::Candidate => "candidate",
            ServerState::Learner => "learner",
            ServerState::Shutdown => "shutdown",
        };
        ClusterStatus {
            node_id: self.id,
            role: role.to_string(),
            term: metrics.current_term,
            leader: metrics.current_leader,
            last_log_index: metrics.last_log_index,
            applied_index: metrics.last_applied.map(|log_id| log_id.index),
            snapshot_index: metrics.snapshot.map(|log_id| log_id.index),
            purged_index: metrics.purged.map(|log_id| log_id.index),
            revision: self.read(|applied| applied.state.revision),
            members: membership
                .nodes()
                .map(|(id, node)| ClusterMember { id: *id, address: node.addr.clone(), voter: voters.contains(id) })
                .collect(),
        }
    }
}

fn no_leader() -> ApiError {
    ApiError::unavailable("the registry has no leader right now (an election is under way): retry shortly")
}

/// Decodes an answer of another node: the value, or its standard error body.
pub(crate) async fn decode_answer<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, ApiError> {
    let status = response.status();
    let bytes =
        response.bytes().await.map_err(|error| ApiError::unavailable(format!("leader answer cut short: {error}")))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes)
            .map_err(|error| ApiError::internal(format!("unreadable leader answer: {error}")));
    }
    match serde_json::from_slice::<vigil_model::error::ErrorBody>(&bytes) {
        Ok(body) => Err(ApiError::new(body.error.code, body.error.message)),
        Err(_) => Err(ApiError::unavailable(format!("the leader answered {status}"))),
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
