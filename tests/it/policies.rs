//! Typed documents in the registry: policies validated with errors naming the field, and real
//! Prometheus rule files (../shared/data/alert-rules) imported through the API.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use vigil_testkit::shared_data;

use crate::{helpers::TestApp, registry::Registry};

#[tokio::test]
async fn policies_are_versioned_validated_and_listed_by_service() {
    let app = TestApp::up().await;
    let registry = Registry::admin(&app).await;
    let breaker = r#"{"service":"checkout","failure_rate_threshold":0.5,"window":"10s","open_for":"30s"}"#;
    let (status, body) = registry.put("/v1/policies/circuit-breaker/checkout-default?cas=0", breaker).await;
    assert_eq!(status, 200, "{body}");
    let limit = r#"{"service":"search","limit":100,"interval":"1s","burst":20}"#;
    let (status, body) = registry.put("/v1/policies/rate-limit/search-api", limit).await;
    assert_eq!(status, 200, "{body}");

    let (_, body) = registry.get("/v1/policies/circuit-breaker/checkout-default").await;
    assert_eq!(
        (body["spec"]["failure_rate_threshold"].as_f64(), body["version"].as_u64()),
        (Some(0.5), Some(1)),
        "{body}"
    );
    let (status, body) = registry.put("/v1/policies/circuit-breaker/checkout-default?cas=0", breaker).await;
    assert_eq!(status, 409, "a create-only put of an existing policy: {body}");
    let (_, body) = registry.get("/v1/policies/rate-limit?service=search").await;
    assert_eq!(body["documents"].as_array().map(Vec::len), Some(1), "{body}");
    let (_, body) = registry.get("/v1/policies/rate-limit?service=checkout").await;
    assert_eq!(body["documents"].as_array().map(Vec::len), Some(0), "{body}");

    // Refused documents name the field, and change nothing.
    let revision = registry.status().await.expect("status")["revision"].clone();
    for (path, body, field) in [
        (
            "/v1/policies/circuit-breaker/x",
            r#"{"service":"a","failure_rate_threshold":2,"window":"1s","open_for":"1s"}"#,
            "failure_rate_threshold",
        ),
        ("/v1/policies/rate-limit/x", r#"{"service":"a","limit":10,"interval":"1s","burts":5}"#, "burts"),
        ("/v1/policies/load-balancing/x", r#"{"service":"a","strategy":"consistent_hash"}"#, "hash_header"),
        ("/v1/policies/rate-limit/x", r#"{"service":"a","limit":10,"interval":"soon"}"#, "interval"),
    ] {
        let (status, answer) = registry.put(path, body).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(field), "the error should name {field}: {message}");
    }
    let (status, _) = registry.put("/v1/policies/retry/x", "{}").await;
    assert_eq!(status, 404, "an unknown policy kind");
    assert_eq!(registry.status().await.expect("status")["revision"], revision);
}

/// Rule files of the shared data, with how many groups each declares (counted from the text).
fn rule_files(root: &Path) -> Vec<(PathBuf, usize)> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable dir") {
            let path = entry.expect("entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
            if path.is_dir() {
                // promtool's fixtures are unit tests and deliberately broken files.
                if name != "promtool" {
                    stack.push(path);
                }
            } else if (name.ends_with(".yml") || name.ends_with(".yaml")) && name != "_data_rules.yml" {
                // Counted from an untyped parse of the first YAML document, independent of
                // Vigil's typed rule schema.
                let bytes = std::fs::read(&path).expect("rule file");
                let groups = serde_yaml_ng::Deserializer::from_slice(&bytes)
                    .next()
                    .and_then(|document| serde_yaml_ng::Value::deserialize(document).ok())
                    .and_then(|value| value.get("groups").and_then(|g| g.as_sequence()).map(Vec::len))
                    .unwrap_or(0);
                files.push((path, groups));
            }
        }
    }
    files.sort();
    files
}

#[tokio::test]
async fn real_prometheus_rule_files_import_and_broken_ones_are_refused_with_a_reason() {
    let Some(data) = shared_data() else { return };
    let app = TestApp::up().await;
    let registry = Registry::admin(&app).await;
    let files = rule_files(&data.join("alert-rules"));
    assert!(files.len() > 150, "expected the shared rule files, found {}", files.len());
    let client = reqwest::Client::new();
    let (mut imported_groups, mut imported_files) = (0, 0);
    for (index, (path, declared)) in files.iter().enumerate() {
        let response = client
            .post(format!("{}/v1/alert-rules?namespace=file-{index}", app.base))
            .header("content-type", "application/yaml")
            .bearer_auth(registry.token().expect("admin token"))
            .body(std::fs::read(path).expect("rule file"))
            .send()
            .await
            .expect("import answered");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if path.ends_with("invalid_rules.yaml") {
            assert_eq!(status, 400, "{}: {body}", path.display());
            assert!(body["error"]["message"].as_str().unwrap_or("").contains("unexpected_field"), "{body}");
            continue;
        }
        if *declared == 0 {
            assert_eq!(status, 400, "{} has no groups: {body}", path.display());
            continue;
        }
        assert_eq!(status, 200, "{}: {body}", path.display());
        assert_eq!(body["groups"].as_u64(), Some(*declared as u64), "{}", path.display());
        let (_, listed) = registry.get(&format!("/v1/alert-rules?namespace=file-{index}")).await;
        assert_eq!(listed["documents"].as_array().map(Vec::len), Some(*declared), "{}", path.display());
        imported_groups += declared;
        imported_files += 1;
    }
    eprintln!("imported {imported_groups} rule groups from {imported_files} files");
    assert!(imported_files > 150);
}
