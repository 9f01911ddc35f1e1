//! Faster failover when the leader's process is gone, not just silent.
//!
//! openraft 0.9 makes a follower wait out the leader's lease (`election_timeout_max`) and
//! then its own election timeout (150-300 ms more) before it stands, so a crashed leader cost
//! 450-600 ms of unavailability. A silent leader may be slow, paused or partitioned away, and
//! then that wait is right. But when the leader's port refuses connections, its process is
//! gone: nothing is gained by waiting past the lease. So a follower that has not heard from
//! the leader for longer than the lease probes the leader's port, and on a refusal stands at
//! once. Safety does not depend on this: the other voters still refuse to vote while their own
//! lease runs, as openraft always does; only the random wait after the lease is skipped.
//!
//! A leader that is paused (SIGSTOP) or cut off by a partition still accepts connections (the
//! kernel answers for it), so those cases keep the normal timers.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::node::RegistryNode;

/// How often a follower looks at its leader's silence.
const CHECK_EVERY: Duration = Duration::from_millis(20);
/// Past the lease plus one heartbeat interval, so the other voters' leases are over too even
/// when the dead leader's last heartbeat reached them and not this node.
const MARGIN: Duration = Duration::from_millis(15);
/// Between two voters' turns to stand, so they do not split the vote.
const TURN: Duration = Duration::from_millis(40);
/// How long a stand may go without a leader before this node stands again (a split vote).
const STAND_AGAIN_AFTER: Duration = Duration::from_millis(80);
const PROBE_TIMEOUT: Duration = Duration::from_millis(100);

pub(crate) async fn run(node: Arc<RegistryNode>, lease: Duration, heartbeat: Duration) {
    let mut ticker = tokio::time::interval(CHECK_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The leader this node last followed: the one to probe once it falls silent.
    let mut followed: Option<(u64, String)> = None;
    let mut stood_at: Option<Instant> = None;
    loop {
        ticker.tick().await;
        let (leader, voters) = {
            let metrics = node.raft().metrics();
            let metrics = metrics.borrow();
            let voters: Vec<u64> = metrics.membership_config.membership().voter_ids().collect();
            (metrics.current_leader, voters)
        };
        if leader == Some(node.id()) || !voters.contains(&node.id()) {
            followed = None;
            continue;
        }
        if let Some(known) = node.leader() {
            followed = Some(known);
        }
        let Some((dead, address)) = followed.clone() else { continue };
        let Some(silent) = node.last_contact_ms().map(Duration::from_millis) else { continue };
        // Voters take turns by id (the silent leader left out), one TURN apart.
        let turn = voters.iter().filter(|id| **id != dead && **id < node.id()).count() as u32;
        if silent < lease + heartbeat + MARGIN + TURN * turn {
            continue;
        }
        if stood_at.is_some_and(|at| at.elapsed() < STAND_AGAIN_AFTER) {
            continue;
        }
        if refuses_connections(&address).await {
            tracing::info!(leader = dead, %address, silent_ms = silent.as_millis() as u64, "the leader's port refuses connections; standing for election now");
            metrics::counter!(crate::metrics::DEAD_LEADER_ELECTIONS_TOTAL).increment(1);
            if let Err(error) = node.raft().trigger().elect().await {
                tracing::warn!(%error, "failed to start an election");
            }
            stood_at = Some(Instant::now());
        }
    }
}

/// True only when the connection was actively refused: a timeout proves nothing (the host may
/// be slow or cut off), and an accepted connection means the process is still there.
async fn refuses_connections(address: &str) -> bool {
    match tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(address)).await {
        Ok(Err(error)) => error.kind() == std::io::ErrorKind::ConnectionRefused,
        _ => false,
    }
}
