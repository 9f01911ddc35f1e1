//! Active health checks, run by the leader: an HTTP GET that must answer 2xx, or a TCP
//! connect. After `failure_threshold` failures in a row a passing instance turns critical;
//! after `success_threshold` passes in a row an instance a check made critical passes again.
//! Only those transitions go through the Raft log; probe results stay in the leader's memory
//! and a new leader starts counting afresh. Like leases, the checks to run are learned from the
//! node's change log, so a tick costs what is checked, not what is registered.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::sync::Semaphore;
use vigil_model::registry::{Change, Command, Health, HealthCheck};

use crate::{lease::TICK, node::RegistryNode, store::state::InstanceKey};

/// Probes in flight at once, so a large registry cannot open thousands of sockets together.
const MAX_CONCURRENT_PROBES: usize = 256;

/// Reasons a failed check gives start with this, so a passing check knows it may revive.
pub(crate) const CHECK_FAILED: &str = "check failed";

#[derive(Default)]
pub(crate) struct Checks {
    inner: Mutex<Tracked>,
}

/// The checks the leader runs, learned from the change log (a full scan only when this node
/// becomes leader or falls behind the log).
#[derive(Default)]
struct Tracked {
    checks: HashMap<InstanceKey, CheckState>,
    seen_revision: Option<u64>,
}

struct CheckState {
    spec: HealthCheck,
    next_due: Instant,
    running: bool,
    passes: u32,
    failures: u32,
}

impl Checks {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tracked> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Tracked {
    fn observe(&mut self, key: &InstanceKey, check: Option<&HealthCheck>, now: Instant) {
        match check {
            Some(spec) if self.checks.get(key).is_some_and(|state| state.spec == *spec) => {}
            Some(spec) => {
                let state = CheckState { spec: spec.clone(), next_due: now, running: false, passes: 0, failures: 0 };
                self.checks.insert(key.clone(), state);
            }
            None => {
                self.checks.remove(key);
            }
        }
    }
}

/// The leader's check loop; idles on followers.
pub(crate) async fn run(node: Arc<RegistryNode>) {
    let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_PROBES));
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if !node.is_leader() {
            *node.checks.lock() = Tracked::default();
            continue;
        }
        for (key, spec) in due(&node) {
            let (node, permits) = (node.clone(), permits.clone());
            tokio::spawn(async move {
                let Ok(_permit) = permits.acquire_owned().await else { return };
                let result = probe(&spec).await;
                let label = if result.is_ok() { "pass" } else { "fail" };
                metrics::counter!(crate::metrics::CHECKS_TOTAL, "result" => label).increment(1);
                if let Some(command) = record(&node, &key, result) {
                    if let Err(error) = node.write(command).await {
                        tracing::warn!(%error, "failed to replicate a health check result; it is retried on the next probe");
                    }
                }
            });
        }
    }
}

/// The checks to probe now (marked running).
fn due(node: &RegistryNode) -> Vec<(InstanceKey, HealthCheck)> {
    let now = Instant::now();
    let mut tracked = node.checks.lock();
    let tracked = &mut *tracked;
    node.read(|applied| {
        match tracked.seen_revision.map(|seen| applied.changes.since(seen, None)) {
            Some(Ok(events)) => {
                for event in events {
                    match &event.change {
                        Change::Instance { instance } => {
                            let key = (instance.namespace.clone(), instance.service.clone(), instance.id.clone());
                            tracked.observe(&key, instance.spec.check.as_ref(), now);
                        }
                        Change::InstanceRemoved { namespace, service, id } => {
                            tracked.checks.remove(&(namespace.clone(), service.clone(), id.clone()));
                        }
                        _ => {}
                    }
                }
            }
            None | Some(Err(_)) => {
                tracked.checks.retain(|key, _| applied.state.instances.contains_key(key));
                for (key, instance) in &applied.state.instances {
                    tracked.observe(key, instance.spec.check.as_ref(), now);
                }
            }
        }
        tracked.seen_revision = Some(applied.state.revision);
    });
    let mut due = Vec::new();
    for (key, state) in tracked.checks.iter_mut() {
        if !state.running && now >= state.next_due {
            state.running = true;
            state.next_due = now + state.spec.interval;
            due.push((key.clone(), state.spec.clone()));
        }
    }
    due
}

/// Counts a probe result; returns the health change it triggers, if any.
fn record(node: &RegistryNode, key: &InstanceKey, result: Result<(), String>) -> Option<Command> {
    let mut tracked = node.checks.lock();
    let state = tracked.checks.get_mut(key)?;
    state.running = false;
    match &result {
        Ok(()) => {
            state.passes += 1;
            state.failures = 0;
        }
        Err(_) => {
            state.failures += 1;
            state.passes = 0;
        }
    }
    let (passes, failures) = (state.passes, state.failures);
    let (success_threshold, failure_threshold) = (state.spec.success_threshold, state.spec.failure_threshold);
    drop(tracked);
    let instance = node.read(|applied| applied.state.instances.get(key).cloned())?;
    let (namespace, service, id) = key.clone();
    match result {
        Err(error) if failures >= failure_threshold && instance.health == Health::Passing => Some(Command::SetHealth {
            namespace,
            service,
            id,
            health: Health::Critical,
            reason: Some(format!("{CHECK_FAILED}: {error}")),
        }),
        Ok(())
            if passes >= success_threshold
                && instance.health == Health::Critical
                && instance.health_reason.as_deref().is_some_and(|r| r.starts_with(CHECK_FAILED)) =>
        {
            Some(Command::SetHealth { namespace, service, id, health: Health::Passing, reason: None })
        }
        _ => None,
    }
}

async fn probe(check: &HealthCheck) -> Result<(), String> {
    if let Some(url) = &check.http {
        let client = reqwest::Client::builder().timeout(check.timeout).build().map_err(|e| e.to_string())?;
        let response = client.get(url).send().await.map_err(|error| format!("GET {url}: {error}"))?;
        return if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("GET {url} answered {}", response.status()))
        };
    }
    if let Some(address) = &check.tcp {
        return match tokio::time::timeout(check.timeout, tokio::net::TcpStream::connect(address)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(format!("connect {address}: {error}")),
            Err(_) => Err(format!("connect {address}: no answer within {:?}", check.timeout)),
        };
    }
    Err("the check names neither http nor tcp".to_string())
}

/// Checks a check spec: what the API refuses, naming the field.
pub fn validate(check: &HealthCheck) -> Result<(), String> {
    match (&check.http, &check.tcp) {
        (Some(url), None) if url.starts_with("http://") || url.starts_with("https://") => {}
        (Some(url), None) => return Err(format!("check.http {url:?} must be an http:// or https:// URL")),
        (None, Some(address)) if address.contains(':') => {}
        (None, Some(address)) => return Err(format!("check.tcp {address:?} must be host:port")),
        _ => return Err("a check needs exactly one of check.http and check.tcp".to_string()),
    }
    if check.interval < Duration::from_secs(1) {
        return Err("check.interval must be at least 1s".to_string());
    }
    if check.timeout.is_zero() || check.timeout > check.interval {
        return Err("check.timeout must be above 0 and at most check.interval".to_string());
    }
    if check.success_threshold == 0 || check.failure_threshold == 0 {
        return Err("check.success_threshold and check.failure_threshold must be at least 1".to_string());
    }
    Ok(())
}
