//! Instance leases: heartbeats stay on the leader, only expiry is replicated.
//!
//! A heartbeat only moves a deadline in the leader's memory; writing each one through the Raft
//! log would cost a replicated, fsynced entry per instance per TTL. Every [`TICK`] the leader
//! takes the deadlines that passed (an ordered index, so a tick costs what expires, not what is
//! registered) and proposes `SetHealth(critical)`; an instance that stayed critical for
//! `deregister_critical_after` is proposed for `Deregister`. Registrations and removals reach
//! the clock through the node's change log. Sessions (what locks and elections hang on) use
//! the same clock: an expired session is destroyed, and the keys bound to it with it. Consul's contract follows: the TTL is a lower bound
//! (a deadline is never earlier than the last heartbeat + TTL), expiry happens within TTL +
//! TICK (under 2x TTL for any TTL over TICK), and a new leader starts every clock afresh (it
//! has no heartbeats of the old leader's term).

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use vigil_common::http::ApiError;
use vigil_model::{
    registry::{Change, Command, Health, Instance},
    ErrorCode,
};

use crate::{node::RegistryNode, store::state::InstanceKey};

/// How often the leader looks for expired leases.
pub const TICK: Duration = Duration::from_millis(100);

/// The reason a lease expiry gives, so a heartbeat knows it may revive the instance.
const EXPIRED: &str = "lease expired";

#[derive(Default)]
pub(crate) struct Leases {
    inner: Mutex<Tracker>,
}

impl Leases {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tracker> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Restarts the clock of `key` (a heartbeat, or a registration on this leader).
    pub(crate) fn renew(&self, key: InstanceKey, ttl: Duration) {
        self.lock().clock.renew(key, ttl, Instant::now());
    }

    /// Restarts the clock of session `id`.
    pub(crate) fn renew_session(&self, id: &str, ttl: Duration) {
        self.lock().sessions.renew(session_key(id), ttl, Instant::now());
    }
}

/// The leader's lease deadlines, ordered by time. Pure, with time passed in, so the contract
/// can be checked against a model (see the tests).
#[derive(Debug, Default)]
pub(crate) struct LeaseClock {
    /// The term these deadlines belong to; another term starts them afresh.
    term: Option<u64>,
    deadlines: HashMap<InstanceKey, Instant>,
    by_deadline: BTreeSet<(Instant, InstanceKey)>,
}

impl LeaseClock {
    /// Forgets every deadline unless `term` is the term they were set in; true when it did.
    pub(crate) fn enter_term(&mut self, term: u64) -> bool {
        if self.term == Some(term) {
            return false;
        }
        self.term = Some(term);
        self.deadlines.clear();
        self.by_deadline.clear();
        true
    }

    /// Starts the clock of a lease this leader has not seen yet.
    pub(crate) fn track(&mut self, key: InstanceKey, ttl: Duration, now: Instant) {
        if !self.deadlines.contains_key(&key) {
            self.renew(key, ttl, now);
        }
    }

    pub(crate) fn renew(&mut self, key: InstanceKey, ttl: Duration, now: Instant) {
        let deadline = now + ttl;
        if let Some(old) = self.deadlines.insert(key.clone(), deadline) {
            self.by_deadline.remove(&(old, key.clone()));
        }
        self.by_deadline.insert((deadline, key));
    }

    pub(crate) fn untrack(&mut self, key: &InstanceKey) {
        if let Some(old) = self.deadlines.remove(key) {
            self.by_deadline.remove(&(old, key.clone()));
        }
    }

    /// The leases that ran out by `now`; they stop being tracked until renewed.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Vec<InstanceKey> {
        let mut expired = Vec::new();
        while let Some((deadline, _)) = self.by_deadline.first() {
            if *deadline > now {
                break;
            }
            let (_, key) = self.by_deadline.pop_first().expect("first exists");
            self.deadlines.remove(&key);
            expired.push(key);
        }
        expired
    }
}

/// The clock key of a session (sessions share the instances' clock type).
pub(crate) fn session_key(id: &str) -> InstanceKey {
    ("_session".to_string(), String::new(), id.to_string())
}

