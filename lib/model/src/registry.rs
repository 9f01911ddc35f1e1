//! The registry's data: service instances, KV entries, and the commands that change them.
//!
//! A [`RegistryRequest`] is what travels in a Raft log entry (versioned, like every
//! cross-process payload); [`InstanceSpec`] is the body of a registration; [`Instance`],
//! [`KvEntry`] and [`ClusterStatus`] are what the API answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of [`RegistryRequest`]; a node refuses entries of a newer version than it knows.
pub const REGISTRY_SCHEMA_VERSION: u32 = 1;

/// The namespace used when a request names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The body of `PUT /v1/registry/services/{service}/instances/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSpec {
    /// Host name or IP address callers connect to.
    pub address: String,
    pub port: u16,
    /// Relative share of traffic for weighted load balancing (0 takes none).
    #[serde(default = "default_weight")]
    pub weight: u32,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// A disabled instance stays registered but is not returned to callers.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Lease: without a heartbeat for this long the instance turns critical (`"10s"`). None:
    /// the instance lives until deregistered.
    #[serde(default, with = "humantime_serde")]
    pub ttl: Option<std::time::Duration>,
    /// A critical instance is removed after this long (`"1m"`). None: it stays, critical.
    #[serde(default, with = "humantime_serde")]
    pub deregister_critical_after: Option<std::time::Duration>,
    /// An active check the leader runs against the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<HealthCheck>,
}

/// An active health check: an HTTP GET answered 2xx, or a TCP connect that succeeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// URL to GET; a 2xx answer passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    /// `host:port` to connect to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<String>,
    #[serde(default = "default_check_interval", with = "humantime_serde")]
    pub interval: std::time::Duration,
    #[serde(default = "default_check_timeout", with = "humantime_serde")]
    pub timeout: std::time::Duration,
    /// Consecutive passes that make a critical instance passing again.
    #[serde(default = "default_one")]
    pub success_threshold: u32,
    /// Consecutive failures that make a passing instance critical.
    #[serde(default = "default_three")]
    pub failure_threshold: u32,
}

fn default_check_interval() -> std::time::Duration {
    std::time::Duration::from_secs(10)
}

fn default_check_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(2)
}

fn default_one() -> u32 {
    1
}

fn default_three() -> u32 {
    3
}

/// Settings of a service (`PUT /v1/registry/services/{service}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Nacos's protection: when the passing share of the instances falls to or below this
    /// (0 to 1), discovery of healthy instances returns every enabled instance, flagged, rather
    /// than starve callers onto the few left. 0 turns it off.
    #[serde(default)]
    pub protect_threshold: f64,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

fn default_weight() -> u32 {
    100
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Passing,
    Critical,
}

/// A registered instance, as stored and as answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub namespace: String,
    pub service: String,
    pub id: String,
    #[serde(flatten)]
    pub spec: InstanceSpec,
    pub health: Health,
    /// Why the instance is critical (lease expired, check failed), when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_reason: Option<String>,
    /// Revision of the registration that created it, and of its last change.
    pub create_revision: u64,
    pub mod_revision: u64,
    /// When it turned critical (ms since the epoch, leader's clock), for deregistration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical_since_ms: Option<i64>,
}

/// A key with its value and revisions, as etcd keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvEntry {
    pub key: String,
    pub value: String,
    /// Revision of the put that created the key.
    pub create_revision: u64,
    /// Revision of the last put.
    pub mod_revision: u64,
    /// Puts since creation (1 after the first).
    pub version: u64,
    /// The session the key is bound to: it is deleted when that session ends (locks,
    /// elections, ephemeral keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// A session: a lease clients renew, that keys (locks, elections) can be bound to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    #[serde(with = "humantime_serde")]
    pub ttl: std::time::Duration,
    /// Who holds it, for people reading lock holders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub create_revision: u64,
}

/// A change to the registry: the payload of one Raft log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryRequest {
    pub version: u32,
    /// The leader's wall clock when it proposed the change (ms since the epoch): the state
    /// machine must not read a clock, or replicas would differ.
    pub at_ms: i64,
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    PutService {
        namespace: String,
        service: String,
        spec: ServiceSpec,
    },
    Register {
        namespace: String,
        service: String,
        id: String,
        spec: InstanceSpec,
    },
    Deregister {
        namespace: String,
        service: String,
        id: String,
    },
    SetHealth {
        namespace: String,
        service: String,
        id: String,
        health: Health,
        reason: Option<String>,
    },
    /// `cas`: apply only if the key's `mod_revision` equals it (0: only if the key is absent).
    KvPut {
        key: String,
        value: String,
        cas: Option<u64>,
        /// Bind the key to this session (it must exist).
        #[serde(default)]
        session: Option<String>,
    },
    CreateSession {
        id: String,
        #[serde(with = "humantime_serde")]
        ttl: std::time::Duration,
        name: Option<String>,
    },
    /// Ends a session and deletes every key bound to it.
    DestroySession {
        id: String,
    },
    /// `cas` as for KV, on the document's `mod_revision`.
    PutDocument {
        namespace: String,
        name: String,
        document: crate::policy::Document,
        cas: Option<u64>,
    },
    /// Several documents at once (a rule file): all are stored, one revision each.
    PutDocuments {
        namespace: String,
        documents: Vec<(String, crate::policy::Document)>,
    },
    DeleteDocument {
        namespace: String,
        kind: crate::policy::DocumentKind,
        name: String,
        cas: Option<u64>,
    },
    KvDelete {
        key: String,
        cas: Option<u64>,
    },
    /// A bearer token: only the SHA-256 of its secret is stored.
    PutToken {
        id: String,
        secret_sha256: String,
        scopes: Vec<String>,
    },
    DeleteToken {
        id: String,
    },
    /// Independent commands proposed together (one log entry, one fsync); each is applied on
    /// its own, with its own revision and outcome.
    Batch {
        commands: Vec<Command>,
    },
}

