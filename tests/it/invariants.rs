//! The workspace invariants of the design, checked over `cargo metadata`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

const SERVICE_CRATES: [&str; 4] = ["vigil-collector", "vigil-pipeline", "vigil-query", "vigil-registry"];
const NOT_IN_AGENT: [&str; 3] = ["tantivy", "openraft", "sqlx"];

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints json")
}

/// package name -> names of its normal (non-dev, non-build) dependencies, from the resolve graph.
fn normal_deps(meta: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let names: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().expect("id"), p["name"].as_str().expect("name")))
        .collect();
    let mut graph = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().expect("resolve nodes") {
        let name = names[node["id"].as_str().expect("node id")].to_string();
        let deps: BTreeSet<String> = node["deps"]
            .as_array()
            .expect("deps")
            .iter()
            .filter(|dep| dep["dep_kinds"].as_array().expect("kinds").iter().any(|k| k["kind"].is_null()))
            .map(|dep| names[dep["pkg"].as_str().expect("pkg")].to_string())
            .collect();
        graph.entry(name).or_insert_with(BTreeSet::new).extend(deps);
    }
    graph
}

fn closure(graph: &BTreeMap<String, BTreeSet<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![root.to_string()];
    while let Some(name) = stack.pop() {
        for dep in graph.get(&name).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                stack.push(dep.clone());
            }
        }
    }
    seen
}

#[test]
fn service_crates_never_depend_on_each_other() {
    let graph = normal_deps(&metadata());
    for service in SERVICE_CRATES {
        let reach = closure(&graph, service);
        for other in SERVICE_CRATES.iter().filter(|other| **other != service) {
            assert!(
                !reach.contains(*other),
                "{service} depends on {other}: services meet through model types over the bus or HTTP"
            );
        }
    }
}

/// The agent runs on every host and the client is linked into users' services: both stay light.
#[test]
fn the_agent_and_the_client_link_no_tantivy_openraft_or_sqlx() {
    let graph = normal_deps(&metadata());
    for light in ["vigil-collector", "vigil-client"] {
        assert!(graph.contains_key(light), "{light} is in the workspace");
        let reach = closure(&graph, light);
        for heavy in NOT_IN_AGENT {
            assert!(!reach.contains(heavy), "{light} links {heavy}");
        }
    }
    // A client has no server in it.
    assert!(!closure(&graph, "vigil-client").contains("axum"), "vigil-client links axum");
}
