//! The load generator: the same HTTP requests shape for both systems (etcd through its JSON
//! gateway, `POST /v3/kv/put` with base64 keys), N concurrent clients for a fixed time.

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::json;

use super::cluster::System;
use crate::bench::report::percentile;

/// Requests against one member of one system.
#[derive(Clone)]
pub struct Ops {
    system: System,
    client: reqwest::Client,
}

fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

impl Ops {
    pub fn new(system: System, connections: usize) -> anyhow::Result<Ops> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(connections.max(1))
            .build()?;
        Ok(Ops { system, client })
    }

    async fn check(response: Result<reqwest::Response, reqwest::Error>) -> Result<(), String> {
        let response = response.map_err(|error| error.to_string())?;
        if response.status().is_success() {
            let _ = response.bytes().await;
            Ok(())
        } else {
            Err(format!("answered {}", response.status()))
        }
    }

    /// A durable write: answered after the cluster committed it.
    pub async fn put(&self, address: &str, key: &str, value: &str) -> Result<(), String> {
        let request = match self.system {
            System::Vigil => self.client.put(format!("http://{address}/v1/kv/{key}")).body(value.to_string()),
            System::Etcd => self
                .client
                .post(format!("http://{address}/v3/kv/put"))
                .body(json!({"key": b64(key), "value": b64(value)}).to_string()),
        };
        Ops::check(request.send().await).await
    }

    /// A linearizable read (both systems' default).
    pub async fn get(&self, address: &str, key: &str) -> Result<(), String> {
        let request = match self.system {
            System::Vigil => self.client.get(format!("http://{address}/v1/kv/{key}")),
            System::Etcd => {
                self.client.post(format!("http://{address}/v3/kv/range")).body(json!({"key": b64(key)}).to_string())
            }
        };
        Ops::check(request.send().await).await
    }

    pub async fn register(&self, address: &str, id: &str) -> Result<(), String> {
        let body = r#"{"address":"10.1.0.1","port":8080,"ttl":"60s","tags":["bench"]}"#;
        let url = format!("http://{address}/v1/registry/services/bench/instances/{id}");
        Ops::check(self.client.put(url).header("content-type", "application/json").body(body).send().await).await
    }

    /// Renews `ids` in one call (`PUT /v1/registry/heartbeats`).
    pub async fn heartbeat_batch(&self, address: &str, ids: &[String]) -> Result<(), String> {
        let body: Vec<serde_json::Value> = ids.iter().map(|id| json!({"service": "bench", "id": id})).collect();
        let url = format!("http://{address}/v1/registry/heartbeats");
        Ops::check(self.client.put(url).json(&body).send().await).await
    }

    pub async fn heartbeat(&self, address: &str, id: &str) -> Result<(), String> {
        let url = format!("http://{address}/v1/registry/services/bench/instances/{id}/heartbeat");
        Ops::check(self.client.put(url).send().await).await
    }
}

/// Throughput and latency of one load level.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measured {
    pub per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

/// Runs `op(worker, n)` from `concurrency` workers for `duration`.
pub async fn run<F, Fut>(concurrency: usize, duration: Duration, op: F) -> Measured
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors, mut n) = (Vec::new(), 0u64, 0u64);
            while Instant::now() < deadline {
                let sent = Instant::now();
                match op(worker, n).await {
                    Ok(()) => latencies.push(sent.elapsed().as_secs_f64() * 1000.0),
                    Err(_) => errors += 1,
                }
                n += 1;
            }
            (latencies, errors)
        }));
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for task in tasks {
        if let Ok((worker_latencies, worker_errors)) = task.await {
            latencies.extend(worker_latencies);
            errors += worker_errors;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    Measured {
        per_s: latencies.len() as f64 / elapsed,
        p50_ms: percentile(&mut latencies, 50.0),
        p99_ms: percentile(&mut latencies, 99.0),
        errors,
    }
}
