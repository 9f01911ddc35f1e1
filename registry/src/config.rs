//! Registry node settings: the `[registry]` table of the config file.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// This node's id, unique in the cluster (1, 2, 3, ...).
    pub node_id: u64,
    /// Where peers and clients reach this node (`host:port`); empty: the listen address.
    pub advertise: String,
    /// Every voting member of a new cluster as `id=host:port` (this node included). Empty: a
    /// single-node cluster. Used once, to bootstrap; later changes go through the API.
    pub peers: Vec<String>,
    /// Start without bootstrapping a cluster: wait to be added to an existing one with
    /// `POST /v1/cluster/members` on any of its nodes.
    pub join: bool,
    /// Leader heartbeat to followers.
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// Election timeout range: a follower that hears no leader for a random time in it stands.
    #[serde(with = "humantime_serde")]
    pub election_timeout_min: Duration,
    #[serde(with = "humantime_serde")]
    pub election_timeout_max: Duration,
    /// A follower whose leader has been silent past its lease probes the leader's port and,
    /// when the connection is refused (the process is gone), stands for election at once
    /// instead of waiting out the rest of its election timeout.
    pub detect_dead_leader: bool,
    /// Require bearer tokens for writes (and for reads unless `anonymous_read`).
    pub auth: bool,
    /// With `auth`, allow reads without a token.
    pub anonymous_read: bool,
    /// Shared by the nodes of a cluster to authenticate their calls to each other; needed
    /// when `auth` is on and the cluster has several nodes (a single node makes its own).
    pub cluster_secret: String,
    /// For tests: serve `POST /raft/debug/partition`, which cuts this node off from chosen
    /// peers (a fault-injecting network layer). Never turn it on in production.
    pub fault_injection: bool,
    /// A write not committed within this long answers 503 (the leader may have lost its
    /// quorum); it may still be applied later, so read before retrying.
    #[serde(with = "humantime_serde")]
    pub write_timeout: Duration,
    /// Build a snapshot after this many entries.
    pub snapshot_after_entries: u64,
    /// Entries kept before the last snapshot, so a briefly lagging follower catches up from
    /// the log instead of being sent a whole snapshot.
    pub keep_entries_after_snapshot: u64,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            node_id: 1,
            advertise: String::new(),
            peers: Vec::new(),
            join: false,
            detect_dead_leader: true,
            auth: true,
            anonymous_read: true,
            cluster_secret: String::new(),
            fault_injection: false,
            write_timeout: Duration::from_secs(5),
            heartbeat_interval: Duration::from_millis(50),
            election_timeout_min: Duration::from_millis(150),
            election_timeout_max: Duration::from_millis(300),
            snapshot_after_entries: 10_000,
            keep_entries_after_snapshot: 1_000,
        }
    }
}

impl RegistryConfig {
    /// The bootstrap members as (id, address); a single-node cluster when `peers` is empty.
    pub fn members(&self, advertise: &str) -> anyhow::Result<Vec<(u64, String)>> {
        if self.peers.is_empty() {
            return Ok(vec![(self.node_id, advertise.to_string())]);
        }
        let mut members = Vec::new();
        for peer in &self.peers {
            let (id, address) = peer
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("registry.peers entry {peer:?} is not id=host:port"))?;
            let id: u64 = id
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("registry.peers entry {peer:?}: the id must be a positive integer"))?;
            members.push((id, address.trim().to_string()));
        }
        anyhow::ensure!(
            members.iter().any(|(id, _)| *id == self.node_id),
            "registry.peers does not list this node (registry.node_id = {})",
            self.node_id
        );
        Ok(members)
    }
}
