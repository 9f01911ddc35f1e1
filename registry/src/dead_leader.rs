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
/// Early stands per reign, and the pause between two (longer than a vote round trip on a
/// loaded node).
const MAX_STANDS: u32 = 3;
const STAND_AGAIN_AFTER: Duration = Duration::from_millis(150);
const PROBE_TIMEOUT: Duration = Duration::from_millis(100);

/// A leader's reign: its id, address and term.
#[derive(Clone, PartialEq)]
struct Reign {
    leader: u64,
    address: String,
    term: u64,
}

pub(crate) async fn run(node: Arc<RegistryNode>, lease: Duration, heartbeat: Duration) {
    let mut ticker = tokio::time::interval(CHECK_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The reign this node last followed: the leader to probe once it falls silent.
    let mut followed: Option<Reign> = None;
    // A few early stands per reign, spaced out: if one fails (a split vote, a voter still
    // inside its lease) the next may win before openraft's own timers fire. Bounded, so a
    // loaded voter that is slow to answer still sees a candidacy through.
    let mut stands: Option<(Reign, u32, Instant)> = None;
    loop {
        ticker.tick().await;
        let (leader, term, voters) = {
            let metrics = node.raft().metrics();
            let metrics = metrics.borrow();
            let voters: Vec<u64> = metrics.membership_config.membership().voter_ids().collect();
            (metrics.current_leader, metrics.current_term, voters)
        };
        if leader == Some(node.id()) || !voters.contains(&node.id()) {
            followed = None;
            continue;
        }
        if let Some((id, address)) = node.leader() {
            followed = Some(Reign { leader: id, address, term });
        }
        let Some(reign) = followed.clone() else { continue };
        // The term moves past the reign's only through elections: through this node's own
        // stands, or because it granted another candidate its vote. In the second case that
        // candidacy is under way (maybe already won): standing now would depose it.
        let ours = match &stands {
            Some((against, count, at)) if *against == reign => Some((*count, *at)),
            _ => None,
        };
        let wait = match ours {
            None => term != reign.term,
            Some((count, at)) => {
                count >= MAX_STANDS || at.elapsed() < STAND_AGAIN_AFTER || term > reign.term + u64::from(count)
            }
        };
        if wait {
            continue;
        }
        let Some(silent) = node.last_contact_ms().map(Duration::from_millis) else { continue };
        // Voters take turns by id (the silent leader left out), one TURN apart.
        let turn = voters.iter().filter(|id| **id != reign.leader && **id < node.id()).count() as u32;
        if silent < lease + heartbeat + MARGIN + TURN * turn {
            continue;
        }
        if refuses_connections(&reign.address).await {
            tracing::info!(leader = reign.leader, address = %reign.address, silent_ms = silent.as_millis() as u64, "the leader's port refuses connections; standing for election now");
            metrics::counter!(crate::metrics::DEAD_LEADER_ELECTIONS_TOTAL).increment(1);
            if let Err(error) = node.raft().trigger().elect().await {
                tracing::warn!(%error, "failed to start an election");
            }
            let count = match &stands {
                Some((against, count, _)) if *against == reign => count + 1,
                _ => 1,
            };
            stands = Some((reign, count, Instant::now()));
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
