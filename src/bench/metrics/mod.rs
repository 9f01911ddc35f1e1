//! `vigil bench metrics`: the same node_exporter-shaped samples sent by remote write to `vigil
//! up` and to Prometheus (Debian's, `--web.enable-remote-write-receiver`) on this machine, one
//! after the other. Figures: ingest samples/s and per CPU-second of the server, bytes per
//! sample on disk, and p50 / p99 of `rate`, `sum by` and `histogram_quantile` queries (instant,
//! and range over the whole span). Medians over `--query-repeats`.
//!
//! Both stores are measured as they are after ingest: Prometheus keeps the last ~2 h in its
//! head and write-ahead log before compacting; Vigil has no blocks yet (everything is in its
//! head and log), so bytes per sample compare the logs, plus Vigil's in-memory chunk bytes.

mod generate;
mod systems;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use prost::Message as _;
use systems::{Running, System};
use vigil_model::metrics::WriteRequest;

use crate::bench::report::{percentile, Report};

#[derive(Debug, clap::Args)]
pub struct MetricsBenchArgs {
    /// Hosts; each has about 85 series (CPU, network, a histogram).
    #[arg(long, default_value_t = 125)]
    pub hosts: usize,
    /// Hours of samples, ending now (backfilled in time order).
    #[arg(long, default_value_t = 1.0)]
    pub hours: f64,
    /// Time between two samples of a series.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Series per remote-write request.
    #[arg(long, default_value_t = 2000)]
    pub series_per_request: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Times each query runs (p50 / p99 over them).
    #[arg(long, default_value_t = 20)]
    pub query_repeats: usize,
    /// Measure Vigil alone.
    #[arg(long)]
    pub skip_prometheus: bool,
    /// Scratch directory (default: a temporary directory, deleted afterwards).
    #[arg(long)]
    pub work_dir: Option<std::path::PathBuf>,
}

/// What one system measured.
struct Figures {
    samples_per_s: f64,
    samples_per_cpu_s: f64,
    bytes_per_sample: f64,
    /// (query name, p50 ms, p99 ms)
    queries: Vec<(String, f64, f64)>,
}

pub async fn run(args: MetricsBenchArgs) -> anyhow::Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix("vigil-bench-metrics-")
        .tempdir_in(args.work_dir.clone().unwrap_or_else(std::env::temp_dir))?;
    let labels = generate::series(args.hosts);
    let interval_ms = args.interval.as_millis() as i64;
    let steps = ((args.hours * 3600.0 * 1000.0) as i64 / interval_ms).max(2) as usize;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let end = now - now % interval_ms;
    let start = end - (steps as i64 - 1) * interval_ms;
    let total = (labels.len() * steps) as f64;
    eprintln!("{} series x {steps} samples = {total} samples", labels.len());
    let mut report = Report::default();
    report.add("series", labels.len() as f64, "series");
    report.add("samples", total, "samples");
    let mut systems = vec![System::Vigil];
    if !args.skip_prometheus {
        systems.push(System::Prometheus);
    }
    let mut all = Vec::new();
    for system in systems {
        let running = Running::start(system, &scratch.path().join(system.name())).await?;
        let figures = measure(&running, &args, &labels, start, steps, end).await?;
        let name = system.name();
        report.add(&format!("{name}_ingest_samples_per_s"), figures.samples_per_s, "samples/s");
        report.add(&format!("{name}_ingest_samples_per_cpu_s"), figures.samples_per_cpu_s, "samples/cpu-s");
        report.add(&format!("{name}_log_bytes_per_sample"), figures.bytes_per_sample, "bytes");
        for (query, p50, p99) in &figures.queries {
            report.add(&format!("{name}_{query}_p50_ms"), *p50, "ms");
            report.add(&format!("{name}_{query}_p99_ms"), *p99, "ms");
        }
        all.push(figures);
    }
    if let [vigil, prometheus] = all.as_slice() {
        report.add("ingest_ratio_vs_prometheus", vigil.samples_per_s / prometheus.samples_per_s.max(1e-9), "x");
        report.add(
            "ingest_per_cpu_ratio_vs_prometheus",
            vigil.samples_per_cpu_s / prometheus.samples_per_cpu_s.max(1e-9),
            "x",
        );
        report.add(
            "log_bytes_ratio_vs_prometheus",
            vigil.bytes_per_sample / prometheus.bytes_per_sample.max(1e-9),
            "x",
        );
        for ((query, v50, _), (_, p50, _)) in vigil.queries.iter().zip(&prometheus.queries) {
            report.add(&format!("{query}_p50_ratio_vs_prometheus"), v50 / p50.max(1e-9), "x");
        }
    }
    report.print();
    Ok(())
}

