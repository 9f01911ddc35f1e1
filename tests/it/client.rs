//! The typed registry client (lib/client) against real nodes: a registration kept alive, a
//! discovery cache following changes, KV, errors, and failover across a leader kill.

use std::time::Duration;

use vigil_client::{ClientError, RegistryClient, ServiceView};
use vigil_model::{
    registry::{Health, InstanceSpec},
    ErrorCode,
};
use vigil_testkit::{free_port, wait_healthy, wait_until};

use crate::{
    helpers::{TestApp, STARTUP},
    registry::{agreed_leader, start_cluster, Registry},
};

fn spec(address: &str, ttl: Option<Duration>) -> InstanceSpec {
    serde_json::from_value(serde_json::json!({"address": address, "port": 8080}))
        .map_or_else(|error| panic!("a minimal spec: {error}"), |spec: InstanceSpec| InstanceSpec { ttl, ..spec })
}

fn ids(view: &ServiceView) -> Vec<String> {
    let mut ids: Vec<String> = view.instances.iter().map(|i| i.id.clone()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_kept_registration_outlives_its_ttl_and_the_discovery_cache_follows_each_change() {
    let app = TestApp::up().await;
    let token = Registry::admin(&app).await.token().expect("admin token").to_string();
    let client = RegistryClient::new([app.base.as_str()]).expect("client").with_token(&token);

    let mut watch = client.watch_service("inventory", true);
    watch.wait_for(Duration::from_secs(10), |view| view.is_loaded()).await.expect("the cache loads");
    assert!(watch.current().instances.is_empty());

    // Registered with a 1 s lease and kept: still passing well past 2x TTL.
    let registration = client
        .register_and_keep("inventory", "i1", spec("10.1.0.1", Some(Duration::from_secs(1))))
        .await
        .expect("registered");
    let view = watch.wait_for(Duration::from_secs(5), |view| ids(view) == ["i1"]).await;
    assert!(view.is_some(), "the cache must pick up the registration: {:?}", watch.current());
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let instance = client.instance("inventory", "i1").await.expect("read").expect("still registered");
    assert_eq!(instance.health, Health::Passing, "renewals keep the lease alive: {:?}", registration.state());
    assert!(registration.state().renewals >= 3, "{:?}", registration.state());
    assert_eq!(ids(&watch.current()), ["i1"]);

    // Removed behind its back (an operator, or an expiry): it registers again by itself.
    client.deregister("inventory", "i1").await.expect("deregistered");
    wait_until("the instance to be registered again", Duration::from_secs(5), || async {
        (registration.state().registrations >= 2).then_some(())
    })
    .await;
    let view = watch.wait_for(Duration::from_secs(5), |view| ids(view) == ["i1"]).await;
    assert!(view.is_some(), "the cache must show it again: {:?}", watch.current());

    // Deregistering for good empties the cache.
    registration.deregister().await.expect("deregistered");
    let view = watch.wait_for(Duration::from_secs(5), |view| view.instances.is_empty()).await;
    assert!(view.is_some(), "the cache must drop the instance: {:?}", watch.current());
    assert_eq!(client.instance("inventory", "i1").await.expect("read"), None);

    // KV through the client, keys escaped part by part.
    client.kv_put_cas("cfg/a", "1", 0).await.expect("created");
    let error = client.kv_put_cas("cfg/a", "2", 0).await.expect_err("the key exists");
    assert!(error.is_conflict(), "{error}");
    client.kv_put("cfg/with space?", "x/y z").await.expect("put");
    let listed = client.kv_list("cfg/").await.expect("listed");
    let pairs: Vec<(&str, &str)> = listed.iter().map(|e| (e.key.as_str(), e.value.as_str())).collect();
    assert_eq!(pairs, [("cfg/a", "1"), ("cfg/with space?", "x/y z")]);
    assert_eq!(client.kv_get("cfg/missing").await.expect("read"), None);
    client.kv_delete("cfg/a").await.expect("deleted");
    assert_eq!(client.kv_get("cfg/a").await.expect("read"), None);

    // Errors name what went wrong.
    let anonymous = RegistryClient::new([app.base.as_str()]).expect("client");
    let error = anonymous.kv_put("cfg/b", "1").await.expect_err("writes need a token");
    assert_eq!(error.code(), Some(ErrorCode::Unauthorized), "{error}");
    let error = client.register("inventory", "i2", &spec(" ", None)).await.expect_err("empty address");
    assert_eq!(error.code(), Some(ErrorCode::BadRequest));
    assert!(error.to_string().contains("address"), "{error}");
    let error = client.register("bad name", "i2", &spec("10.1.0.2", None)).await.expect_err("invalid name");
    assert!(error.to_string().contains("invalid service"), "{error}");
    assert!(matches!(RegistryClient::new(["ftp://x"]), Err(ClientError::Config(_))));
}

#[tokio::test]
async fn the_client_fails_over_when_the_leader_dies_and_its_cache_keeps_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut nodes = start_cluster(dir.path(), 10_000);
    for node in &nodes {
        wait_healthy(&node.base, STARTUP).await;
    }
    let leader = agreed_leader(&nodes.iter().collect::<Vec<_>>(), None).await;
    // The first endpoint is down from the start: calls move on to the next.
    let mut endpoints = vec![format!("127.0.0.1:{}", free_port())];
    endpoints.extend(nodes.iter().map(|n| n.base.clone()));
    let client = RegistryClient::new(&endpoints).expect("client");

    let registration = client
        .register_and_keep("api", "a1", spec("10.2.0.1", Some(Duration::from_secs(2))))
        .await
        .expect("registered");
    let mut watch = client.watch_service("api", true);
    watch.wait_for(Duration::from_secs(10), |view| ids(view) == ["a1"]).await.expect("the cache loads");

    nodes.iter_mut().find(|n| n.id == leader).expect("leader").process.kill();
    // The cache still answers while the cluster elects.
    assert_eq!(ids(&watch.current()), ["a1"]);

    // Calls succeed without the caller retrying: the client finds the new leader.
    client.kv_put("after-failover", "1").await.expect("a write after the leader died");
    client.register("api", "a2", &spec("10.2.0.2", None)).await.expect("a registration after the leader died");
    let view = watch.wait_for(Duration::from_secs(15), |view| ids(view) == ["a1", "a2"]).await;
    assert!(view.is_some(), "the cache must follow changes made after the failover: {:?}", watch.current());
    let status = client.cluster_status().await.expect("status");
    assert_ne!(status.leader, Some(leader), "{status:?}");

    // The kept registration renews on the new leader: passing past 2x TTL after the kill.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let instance = client.instance("api", "a1").await.expect("read").expect("registered");
    assert_eq!(instance.health, Health::Passing, "{:?}", registration.state());
    assert!(registration.state().last_error.is_none(), "{:?}", registration.state());
}
