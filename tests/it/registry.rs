//! The registry through the binary: one node in `vigil up`, and a 3-node cluster of separate
//! processes that loses its leader.

use std::{path::Path, time::Duration};

use serde_json::{json, Value};
use vigil_testkit::{free_port, wait_healthy, wait_until, Process};

use crate::helpers::{TestApp, STARTUP};

/// One registry node as the API sees it.
pub struct Registry {
    base: String,
    client: reqwest::Client,
    token: Option<String>,
}

impl Registry {
    /// Without a token (reads, or a cluster with auth off).
    pub fn new(base: &str) -> Registry {
        Registry { base: base.to_string(), client: reqwest::Client::new(), token: None }
    }

    pub fn with_token(base: &str, token: &str) -> Registry {
        Registry { token: Some(token.to_string()), ..Registry::new(base) }
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// With the admin token `vigil up` writes to its data directory.
    pub async fn admin(app: &TestApp) -> Registry {
        let path = app.data_dir().join("admin-token");
        let token = wait_until("the admin token file", Duration::from_secs(20), || async {
            std::fs::read_to_string(&path).ok().map(|text| text.trim().to_string())
        })
        .await;
        Registry::with_token(&app.base, &token)
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<String>) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).timeout(Duration::from_secs(10));
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.json().await.unwrap_or(Value::Null))
            }
            Err(error) => (0, json!({ "transport_error": error.to_string() })),
        }
    }

    pub async fn put(&self, path: &str, body: &str) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(body.to_string())).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Ids of the passing instances of `service`.
    pub async fn healthy(&self, service: &str) -> Vec<String> {
        let (status, body) = self.get(&format!("/v1/registry/services/{service}/instances?healthy=true")).await;
        assert_eq!(status, 200, "discovery failed: {body}");
        body["instances"]
            .as_array()
            .expect("instances")
            .iter()
            .map(|i| i["id"].as_str().unwrap_or("").to_string())
            .collect()
    }

    pub async fn status(&self) -> Option<Value> {
        let (status, body) = self.get("/v1/cluster/status").await;
        (status == 200).then_some(body)
    }
}

