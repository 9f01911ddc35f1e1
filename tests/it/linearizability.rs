//! Linearizability of the registry's KV under faults: concurrent clients read and write a few
//! keys through random nodes of a 3-node cluster while nodes are SIGKILLed and restarted, and
//! the leader is paused (SIGSTOP / SIGCONT). The recorded history is checked against a
//! register model, key by key, with a Wing & Gong search (as Porcupine and Knossos do).

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::registry::{agreed_leader, start_cluster, Registry};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Kind {
    Write(String),
    /// What the read saw (None: the key did not exist).
    Read(Option<String>),
}

#[derive(Debug, Clone)]
struct Op {
    key: String,
    kind: Kind,
    /// Nanoseconds since the start of the run.
    call: u128,
    /// None: no answer (a write that may or may not have happened).
    ret: Option<u128>,
}

/// Whether one key's history is linearizable for a register that starts absent, every write
/// writing a distinct value. Gibbons and Korach's zone test, which is exact for such registers:
/// the ops of one value (its write and the reads that saw it) form a zone from the earliest
/// answer to the latest call; a "forward" zone (earliest answer before latest call) pins the
/// value's lifetime. The history is linearizable iff every read saw a value written no later
/// than the read ended, no two forward zones overlap, and no backward zone sits inside another
/// value's forward zone. A write that never answered may not have happened: if no read saw
/// its value it is left out, else its end is unknown (infinite).
fn linearizable(ops: &[Op]) -> bool {
    use std::collections::BTreeMap;
    // (earliest answer, latest call) per value; the absent initial value is a write at time 0.
    let mut zones: BTreeMap<Option<String>, (u128, u128)> = BTreeMap::new();
    zones.insert(None, (0, 0));
    let mut written: BTreeMap<Option<String>, u128> = BTreeMap::new();
    written.insert(None, 0);
    for op in ops {
        if let Kind::Write(value) = &op.kind {
            written.insert(Some(value.clone()), op.call + 1);
        }
    }
    let mut seen: HashSet<Option<String>> = HashSet::from([None]);
    for op in ops {
        let (value, call, ret) = match &op.kind {
            Kind::Write(value) => (Some(value.clone()), op.call + 1, op.ret.map_or(u128::MAX, |r| r + 1)),
            Kind::Read(value) => (value.clone(), op.call + 1, op.ret.map_or(u128::MAX, |r| r + 1)),
        };
        if let Kind::Read(value) = &op.kind {
            match written.get(value) {
                Some(write_call) if *write_call <= ret => {}
                _ => return false, // read a value never written, or before its write began
            }
            seen.insert(value.clone());
        }
        // An unanswered write has no end: it only starts its value's zone.
        let zone = zones.entry(value).or_insert((u128::MAX, 0));
        zone.0 = zone.0.min(ret);
        zone.1 = zone.1.max(call);
    }
    zones.retain(|value, (first_answer, _)| seen.contains(value) || *first_answer != u128::MAX);
    let forward: Vec<(u128, u128)> = zones.values().filter(|(f, s)| f < s).copied().collect();
    let backward: Vec<(u128, u128)> = zones.values().filter(|(f, s)| f >= s).map(|(f, s)| (*s, *f)).collect();
    for (i, a) in forward.iter().enumerate() {
        for b in &forward[i + 1..] {
            if a.0 < b.1 && b.0 < a.1 {
                return false;
            }
        }
        for b in &backward {
            if a.0 < b.0 && b.1 < a.1 {
                return false;
            }
        }
    }
    true
}