/// What applying a command did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CommandOutcome {
    /// Applied; the registry is now at `revision`.
    Applied {
        revision: u64,
    },
    /// Nothing to do (deleting what is absent, a health already set); the revision is unchanged.
    Unchanged {
        revision: u64,
    },
    /// A compare-and-set saw another revision: `current` is the key's `mod_revision` (0: absent).
    CasFailed {
        current: u64,
    },
    NotFound,
    /// The outcomes of a [`Command::Batch`], in order.
    Batch {
        outcomes: Vec<CommandOutcome>,
    },
}

/// `GET /v1/cluster/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub node_id: u64,
    /// `leader`, `follower`, `candidate` or `learner`.
    pub role: String,
    pub term: u64,
    pub leader: Option<u64>,
    pub last_log_index: Option<u64>,
    pub applied_index: Option<u64>,
    /// Last entry covered by this node's snapshot.
    pub snapshot_index: Option<u64>,
    /// Entries up to here were dropped from this node's log (a follower further behind needs
    /// a snapshot).
    pub purged_index: Option<u64>,
    /// Registry revision (bumped by every change).
    pub revision: u64,
    pub members: Vec<ClusterMember>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterMember {
    pub id: u64,
    pub address: String,
    /// A voter counts for elections and commits; a learner only replicates.
    pub voter: bool,
}

/// A registry snapshot: the whole state at `revision`, sent to lagging or new nodes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegistrySnapshot {
    pub version: u32,
    pub revision: u64,
    pub instances: Vec<Instance>,
    pub kv: Vec<KvEntry>,
    #[serde(default)]
    pub services: Vec<ServiceSettings>,
    #[serde(default)]
    pub documents: Vec<StoredDocument>,
    #[serde(default)]
    pub tokens: Vec<StoredToken>,
    #[serde(default)]
    pub sessions: Vec<Session>,
}

/// An API token as stored (the secret itself never is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredToken {
    pub id: String,
    pub secret_sha256: String,
    /// `admin`, `read`, `write:<namespace>`, `write:<namespace>/<service>`, `write:kv` or
    /// `write:kv/<key prefix>`.
    pub scopes: Vec<String>,
    pub create_revision: u64,
}

/// A policy or alert rule group as stored, with its revisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDocument {
    pub namespace: String,
    pub name: String,
    #[serde(flatten)]
    pub document: crate::policy::Document,
    pub create_revision: u64,
    pub mod_revision: u64,
    /// Puts since creation.
    pub version: u64,
}

/// A service's settings as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSettings {
    pub namespace: String,
    pub service: String,
    #[serde(flatten)]
    pub spec: ServiceSpec,
    pub mod_revision: u64,
}

/// One change, as a watch stream delivers it (`GET /v1/watch`, server-sent events).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchEvent {
    /// The registry revision this change produced; strictly increasing along a stream.
    pub revision: u64,
    #[serde(flatten)]
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// Registered, or its health changed: the instance as it is now.
    Instance {
        instance: Instance,
    },
    InstanceRemoved {
        namespace: String,
        service: String,
        id: String,
    },
    Service {
        settings: ServiceSettings,
    },
    Kv {
        entry: KvEntry,
    },
    Document {
        document: StoredDocument,
    },
    DocumentRemoved {
        namespace: String,
        kind: crate::policy::DocumentKind,
        name: String,
    },
    /// A token was created or changed (its secret is not shown).
    Token {
        id: String,
        scopes: Vec<String>,
    },
    TokenRemoved {
        id: String,
    },
    Session {
        session: Session,
    },
    SessionRemoved {
        id: String,
    },
    KvRemoved {
        key: String,
    },
}

/// A change of cluster membership (`/v1/cluster/members`), forwarded to the leader.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum MemberChange {
    /// Add a node that replicates but does not vote; returns once it caught up.
    AddLearner { id: u64, address: String },
    /// Make a learner a voter.
    Promote { id: u64 },
    /// Remove a voter or a learner from the cluster.
    Remove { id: u64 },
}
