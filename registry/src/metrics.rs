//! Metric names of the registry, defined once.

/// Client writes answered, by `outcome` (applied, unchanged, cas_failed, not_found, error).
pub const WRITES_TOTAL: &str = "vigil_registry_writes_total";
/// Commands per proposed log entry (group commit).
pub const BATCH_COMMANDS: &str = "vigil_registry_batch_commands";
/// Time from proposing a batch to its commands being applied.
pub const COMMIT_SECONDS: &str = "vigil_registry_commit_seconds";
/// Leases the leader let expire (instances turned critical).
pub const LEASES_EXPIRED_TOTAL: &str = "vigil_registry_leases_expired_total";
/// Heartbeats (lease renewals) received by the leader.
pub const HEARTBEATS_TOTAL: &str = "vigil_registry_heartbeats_total";
/// Active check probes, by `result` (pass, fail).
pub const CHECKS_TOTAL: &str = "vigil_registry_checks_total";
/// The registry revision this node has applied.
pub const REVISION: &str = "vigil_registry_revision";
/// 1 on the leader, 0 elsewhere.
pub const IS_LEADER: &str = "vigil_registry_is_leader";
/// The Raft term this node is in.
pub const TERM: &str = "vigil_registry_term";
/// Elections this node started early because the silent leader's port refused connections.
pub const DEAD_LEADER_ELECTIONS_TOTAL: &str = "vigil_registry_dead_leader_elections_total";
