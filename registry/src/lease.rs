//! Instance leases: heartbeats stay on the leader, only expiry is replicated.
//!
//! A heartbeat only moves a deadline in the leader's memory; writing each one through the Raft
//! log would cost a replicated, fsynced entry per instance per TTL. The leader checks the
//! deadlines every [`TICK`] and proposes `SetHealth(critical)` for an instance whose deadline
//! passed, and `Deregister` once it stayed critical for `deregister_critical_after`. Consul's
//! contract follows: the TTL is a lower bound (a deadline is never earlier than the last
//! heartbeat + TTL), expiry happens within TTL + TICK (under 2x TTL for any TTL over TICK),
//! and a new leader starts every clock afresh (it has no heartbeats of the old leader's term).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use vigil_common::http::ApiError;
use vigil_model::{
    registry::{Command, Health},
    ErrorCode,
};

use crate::{node::RegistryNode, store::state::InstanceKey};

/// How often the leader looks for expired leases.
pub const TICK: Duration = Duration::from_millis(100);

/// The reason a lease expiry gives, so a heartbeat knows it may revive the instance.
const EXPIRED: &str = "lease expired";

#[derive(Default)]
pub(crate) struct Leases {
    inner: Mutex<LeaseState>,
}

#[derive(Default)]
struct LeaseState {
    /// The term in which these deadlines were set; another term starts them afresh.
    term: Option<u64>,
    deadlines: HashMap<InstanceKey, Instant>,
}

impl Leases {
    fn lock(&self) -> std::sync::MutexGuard<'_, LeaseState> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Restarts the clock of `key`.
    pub(crate) fn renew(&self, key: InstanceKey, ttl: Duration) {
        self.lock().deadlines.insert(key, Instant::now() + ttl);
    }
}

/// A heartbeat received by this node (the API forwards it to the leader when it is not).
pub(crate) async fn heartbeat(node: &RegistryNode, key: InstanceKey) -> Result<(), ApiError> {
    let instance = node.read(|applied| applied.state.instances.get(&key).cloned());
    let Some(instance) = instance else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!(
                "instance {} of service {} is not registered (namespace {}): register it again",
                key.2, key.1, key.0
            ),
        ));
    };
    let Some(ttl) = instance.spec.ttl else {
        return Ok(()); // no lease to renew
    };
    node.leases.renew(key.clone(), ttl);
    if instance.health == Health::Critical && instance.health_reason.as_deref() == Some(EXPIRED) {
        let (namespace, service, id) = key;
        node.write(Command::SetHealth { namespace, service, id, health: Health::Passing, reason: None }).await?;
    }
    Ok(())
}

/// The leader's expiry loop; idles on followers.
pub(crate) async fn run(node: Arc<RegistryNode>) {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let term = node.raft().metrics().borrow().current_term;
        if !node.is_leader() {
            let mut leases = node.leases.lock();
            leases.term = None;
            leases.deadlines.clear();
            continue;
        }
        for command in due(&node, term) {
            if let Err(error) = node.write(command).await {
                tracing::warn!(%error, "failed to replicate a lease expiry; retrying next tick");
            }
        }
    }
}

/// The expiry commands due now.
fn due(node: &RegistryNode, term: u64) -> Vec<Command> {
    let now = Instant::now();
    let now_ms = crate::node::now_ms();
    let mut leases = node.leases.lock();
    if leases.term != Some(term) {
        leases.term = Some(term);
        leases.deadlines.clear();
    }
    let LeaseState { deadlines, .. } = &mut *leases;
    node.read(|applied| {
        deadlines.retain(|key, _| applied.state.instances.contains_key(key));
        let mut commands = Vec::new();
        for (key, instance) in &applied.state.instances {
            let Some(ttl) = instance.spec.ttl else { continue };
            let deadline = *deadlines.entry(key.clone()).or_insert(now + ttl);
            let (namespace, service, id) = key.clone();
            match instance.health {
                Health::Passing if now >= deadline => commands.push(Command::SetHealth {
                    namespace,
                    service,
                    id,
                    health: Health::Critical,
                    reason: Some(EXPIRED.to_string()),
                }),
                Health::Critical => {
                    let (Some(after), Some(since)) =
                        (instance.spec.deregister_critical_after, instance.critical_since_ms)
                    else {
                        continue;
                    };
                    if now_ms - since >= after.as_millis() as i64 {
                        commands.push(Command::Deregister { namespace, service, id });
                    }
                }
                Health::Passing => {}
            }
        }
        commands
    })
}