async fn measure(
    running: &Running,
    args: &MetricsBenchArgs,
    labels: &[Vec<vigil_model::metrics::Label>],
    start: i64,
    steps: usize,
    end: i64,
) -> anyhow::Result<Figures> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let url = format!("{}/api/v1/write", running.base);
    let total = labels.len() * steps;
    let cpu_before = running.cpu_seconds();
    let started = Instant::now();
    let interval_ms = args.interval.as_millis() as i64;
    for step in 0..steps {
        // One scrape's requests in flight together; scrapes in time order, as senders do.
        let requests = generate::scrape(labels, step, start + step as i64 * interval_ms, args.series_per_request);
        let bodies: Vec<Vec<u8>> = requests
            .into_iter()
            .map(|timeseries| {
                snap::raw::Encoder::new()
                    .compress_vec(&WriteRequest { timeseries, ..Default::default() }.encode_to_vec())
                    .expect("snappy compresses any input")
            })
            .collect();
        let results: Vec<anyhow::Result<()>> = futures::stream::iter(bodies)
            .map(|body| send(&client, &url, body))
            .buffer_unordered(args.senders.max(1))
            .collect()
            .await;
        for result in results {
            result?;
        }
    }
    // Vigil acknowledges once the bus holds a batch; count it ingested once it is queryable.
    let span = format!("{}s", (end - start) / 1000 + 60);
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        // One family at a time: Prometheus 2 refuses a vector of several families once
        // count_over_time dropped their names.
        let mut stored = 0.0;
        for family in generate::FAMILIES {
            let query = format!("sum(count_over_time({family}[{span}]))");
            stored += instant_value(&client, &running.base, &query, end).await.unwrap_or(0.0);
        }
        if stored >= total as f64 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{}: only {stored} of {total} samples stored",
            running.system.name()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = (running.cpu_seconds() - cpu_before).max(1e-9);
    let log_bytes = match running.system {
        System::Vigil => running.disk_bytes("metrics/wal"),
        System::Prometheus => running.disk_bytes("wal") + running.disk_bytes("chunks_head"),
    };
    eprintln!("{}: {total} samples in {elapsed:.1} s, {cpu:.1} cpu-s, {log_bytes} log bytes", running.system.name());
    let queries = [
        ("rate", "rate(node_cpu_seconds_total[5m])"),
        ("sum_by", "sum by (instance) (rate(node_network_receive_bytes_total[5m]))"),
        ("histogram_quantile", "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"),
    ];
    let mut figures = Vec::new();
    for (name, query) in queries {
        let mut instant_ms = Vec::new();
        let mut range_ms = Vec::new();
        for _ in 0..args.query_repeats.max(1) {
            let t = Instant::now();
            instant_value(&client, &running.base, query, end).await;
            instant_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            let range = [
                ("query", query.to_string()),
                ("start", format!("{}", start as f64 / 1000.0 + 300.0)),
                ("end", format!("{}", end as f64 / 1000.0)),
                ("step", "60".to_string()),
            ];
            let _ =
                client.get(format!("{}/api/v1/query_range", running.base)).query(&range).send().await?.bytes().await;
            range_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        figures.push((
            format!("query_{name}"),
            percentile(&mut instant_ms.clone(), 50.0),
            percentile(&mut instant_ms, 99.0),
        ));
        figures.push((
            format!("range_{name}"),
            percentile(&mut range_ms.clone(), 50.0),
            percentile(&mut range_ms, 99.0),
        ));
    }
    Ok(Figures {
        samples_per_s: total as f64 / elapsed,
        samples_per_cpu_s: total as f64 / cpu,
        bytes_per_sample: log_bytes as f64 / total as f64,
        queries: figures,
    })
}

async fn send(client: &reqwest::Client, url: &str, body: Vec<u8>) -> anyhow::Result<()> {
    let response = client
        .post(url)
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "snappy")
        .header("x-prometheus-remote-write-version", "0.1.0")
        .body(body)
        .send()
        .await?;
    let status = response.status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}: {}", response.text().await.unwrap_or_default());
    Ok(())
}

/// The first value of an instant query's vector (or scalar) result.
async fn instant_value(client: &reqwest::Client, base: &str, query: &str, at_ms: i64) -> Option<f64> {
    let params = [("query", query.to_string()), ("time", format!("{}", at_ms as f64 / 1000.0))];
    let body: serde_json::Value =
        client.get(format!("{base}/api/v1/query")).query(&params).send().await.ok()?.json().await.ok()?;
    let result = &body["data"]["result"];
    let value = if result.is_array() && result[0].is_object() { &result[0]["value"][1] } else { &result[1] };
    value.as_str()?.parse().ok()
}