/// What the leader's lease loop keeps between ticks.
#[derive(Debug, Default)]
struct Tracker {
    clock: LeaseClock,
    /// Sessions' leases, by [`session_key`].
    sessions: LeaseClock,
    /// Critical instances to deregister: (when, in ms since the epoch; which).
    deregister: BTreeSet<(i64, InstanceKey)>,
    /// The last revision whose changes this tracker has taken in; None: rescan the state.
    seen_revision: Option<u64>,
}

impl Tracker {
    fn clear(&mut self) {
        *self = Tracker::default();
    }

    /// Takes in what an instance looks like now.
    fn observe(&mut self, key: &InstanceKey, instance: &Instance, now: Instant, renew: bool) {
        match instance.spec.ttl {
            Some(ttl) if instance.health == Health::Passing && renew => self.clock.renew(key.clone(), ttl, now),
            Some(ttl) if instance.health == Health::Passing => self.clock.track(key.clone(), ttl, now),
            _ => self.clock.untrack(key),
        }
        self.deregister.retain(|(_, k)| k != key);
        if let (Health::Critical, Some(after), Some(since)) =
            (instance.health, instance.spec.deregister_critical_after, instance.critical_since_ms)
        {
            self.deregister.insert((since.saturating_add(after.as_millis() as i64), key.clone()));
        }
    }

    fn forget(&mut self, key: &InstanceKey) {
        self.clock.untrack(key);
        self.deregister.retain(|(_, k)| k != key);
    }
}

/// A heartbeat received by this node (the API forwards it to the leader when it is not).
pub(crate) async fn heartbeat(node: &RegistryNode, key: InstanceKey) -> Result<(), ApiError> {
    let found = node.read(|applied| {
        applied.state.instances.get(&key).map(|i| (i.spec.ttl, i.health, i.health_reason.as_deref() == Some(EXPIRED)))
    });
    let Some((ttl, health, expired)) = found else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!(
                "instance {} of service {} is not registered (namespace {}): register it again",
                key.2, key.1, key.0
            ),
        ));
    };
    let Some(ttl) = ttl else {
        return Ok(()); // no lease to renew
    };
    node.leases.renew(key.clone(), ttl);
    metrics::counter!(crate::metrics::HEARTBEATS_TOTAL).increment(1);
    if health == Health::Critical && expired {
        let (namespace, service, id) = key;
        // Boxed, as this rare path's future is large (see `api::services::heartbeat`).
        Box::pin(node.write(Command::SetHealth { namespace, service, id, health: Health::Passing, reason: None }))
            .await?;
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
        let leading = node.is_leader();
        metrics::gauge!(crate::metrics::TERM).set(term as f64);
        metrics::gauge!(crate::metrics::IS_LEADER).set(if leading { 1.0 } else { 0.0 });
        metrics::gauge!(crate::metrics::REVISION).set(node.read(|applied| applied.state.revision) as f64);
        if !leading {
            node.leases.lock().clear();
            continue;
        }
        for command in due(&node, term) {
            if let Err(error) = node.write(command).await {
                tracing::warn!(%error, "failed to replicate a lease expiry; retrying next tick");
                // Look at everything again next tick, so nothing due is forgotten.
                node.leases.lock().seen_revision = None;
            }
        }
    }
}