#[tokio::test]
async fn single_node_registers_discovers_expires_leases_and_keeps_kv_across_a_kill() {
    let mut app = TestApp::up().await;
    let registry = Registry::admin(&app).await;

    // Register with a 3 s lease: discoverable, still passing before the TTL is over.
    let (status, body) = registry
        .put(
            "/v1/registry/services/checkout/instances/c1",
            r#"{"address":"10.0.0.7","port":8080,"ttl":"3s","tags":["blue"]}"#,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(registry.healthy("checkout").await, vec!["c1"]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(registry.healthy("checkout").await, vec!["c1"], "the TTL is a lower bound: no expiry before it");

    // No heartbeat: critical within 2x TTL (6 s from registration), and then a heartbeat
    // brings it back.
    let started = std::time::Instant::now();
    wait_until("the lease to expire", Duration::from_secs(5), || async {
        registry.healthy("checkout").await.is_empty().then_some(())
    })
    .await;
    assert!(started.elapsed() < Duration::from_millis(4_600), "expired later than 2x TTL");
    let (_, body) = registry.get("/v1/registry/services/checkout/instances/c1").await;
    assert_eq!(body["health"], "critical");
    let (status, _) = registry.put("/v1/registry/services/checkout/instances/c1/heartbeat", "").await;
    assert_eq!(status, 200);
    assert_eq!(registry.healthy("checkout").await, vec!["c1"]);
    // Batch renewal: known instances are renewed, unknown ones named for re-registration.
    let batch = r#"[{"service":"checkout","id":"c1"},{"service":"checkout","id":"gone"}]"#;
    let (status, body) = registry.put("/v1/registry/heartbeats", batch).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["renewed"], 1);
    assert_eq!(body["unknown"][0]["id"], "gone", "{body}");

    // `curl -d` sends a form content type: the JSON body is still read.
    let response = reqwest::Client::new()
        .put(format!("{}/v1/registry/services/checkout/instances/c9", app.base))
        .bearer_auth(registry.token().expect("token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(r#"{"address":"10.0.0.9","port":8080}"#)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 200, "{}", response.text().await.unwrap_or_default());
    assert_eq!(registry.delete("/v1/registry/services/checkout/instances/c9").await.0, 200);

    // KV with compare-and-set.
    let (status, created) = registry.put("/v1/kv/app/db-url?cas=0", "postgres://db:5432").await;
    assert_eq!(status, 200, "{created}");
    let (status, body) = registry.put("/v1/kv/app/db-url?cas=0", "postgres://other").await;
    assert_eq!(status, 409, "a create-only put of an existing key must fail: {body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("revision"), "{body}");
    let (_, body) = registry.get("/v1/kv/app/db-url").await;
    assert_eq!(body["entry"]["value"], "postgres://db:5432");

    // Bad input: clear 4xx, nothing applied.
    let revision = registry.status().await.expect("status")["revision"].clone();
    let (status, body) =
        registry.put("/v1/registry/services/checkout/instances/c2", r#"{"address":"x","port":1,"colour":"red"}"#).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("colour"), "the unknown field is named: {body}");
    let (status, _) =
        registry.put("/v1/registry/services/bad%20name/instances/c2", r#"{"address":"x","port":1}"#).await;
    assert_eq!(status, 400);
    let (status, _) = registry.delete("/v1/kv/app/db-url?cas=1").await;
    assert_eq!(status, 409, "a delete on a stale revision must fail");
    assert_eq!(registry.status().await.expect("status")["revision"], revision, "a refused request changes nothing");

    // SIGKILL and restart: every acknowledged write is still there.
    app.process.kill();
    app.restart().await;
    let (status, body) = registry.get("/v1/kv/app/db-url").await;
    assert_eq!((status, body["entry"]["value"].clone()), (200, json!("postgres://db:5432")), "{body}");
    let (_, body) = registry.get("/v1/registry/services/checkout/instances/c1").await;
    assert_eq!(body["tags"], json!(["blue"]), "{body}");

    // The registry reports itself on /metrics.
    registry.put("/v1/kv/after-restart", "1").await;
    let metrics =
        reqwest::get(format!("{}/metrics", app.base)).await.expect("metrics").text().await.unwrap_or_default();
    assert!(metrics.contains("vigil_registry_writes_total{outcome=\"applied\"}"), "{metrics}");
    assert!(metrics.contains("vigil_registry_is_leader 1"), "{metrics}");
}

/// A node of a 3-node cluster in its own process.
pub struct ClusterNode {
    pub id: u64,
    pub base: String,
    pub process: Process,
}

/// Starts node `id` on `port` with `registry` settings (TOML lines of the `[registry]` table).
fn start_node(dir: &Path, id: u64, port: u16, registry: &str) -> ClusterNode {
    let node_dir = dir.join(format!("node-{id}"));
    std::fs::create_dir_all(&node_dir).expect("node dir");
    let config = format!(
        "data_dir = \"{}\"\nlisten = \"127.0.0.1:{port}\"\n\n[registry]\nnode_id = {id}\n{registry}\n",
        node_dir.join("data").display()
    );
    let path = node_dir.join("vigil.toml");
    std::fs::write(&path, config).expect("config written");
    let args = ["run", "--config", &path.display().to_string(), "--roles", "registry"].map(String::from);
    let process = Process::start(Path::new(env!("CARGO_BIN_EXE_vigil")), &args, &[], &node_dir.join("vigil.log"));
    ClusterNode { id, base: format!("http://127.0.0.1:{port}"), process }
}

pub fn start_cluster(dir: &Path, snapshot_after: u64) -> Vec<ClusterNode> {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let peers: Vec<String> =
        ports.iter().enumerate().map(|(i, port)| format!("\"{}=127.0.0.1:{port}\"", i + 1)).collect();
    let settings = format!(
        "auth = false\npeers = [{}]\nsnapshot_after_entries = {snapshot_after}\nkeep_entries_after_snapshot = 0",
        peers.join(", ")
    );
    ports.iter().enumerate().map(|(i, port)| start_node(dir, i as u64 + 1, *port, &settings)).collect()
}

/// The leader id, once every given node agrees on one other than `not`.
pub async fn agreed_leader(nodes: &[&ClusterNode], not: Option<u64>) -> u64 {
    wait_until("the nodes to agree on a leader", Duration::from_secs(20), || async {
        let mut leaders = Vec::new();
        for node in nodes {
            leaders.push(Registry::new(&node.base).status().await?["leader"].as_u64()?);
        }
        (leaders.windows(2).all(|w| w[0] == w[1]) && Some(leaders[0]) != not).then(|| leaders[0])
    })
    .await
}

#[tokio::test]
async fn three_nodes_survive_the_leader_being_killed_and_a_restarted_node_catches_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A low snapshot threshold, so the restarted node has to be sent a snapshot.
    let mut nodes = start_cluster(dir.path(), 20);
    for node in &nodes {
        wait_healthy(&node.base, STARTUP).await;
    }
    let leader = agreed_leader(&nodes.iter().collect::<Vec<_>>(), None).await;
    let follower = nodes.iter().find(|n| n.id != leader).expect("a follower");

    // Writes sent to a follower are forwarded; every node reads them (linearizable reads).
    let via_follower = Registry::new(&follower.base);
    for i in 0..30 {
        let (status, body) = via_follower.put(&format!("/v1/kv/k{i}"), &format!("v{i}")).await;
        assert_eq!(status, 200, "write {i} through a follower: {body}");
    }
    let (status, body) =
        via_follower.put("/v1/registry/services/payments/instances/p1", r#"{"address":"10.0.0.9","port":9000}"#).await;
    assert_eq!(status, 200, "{body}");
    for node in &nodes {
        let (_, body) = Registry::new(&node.base).get("/v1/kv/k29").await;
        assert_eq!(body["entry"]["value"], "v29", "node {} must see the last acknowledged write", node.id);
    }
    // A stale read says how long ago the answering follower heard from the leader.
    let stale = reqwest::get(format!("{}/v1/kv/k29?consistency=stale", follower.base)).await.expect("stale read");
    let contact: u64 = stale
        .headers()
        .get("x-vigil-last-contact")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a last-contact header on a stale read");
    assert!(contact < 5_000, "the leader heartbeats every 50 ms, yet last contact was {contact} ms ago");

    // SIGKILL the leader: the other two elect a new one and take writes.
    let killed = nodes.iter_mut().find(|n| n.id == leader).expect("leader node");
    let killed_at = Registry::new(&killed.base).status().await.expect("status")["last_log_index"].as_u64().unwrap_or(0);
    killed.process.kill();
    let survivors: Vec<&ClusterNode> = nodes.iter().filter(|n| n.id != leader).collect();
    agreed_leader(&survivors, Some(leader)).await;
    // The dead leader's port refused connections, so a survivor stood without waiting out its
    // election timeout (the metric says the early path was taken).
    let mut early = 0.0;
    for node in &survivors {
        let metrics =
            reqwest::get(format!("{}/metrics", node.base)).await.expect("metrics").text().await.unwrap_or_default();
        early += metrics
            .lines()
            .find_map(|line| line.strip_prefix("vigil_registry_dead_leader_elections_total "))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
    }
    assert!(early >= 1.0, "no survivor noticed that the leader's process was gone");
    let survivor = Registry::new(&survivors[0].base);
    for i in 30..60 {
        let (status, body) = wait_until("a write to succeed after the failover", Duration::from_secs(10), || async {
            let answer = survivor.put(&format!("/v1/kv/k{i}"), &format!("v{i}")).await;
            (answer.0 == 200).then_some(answer)
        })
        .await;
        assert_eq!(status, 200, "{body}");
    }
    for i in [0, 29] {
        let (_, body) = survivor.get(&format!("/v1/kv/k{i}")).await;
        assert_eq!(body["entry"]["value"], format!("v{i}"), "an acknowledged write was lost in the failover");
    }
    assert_eq!(survivor.healthy("payments").await, vec!["p1"]);
    let purged = wait_until("the survivors to snapshot and purge their logs", Duration::from_secs(10), || async {
        let purged = survivor.status().await?["purged_index"].as_u64()?;
        (purged > killed_at).then_some(purged)
    })
    .await;
    assert!(purged > killed_at, "the killed node can only catch up through a snapshot now");

    // The killed node comes back and catches up (its log is behind a snapshot by now).
    let restarted = nodes.iter_mut().find(|n| n.id == leader).expect("old leader");
    restarted.process.restart();
    wait_healthy(&restarted.base, STARTUP).await;
    let back = Registry::new(&restarted.base);
    wait_until("the restarted node to catch up", Duration::from_secs(20), || async {
        let (_, body) = back.get("/v1/kv/k59?consistency=stale").await;
        (body["entry"]["value"] == "v59").then_some(())
    })
    .await;
    let (_, body) = back.get("/v1/kv/k0?consistency=stale").await;
    assert_eq!(body["entry"]["value"], "v0");
    // It holds no history before the snapshot it was sent: a watch from there is told to list
    // again, not handed a partial history.
    let (status, body) = back.get("/v1/watch?from=0&consistency=stale").await;
    assert_eq!(status, 410, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("list the resource again"), "{body}");
}

#[tokio::test]
async fn blocking_queries_wake_on_their_own_change_and_watches_stream_every_revision() {
    let app = TestApp::up().await;
    let registry = Registry::admin(&app).await;
    let token = registry.token.clone().expect("admin token");
    let register = |service: &'static str, id: &'static str| {
        let registry = Registry::with_token(&app.base, &token);
        async move {
            let path = format!("/v1/registry/services/{service}/instances/{id}");
            let (status, body) = registry.put(&path, r#"{"address":"10.0.0.1","port":80}"#).await;
            assert_eq!(status, 200, "{body}");
        }
    };
    register("orders", "o1").await;
    let (_, listed) = registry.get("/v1/registry/services/orders/instances").await;
    let index = listed["index"].as_u64().expect("an index to block on");

    // A blocking query on `orders` ignores a change to `billing`, and wakes on `orders`.
    let blocked = {
        let registry = Registry::new(&app.base);
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let answer = registry.get(&format!("/v1/registry/services/orders/instances?index={index}&wait=20s")).await;
            (answer, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    register("billing", "b1").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!blocked.is_finished(), "a change to another service must not wake the query");
    register("orders", "o2").await;
    let ((status, body), waited) = blocked.await.expect("query task");
    assert_eq!(status, 200, "{body}");
    assert!(waited < Duration::from_secs(15), "the change should wake the query at once");
    assert!(body["index"].as_u64().unwrap_or(0) > index);
    assert_eq!(body["instances"].as_array().map(Vec::len), Some(2));

    // A watch from revision 0 replays every change in order, with no gap, then follows live.
    let mut stream =
        reqwest::Client::new().get(format!("{}/v1/watch?from=0", app.base)).send().await.expect("watch answers");
    assert_eq!(stream.status(), 200);
    registry.put("/v1/kv/feature/x", "on").await;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while text.matches("event: change").count() < 4 {
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("watch stream ended or stalled: {other:?}; got so far:\n{text}"),
        }
    }
    let revisions: Vec<u64> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|event| event["revision"].as_u64())
        .collect();
    assert_eq!(revisions, vec![1, 2, 3, 4], "every revision once, in order: {text}");

    // A bad parameter is named.
    let (status, body) = registry.get("/v1/registry/services/orders/instances?wait=soon&index=1").await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("wait"), "{body}");
}

#[tokio::test]
async fn a_node_joins_as_learner_is_promoted_and_removed_through_the_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = start_node(dir.path(), 1, free_port(), "auth = false");
    let port = free_port();
    let second = start_node(dir.path(), 2, port, "auth = false\njoin = true");
    wait_healthy(&first.base, STARTUP).await;
    wait_healthy(&second.base, STARTUP).await;
    let one = Registry::new(&first.base);
    let two = Registry::new(&second.base);
    let (status, body) = one.put("/v1/kv/before-join", "1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(two.status().await.expect("status")["leader"], Value::Null, "a joining node waits to be added");

    let add = format!(r#"{{"id":2,"address":"127.0.0.1:{port}"}}"#);
    let (status, body) = one.send(reqwest::Method::POST, "/v1/cluster/members", Some(add)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = one.send(reqwest::Method::POST, "/v1/cluster/members/2/promote", None).await;
    assert_eq!(status, 200, "{body}");
    let voters: Vec<bool> =
        body["members"].as_array().expect("members").iter().map(|m| m["voter"].as_bool().unwrap_or(false)).collect();
    assert_eq!(voters, vec![true, true], "{body}");

    // The new voter serves writes (forwarded) and linearizable reads, old data included.
    let (status, body) = two.put("/v1/kv/after-join", "2").await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = two.get("/v1/kv/before-join").await;
    assert_eq!(body["entry"]["value"], "1");

    let (status, body) = one.send(reqwest::Method::DELETE, "/v1/cluster/members/2", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["members"].as_array().map(Vec::len), Some(1), "{body}");
    let (status, body) = one.put("/v1/kv/after-removal", "3").await;
    assert_eq!(status, 200, "the remaining node commits alone again: {body}");
    let (status, body) = one.send(reqwest::Method::POST, "/v1/cluster/members", Some("{\"id\":0}".into())).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn active_checks_mark_instances_and_the_protect_threshold_keeps_callers_fed() {
    let app = TestApp::up().await;
    let registry = Registry::admin(&app).await;
    let token = registry.token.clone().expect("admin token");
    let closed_port = free_port();
    let register = |id: &str, check: String| {
        let path = format!("/v1/registry/services/search/instances/{id}");
        let body = format!(r#"{{"address":"127.0.0.1","port":9,"check":{check}}}"#);
        let registry = Registry::with_token(&app.base, &token);
        async move { registry.put(&path, &body).await }
    };
    // s1 is checked over HTTP against a real endpoint; s2 and s3 by TCP against a closed port.
    let http_check = format!(r#"{{"http":"{}/health","interval":"1s","timeout":"1s"}}"#, app.base);
    let tcp_check =
        format!(r#"{{"tcp":"127.0.0.1:{closed_port}","interval":"1s","timeout":"1s","failure_threshold":2}}"#);
    for (id, check) in [("s1", http_check), ("s2", tcp_check.clone()), ("s3", tcp_check)] {
        let (status, body) = register(id, check).await;
        assert_eq!(status, 200, "{body}");
    }
    wait_until("the failing checks to turn s2 and s3 critical", Duration::from_secs(15), || async {
        (registry.healthy("search").await == vec!["s1"]).then_some(())
    })
    .await;
    let (_, body) = registry.get("/v1/registry/services/search/instances/s2").await;
    assert!(body["health_reason"].as_str().unwrap_or("").starts_with("check failed: connect"), "{body}");

    // One healthy instance of three is at or below a 0.5 protect threshold: discovery hands
    // out all three, flagged, instead of sending all traffic to s1.
    let (status, body) = registry.put("/v1/registry/services/search", r#"{"protect_threshold":0.5}"#).await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = registry.get("/v1/registry/services/search/instances?healthy=true").await;
    assert_eq!(body["protected"], true, "{body}");
    assert_eq!(body["instances"].as_array().map(Vec::len), Some(3));
    let (status, body) = registry.put("/v1/registry/services/search", r#"{"protect_threshold":1.5}"#).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("protect_threshold"), "{body}");
    registry.put("/v1/registry/services/search", r#"{"protect_threshold":0}"#).await;

    // The port opens: the TCP checks pass again.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", closed_port)).await.expect("bind the checked port");
    let accept = tokio::spawn(async move {
        loop {
            let _ = listener.accept().await;
        }
    });
    wait_until("s2 and s3 to pass again", Duration::from_secs(15), || async {
        (registry.healthy("search").await.len() == 3).then_some(())
    })
    .await;
    accept.abort();

    // A critical instance with deregister_critical_after is removed once that time passed.
    let doomed = format!(
        r#"{{"address":"127.0.0.1","port":9,"deregister_critical_after":"1s","check":{{"tcp":"127.0.0.1:{}","interval":"1s","timeout":"1s","failure_threshold":1}}}}"#,
        free_port()
    );
    let (status, body) = registry.put("/v1/registry/services/search/instances/doomed", &doomed).await;
    assert_eq!(status, 200, "{body}");
    wait_until("the critical instance to be deregistered", Duration::from_secs(15), || async {
        (registry.get("/v1/registry/services/search/instances/doomed").await.0 == 404).then_some(())
    })
    .await;

    // A check that names no target is refused, naming the field.
    let (status, body) = register("s4", r#"{"interval":"1s"}"#.to_string()).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("check.http"), "{body}");
}

#[tokio::test]
async fn tokens_with_scopes_guard_writes_and_node_to_node_calls() {
    let app = TestApp::up().await;
    let admin = Registry::admin(&app).await;
    let anonymous = Registry::new(&app.base);
    let instance = r#"{"address":"10.0.0.1","port":80}"#;

    // Without a token, writes are refused and say how to get one; reads are open.
    let (status, body) = anonymous.put("/v1/registry/services/checkout/instances/c1", instance).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("admin-token"), "{body}");
    assert_eq!(anonymous.get("/v1/registry/services").await.0, 200);

    // A token scoped to one service writes there and nowhere else.
    let (status, created) = admin
        .send(
            reqwest::Method::POST,
            "/v1/auth/tokens",
            Some(r#"{"id":"checkout-deployer","scopes":["write:default/checkout"]}"#.into()),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let scoped = Registry::with_token(&app.base, created["token"].as_str().expect("the secret, shown once"));
    assert_eq!(scoped.put("/v1/registry/services/checkout/instances/c1", instance).await.0, 200);
    let (status, body) = scoped.put("/v1/registry/services/billing/instances/b1", instance).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("write:default/billing"), "{body}");
    assert_eq!(scoped.put("/v1/kv/x", "1").await.0, 403);
    assert_eq!(scoped.get("/v1/auth/tokens").await.0, 403, "listing tokens is for admins");
    let (_, listed) = admin.get("/v1/auth/tokens").await;
    assert!(
        !listed.to_string().contains(created["token"].as_str().unwrap_or("-")),
        "secrets are never listed: {listed}"
    );

    // Revoked: refused at once.
    assert_eq!(admin.delete("/v1/auth/tokens/checkout-deployer").await.0, 200);
    assert_eq!(scoped.put("/v1/registry/services/checkout/instances/c2", instance).await.0, 401);
    let (status, body) =
        admin.send(reqwest::Method::POST, "/v1/auth/tokens", Some(r#"{"id":"x","scopes":["root"]}"#.into())).await;
    assert_eq!(status, 400, "{body}");

    // The Raft routes take no client writes: a write posted there without the cluster secret
    // is refused, even with the admin token.
    let request =
        json!({"version": 1, "at_ms": 0, "command": {"op": "kv_put", "key": "sneaky", "value": "1", "cas": null}});
    let (status, _) = admin.send(reqwest::Method::POST, "/raft/write", Some(request.to_string())).await;
    assert_eq!(status, 401);
    assert_eq!(admin.get("/v1/kv/sneaky").await.0, 404);
}

#[tokio::test]
async fn locks_and_elections_follow_their_sessions() {
    let app = TestApp::up().await;
    let registry = Registry::admin(&app).await;
    let session = |ttl: &'static str, name: &'static str| {
        let registry = Registry::with_token(&app.base, registry.token().expect("token"));
        async move {
            let (status, body) = registry
                .send(reqwest::Method::POST, "/v1/sessions", Some(format!(r#"{{"ttl":"{ttl}","name":"{name}"}}"#)))
                .await;
            assert_eq!(status, 200, "{body}");
            body["id"].as_str().expect("session id").to_string()
        }
    };
    let (a, b, c) = (session("2s", "a").await, session("60s", "b").await, session("60s", "c").await);

    // A takes the lock; B is told who holds it.
    let (status, body) = registry.put(&format!("/v1/locks/deploy?session={a}"), "worker-a").await;
    assert_eq!((status, body["held"].clone()), (200, json!(true)), "{body}");
    let (status, body) = registry.put(&format!("/v1/locks/deploy?session={b}"), "worker-b").await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains(&a), "{body}");

    // B waits for the lock; A stops renewing, its session expires, the lock is freed, B takes it.
    let (_, held) = registry.get("/v1/locks/deploy").await;
    let index = held["index"].as_u64().expect("index");
    let started = std::time::Instant::now();
    let (status, body) = registry.get(&format!("/v1/locks/deploy?index={index}&wait=20s")).await;
    assert_eq!((status, body["held"].clone()), (200, json!(false)), "{body}");
    assert!(started.elapsed() < Duration::from_secs(6), "the session should expire within 2x its TTL");
    let (status, _) = registry.put(&format!("/v1/locks/deploy?session={b}"), "worker-b").await;
    assert_eq!(status, 200);
    let (status, _) = registry.put(&format!("/v1/sessions/{a}/renew"), "").await;
    assert_eq!(status, 404, "an expired session cannot be renewed");

    // A key bound to a session goes with it.
    assert_eq!(registry.put(&format!("/v1/kv/ephemeral/c?session={c}"), "here").await.0, 200);
    assert_eq!(registry.delete(&format!("/v1/sessions/{c}")).await.0, 200);
    assert_eq!(registry.get("/v1/kv/ephemeral/c").await.0, 404);
    assert_eq!(registry.put(&format!("/v1/kv/ephemeral/c?session={c}"), "again").await.0, 404, "the session is gone");

    // Elections: the first candidate leads, others are told who does, resigning frees it.
    let (status, _) =
        registry.send(reqwest::Method::POST, &format!("/v1/elections/jobs?session={b}"), Some("node-b".into())).await;
    assert_eq!(status, 200);
    let (_, body) = registry.get("/v1/elections/jobs").await;
    assert_eq!(body["value"], "node-b");
    let d = session("60s", "d").await;
    let (status, body) =
        registry.send(reqwest::Method::POST, &format!("/v1/elections/jobs?session={d}"), Some("node-d".into())).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(registry.delete(&format!("/v1/elections/jobs?session={d}")).await.0, 409, "only the leader resigns");
    assert_eq!(registry.delete(&format!("/v1/elections/jobs?session={b}")).await.0, 200);
    assert_eq!(registry.get("/v1/elections/jobs").await.1["held"], false);
}

#[tokio::test]
async fn an_isolated_leader_cannot_commit_the_majority_moves_on_and_healing_converges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let peers: Vec<String> =
        ports.iter().enumerate().map(|(i, port)| format!("\"{}=127.0.0.1:{port}\"", i + 1)).collect();
    let settings =
        format!("auth = false\nfault_injection = true\nwrite_timeout = \"2s\"\npeers = [{}]", peers.join(", "));
    let nodes: Vec<ClusterNode> =
        ports.iter().enumerate().map(|(i, port)| start_node(dir.path(), i as u64 + 1, *port, &settings)).collect();
    for node in &nodes {
        wait_healthy(&node.base, STARTUP).await;
    }
    let leader = agreed_leader(&nodes.iter().collect::<Vec<_>>(), None).await;
    let old = nodes.iter().find(|n| n.id == leader).expect("leader");
    let others: Vec<&ClusterNode> = nodes.iter().filter(|n| n.id != leader).collect();
    let on_old = Registry::new(&old.base);
    assert_eq!(on_old.put("/v1/kv/k", "before").await.0, 200);

    // Cut the leader off from both followers, on both sides.
    let partition = |node: &ClusterNode, isolate: Vec<u64>| {
        let registry = Registry::new(&node.base);
        async move {
            let body = json!({ "isolate": isolate }).to_string();
            let (status, answer) = registry.send(reqwest::Method::POST, "/raft/debug/partition", Some(body)).await;
            assert_eq!(status, 200, "{answer}");
        }
    };
    partition(old, others.iter().map(|n| n.id).collect()).await;
    for node in &others {
        partition(node, vec![leader]).await;
    }

    // The minority cannot commit, nor answer a linearizable read: it fails, it does not hang.
    let (status, body) = on_old.put("/v1/kv/k", "minority").await;
    assert_ne!(status, 200, "an isolated leader must not acknowledge a write: {body}");
    let (status, body) = on_old.get("/v1/kv/k").await;
    assert_ne!(status, 200, "an isolated leader must not answer a linearizable read: {body}");

    // The majority elects a leader of its own and takes writes.
    let new_leader = agreed_leader(&others, Some(leader)).await;
    let majority = Registry::new(&others[0].base);
    let (status, body) = wait_until("a write on the majority side", Duration::from_secs(15), || async {
        let answer = majority.put("/v1/kv/k", "majority").await;
        (answer.0 == 200).then_some(answer)
    })
    .await;
    assert_eq!(status, 200, "{body}");

    // Heal: the old leader follows the new one and every node converges on the same state.
    for node in &nodes {
        partition(node, Vec::new()).await;
    }
    let all: Vec<&ClusterNode> = nodes.iter().collect();
    assert_eq!(agreed_leader(&all, None).await, new_leader, "the healed node must follow the new leader");
    wait_until("every node to converge", Duration::from_secs(15), || async {
        let mut seen = Vec::new();
        for node in &nodes {
            let (_, body) = Registry::new(&node.base).get("/v1/kv/k?consistency=stale").await;
            let status = Registry::new(&node.base).status().await?;
            seen.push((body["entry"]["value"].clone(), status["revision"].clone()));
        }
        seen.windows(2).all(|w| w[0] == w[1]).then_some(())
    })
    .await;
    let (_, body) = on_old.get("/v1/kv/k").await;
    assert_eq!(body["entry"]["value"], "majority", "the minority's write was never committed: {body}");
}