#[test]
fn the_checker_accepts_linearizable_histories_and_rejects_stale_reads() {
    let op = |kind: Kind, call: u128, ret: Option<u128>| Op { key: "k".into(), kind, call, ret };
    let w = |v: &str| Kind::Write(v.to_string());
    let r = |v: Option<&str>| Kind::Read(v.map(str::to_string));
    // Concurrent write and read: the read may see either.
    assert!(linearizable(&[op(w("a"), 0, Some(10)), op(r(None), 1, Some(5))]));
    assert!(linearizable(&[op(w("a"), 0, Some(10)), op(r(Some("a")), 1, Some(5))]));
    // A read after a write finished must see it (or a later write).
    assert!(!linearizable(&[op(w("a"), 0, Some(10)), op(r(None), 11, Some(12))]));
    assert!(!linearizable(&[op(w("a"), 0, Some(1)), op(w("b"), 2, Some(3)), op(r(Some("a")), 4, Some(5))]));
    // An unanswered write may have happened, later than its call...
    assert!(linearizable(&[op(w("a"), 0, None), op(r(None), 1, Some(2)), op(r(Some("a")), 3, Some(4))]));
    // ...but not before it was called.
    assert!(!linearizable(&[op(r(Some("a")), 0, Some(1)), op(w("a"), 2, None)]));
    // Reads must not see values go back in time.
    let (wa, wb) = (op(w("a"), 1, Some(2)), op(w("b"), 3, Some(4)));
    assert!(!linearizable(&[wa.clone(), wb.clone(), op(r(Some("b")), 5, Some(6)), op(r(Some("a")), 7, Some(8))]));
    assert!(linearizable(&[wa, wb, op(r(Some("b")), 5, Some(6)), op(r(Some("b")), 7, Some(8))]));
    // A read of a value nobody wrote.
    assert!(!linearizable(&[op(r(Some("z")), 0, Some(1))]));
}

fn send_signal(pid: u32, signal: &str) {
    let _ = std::process::Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status();
}