/// The expiry and deregistration commands due now.
fn due(node: &RegistryNode, term: u64) -> Vec<Command> {
    let now = Instant::now();
    let now_ms = crate::node::now_ms();
    let mut tracker = node.leases.lock();
    if tracker.clock.enter_term(term) {
        tracker.sessions.enter_term(term);
        tracker.deregister.clear();
        tracker.seen_revision = None;
    }
    let tracker = &mut *tracker;
    node.read(|applied| {
        let changes = tracker.seen_revision.map(|seen| applied.changes.since(seen, None));
        match changes {
            Some(Ok(events)) => {
                for event in events {
                    match &event.change {
                        Change::Instance { instance } => {
                            let key = (instance.namespace.clone(), instance.service.clone(), instance.id.clone());
                            // A (re-)registration or a revival is the instance saying it lives.
                            tracker.observe(&key, instance, now, instance.health == Health::Passing);
                        }
                        Change::InstanceRemoved { namespace, service, id } => {
                            tracker.forget(&(namespace.clone(), service.clone(), id.clone()))
                        }
                        Change::Session { session } => {
                            tracker.sessions.renew(session_key(&session.id), session.ttl, now)
                        }
                        Change::SessionRemoved { id } => tracker.sessions.untrack(&session_key(id)),
                        _ => {}
                    }
                }
            }
            // First tick of this term, or changes compacted away: look at every instance once.
            None | Some(Err(_)) => {
                tracker.deregister.clear();
                for (key, instance) in &applied.state.instances {
                    tracker.observe(key, instance, now, false);
                }
                for session in applied.state.sessions.values() {
                    tracker.sessions.track(session_key(&session.id), session.ttl, now);
                }
            }
        }
        tracker.seen_revision = Some(applied.state.revision);

        let mut commands = Vec::new();
        for key in tracker.clock.take_expired(now) {
            let passing = applied.state.instances.get(&key).is_some_and(|i| i.health == Health::Passing);
            if passing {
                metrics::counter!(crate::metrics::LEASES_EXPIRED_TOTAL).increment(1);
                let (namespace, service, id) = key;
                commands.push(Command::SetHealth {
                    namespace,
                    service,
                    id,
                    health: Health::Critical,
                    reason: Some(EXPIRED.to_string()),
                });
            }
        }
        for (_, _, id) in tracker.sessions.take_expired(now) {
            if applied.state.sessions.contains_key(&id) {
                commands.push(Command::DestroySession { id });
            }
        }
        while let Some((at, _)) = tracker.deregister.first() {
            if *at > now_ms {
                break;
            }
            let (_, key) = tracker.deregister.pop_first().expect("first exists");
            if applied.state.instances.get(&key).is_some_and(|i| i.health == Health::Critical) {
                let (namespace, service, id) = key;
                commands.push(Command::Deregister { namespace, service, id });
            }
        }
        commands
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Event {
        Heartbeat,
        LeaderChange,
        Nothing,
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![3 => Just(Event::Heartbeat), 1 => Just(Event::LeaderChange), 6 => Just(Event::Nothing)]
    }

    proptest! {
        /// Consul's contract, checked tick by tick against a model: a lease never expires
        /// before TTL after the last renewal (a heartbeat, or the first tick of a new leader's
        /// term), and always expires by then + one tick.
        #[test]
        fn leases_expire_between_ttl_and_ttl_plus_a_tick(
            ttl_ticks in 10u32..60,
            events in proptest::collection::vec(event(), 50..400),
        ) {
            let ttl = TICK * ttl_ticks;
            let key: InstanceKey = ("default".into(), "api".into(), "i1".into());
            let start = Instant::now();
            let mut clock = LeaseClock::default();
            let mut term = 1;
            let mut renewed_at = Duration::ZERO;
            let mut term_started_at: Option<Duration> = None;
            let mut expired_since: Option<Duration> = None;
            for (tick, event) in events.iter().enumerate() {
                let elapsed = TICK * tick as u32;
                let now = start + elapsed;
                match event {
                    Event::Heartbeat => {
                        clock.renew(key.clone(), ttl, now);
                        renewed_at = elapsed;
                        expired_since = None;
                    }
                    Event::LeaderChange => {
                        term += 1;
                        term_started_at = None;
                    }
                    Event::Nothing => {}
                }
                if clock.enter_term(term) {
                    // The new leader sees the (passing) instance on its first tick.
                    clock.track(key.clone(), ttl, now);
                    expired_since = None;
                }
                let since = renewed_at.max(*term_started_at.get_or_insert(elapsed));
                if clock.take_expired(now).contains(&key) {
                    prop_assert!(elapsed - since >= ttl, "expired {:?} after renewal, TTL {:?}", elapsed - since, ttl);
                    expired_since = Some(elapsed);
                }
                if elapsed - since >= ttl + TICK {
                    prop_assert!(expired_since.is_some(), "not expired {:?} after renewal, TTL {:?}", elapsed - since, ttl);
                }
            }
        }
    }
}
