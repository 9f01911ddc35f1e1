//! Vigil among the real Prometheus tools (Debian's packages, installed by `scripts/test`): the
//! agent scrapes a real node_exporter, and a real Prometheus scrapes Vigil's `/metrics`.

use std::{
    path::Path,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde_json::Value;
use vigil_testkit::{free_port, wait_until, Process};

use crate::helpers::TestApp;

fn installed(program: &str) -> std::path::PathBuf {
    let path = Path::new("/usr/bin").join(program);
    assert!(
        path.exists(),
        "{} is missing: ./scripts/test installs it (apt-get install prometheus prometheus-node-exporter)",
        path.display()
    );
    path
}

/// Debian's Prometheus with `dir/prometheus.yml`, its data in `dir/tsdb`, on `port`.
fn start_prometheus(dir: &Path, port: u16) -> Process {
    Process::start(
        &installed("prometheus"),
        &[
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ],
        &[],
        &dir.join("prometheus.log"),
    )
}

async fn get_json(url: &str) -> Option<Value> {
    reqwest::get(url).await.ok()?.json().await.ok()
}

#[tokio::test]
async fn the_agent_scrapes_a_real_node_exporter() {
    let work = tempfile::tempdir().expect("tempdir");
    let exporter_port = free_port();
    let _exporter = Process::start(
        &installed("prometheus-node-exporter"),
        &[format!("--web.listen-address=127.0.0.1:{exporter_port}")],
        &[],
        &work.path().join("node_exporter.log"),
    );
    let app = TestApp::up().await;
    let args: Vec<String> = [
        "--server",
        &app.base,
        "--scrape",
        &format!("http://127.0.0.1:{exporter_port}/metrics"),
        "--data-dir",
        &work.path().join("agent-data").display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let _agent = Process::start(&crate::agent::agent_binary(), &args, &[], &work.path().join("agent.log"));
    let query = format!(
        "{}/api/v1/query?query=count(node_cpu_seconds_total{{instance=%22127.0.0.1:{exporter_port}%22}})",
        app.base
    );
    let count = wait_until("node_exporter's CPU series in Vigil", Duration::from_secs(40), || async {
        let body = get_json(&query).await?;
        body["data"]["result"][0]["value"][1].as_str()?.parse::<f64>().ok()
    })
    .await;
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
    assert!(count >= cpus * 4.0, "{count} CPU series for {cpus} CPUs (several modes each)");
    let up = get_json(&format!("{}/api/v1/query?query=up{{job=%22scrape%22}}", app.base)).await.expect("up");
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
}

#[tokio::test]
async fn a_real_prometheus_scrapes_vigil_without_errors() {
    let app = TestApp::up().await;
    let work = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let target = app.base.trim_start_matches("http://");
    let config = work.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: vigil\n    static_configs:\n      - targets: ['{target}']\n"),
    )
    .expect("config");
    let _prometheus = start_prometheus(work.path(), port);
    // Prometheus's own view of the target: up, and no scrape error.
    let target_state = wait_until("Prometheus to scrape Vigil", Duration::from_secs(60), || async {
        let body = get_json(&format!("http://127.0.0.1:{port}/api/v1/targets")).await?;
        let active = body["data"]["activeTargets"].as_array()?.first()?.clone();
        (active["health"] == "up").then_some(active)
    })
    .await;
    assert_eq!(target_state["lastError"], "", "{target_state}");
    // And what it stored is Vigil's: a registry gauge, queried from Prometheus.
    let leader = wait_until("Vigil's gauges in Prometheus", Duration::from_secs(30), || async {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
        let query = format!("http://127.0.0.1:{port}/api/v1/query?query=vigil_registry_is_leader&time={now}");
        let body = get_json(&query).await?;
        body["data"]["result"][0]["value"][1].as_str().map(str::to_string)
    })
    .await;
    assert_eq!(leader, "1");
}

/// A real Prometheus sends what it scrapes to Vigil by remote write: the series arrive and are
/// queryable, and Prometheus reports no failed or dropped samples.
#[tokio::test]
async fn a_real_prometheus_remote_writes_into_vigil() {
    let app = TestApp::up().await;
    let work = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let config = work.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\nremote_write:\n  - url: {}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n",
            app.base
        ),
    )
    .expect("config");
    let _prometheus = start_prometheus(work.path(), port);
    let instance = format!("127.0.0.1:{port}");
    let series = wait_until("Prometheus's own series in Vigil", Duration::from_secs(60), || async {
        let query = format!("{}/api/v1/query?query=count(%7Binstance=%22{instance}%22%7D)", app.base);
        let body = get_json(&query).await?;
        body["data"]["result"][0]["value"][1].as_str()?.parse::<f64>().ok().filter(|n| *n > 100.0)
    })
    .await;
    let up = get_json(&format!("{}/api/v1/query?query=up%7Bjob=%22prometheus%22%7D", app.base)).await.expect("up");
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
    // Prometheus's own account of the remote write: samples went out, none failed.
    let sent = wait_until("Prometheus to count what it sent", Duration::from_secs(30), || async {
        let query = format!("http://127.0.0.1:{port}/api/v1/query?query=sum(prometheus_remote_storage_samples_total)");
        let body = get_json(&query).await?;
        body["data"]["result"][0]["value"][1].as_str()?.parse::<f64>().ok().filter(|n| *n > 0.0)
    })
    .await;
    let failed = get_json(&format!(
        "http://127.0.0.1:{port}/api/v1/query?query=sum(prometheus_remote_storage_samples_failed_total)%20%2B%20sum(prometheus_remote_storage_samples_dropped_total)"
    ))
    .await
    .expect("failed count");
    assert_eq!(failed["data"]["result"][0]["value"][1], "0", "{series} series, {sent} samples sent: {failed}");
}