#[tokio::test]
async fn kv_stays_linearizable_through_kills_and_pauses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut nodes = start_cluster(dir.path(), 200);
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    for base in &bases {
        vigil_testkit::wait_healthy(base, crate::helpers::STARTUP).await;
    }
    agreed_leader(&nodes.iter().collect::<Vec<_>>(), None).await;
    let started = Instant::now();
    let run_for = Duration::from_secs(12);
    let history = Arc::new(Mutex::new(Vec::new()));
    let keys = ["k0", "k1", "k2"];

    let mut clients = Vec::new();
    for client in 0..5u64 {
        let (history, bases) = (history.clone(), bases.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("client");
            let mut n = 0u64;
            while started.elapsed() < run_for {
                n += 1;
                let key = keys[((client * 7 + n * 13) % 3) as usize].to_string();
                let base = &bases[((client + n) % 3) as usize];
                let call = started.elapsed().as_nanos();
                let write = (client + n) % 5 < 2;
                let op = if write {
                    let value = format!("c{client}-{n}");
                    let answer = http.put(format!("{base}/v1/kv/{key}")).body(value.clone()).send().await;
                    let ok = answer.is_ok_and(|r| r.status().is_success());
                    Some(Op { key, kind: Kind::Write(value), call, ret: ok.then(|| started.elapsed().as_nanos()) })
                } else {
                    match http.get(format!("{base}/v1/kv/{key}")).send().await {
                        Ok(response) if response.status().as_u16() == 404 => {
                            Some(Op { key, kind: Kind::Read(None), call, ret: Some(started.elapsed().as_nanos()) })
                        }
                        Ok(response) if response.status().is_success() => {
                            let body: serde_json::Value = response.json().await.unwrap_or_default();
                            let seen = body["entry"]["value"].as_str().map(str::to_string);
                            Some(Op { key, kind: Kind::Read(seen), call, ret: Some(started.elapsed().as_nanos()) })
                        }
                        _ => None, // a failed read tells nothing
                    }
                };
                let failed = op.as_ref().is_none_or(|op| op.ret.is_none());
                if let Some(op) = op {
                    history.lock().expect("history").push(op);
                }
                if failed {
                    // Back off a little while a node is down, as a real client would.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }

    let watcher = tokio::spawn(watch_validator(bases.clone(), started, run_for));

    // Faults: kill and restart a node, or pause the leader for a second, in turn.
    let mut round = 0usize;
    while started.elapsed() < run_for - Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        round += 1;
        let leader = {
            let mut leader = None;
            for (index, base) in bases.iter().enumerate() {
                if let Some(status) = Registry::new(base).status().await {
                    if status["role"] == "leader" {
                        leader = Some(index);
                    }
                }
            }
            leader
        };
        let target = leader.unwrap_or(round % 3);
        if round % 2 == 1 {
            nodes[target].process.kill();
            tokio::time::sleep(Duration::from_millis(800)).await;
            nodes[target].process.restart();
        } else if let Some(pid) = nodes[target].process.pid() {
            send_signal(pid, "STOP");
            tokio::time::sleep(Duration::from_millis(1000)).await;
            send_signal(pid, "CONT");
        }
    }
    for client in clients {
        client.await.expect("client task");
    }

    let watched = watcher.await.expect("watch validator");
    eprintln!("watch: {} events checked in order across {} streams", watched.events, watched.streams);
    assert!(watched.events > 100, "the watch saw too little: {watched:?}");
    assert!(watched.violations.is_empty(), "watch revisions out of order: {:?}", watched.violations);

    let history = history.lock().expect("history").clone();
    let answered_writes = history.iter().filter(|op| matches!(op.kind, Kind::Write(_)) && op.ret.is_some()).count();
    let reads = history.iter().filter(|op| matches!(op.kind, Kind::Read(_))).count();
    eprintln!("history: {} ops, {answered_writes} acknowledged writes, {reads} reads, {round} faults", history.len());
    assert!(answered_writes > 20 && reads > 20, "too little got through to check anything");
    for key in keys {
        let ops: Vec<Op> = history.iter().filter(|op| op.key == key).cloned().collect();
        assert!(linearizable(&ops), "the history of {key} is not linearizable ({} ops)", ops.len());
    }
}

#[derive(Debug, Default)]
struct Watched {
    events: u64,
    streams: u64,
    violations: Vec<String>,
}

/// Follows `GET /v1/watch` through the faults, moving to another node when one dies (and every
/// 2 s anyway), resuming
/// from the last revision seen: every revision must come exactly once, in order. A node that
/// no longer holds that history answers "compacted"; the validator then starts over from what
/// that node has (a new, separately checked segment), as a client that lists again would.
async fn watch_validator(bases: Vec<String>, started: Instant, run_for: Duration) -> Watched {
    let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(1)).build().expect("client");
    let mut watched = Watched::default();
    let mut last: Option<u64> = Some(0);
    let mut attempt = 0usize;
    while started.elapsed() < run_for {
        attempt += 1;
        let base = &bases[attempt % bases.len()];
        let from = last.map(|r| format!("&from={r}")).unwrap_or_default();
        let response = match http.get(format!("{base}/v1/watch?consistency=stale{from}")).send().await {
            Ok(response) => response,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if response.status().as_u16() == 410 {
            last = None; // list again: the next stream starts a new segment
            continue;
        }
        if !response.status().is_success() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        watched.streams += 1;
        let mut response = response;
        let mut buffer = String::new();
        // Move to the next node every 2 s even without a fault: resuming elsewhere from the
        // last revision must give the same sequence.
        let deadline =
            tokio::time::Instant::now() + run_for.saturating_sub(started.elapsed()).min(Duration::from_secs(2));
        loop {
            let chunk = match tokio::time::timeout_at(deadline, response.chunk()).await {
                Ok(Ok(Some(chunk))) => chunk,
                _ => break, // the node died, paused past the run, or the run ended
            };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                if event.contains("event: error") {
                    last = None;
                    break;
                }
                let Some(data) = event.lines().find_map(|line| line.strip_prefix("data: ")) else { continue };
                let Some(revision) =
                    serde_json::from_str::<serde_json::Value>(data).ok().and_then(|v| v["revision"].as_u64())
                else {
                    continue;
                };
                if let Some(previous) = last {
                    if revision != previous + 1 {
                        watched.violations.push(format!("{base}: revision {revision} after {previous}"));
                    }
                }
                last = Some(revision);
                watched.events += 1;
            }
        }
    }
    watched
}
