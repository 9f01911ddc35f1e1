//! Freshness: a line posted to a running server (the `vigil up` composition, in process)
//! until a search finds it.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use crate::bench::report::percentile;
use crate::{config::VigilConfig, serve::Roles};

pub struct Freshness {
    pub p50_ms: f64,
    pub p99_ms: f64,
}

pub async fn measure(dir: &Path, samples: usize) -> anyhow::Result<Freshness> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let config = VigilConfig { data_dir: dir.to_path_buf(), ..VigilConfig::default() };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::serve::run(config, Roles::all(), listener, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let mut times = Vec::new();
    for sample in 0..samples.max(1) {
        let token = format!("fresh{sample}x{}", std::process::id());
        let started = Instant::now();
        let response = client
            .post(format!("{base}/api/v1/logs/ingest"))
            .header("content-type", "text/plain")
            .body(format!("2024-01-01T00:00:00Z INFO {token}\n"))
            .send()
            .await?;
        anyhow::ensure!(response.status().is_success(), "ingest failed: {}", response.status());
        loop {
            let found: serde_json::Value = client
                .get(format!("{base}/api/v1/logs/search"))
                .query(&[("q", token.as_str()), ("limit", "0")])
                .send()
                .await?
                .json()
                .await?;
            if found["total"].as_u64() == Some(1) {
                break;
            }
            anyhow::ensure!(started.elapsed() < Duration::from_secs(30), "a line was not searchable after 30 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = stop.send(());
    server.await??;
    Ok(Freshness { p50_ms: percentile(&mut times, 50.0), p99_ms: percentile(&mut times, 99.0) })
}
